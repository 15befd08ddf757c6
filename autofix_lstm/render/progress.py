"""Progress for long runs: a live rich display in a terminal or notebook, plain lines in a log.

The search tells a ``SearchReporter`` of each stage and trial. ``RichReporter`` draws trial n of N,
elapsed time, the best objective and std_ratio so far, and whether a fix has been found.
``PlainReporter`` writes one timestamped line per stage and per trial, for output that goes to a
file (``nohup``, a batch scheduler's log), where a live display would be a stream of escape codes.
``progress_reporter()`` picks the one that suits where the output goes. Both say how long the rest
should take (``eta_seconds``: the median trial's time for each trial left, within ``max_time``).
"""

from __future__ import annotations

import datetime as _dt
import statistics
import sys
import time
from typing import TextIO

from autofix_lstm.format import number
from autofix_lstm.tuning.process_role import worker_name
from autofix_lstm.tuning.records import TrialRecord
from autofix_lstm.tuning.result import SearchReporter


def eta_seconds(durations: list[float], done: int, total: int | None, deadline: float | None = None,
                now: float | None = None) -> float | None:
    """Seconds the trials left should take: the median trial's time for each one, never past ``deadline``
    (a ``time.time()``); 0 when none is left; None before any trial ended (nothing to go by) without a deadline."""
    left = None if total is None else max(0, total - done)
    estimate = 0.0 if left == 0 else (statistics.median(durations) * left if durations and left else None)
    if deadline is not None:
        room = max(0.0, deadline - (time.time() if now is None else now))
        estimate = room if estimate is None else min(estimate, room)
    return estimate


def duration_text(seconds: float | None) -> str:
    """``42s``, ``3m 12s``, ``2h 05m``; a dash for None."""
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


class _Eta:
    """The trials' times so far and the search's deadline, for ``eta_seconds``."""

    def __init__(self) -> None:
        self.durations: list[float] = []
        self.at: float | None = None
        self.total: int | None = None

    def record(self, record: TrialRecord) -> None:
        if record.seconds is not None and not record.rerun_of:
            self.durations.append(float(record.seconds))

    def text(self, done: int) -> str:
        seconds = eta_seconds(self.durations, done, self.total, self.at)
        return "" if seconds is None else f"eta {duration_text(seconds)}"


class RichReporter(SearchReporter):
    """A live rich progress bar (works in terminals and Jupyter), ending on a "done" frame.

    ``console``: where to draw (rich's own by default). The elapsed time and the ETA never shrink
    (the best-so-far text folds instead), so a narrow notebook cell shows them whole.
    """

    def __init__(self, console=None) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        from rich.table import Column

        whole = Column(no_wrap=True, min_width=7)
        self._progress = Progress(
            TextColumn("[bold]{task.description}", table_column=Column(ratio=1, overflow="fold")),
            BarColumn(bar_width=20), MofNCompleteColumn(table_column=Column(no_wrap=True)),
            TimeElapsedColumn(table_column=whole), TextColumn("{task.fields[eta]}", table_column=Column(no_wrap=True)),
            TextColumn("{task.fields[best]}", table_column=Column(ratio=2, overflow="fold")),
            console=console, expand=True,
        )
        self._task = None
        self._eta = _Eta()

    def _ensure_started(self) -> None:
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task("starting", total=None, best="", eta="")

    def start(self, total: int) -> None:
        self._ensure_started()
        self._eta.total = total
        self._progress.update(self._task, total=total, completed=0, description="search")

    def deadline(self, at: float | None) -> None:
        self._eta.at = at

    def trial_recorded(self, record: TrialRecord) -> None:
        self._eta.record(record)

    def stage(self, text: str) -> None:
        self._ensure_started()
        self._progress.update(self._task, description=text)

    def trial_done(self, done: int, best: TrialRecord | None, fixed: bool) -> None:
        text = ""
        if best is not None:
            flag = "[green]fix found[/]" if fixed else "[yellow]no fix yet[/]"
            text = f"best objective {number(best.score, 4)}  std_ratio {number(_std_ratio(best))}  {flag}"
        self._progress.update(self._task, completed=done, best=text, description="search", eta=self._eta.text(done))

    def stop(self) -> None:
        if self._task is not None:  # the last frame says so, and keeps the figures it ended on
            self._progress.update(self._task, description="done", eta="")
            self._progress.refresh()
            self._progress.stop()


class PlainReporter(SearchReporter):
    """One timestamped line per stage and per trial, flushed at once (for ``tail -f`` on a log file).

    A trial's line: ``2026-03-01 02:14:07  trial 07 [3/30]  worker chief  completed  objective 0.1234
    std_ratio 0.91  12.3s  fix``; a line after it when the best so far changed.
    """

    def __init__(self, stream: TextIO | None = None, clock=None):
        self.stream = stream
        self.clock = clock or _dt.datetime.now
        self.total: int | None = None
        self.done = 0
        self._best_id: str | None = None
        self._eta = _Eta()

    def _line(self, text: str) -> None:
        stream = self.stream or sys.stdout  # looked up late: a test or a notebook may swap sys.stdout
        stream.write(f"{self.clock().strftime('%Y-%m-%d %H:%M:%S')}  {text}\n")
        stream.flush()

    def start(self, total: int) -> None:
        self.total = self._eta.total = total
        self._line(f"search: up to {total} trials")

    def deadline(self, at: float | None) -> None:
        self._eta.at = at

    def stage(self, text: str) -> None:
        self._line(text)

    def trial_recorded(self, record: TrialRecord) -> None:
        if record.rerun_of:  # the safety net after the trials: not one of the budget's
            count = f" (pruned trial {record.rerun_of} re-run in full)"
        else:
            self.done += 1
            count = f" [{self.done}/{self.total}]" if self.total else ""
        parts = [
            f"trial {record.trial_id}{count}", f"worker {record.worker or worker_name()}", record.status.value,
            f"objective {number(record.score, 4)}", f"std_ratio {number(_std_ratio(record))}",
            f"{record.seconds:.1f}s" if record.seconds is not None else "-",
        ]
        if record.fix:
            parts.append("fix")
        if record.message:
            parts.append(f"({record.message.splitlines()[0][:200]})")
        self._eta.record(record)
        eta = self._eta.text(self.done)
        if eta and not record.rerun_of:
            parts.append(eta)
        self._line("  ".join(parts))

    def trial_done(self, done: int, best: TrialRecord | None, fixed: bool) -> None:
        self.done = done  # the tally (a resumed search starts past its earlier trials)
        if best is None or best.trial_id == self._best_id:
            return
        if self._best_id is not None or not best.is_baseline:
            flag = "fix found" if fixed else "no fix yet"
            self._line(f"best so far: trial {best.trial_id}  objective {number(best.score, 4)}  "
                       f"std_ratio {number(_std_ratio(best))}  {flag}")
        self._best_id = best.trial_id

    def stop(self) -> None:
        self._line("search stages done: writing the outputs")


def progress_reporter(stream: TextIO | None = None) -> SearchReporter:
    """A live ``RichReporter`` where a person watches (a terminal, Jupyter), else a ``PlainReporter``.

    Decided by ``isatty`` on ``stream`` (default: stdout), not by rich's guess, which ``FORCE_COLOR``
    sways: a log file must get plain lines whatever the environment says about colours.
    """
    from rich.console import Console

    target = stream or sys.stdout
    try:
        terminal = bool(target.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        terminal = False
    if terminal or Console(file=target).is_jupyter:
        return RichReporter()
    return PlainReporter(stream)


def _std_ratio(record: TrialRecord) -> float | None:
    return None if record.metrics is None else record.metrics.std_ratio
