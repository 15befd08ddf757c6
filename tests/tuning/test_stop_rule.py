"""``search.stop: confirmed`` without training: when the trials end, and what a resumed search does.

``ConfirmedStop`` is driven through a fake runner (its best so far, its oracle, its tally) and a fake
confirmation that answers with fixed seed runs, as the tuner tests replay fixed scores.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from autofix_lstm.run_dir import RunDir
from autofix_lstm.scoring.metrics import Metrics
from autofix_lstm.tuning.confirm_stage import known_seconds, load_known, save_known
from autofix_lstm.tuning.confirmation import Confirmation, SeedRun, confirm_fixes
from autofix_lstm.tuning.records import BASELINE_ID, TrialRecord
from autofix_lstm.tuning.result import SearchReporter
from autofix_lstm.tuning.search_summary import Summary, build_summary
from autofix_lstm.tuning.stopping import ConfirmedStop, EarlyStop, trials_without_gain

METRICS = Metrics(task="regression", nan=False, std_ratio=0.9, r2=0.8, mse=0.2, constant_mse=1.0)
COLLAPSED = Metrics(task="regression", nan=False, std_ratio=0.001, r2=-1.0, mse=2.0, constant_mse=1.0, collapsed=True)


def _record(trial_id: str, score: float, fix: bool = True) -> TrialRecord:
    return TrialRecord(trial_id=trial_id, status="completed", score=score, fix=fix, metrics=METRICS)


SEEN = TrialRecord(trial_id=BASELINE_ID, status="pruned", score=float("inf"), fix=False, metrics=COLLAPSED)


def _runs(*held: bool) -> list[SeedRun]:
    return [SeedRun(seed=seed, fix=fix, metrics=METRICS, seconds=1.5) for seed, fix in enumerate(held)]


class _Search:
    """A runner's face for the stop rule: ``end(record)`` is one trial ended (Keras Tuner's on_trial_end)."""

    def __init__(self, best: TrialRecord = SEEN, max_trials: int = 10, deadline: float | None = None):
        self.best, self.done, self.fix_found, self.reporter = best, 0, best.fix, SearchReporter()
        self.oracle = SimpleNamespace(stop_reason=None, deadline=deadline, start_order=[])

    def started_count(self) -> int:
        return len(self.oracle.start_order)

    def end(self, rule: ConfirmedStop, record: TrialRecord) -> EarlyStop | None:
        self.oracle.start_order.append(record.trial_id)
        if record.score < self.best.score:
            self.best = record
        self.done += 1
        return rule.trial_ended()


def _rule(search: _Search, answers: dict[str, list[SeedRun]], *, patience: int = 2, max_trials: int = 10,
          known: dict | None = None):
    asked: list[str] = []
    kept: list[dict] = []

    def confirm(record: TrialRecord) -> Confirmation:
        asked.append(record.trial_id)
        return Confirmation(trial_id=record.trial_id, runs=answers[record.trial_id])

    rule = ConfirmedStop(search, patience=patience, max_trials=max_trials, confirm=confirm, known=known or {},
                         keep=lambda known: kept.append(dict(known)))
    rule.start([])
    return rule, asked, kept


def test_a_fix_confirmed_after_patience_trials_without_gain_ends_the_trials():
    search = _Search()
    rule, asked, kept = _rule(search, {"01": _runs(True, True, True)})
    assert search.end(rule, _record("00", 1.5, fix=False)) is None  # no fix yet
    assert search.end(rule, _record("01", 0.3)) is None  # the fix: its count starts
    assert search.end(rule, _record("02", 0.4)) is None and asked == []  # one trial without gain: not yet
    stopped = search.end(rule, _record("03", 0.35))
    assert asked == ["01"] and stopped == EarlyStop(trial_id="01", held="3/3", trials_after=2, trials_run=4,
                                                    max_trials=10)
    assert search.oracle.stop_reason == stopped.reason  # the oracle starts no more trials
    assert stopped.reason == "trial 01's fix held on 3/3 seeds and the 2 trials after it brought no gain"
    assert stopped.sentence().startswith("The search stopped early, after 4 of 10 trials (search.stop: confirmed): ")
    assert list(kept[-1]) == ["01"]  # its runs are kept for the confirmation stage and a resumed search


def test_a_new_best_starts_the_count_again():
    search = _Search()
    rule, asked, _ = _rule(search, {"02": _runs(True, True, True)})
    for trial_id, score in (("00", 0.5), ("01", 0.6), ("02", 0.2), ("03", 0.3)):
        assert search.end(rule, _record(trial_id, score)) is None
    assert asked == []  # 00 had one trial without gain before 02 beat it; 02 has had one
    assert search.end(rule, _record("04", 0.3)) is not None and asked == ["02"]


def test_a_fix_that_does_not_hold_is_confirmed_once_and_the_trials_go_on():
    search = _Search()
    rule, asked, kept = _rule(search, {"00": _runs(True, False, True), "03": _runs(True, True, True)})
    search.end(rule, _record("00", 0.3))
    search.end(rule, _record("01", 0.4))
    assert search.end(rule, _record("02", 0.4)) is None and asked == ["00"]
    assert search.oracle.stop_reason is None
    assert search.end(rule, _record("03", 0.2)) is None and asked == ["00"]  # not asked again
    search.end(rule, _record("04", 0.4))
    assert search.end(rule, _record("05", 0.4)).trial_id == "03"
    assert asked == ["00", "03"] and set(kept[-1]) == {"00", "03"}  # both kept: the stage needs neither again


def test_the_spec_as_written_is_never_the_fix_it_stops_on():
    search = _Search(best=_record(BASELINE_ID, 0.2))  # a working spec that no trial beats
    rule, asked, _ = _rule(search, {}, patience=1)
    for trial_id in ("00", "01", "02"):
        assert search.end(rule, _record(trial_id, 0.5)) is None
    assert asked == []


def test_at_the_end_of_the_budget_the_rule_leaves_the_confirmation_to_its_stage():
    search = _Search()
    rule, asked, _ = _rule(search, {"00": _runs(True, True, True)}, max_trials=3)
    for trial_id in ("00", "01", "02"):
        assert search.end(rule, _record(trial_id, 0.3 if trial_id == "00" else 0.4)) is None
    assert asked == []  # the third trial was the last: nothing left to save
    late = _Search(deadline=time.time() - 1)  # max_time is up: the oracle starts no trial either way
    rule, asked, _ = _rule(late, {"00": _runs(True, True, True)}, patience=1)
    late.end(rule, _record("00", 0.3))
    assert late.end(rule, _record("01", 0.4)) is None and asked == []


def test_a_resumed_search_that_had_stopped_stops_again_without_training():
    records = [_record("00", 0.3), _record("01", 0.4), _record("02", 0.4)]
    assert trials_without_gain(records, records[0]) == 2
    assert trials_without_gain(records, SEEN) == 3
    search = _Search(best=records[0])
    search.oracle.start_order = ["00", "01", "02"]
    rule = ConfirmedStop(search, patience=2, max_trials=10, confirm=pytest.fail, known={"00": _runs(True, True, True)})
    stopped = rule.start(records)
    assert stopped is not None and stopped.trials_run == 3 and search.oracle.stop_reason == stopped.reason
    # a longer patience (changed before the resume) lets the trials go on
    again = _Search(best=records[0])
    again.oracle.start_order = ["00", "01", "02"]
    longer = ConfirmedStop(again, patience=3, max_trials=10, confirm=pytest.fail, known={"00": _runs(True, True, True)})
    assert longer.start(records) is None and again.oracle.stop_reason is None


def test_the_confirmation_stage_uses_the_runs_it_already_has():
    trained: list[tuple[str, int]] = []

    def train(record: TrialRecord, seed: int):
        trained.append((record.trial_id, seed))
        return METRICS, 2.0

    candidates = [_record("03", 0.2), _record("05", 0.3)]
    known = {"03": _runs(True, True, True)}
    outcome = confirm_fixes(candidates, train, seed=0, min_std_ratio=0.1, known=known)
    assert outcome.trial_id == "03" and outcome.confirmed_seeds == "3/3" and trained == []
    failed = {"03": _runs(True, False, True)}
    outcome = confirm_fixes(candidates, train, seed=0, min_std_ratio=0.1, known=failed)
    assert outcome.trial_id == "05" and trained == [("05", 1), ("05", 2)]  # only the fix not yet run
    assert outcome.tried[0] == {"trial_id": "03", "confirmed_seeds": "2/3"}


def test_the_summary_says_whether_and_why_the_trials_stopped_early():
    best, baseline = _record("01", 0.3), SEEN
    common = dict(fixed=True, verdict="Fixed", best=best, baseline=baseline, records=[best], changes=[], findings=[],
                  elapsed=10.0, min_std_ratio=0.1, tuner="bayesian", fields=[], cudnn=[], alternative=None,
                  interrupted=False)
    stop = EarlyStop(trial_id="01", held="3/3", trials_after=3, trials_run=5, max_trials=30)
    summary = build_summary(**common, stopped=stop).to_dict()
    assert summary["stopped_early"] is True and summary["stop_reason"] == stop.reason
    plain = build_summary(**common).to_dict()
    assert plain["stopped_early"] is False and plain["stop_reason"] is None
    older = {k: v for k, v in plain.items() if k not in ("stopped_early", "stop_reason")}  # an earlier version's
    assert Summary.from_dict(older).stopped_early is False and Summary.from_dict(older).stop_reason is None


def test_the_kept_runs_read_back_and_a_damaged_file_only_costs_trainings(tmp_path):
    run = RunDir(tmp_path)
    assert load_known(run) == {}
    save_known(run, {"03": _runs(True, True, True)})
    assert load_known(run) == {"03": _runs(True, True, True)}
    assert known_seconds(load_known(run)) == 3.0  # the extra seeds' runs: the trial's own is counted as a trial
    assert run.seed_runs in run.search_files()  # --fresh removes it
    for damaged in ("{not json", '{"03": [{"seed": 1}]}', "[1, 2]"):
        run.seed_runs.write_text(damaged)
        assert load_known(run) == {}


def test_a_fix_far_below_the_signal_probe_does_not_stop_the_trials():
    from autofix_lstm.scoring.signal import SignalProbe

    far = SignalProbe(model="linear", metric="r2", value=0.95, constant=0.0, beats_constant=True)
    weak = Metrics(task="regression", nan=False, std_ratio=0.7, r2=0.5, mse=0.5, constant_mse=1.0)  # 0.45 below
    search = _Search()
    asked: list[str] = []
    rule = ConfirmedStop(search, patience=1, max_trials=10, known={}, probe=far,
                         confirm=lambda record: asked.append(record.trial_id) or Confirmation(
                             trial_id=record.trial_id, runs=_runs(True, True, True)))
    rule.start([])
    for trial in ("01", "02", "03", "04"):
        record = TrialRecord(trial_id=trial, status="completed", score=0.3 if trial == "01" else 0.5, fix=True,
                             metrics=weak)
        assert search.end(rule, record) is None
    assert asked == [] and search.oracle.stop_reason is None  # never confirmed to stop: the budget is spent
    rule.probe = SignalProbe(model="linear", metric="r2", value=0.6, constant=0.0, beats_constant=True)
    assert search.end(rule, _record("05", 0.5)) is not None and asked == ["01"]  # near the probe: it stops
