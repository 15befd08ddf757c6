"""The notebook and CLI entry points that compose the library's parts.

``search`` runs the search (``tuning.driver.run_search``) and then writes the HTML report from the
files it left, so the search itself never depends on presentation.
"""

from __future__ import annotations

from pathlib import Path

from autofix_lstm.render.progress import RichReporter
from autofix_lstm.render.report import write_report
from autofix_lstm.spec import Spec
from autofix_lstm.tuning.driver import SearchResult, run_search


def search(
    spec: str | Path | dict | Spec,
    *,
    data=None,
    x=None,
    y=None,
    fresh: bool = False,
    progress: bool = False,
    max_trials: int | None = None,
) -> SearchResult:
    """Search for a configuration whose output no longer collapses, and write it out with its report.

    Args:
        spec: a spec file path, a dict or a ``Spec``.
        data: a pandas DataFrame to use instead of ``data.path``, or the ``Dataset`` already read
            from it (``preflight``).
        x, y: already windowed arrays to use instead of ``data.path``.
        fresh: discard an earlier search in the output folder instead of resuming it.
        progress: show a live progress display.
        max_trials: override ``search.max_trials``.

    Returns:
        A ``SearchResult``; ``fixed`` is True only when the best candidate is not collapsed and
        beats the constant baseline on the validation part. ``<output>/report.html`` is written too.

    Raises:
        SpecError, DataError: bad input, with the field and the fix.
        RunFolderError: the output folder cannot be used (not writable; see its subclasses).
    """
    result = run_search(
        spec, data=data, x=x, y=y, fresh=fresh, max_trials=max_trials,
        reporter=RichReporter() if progress else None,
    )
    write_report(result.output_dir)
    return result


__all__ = ["search"]
