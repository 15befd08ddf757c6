"""Progress reporting for long runs: a rich display in a terminal or notebook, or nothing.

The search calls a reporter at each stage and after each trial; the library never prints
otherwise. ``RichReporter`` shows trial n of N, elapsed time, the best objective and std_ratio
so far, and whether a fix has been found. ``SilentReporter`` does nothing (``progress=False``).
"""

from __future__ import annotations


class SilentReporter:
    """A reporter that reports nothing."""

    def start(self, total: int) -> None:
        """The search begins with a budget of ``total`` trials."""

    def stage(self, text: str) -> None:
        """A named stage (diagnosis, baseline) begins."""

    def trial_done(self, done: int, best: dict | None, fixed: bool) -> None:
        """``done`` trials have ended; ``best`` is the best record so far."""

    def stop(self) -> None:
        """The search has ended."""


class RichReporter(SilentReporter):
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

    def trial_done(self, done: int, best: dict | None, fixed: bool) -> None:
        text = ""
        if best is not None:
            ratio = (best.get("metrics") or {}).get("std_ratio")
            ratio_text = "-" if ratio is None else f"{ratio:.3g}"
            flag = "[green]fix found[/]" if fixed else "[yellow]no fix yet[/]"
            text = f"best objective {best['score']:.4g}  std_ratio {ratio_text}  {flag}"
        self._progress.update(self._task, completed=done, best=text, description="search")

    def stop(self) -> None:
        if self._task is not None:
            self._progress.stop()
