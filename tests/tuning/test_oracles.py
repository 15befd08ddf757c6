"""Pins the Keras Tuner internals ``tuning.oracles`` relies on, where Keras Tuner has no public way.

If an upgrade of Keras Tuner changes one of them, these fail, rather than a search going wrong.
"""

from __future__ import annotations

import keras_tuner as kt

from autofix_lstm.tuning.oracles import AutofixTuner, make_oracle


def _hp():
    hp = kt.HyperParameters()
    hp.Choice("preprocessing.target", ["none", "standard", "minmax"], default="none")
    return hp


class _Runner:
    def __init__(self, fail=False):
        self.fail = fail

    def run(self, trial):
        if self.fail:
            raise kt.errors.FailedTrialError("NaN loss")
        return {"score": 1.0}

    def trial_ended(self, trial):
        pass


def test_duplicate_tells_tried_values_apart(tmp_path):
    oracle = make_oracle("random", _hp(), max_trials=2, epochs=2, seeds=[], deadline=None, seed=0)
    AutofixTuner(oracle, _Runner(), directory=str(tmp_path), project_name="p").search(verbose=0)
    tried = [dict(t.hyperparameters.values) for t in oracle.trials.values()]
    assert all(oracle._duplicate(values) for values in tried)
    untried = next(v for v in ("none", "standard", "minmax") if {"preprocessing.target": v} not in tried)
    assert not oracle._duplicate({"preprocessing.target": untried})


def test_reload_exposes_the_retry_queue_as_a_list_of_trial_ids(tmp_path):
    oracle = make_oracle("random", _hp(), max_trials=1, epochs=2, seeds=[], deadline=None, seed=0)
    AutofixTuner(oracle, _Runner(), directory=str(tmp_path), project_name="p").search(verbose=0)
    again = make_oracle("random", _hp(), max_trials=1, epochs=2, seeds=[], deadline=None, seed=0)
    AutofixTuner(again, _Runner(), directory=str(tmp_path), project_name="p")  # reloads the project
    assert isinstance(again._retry_queue, list)
    assert all(trial_id in again.trials for trial_id in again._retry_queue)


def test_the_debug_switch_exists_and_failed_trials_print_no_traceback(tmp_path, capsys):
    from keras_tuner.src import config as kt_config

    assert isinstance(kt_config.DEBUG, bool)
    before = kt_config.DEBUG
    oracle = make_oracle("random", _hp(), max_trials=2, epochs=2, seeds=[], deadline=None, seed=0)
    AutofixTuner(oracle, _Runner(fail=True), directory=str(tmp_path), project_name="p").search(verbose=0)
    assert "Traceback" not in capsys.readouterr().err
    assert kt_config.DEBUG == before  # restored after the search


def test_the_oracle_keeps_its_start_order_public(tmp_path):
    oracle = make_oracle("random", _hp(), max_trials=3, epochs=2, seeds=[], deadline=None, seed=0)
    AutofixTuner(oracle, _Runner(), directory=str(tmp_path), project_name="p").search(verbose=0)
    assert oracle.start_order == sorted(oracle.trials, key=int)
