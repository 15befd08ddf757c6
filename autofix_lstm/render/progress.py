"""Live progress for long runs: a rich display in a terminal or notebook.

The search tells a ``SearchReporter`` of each stage and trial; ``RichReporter`` draws trial n of N,
elapsed time, the best objective and std_ratio so far, and whether a fix has been found.
"""

from __future__ import annotations

from autofix_lstm.format import number
from autofix_lstm.tuning.driver import SearchReporter
from autofix_lstm.tuning.records import TrialRecord


class RichReporter(SearchReporter):
    """A live rich progress bar (works in terminals and Jupyter)."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[best]}"),
        )
        self._task = None

    def _ensure_started(self) -> None:
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task("starting", total=None, best="")

    def start(self, total: int) -> None:
        self._ensure_started()
        self._progress.update(self._task, total=total, completed=0, description="search")

    def stage(self, text: str) -> None:
        self._ensure_started()
        self._progress.update(self._task, description=text)

    def trial_done(self, done: int, best: TrialRecord | None, fixed: bool) -> None:
        text = ""
        if best is not None:
            flag = "[green]fix found[/]" if fixed else "[yellow]no fix yet[/]"
            text = f"best objective {number(best.score, 4)}  std_ratio {number(best.metrics.get('std_ratio'))}  {flag}"
        self._progress.update(self._task, completed=done, best=text, description="search")

    def stop(self) -> None:
        if self._task is not None:
            self._progress.stop()
