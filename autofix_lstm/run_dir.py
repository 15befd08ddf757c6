"""The run folder: every file a command writes into ``<output>/``, and the one way each is written.

Every file name lives here and nowhere else; a new output file is one more property of ``RunDir``.
Writes are atomic (a temporary file in the same folder, then ``os.replace``), so a kill while
writing leaves the previous version or the new one, never half a file. JSON is written with
NaN/inf as ``null`` (``jsonable``, the one converter the package has). A search holds the folder's
lock (``RunLock``: one search per folder) and ``RunDir.clear_search`` removes only the files a
search writes, so a user's own files in the folder survive ``--fresh``.

The folder's layout (a public contract, see docs/outputs.md)::

    <output>/
      summary.json  trials.csv  best_spec.yaml  best_model.keras  report.html   # search
      best_trial.json                      # search: the trial best_model.keras and best_spec.yaml are from
      minimal_spec.yaml                                                         # search (the minimal fix)
      data.parquet | data.npz    # a notebook search: the data it was given, which best_spec.yaml reads
      baseline.json  baseline_model.keras  search_state.json                    # search, for resume
      search.lock                                                               # while a search runs
      events.jsonl               # search: one JSON event a line, appended by every run (kept by --fresh)
      tensorboard/<trial id>/    # search with tensorboard on: TensorBoard's event files, one folder a trial
      diagnosis.json                                                            # diagnose / search
      metrics.json  model.keras                                                 # train
      tuner/autofix/trial_<id>/autofix_trial.json                               # one record per trial
      tuner/autofix/trial_<id>/model.keras              # the best trial's model (best_model.keras's source)
      tuner/autofix/oracle.json  tuner0.json  trial_<id>/trial.json             # Keras Tuner's own state
      tuner/autofix/seed_runs.json     # search.stop: confirmed: the fixes confirmed between trials, for resume
      tuner/autofix/chief.json  workers/<id>.json  workers/<id>.log   # while a chief serves workers
"""

from __future__ import annotations

import errno
import json
import math
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from autofix_lstm.errors import CorruptRunError, RunFolderError, SpecError
from autofix_lstm.run_lock import RunLock, _remove_if_empty

SUMMARY = "summary.json"
TRIALS_CSV = "trials.csv"
BEST_SPEC = "best_spec.yaml"
MINIMAL_SPEC = "minimal_spec.yaml"
BEST_MODEL = "best_model.keras"
REPORT = "report.html"
BASELINE = "baseline.json"
BASELINE_MODEL = "baseline_model.keras"
STATE = "search_state.json"
DIAGNOSIS = "diagnosis.json"
METRICS = "metrics.json"
MODEL = "model.keras"
TUNER = "tuner"
PROJECT = "autofix"
TRIAL_RECORD = "autofix_trial.json"
BEST_TRIAL = "best_trial.json"
LOCK = "search.lock"
EVENTS = "events.jsonl"
DATA_TABLE = "data.parquet"  # search: the DataFrame a notebook search was given, so best_spec.yaml reproduces it
DATA_ARRAYS = "data.npz"  # search: the x/y arrays a notebook search was given (training, then validation)
TENSORBOARD = "tensorboard"
TENSORBOARD_FILES = "events.out.tfevents.*"  # how TensorBoard's summary writers name their files
# Keras Tuner's own files in the project folder (written by tuning.oracles, atomically):
TUNER_ORACLE = "oracle.json"
TUNER_STATE = "tuner0.json"
TUNER_TRIAL = "trial.json"
SEED_RUNS = "seed_runs.json"  # the confirmations run between trials (search.stop: confirmed), in the project
# While a chief serves workers (tuning.distributed; removed when the search ends):
CHIEF = "chief.json"
WORKERS = "workers"


@dataclass(frozen=True)
class RunDir:
    """The paths of one output folder. Building one touches nothing on disk."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    summary = property(lambda self: self.root / SUMMARY, doc="summary.json: the verdict and the figures.")
    trials_csv = property(lambda self: self.root / TRIALS_CSV, doc="trials.csv: one row per trial.")
    best_spec = property(lambda self: self.root / BEST_SPEC, doc="best_spec.yaml: the best configuration.")
    minimal_spec = property(
        lambda self: self.root / MINIMAL_SPEC, doc="minimal_spec.yaml: the spec with only the changes the fix needed."
    )
    best_model = property(lambda self: self.root / BEST_MODEL, doc="best_model.keras: the best model.")
    data_table = property(lambda self: self.root / DATA_TABLE, doc="data.parquet: a notebook search's DataFrame.")
    data_arrays = property(lambda self: self.root / DATA_ARRAYS, doc="data.npz: a notebook search's x/y arrays.")
    report = property(lambda self: self.root / REPORT, doc="report.html: the self-contained report.")
    baseline = property(lambda self: self.root / BASELINE, doc="baseline.json: the spec as written, trained.")
    baseline_model = property(lambda self: self.root / BASELINE_MODEL, doc="baseline_model.keras.")
    state = property(lambda self: self.root / STATE, doc="search_state.json: fingerprint and elapsed time.")
    diagnosis = property(lambda self: self.root / DIAGNOSIS, doc="diagnosis.json: the findings.")
    metrics = property(lambda self: self.root / METRICS, doc="metrics.json: what ``train`` measured.")
    model = property(lambda self: self.root / MODEL, doc="model.keras: what ``train`` trained.")
    tuner = property(lambda self: self.root / TUNER, doc="tuner/: Keras Tuner's project folder's parent.")
    project = property(lambda self: self.root / TUNER / PROJECT, doc="tuner/autofix/: Keras Tuner's project.")
    best_trial = property(lambda self: self.root / BEST_TRIAL,
                          doc="best_trial.json: the trial best_model.keras and best_spec.yaml come from.")
    lock_file = property(lambda self: self.root / LOCK, doc="search.lock: held by the search running here.")
    events = property(lambda self: self.root / EVENTS,
                      doc="events.jsonl: what each run did, one JSON event a line (appended, never rewritten).")
    tensorboard = property(lambda self: self.root / TENSORBOARD, doc="tensorboard/: the trials' TensorBoard logs.")
    tuner_oracle = property(lambda self: self.project / TUNER_ORACLE, doc="Keras Tuner's oracle state.")
    tuner_state = property(lambda self: self.project / TUNER_STATE, doc="Keras Tuner's tuner state.")
    seed_runs = property(lambda self: self.project / SEED_RUNS,
                         doc="seed_runs.json: each fix confirmed between trials, its runs on every seed.")

    chief_file = property(lambda self: self.project / CHIEF,
                          doc="chief.json: where the chief serving workers listens, and its clock.")
    workers = property(lambda self: self.project / WORKERS, doc="workers/: the workers' heartbeats and logs.")

    def worker_heartbeat(self, worker_id: str) -> Path:
        """The heartbeat file a worker rewrites every few seconds (its pid, host and current trial)."""
        return self.workers / f"{worker_id}.json"

    def worker_log(self, worker_id: str) -> Path:
        """The output of a worker the chief started on this machine."""
        return self.workers / f"{worker_id}.log"

    def open_worker_log(self, worker_id: str):
        """``worker_log`` opened for appending, in binary: a stream a worker's process writes as it runs
        (the one file here not replaced whole)."""
        self.workers.mkdir(parents=True, exist_ok=True)
        return open(self.worker_log(worker_id), "ab")  # noqa: SIM115 - the caller hands it to the process

    def trial_record(self, trial_id: str) -> Path:
        """The record of one trial, beside Keras Tuner's own files for it."""
        return self.project / f"trial_{trial_id}" / TRIAL_RECORD

    def trial_model(self, trial_id: str) -> Path:
        """The model of one trial, kept while it is the best (best_model.keras is copied from it)."""
        return self.project / f"trial_{trial_id}" / MODEL

    def tuner_trial(self, trial_id: str) -> Path:
        """Keras Tuner's own record of one trial."""
        return self.project / f"trial_{trial_id}" / TUNER_TRIAL

    def tensorboard_trial(self, trial_id: str) -> Path:
        """The TensorBoard log folder of one trial (or of the baseline)."""
        return self.tensorboard / str(trial_id)

    def trial_records(self) -> Iterator[Path]:
        """Every trial record on disk (in no particular order)."""
        return self.project.glob(f"trial_*/{TRIAL_RECORD}")

    def search_outputs(self) -> list[Path]:
        """The files a search writes at the top of the folder (what ``--fresh`` removes besides tuner/)."""
        return [self.state, self.baseline, self.baseline_model, self.best_model, self.summary, self.trials_csv,
                self.best_spec, self.best_trial, self.report, self.minimal_spec]

    def search_files(self) -> list[Path]:
        """Every file a search wrote here that is on disk: its outputs, Keras Tuner's project files, and the
        temporary files of writes a kill cut short. Files the search does not know (a user's notes) are not
        among them."""
        known = [p for p in self.search_outputs() if p.is_file()]
        trial_files = (TRIAL_RECORD, MODEL, TUNER_TRIAL)
        if self.project.is_dir():
            known += [p for p in (self.tuner_oracle, self.tuner_state, self.seed_runs) if p.is_file()]
            for folder in self.project.glob("trial_*"):
                known += [folder / name for name in trial_files if (folder / name).is_file()]
                known += _leftovers(folder, trial_files)
            known += _leftovers(self.project, (TUNER_ORACLE, TUNER_STATE, SEED_RUNS))
            known += [p for p in [self.chief_file, *self.workers.glob("*.json"), *self.workers.glob("*.log")]
                      if p.is_file()]
        if self.tensorboard.is_dir():
            known += [p for p in self.tensorboard.glob(f"**/{TENSORBOARD_FILES}") if p.is_file()]
        if self.root.is_dir():
            known += _leftovers(self.root, [p.name for p in self.search_outputs()])
        return known

    def remove_leftovers(self) -> None:
        """Remove the temporary files of writes a kill cut short (the search holding the lock calls this)."""
        for path in self.search_files():
            if path.name.startswith("."):
                path.unlink(missing_ok=True)

    def clear_search(self) -> None:
        """Remove what an earlier search wrote (``search_files``), and the folders it left empty."""
        for path in self.search_files():
            path.unlink(missing_ok=True)
        if self.project.is_dir():
            for folder in self.project.glob("trial_*"):
                _remove_if_empty(folder)
            if self.workers.is_dir():
                _remove_if_empty(self.workers)
            _remove_if_empty(self.project)
        _remove_if_empty(self.tuner)
        if self.tensorboard.is_dir():
            for folder in sorted(self.tensorboard.glob("**/"), key=lambda p: len(p.parts), reverse=True):
                _remove_if_empty(folder)
            _remove_if_empty(self.tensorboard)

    def check_writable(self, source: str | None = None) -> None:
        """Fail, leaving nothing behind, when the folder cannot be made or written.

        Checks what a command writing here needs: a path the system can resolve, a folder where the
        nearest existing path is, and a file created there for real (and dropped at once): ``os.access``
        says yes to root everywhere, /proc included.

        Raises:
            SpecError: the path holds a NUL byte or cannot be resolved (a symbolic link loop, a link to
                nothing, a name too long), or a file stands where the folder (or one of its parents) should be.
            RunFolderError: no file can be created in the folder, or in the nearest existing folder above it.
        """
        if "\x00" in str(self.root):
            raise SpecError(f"output {str(self.root)!r} holds a NUL byte (\\x00), which no file name can hold; "
                            "set output to a folder name without it", source)
        path = self._nearest_existing(source)
        if not path.is_dir():
            raise SpecError(f"output {self.root} cannot be made: {path} is a file, not a folder; "
                            "set output to a folder", source)
        if not os.access(path, os.W_OK | os.X_OK):
            raise RunFolderError(f"output {self.root} cannot be written: {path} is not writable by this user; "
                                 "set output to a folder you can write to, or change its permissions")
        try:
            with tempfile.TemporaryFile(dir=path):  # unnamed where the system can (O_TMPFILE), else removed at once
                pass
        except OSError as err:
            raise RunFolderError(f"output {self.root} cannot be written: no file can be created in {path} "
                                 f"({err.strerror or err}); set output to a folder you can write to, or change "
                                 "its permissions") from None

    def _nearest_existing(self, source: str | None) -> Path:
        """The folder itself when it exists, else the nearest existing path above it."""
        path = self.root
        while path != path.parent:
            try:
                os.stat(path)
                return path
            except OSError as err:
                if err.errno in (errno.ELOOP, errno.ENAMETOOLONG):
                    raise SpecError(f"output {self.root} cannot be resolved ({err.strerror}); set output to a "
                                    "folder path without a symbolic link loop", source) from None
                if err.errno not in (errno.ENOENT, errno.ENOTDIR):
                    raise RunFolderError(f"output {self.root} cannot be reached: {path} ({err.strerror}); set "
                                         "output to a folder you can write to") from None
            if os.path.islink(path):  # mkdir cannot make a folder through a link to nothing
                raise SpecError(f"output {self.root} cannot be made: {path} is a symbolic link to "
                                f"{os.readlink(path)}, which does not exist; set output to a folder, or remove "
                                "the link", source)
            path = path.parent
        return path

    def lock(self) -> RunLock:
        """The folder's lock (a context manager): one search at a time per folder."""
        return RunLock(self)


def _leftovers(folder: Path, names) -> list[Path]:
    """The temporary files ``_atomic`` leaves for ``names`` in ``folder`` when a kill interrupts a write."""
    out = []
    for name in names:
        stem, suffix = os.path.splitext(name)
        out += [p for p in folder.glob(f".{stem}.*{suffix}") if p.is_file()]
    return out


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: numpy scalars/arrays as Python ones, NaN/inf as None, paths as text."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy arrays and scalars
        return jsonable(value.tolist())
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "value") and isinstance(value.value, str):  # str enums
        return value.value
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _atomic(path: Path, write) -> Path:
    """Run ``write(tmp_path)``, then move the temporary file over ``path`` in one step."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:  # not tempfile.mkstemp: its files are private (0600); these get the umask's mode, as any file
        tmp = path.parent / f".{path.stem}.{secrets.token_hex(4)}{path.suffix}"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            continue
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):  # a full disk says so on a write, naming no file: the error names it
            raise _naming(err, path, tmp) from err
        raise
    return path


def _naming(err: OSError, path: Path, tmp: Path | None = None) -> OSError:  # names path where err named no file
    if err.errno is None or err.filename not in (None, str(tmp), tmp):  # or only tmp (not a copy's source, say)
        return err
    return OSError(err.errno, err.strerror or str(err), str(path))  # the same subclass: OSError picks it by errno


def write_text(text: str, path: Path) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return _atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(payload: Any, path: Path) -> Path:
    """Write ``payload`` as indented JSON (NaN/inf as null), atomically."""
    return write_text(json.dumps(jsonable(payload), indent=2, allow_nan=False) + "\n", path)


def read_json(path: Path) -> Any:
    """The JSON at ``path``.

    Raises:
        FileNotFoundError: no file at ``path``.
        CorruptRunError: the file is not JSON (cut short, or edited); names the file and ``--fresh``.
    """
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError as err:
        raise CorruptRunError(path, f"not valid JSON: {err}") from None


T = TypeVar("T")


def read_typed(path: Path, parse: Callable[[Any], T], what: str) -> T:
    """The JSON at ``path`` read into a typed record by ``parse`` (a ``from_dict``).

    Raises:
        FileNotFoundError: no file at ``path``.
        CorruptRunError: the file is not JSON, or not ``what`` (``parse`` refused it: not an object, a
            required key missing, a bad value); names the file and ``--fresh``.
    """
    raw = read_json(path)
    try:
        return parse(raw)
    except (TypeError, ValueError, AttributeError) as err:
        raise CorruptRunError(path, f"not {what}: {err}") from None


def append_line(line: str, path: Path) -> Path:
    """Append ``line`` and a newline to ``path`` in one write, at once on disk (for ``tail -f``).

    The file is opened in append mode, so several processes (a chief and its workers) may append to
    it: each line lands whole, after the ones before it. After a partial last line (a kill cut its
    write short) the line starts on a new one, so the two are not merged.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        data = (line.rstrip("\n") + "\n").encode("utf-8")
        if _ends_partial_line(fd):
            data = b"\n" + data
        os.write(fd, data)
    except OSError as err:  # a full disk: named
        raise _naming(err, path) from err
    finally:
        os.close(fd)
    return path


def _ends_partial_line(fd: int) -> bool:
    """Whether the file's last byte is anything but a newline (an empty file ends no line)."""
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def write_table(frame, path: Path) -> Path:
    """Write a pandas DataFrame as Parquet, atomically."""
    return _atomic(path, lambda tmp: frame.to_parquet(tmp))


def write_arrays(path: Path, **arrays) -> Path:
    """Write numpy arrays into one ``.npz``, atomically."""
    import numpy as np

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as out:  # a file object: np.savez would add ".npz" to a name
            np.savez(out, **arrays)

    return _atomic(path, write)


def save_model(model, path: Path) -> Path:
    """Save a Keras model as ``.keras``, atomically."""
    return _atomic(path, lambda tmp: model.save(tmp))


def copy_file(source: Path, path: Path) -> Path:
    """Copy ``source`` over ``path`` atomically."""
    import shutil

    return _atomic(path, lambda tmp: shutil.copyfile(source, tmp))
