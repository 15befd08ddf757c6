"""Typed errors: the type decides what happens next, only the CLI turns them into exit codes.

``AutofixError`` is the root. ``SpecError`` and ``DataError`` (and ``ModelSpecError``) mean the
user's input is wrong: the CLI exits with code 2. ``TrialFailed`` marks one search candidate as
failed and the search goes on; ``FatalSearchError`` stops the search (exit code 3). ``RunFolderError``
(and its ``CorruptRunError``, ``RunLockedError``) means the output folder cannot be used here: exit code 3.
``SearchInterrupted`` says a signal stopped a search after it wrote the best so far: 130 / 143.
"""

from __future__ import annotations


class AutofixError(Exception):
    """Root of every error autofix-lstm raises on purpose."""


class SpecError(AutofixError):
    """The spec (YAML or dict) is malformed, has unknown keys, wrong types or impossible values.

    ``problems`` holds one line per problem, each naming the field path.
    """

    def __init__(self, problems: list[str] | str, source: str | None = None):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__("\n".join(prefix + p for p in self.problems))


class DataError(AutofixError):
    """The data named by the spec cannot be used as it is (missing, unreadable, NaN, too short...)."""


class ModelSpecError(SpecError):
    """The model described (layer list or saved ``path:`` model) cannot be built or is unsupported."""


class CannotTrainError(ModelSpecError):
    """Keras refused to train the model on this data (the loss, the head and the target do not fit).

    ``reason``: Keras' reason alone, without the advice, for the state "cannot train: <reason>".
    """

    def __init__(self, problems: list[str] | str, source: str | None = None, *, reason: str):
        super().__init__(problems, source)
        self.reason = reason


class TrialFailed(AutofixError):
    """One search candidate failed (NaN loss, build error): record it and go on with the search.

    Raised by trial execution (``tuning.trials.TrialRunner.run``) once the failed trial's record is
    written; ``tuning.oracles.AutofixTuner`` hands it to Keras Tuner as its ``FailedTrialError``.
    """


class FatalSearchError(AutofixError):
    """Something that makes every further trial pointless: stop the search.

    Raised by trial execution when a trial's record or model cannot be written to the output folder
    (a full disk, say); it leaves Keras Tuner's trial loop (``tuning.oracles.AutofixTuner``) and the
    search, and the CLI exits with code 3 ("this machine could not run it").
    """


class ResourceError(AutofixError):
    """The machine ran out of a resource (memory) for this run; the message says what to lower."""


class RunFolderError(AutofixError):
    """The output folder cannot be used by this run (not writable, locked, or holding a damaged earlier run).

    Nothing is wrong with the spec: the CLI exits with code 3 ("could not run here").
    """


class CorruptRunError(RunFolderError, ValueError):
    """A file an earlier search left in the output folder cannot be read (cut short by a kill, or edited).

    Also a ``ValueError``, as the JSON error it replaces was, so readers that tolerate unreadable files
    (the report) still do. ``path`` is the damaged file.
    """

    def __init__(self, path, detail: str):
        self.path = path
        self.detail = detail
        super().__init__(
            f"{path} is damaged ({detail}), so the earlier search in this folder cannot be resumed; "
            "run again with --fresh (fresh=True from Python) to start over (its files are discarded), or set "
            "another output folder"
        )


class RunLockedError(RunFolderError):
    """Another search holds the output folder's lock; ``pid``, ``host`` and ``started`` name it (None when unknown)."""

    def __init__(self, lock_path, pid: int | None, host: str | None, started: str | None):
        self.lock_path = lock_path
        self.pid, self.host, self.started = pid, host, started
        holder = (f"pid {pid} on {host}, started {started}" if pid is not None
                  else "its details could not be read")
        super().__init__(
            f"another search is running in this output folder ({holder}): wait for it to end or set another "
            f"output folder; if it is no longer running, delete {lock_path}"
        )


class WorkerError(AutofixError):
    """A distributed search's workers could not run its trials (none reached the chief, or every one
    stopped before the search ended); the message names their logs. The CLI exits with code 3."""


class SearchInterrupted(AutofixError):
    """A search stopped on SIGINT (Ctrl-C) or SIGTERM after writing the outputs for the best so far.

    ``signal_name`` is "SIGINT" or "SIGTERM"; ``exit_code`` is the shell's convention for it (130,
    143); ``result`` is the ``SearchResult`` of the best so far, or None when the search stopped
    before any trial ended (no verdict on nothing) or a second signal stopped it at once. Running the
    same search again resumes it.
    """

    EXIT_CODES = {"SIGINT": 130, "SIGTERM": 143}

    def __init__(self, signal_name: str, result=None, output_dir=None):
        self.signal_name = signal_name
        self.result = result
        self.output_dir = output_dir
        written = (f"the outputs for the best so far are in {output_dir}" if result is not None
                   else "it stopped before it could write the outputs for a best so far")
        super().__init__(f"search stopped by {signal_name}: {written}; run the same command again to resume")

    @property
    def exit_code(self) -> int:
        """130 for SIGINT, 143 for SIGTERM (128 + the signal's number)."""
        return self.EXIT_CODES.get(self.signal_name, 130)
