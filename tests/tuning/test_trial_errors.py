"""How a trial's errors steer the search, with the real trial runner and Keras Tuner but no training.

A candidate that fails is recorded as failed (``TrialFailed``, Keras Tuner's ``FailedTrialError``)
and the search goes on; a trial whose record cannot be written stops it (``FatalSearchError``), which
the CLI turns into exit code 3 (tests/test_cli_exit_codes.py).
"""

from __future__ import annotations

import errno
import math

import keras_tuner as kt
import pytest

from autofix_lstm.errors import FatalSearchError, TrialFailed
from autofix_lstm.run_dir import RunDir
from autofix_lstm.spec import load_spec
from autofix_lstm.tuning import trials
from autofix_lstm.tuning.oracles import AutofixTuner, make_oracle
from autofix_lstm.tuning.records import BASELINE_ID, TrialRecord, TrialStatus, load_records
from autofix_lstm.tuning.result import SearchReporter


class _Space:
    """Values decode to themselves and every candidate is the spec itself (the training is faked)."""

    def decode(self, values: dict) -> dict:
        return dict(values)

    def spec_for(self, spec, values):
        return spec


def _hp() -> kt.HyperParameters:
    hp = kt.HyperParameters()
    hp.Float("model.optimizer.learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
    return hp


def _tuner(csv_spec, tmp_path, max_trials: int) -> tuple[AutofixTuner, trials.TrialRunner, RunDir]:
    spec = load_spec(csv_spec)
    run = RunDir(tmp_path / "run")
    floor = TrialRecord(trial_id=BASELINE_ID, status=TrialStatus.PRUNED, score=math.inf)
    runner = trials.TrialRunner(spec, None, _Space(), run, lambda: 0.0, SearchReporter(), floor)
    oracle = make_oracle("random", _hp(), max_trials=max_trials, epochs=2, seeds=[], deadline=None, seed=0)
    tuner = AutofixTuner(oracle, runner, directory=str(run.tuner), project_name=run.project.name)
    runner.oracle = tuner.oracle
    return tuner, runner, run


def _training_that_fails(*args, **kwargs):
    raise ValueError("the head does not fit the loss")


def test_a_failed_trial_is_recorded_and_the_search_goes_on(csv_spec, tmp_path, monkeypatch):
    monkeypatch.setattr(trials, "train_candidate", _training_that_fails)
    tuner, runner, run = _tuner(csv_spec, tmp_path, max_trials=3)
    tuner.search(verbose=0)
    records = load_records(run)
    assert len(records) == 3 and {r.status for r in records} == {TrialStatus.FAILED}
    assert all("ValueError: the head does not fit the loss" in r.message for r in records)
    assert {t.status for t in tuner.oracle.trials.values()} == {"FAILED"}  # Keras Tuner heard of each one
    assert runner.done == 3


def test_the_runner_raises_trial_failed_for_a_failed_trial(csv_spec, tmp_path, monkeypatch):
    monkeypatch.setattr(trials, "train_candidate", _training_that_fails)
    tuner, runner, run = _tuner(csv_spec, tmp_path, max_trials=1)
    trial = tuner.oracle.create_trial(tuner.tuner_id)
    with pytest.raises(TrialFailed, match="the head does not fit the loss"):
        runner.run(trial)
    assert TrialRecord.load(run.trial_record(trial.trial_id)).status is TrialStatus.FAILED


def test_a_trial_whose_record_cannot_be_written_stops_the_search(csv_spec, tmp_path, monkeypatch):
    def disk_full(self, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(trials, "train_candidate", _training_that_fails)
    monkeypatch.setattr(TrialRecord, "save", disk_full)
    tuner, runner, run = _tuner(csv_spec, tmp_path, max_trials=3)
    with pytest.raises(FatalSearchError, match="No space left on device") as caught:
        tuner.search(verbose=0)
    assert isinstance(caught.value.__cause__, OSError)  # the trial's own error, not Keras Tuner's wrapper
    assert len(tuner.oracle.trials) == 1  # the first trial stopped it: no other was started
    assert runner.done == 0
