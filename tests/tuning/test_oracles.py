"""Pins the Keras Tuner internals ``tuning.oracles`` relies on, where Keras Tuner has no public way,
and checks that the Bayesian oracle's batched proposal step judges as Keras Tuner's own step does.

If an upgrade of Keras Tuner changes one of them, these fail, rather than a search going wrong.
The proposal tests replay a known objective (no training), as Keras Tuner's own tests do.
"""

from __future__ import annotations

import keras_tuner as kt
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from autofix_lstm.tuning.oracles import NEAR, AutofixTuner, make_oracle


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


# --- the Bayesian oracle's proposal step ----------------------------------------------------------

OPTIMUM = {"a": 0.3, "b": 0.7}


def _distance(values: dict) -> float:
    """Distance of a trial's values to ``OPTIMUM`` (over the names it has)."""
    return float(np.sqrt(sum((float(values[name]) - OPTIMUM[name]) ** 2 for name in values)))


class _Bowl:
    """A known objective, no training: the squared distance to ``OPTIMUM``."""

    def run(self, trial):
        return {"score": _distance(trial.hyperparameters.values) ** 2}

    def trial_ended(self, trial):
        pass


def _unit_space(*names: str) -> kt.HyperParameters:
    hp = kt.HyperParameters()
    for name in names:
        hp.Float(name, 0.0, 1.0)
    return hp


def _bayesian(hp, proposal: str, trials: int, initial: int):
    oracle = make_oracle("bayesian", hp, max_trials=trials, epochs=2, seeds=[], deadline=None, seed=0,
                         proposal=proposal)
    oracle.num_initial_points = initial
    return oracle


def test_batched_proposal_returns_untried_values_inside_the_space(tmp_path):
    hp = kt.HyperParameters()
    hp.Float("model.optimizer.learning_rate", 1e-4, 1e-1, sampling="log")
    hp.Choice("preprocessing.target", ["none", "standard", "minmax"], default="none")
    hp.Choice("architecture.units", ["16", "32"], default="32")

    class Runner(_Bowl):
        def run(self, trial):
            values = trial.hyperparameters.values
            lr_error = np.log10(values["model.optimizer.learning_rate"]) + 2.5
            return {"score": lr_error ** 2 + (values["preprocessing.target"] != "standard")}

    oracle = _bayesian(hp, "batched", trials=9, initial=3)
    AutofixTuner(oracle, Runner(), directory=str(tmp_path), project_name="p").search(verbose=0)
    trials = [oracle.trials[trial_id] for trial_id in oracle.start_order]
    assert len(trials) == 9 and all(t.status == "COMPLETED" for t in trials)
    for trial in trials:
        values = trial.hyperparameters.values
        assert 1e-4 <= values["model.optimizer.learning_rate"] <= 1e-1
        assert values["preprocessing.target"] in ("none", "standard", "minmax")
        assert values["architecture.units"] in ("16", "32")
    hashes = {oracle._compute_values_hash(t.hyperparameters.values) for t in trials}
    assert len(hashes) == 9  # never a trial proposed twice
    # nor a near-copy of one: every pair apart by NEAR or more in Keras Tuner's [0, 1] space
    vectors = np.array([oracle._vector_of(t.hyperparameters.values) for t in trials])
    gaps = [np.linalg.norm(a - b) for i, a in enumerate(vectors) for b in vectors[i + 1:]]
    assert min(gaps) >= NEAR
    assert set(oracle.proposal_seconds) == set(oracle.start_order)  # every proposal timed
    # The Gaussian process was fit on the 8 trials before the last proposal, and kept.
    assert oracle.gpr.X_train_.shape == (8, 3)


def test_batched_proposal_finds_the_point_keras_tuners_step_finds(tmp_path):
    """The same history, both steps: the same acquisition minimum (to 0.01 of the unit interval)."""
    hp = _unit_space("a")
    batched = _bayesian(hp, "batched", trials=5, initial=5)
    AutofixTuner(batched, _Bowl(), directory=str(tmp_path), project_name="p").search(verbose=0)
    batched.autofix_max_trials = None  # one proposal more, outside the search
    own = batched.populate_space("next")["values"]["a"]
    batched.proposal = "keras_tuner"
    theirs = batched.populate_space("next")["values"]["a"]
    assert own == pytest.approx(theirs, abs=0.01)
    batched.proposal = "batched"
    acquisition = batched.acquisition(np.array([[own], [theirs]]))
    assert acquisition[0] <= acquisition[1] + 1e-6


@pytest.mark.slow  # Keras Tuner's own step takes seconds a proposal
def test_batched_proposals_concentrate_near_the_optimum_as_well_as_keras_tuners(tmp_path):
    best, start = {}, {}
    for proposal in ("batched", "keras_tuner"):
        oracle = _bayesian(_unit_space("a", "b"), proposal, trials=9, initial=4)
        with threadpool_limits(limits=1, user_api="blas"):  # as the batched step runs; no effect on results
            AutofixTuner(oracle, _Bowl(), directory=str(tmp_path / proposal), project_name="p").search(verbose=0)
        distances = [_distance(oracle.trials[trial_id].hyperparameters.values) for trial_id in oracle.start_order]
        start[proposal], best[proposal] = min(distances[:4]), min(distances[4:])
    assert start["batched"] == start["keras_tuner"]  # the same random start
    assert best["batched"] <= best["keras_tuner"] + 0.02
    assert best["batched"] < start["batched"] / 3
