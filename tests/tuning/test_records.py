"""The trial record: one typed shape, written and read in one place, ordered as the tuner started the trials."""

from __future__ import annotations

import json

import keras_tuner as kt
import pytest

from autofix_lstm.run_dir import RunDir
from autofix_lstm.scoring.metrics import Metrics
from autofix_lstm.tuning.oracles import AutofixTuner, make_oracle
from autofix_lstm.tuning.records import TrialRecord, TrialStatus, best_record, load_records
from autofix_lstm.tuning.search_summary import first_fix
from autofix_lstm.tuning.summary import trials_frame


def test_a_record_round_trips_with_the_record_files_keys(tmp_path):
    record = TrialRecord("3", "pruned", values={"preprocessing.target": "standard"},
                         metrics=Metrics("regression", r2=float("nan")), score=2.5, pruned_at=2,
                         history={"loss": [1.0, float("inf")]})
    path = record.save(tmp_path / "r.json")
    raw = json.loads(path.read_text())
    assert raw["status"] == "pruned" and raw["metrics"]["r2"] is None and raw["history"]["loss"] == [1.0, None]
    assert "fingerprint" not in raw  # baseline extras are left out of trial records
    back = TrialRecord.load(path)
    assert back.status is TrialStatus.PRUNED and back.pruned_at == 2 and back.values == record.values
    assert isinstance(back.metrics, Metrics) and back.metrics.task == "regression" and back.metrics.r2 is None
    assert back.metrics.to_dict() == raw["metrics"]


def test_a_record_file_cut_short_is_skipped_not_fatal(tmp_path):
    run = RunDir(tmp_path)
    TrialRecord("0", "completed", score=0.5).save(run.trial_record("0"))
    run.trial_record("1").parent.mkdir(parents=True)
    run.trial_record("1").write_text('{"trial_id": "1", "sta')
    assert [r.trial_id for r in load_records(run)] == ["0"]


def _search(tmp_path, max_trials: int, fix_at: set[int], runner_state: dict):
    run = RunDir(tmp_path)
    hp = kt.HyperParameters()
    hp.Float("model.optimizer.learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
    oracle = make_oracle("random", hp, max_trials=max_trials, epochs=2, seeds=[], deadline=None, seed=0)

    class Runner:
        def run(self, trial):
            position = runner_state["n"]
            runner_state["n"] += 1
            fix = position in fix_at
            TrialRecord(trial.trial_id, "completed", score=0.2 if fix else 2.5, fix=fix,
                        order=tuner.oracle.start_order.index(trial.trial_id),
                        elapsed_at_end=float(position)).save(run.trial_record(trial.trial_id))
            return {"score": 0.2 if fix else 2.5}

        def trial_ended(self, trial):
            pass

    tuner = AutofixTuner(oracle, Runner(), directory=str(run.tuner), project_name=run.project.name)
    tuner.search(verbose=0)
    return run, tuner


def test_records_keep_the_tuners_start_order_when_a_search_is_extended_past_ten_trials(tmp_path):
    # Keras Tuner pads ids to the width of max_trials: 9 trials are "0".."8", extended to 12 the new
    # ones are "09", "10", "11". Sorted as text, "09" and "10" land before "1", and the first fix
    # (the 10th trial started) was reported as the 2nd.
    state = {"n": 0}
    _search(tmp_path, 9, {9}, state)
    run, tuner = _search(tmp_path, 12, {9}, state)
    started = list(tuner.oracle.start_order)
    assert started[8:] == ["8", "09", "10", "11"]
    for order in (started, None):  # the oracle's own order, or the order saved in each record
        records = load_records(run, order)
        assert [r.trial_id for r in records] == started
        baseline = TrialRecord("baseline", "completed", score=2.5)
        assert first_fix(records, baseline) == (10, 9.0)
        assert list(trials_frame(records, [])["trial_id"]) == started


def test_best_record_is_the_lowest_objective_and_ignores_failures():
    records = [TrialRecord("baseline", "completed", score=2.9), TrialRecord("0", "failed"),
               TrialRecord("1", "completed", score=0.4), TrialRecord("2", "completed", score=0.4)]
    assert best_record(records).trial_id == "1"
    assert best_record([TrialRecord("0", "failed")]) is None


@pytest.mark.parametrize("status", list(TrialStatus))
def test_statuses_read_as_their_values(status):
    assert TrialRecord("0", status.value).status is status and str(status) == status.value
