"""Progress for long runs: a live rich display in a terminal or notebook, plain lines in a log.

The search tells a ``SearchReporter`` of each stage and trial. ``RichReporter`` draws trial n of N,
elapsed time, the best objective and std_ratio so far, and whether a fix has been found.
``PlainReporter`` writes one timestamped line per stage and per trial, for output that goes to a
file (``nohup``, a batch scheduler's log), where a live display would be a stream of escape codes.
``progress_reporter()`` picks the one that suits where the output goes.
"""

from __future__ import annotations

import datetime as _dt
import sys
from typing import TextIO

from autofix_lstm.format import number
from autofix_lstm.tuning.process_role import worker_name
from autofix_lstm.tuning.records import TrialRecord
from autofix_lstm.tuning.result import SearchReporter


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
            text = f"best objective {number(best.score, 4)}  std_ratio {number(_std_ratio(best))}  {flag}"
        self._progress.update(self._task, completed=done, best=text, description="search")

    def stop(self) -> None:
        if self._task is not None:
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

    def _line(self, text: str) -> None:
        stream = self.stream or sys.stdout  # looked up late: a test or a notebook may swap sys.stdout
        stream.write(f"{self.clock().strftime('%Y-%m-%d %H:%M:%S')}  {text}\n")
        stream.flush()

    def start(self, total: int) -> None:
        self.total = total
        self._line(f"search: up to {total} trials")

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
