"""Typed errors: the type decides what happens next, only the CLI turns them into exit codes.

``AutofixError`` is the root. ``SpecError`` and ``DataError`` (and ``ModelSpecError``) mean the
user's input is wrong: the CLI exits with code 2. ``TrialFailed`` marks one search candidate as
failed and the search goes on; ``FatalSearchError`` stops the search.
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


class TrialFailed(AutofixError):
    """One search candidate failed (NaN loss, build error): record it and go on with the search."""


class FatalSearchError(AutofixError):
    """Something that makes every further trial pointless: stop the search."""


class ResourceError(AutofixError):
    """The machine ran out of a resource (memory) for this run; the message says what to lower."""
