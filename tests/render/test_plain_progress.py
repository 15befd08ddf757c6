"""Progress where stdout is not a terminal: one timestamped line per stage and per trial."""

from __future__ import annotations

import datetime as dt
import io
import re

from autofix_lstm.render.progress import PlainReporter, RichReporter, progress_reporter
from autofix_lstm.scoring.metrics import Metrics
from autofix_lstm.tuning.records import TrialRecord, TrialStatus

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  \S")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_file_gets_plain_lines_and_a_terminal_the_live_display(monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")  # colours asked for: still plain lines into a file
    assert isinstance(progress_reporter(io.StringIO()), PlainReporter)
    assert isinstance(progress_reporter(_Terminal()), RichReporter)


def test_one_line_per_stage_and_trial_with_id_worker_status_objective_std_ratio_and_seconds(monkeypatch):
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner0")
    out = io.StringIO()
    reporter = PlainReporter(out, clock=lambda: dt.datetime(2026, 3, 1, 2, 14, 7))
    baseline = TrialRecord("baseline", TrialStatus.COMPLETED, metrics=Metrics("regression", std_ratio=0.001), score=2.9)
    fixed = TrialRecord("07", TrialStatus.COMPLETED, metrics=Metrics("regression", std_ratio=0.91), score=0.1234,
                        fix=True, seconds=12.34)
    failed = TrialRecord("08", TrialStatus.FAILED, message="NaN or infinite loss/predictions\nmore", seconds=0.5)
    reporter.stage("diagnosing")
    reporter.start(30)
    reporter.trial_done(2, baseline, False)  # a resumed search: 2 trials ended before, the best is the baseline
    reporter.trial_recorded(fixed)
    reporter.trial_done(3, fixed, True)
    reporter.trial_recorded(failed)
    reporter.trial_done(4, fixed, True)
    reporter.stop()
    lines = out.getvalue().splitlines()
    assert all(LINE.match(line) for line in lines), lines
    assert [line[21:] for line in lines] == [
        "diagnosing",
        "search: up to 30 trials",
        "trial 07 [3/30]  worker tuner0  completed  objective 0.1234  std_ratio 0.91  12.3s  fix  eta 5m 33s",
        "best so far: trial 07  objective 0.1234  std_ratio 0.91  fix found",
        "trial 08 [4/30]  worker tuner0  failed  objective -  std_ratio -  0.5s  (NaN or infinite loss/predictions)  "
        "eta 2m 47s",  # the median trial (6.42 s) for each of the 26 left
        "search stages done: writing the outputs",
    ]
    assert lines[0].startswith("2026-03-01 02:14:07")


def test_a_pruned_trial_re_run_in_full_is_not_counted_against_the_budget(monkeypatch):
    monkeypatch.delenv("KERASTUNER_TUNER_ID", raising=False)
    out = io.StringIO()
    reporter = PlainReporter(out)
    reporter.start(2)
    reporter.trial_done(2, None, False)
    reporter.trial_recorded(TrialRecord("1_full", TrialStatus.COMPLETED, metrics=Metrics("regression", std_ratio=0.5),
                                        score=0.4, seconds=3.0, rerun_of="1"))
    line = out.getvalue().splitlines()[-1]
    assert "trial 1_full (pruned trial 1 re-run in full)  worker chief  completed  objective 0.4" in line
    assert reporter.done == 2


def test_the_eta_is_the_median_trial_for_each_one_left_within_max_time():
    # Issue 25 (11): the progress had no ETA.
    from autofix_lstm.render.progress import duration_text, eta_seconds

    assert eta_seconds([], 0, 10) is None and eta_seconds([5.0], 10, 10) == 0.0
    assert eta_seconds([2.0, 10.0, 4.0], 3, 10) == 28.0  # median 4 s x 7 trials left
    assert eta_seconds([2.0, 10.0, 4.0], 3, 10, deadline=1_000.0, now=990.0) == 10.0  # max_time ends it first
    assert eta_seconds([], 0, 10, deadline=1_000.0, now=400.0) == 600.0
    assert [duration_text(s) for s in (None, 42, 192, 7_500)] == ["-", "42s", "3m 12s", "2h 05m"]


def test_the_live_display_shows_elapsed_and_eta_whole_and_ends_on_a_done_frame():
    # Issue 25 (11): a narrow notebook cell cut the elapsed time to "0:00:..." and the last frame
    # still read "search".
    from rich.console import Console

    from autofix_lstm.render.progress import RichReporter

    console = Console(record=True, width=72, force_terminal=True, color_system=None)
    reporter = RichReporter(console=console)
    reporter.stage("diagnosing")
    reporter.start(12)
    best = TrialRecord("03", TrialStatus.COMPLETED, metrics=Metrics("regression", std_ratio=0.91), score=0.1234,
                       fix=True, seconds=20.0)
    reporter.trial_recorded(best)
    reporter.trial_done(4, best, True)
    reporter.stop()
    text = console.export_text()
    frame = text[text.rindex("done"):]  # the last frame drawn
    assert "4/12" in frame and "eta" not in frame  # the end: nothing left to wait for
    assert re.search(r"\b0:00:\d\d\b", frame), frame  # elapsed, whole
    assert "best objective 0.1234" in frame and "found" in frame  # the best so far folds, it is not cut
