"""A path as the user wrote it, with ``~`` and ``~user`` expanded: an unknown user is bad input, not a crash."""

from __future__ import annotations

from pathlib import Path

from autofix_lstm.errors import SpecError


def expand_user(path: str | Path, what: str) -> Path:
    """``Path(path).expanduser()``; ``what`` names the path in the error (``data.path``).

    Raises:
        SpecError: the path starts with ``~user`` for a user this system does not know (or ``~``
            with no home folder), which ``Path.expanduser`` reports as a ``RuntimeError``.
    """
    try:
        return Path(path).expanduser()
    except RuntimeError:
        head = str(path).split("/", 1)[0]
        raise SpecError(f"{what} {str(path)!r} starts with {head!r}, but this system has no home folder for "
                        f"{'that user' if head != '~' else 'the current user'}; write the path out in full") from None
