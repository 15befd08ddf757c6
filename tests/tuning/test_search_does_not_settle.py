"""The search after a first fix and around pruning: refinement near the fix, classifier ranking,
the safety net for pruned trials, and pruning that decides on optimizer steps and evidence."""

from __future__ import annotations

import keras_tuner as kt
import numpy as np
import pytest
from helpers import make_series_csv, spec_dict, write_spec

from autofix_lstm.data.dataset import load_dataset
from autofix_lstm.modeling.callbacks import CollapsePruning
from autofix_lstm.modeling.train import prepare
from autofix_lstm.remedies.strategies import builtin_strategies
from autofix_lstm.scoring.metrics import Metrics
from autofix_lstm.scoring.objective import score
from autofix_lstm.spec import load_spec
from autofix_lstm.tuning import driver, trials
from autofix_lstm.tuning.oracles import AutofixTuner, make_oracle
from autofix_lstm.tuning.records import TrialRecord
from autofix_lstm.tuning.refinement import neighbours
from autofix_lstm.tuning.result import SearchReporter
from autofix_lstm.tuning.space import build_space


@pytest.fixture
def sine_spec(tmp_path):
    make_series_csv(tmp_path, n=200, kind="sine", scale=100.0)
    return load_spec(write_spec(tmp_path, spec_dict("series.csv", model={"layers": [
        {"type": "lstm", "units": 8, "recurrent_dropout": 0.5}, {"type": "dense", "units": 1, "activation": "sigmoid"}]})))


# --- ranking classifiers ---------------------------------------------------------------------------


def _cls(balanced, log_loss):
    return Metrics(task="multiclass", std_ratio=0.9, distinct_predictions=3, nan=False, collapsed=False,
                   balanced_accuracy=balanced, majority_balanced_accuracy=1 / 3, log_loss=log_loss, prior_log_loss=1.0)


def test_classifier_fixes_rank_by_balanced_accuracy_not_the_weighted_loss():
    # The case seen: with class weights, the trial with the lower loss had balanced accuracy 0.45, another 0.52.
    lower_loss, better_balanced = _cls(0.45, 0.70), _cls(0.52, 0.85)
    assert score(better_balanced, 0.1) < score(lower_loss, 0.1) < 1.0
    assert score(_cls(0.52, 0.80), 0.1) < score(_cls(0.52, 0.85), 0.1)  # equal balanced accuracy: the loss decides


# --- refinement ------------------------------------------------------------------------------------


def test_neighbours_vary_one_field_each_rate_first_then_incidental_values(sine_spec):
    space = build_space(sine_spec, load_dataset(sine_spec), list(builtin_strategies().values()))
    fix = space.decode(space.encode({"preprocessing.target": "standard", "activations.head": "task",
                                     "model.optimizer.learning_rate": 0.01}))
    found = [space.decode(values) for values in neighbours(space, fix)]
    assert all(sum(v[k] != fix[k] for k in fix) == 1 for v in found)  # one field each
    rates = sorted(v["model.optimizer.learning_rate"] for v in found[:2])
    assert rates == pytest.approx([0.01 / 3, 0.03])  # the learning rate first, both ways
    first_choice = next(v for v in found if v["model.optimizer.learning_rate"] == pytest.approx(0.01))
    changed = next(k for k in fix if first_choice[k] != fix[k])
    assert fix[changed] == space.own[changed]  # then a value the fix still holds from the user's spec
    assert any(v["dropout.recurrent"] == 0.0 for v in found)  # the incidental recurrent dropout 0.5 is varied


class _Runner:
    def __init__(self, oracle_ref, space, fix_values):
        self.oracle_ref, self.space, self.fix_values, self.ran = oracle_ref, space, fix_values, []

    def run(self, trial):
        values = dict(trial.hyperparameters.values)
        self.ran.append((trial.trial_id, values))
        fix = values.get("preprocessing.target") == "standard"
        if fix and len(self.ran) == 1:
            oracle = self.oracle_ref["oracle"]
            oracle.queue_refinements(neighbours(self.space, self.space.decode(values)), budget=3)
        return {"score": 0.2 if fix else 2.5}

    def trial_ended(self, trial):
        pass


def test_refinements_run_before_the_oracle_within_their_budget(sine_spec, tmp_path):
    space = build_space(sine_spec, load_dataset(sine_spec), list(builtin_strategies().values()))
    seed = space.encode({"preprocessing.target": "standard"})
    later_seed = space.encode({"preprocessing.inputs": "robust"})
    oracle = make_oracle("random", space.hyperparameters, max_trials=8, epochs=2, seeds=[seed, later_seed],
                         deadline=None, seed=0)
    ref = {"oracle": oracle}
    runner = _Runner(ref, space, seed)
    AutofixTuner(oracle, runner, directory=str(tmp_path / "t"), project_name="p").search(verbose=0)
    sources = [oracle.sources[trial_id] for trial_id, _ in runner.ran]
    assert sources[:5] == ["seed", "refine", "refine", "refine", "seed"]  # 3 refinements, then the next seed
    assert set(sources[5:]) == {"oracle"}
    first = space.decode(runner.ran[0][1])
    for _, values in runner.ran[1:4]:
        decoded = space.decode(values)
        assert sum(decoded[k] != first[k] for k in first) == 1


# --- the safety net ----------------------------------------------------------------------------------


class _RecordingRunner:
    def __init__(self, spec, space):
        self.spec, self.space, self.calls = spec, space, []

    def train(self, trial_id, values, decoded, started, **kwargs):
        self.calls.append((trial_id, kwargs))


def test_with_no_fix_the_most_promising_pruned_trials_are_rerun_in_full(sine_spec):
    space = build_space(sine_spec, load_dataset(sine_spec), list(builtin_strategies().values()))
    records = [
        TrialRecord("0", "pruned", history={"loss": [1.0, 0.99]}, pruned_at=2),
        TrialRecord("1", "pruned", history={"loss": [1.0, 0.5]}, pruned_at=2),  # falling fastest
        TrialRecord("2", "completed", history={"loss": [1.0, 0.2]}),
        TrialRecord("3", "pruned", history={"loss": [1.0, 0.8]}, pruned_at=2),
    ]
    runner = _RecordingRunner(sine_spec.updated({"search.rerun_pruned": 2}), space)
    assert driver._rerun_pruned(runner, records, None, SearchReporter()) == 2
    assert [trial_id for trial_id, _ in runner.calls] == ["1_full", "3_full"]
    # in full: no pruning, and each candidate's own train.epochs (None: the candidate spec says)
    assert all(kw["prune"] is False and kw["epochs"] is None for _, kw in runner.calls)
    assert [kw["rerun_of"] for _, kw in runner.calls] == ["1", "3"]
    # Already re-run (a resumed search): not again.
    done = [*records, TrialRecord("1_full", "completed", rerun_of="1"), TrialRecord("3_full", "completed", rerun_of="3")]
    runner.calls.clear()
    assert driver._rerun_pruned(runner, done, None, SearchReporter()) == 0


# --- pruning on steps and evidence --------------------------------------------------------------------


class _Flat:
    """A model whose output is the same constant for every window."""

    stop_training = False

    def __call__(self, x, training=False):
        return np.full((len(x), 1), 0.3)


def _binary_spec(tmp_path, batch_size):
    make_series_csv(tmp_path, n=300, kind="sine")
    import pandas as pd

    frame = pd.read_csv(tmp_path / "series.csv")
    frame["up"] = (frame[frame.columns[-1]].diff().shift(-1) > 0).astype(int)
    frame.to_csv(tmp_path / "series.csv", index=False)
    raw = spec_dict("series.csv", train={"epochs": 10, "batch_size": batch_size, "seed": 0})
    raw["data"]["target"] = "up"
    return load_spec(write_spec(tmp_path, raw))


def _run(callback, losses):
    callback.set_model(_Flat())
    for epoch, loss in enumerate(losses):
        callback.on_epoch_end(epoch, {"loss": loss})
        if callback.model.stop_training:
            break
    return callback.pruned_at


def test_a_classifier_on_one_class_is_spared_while_its_loss_falls(tmp_path):
    spec = _binary_spec(tmp_path, batch_size=8)
    prepared = prepare(spec, load_dataset(spec))
    falling = CollapsePruning(prepared, after=2, min_std_ratio=0.1, epochs=10, batch_size=8)
    assert _run(falling, [0.69, 0.60, 0.52, 0.45, 0.40]) is None
    stalled = CollapsePruning(prepared, after=2, min_std_ratio=0.1, epochs=10, batch_size=8)
    assert _run(stalled, [0.69, 0.690, 0.6899, 0.6899, 0.6899]) is not None


def test_pruning_waits_for_enough_optimizer_steps_with_a_large_batch(tmp_path):
    spec = _binary_spec(tmp_path, batch_size=128)
    prepared = prepare(spec, load_dataset(spec))
    callback = CollapsePruning(prepared, after=2, min_std_ratio=0.1, epochs=20, batch_size=128)
    steps = callback.steps_per_epoch
    assert steps == -(-len(prepared.y_train) // 128) and steps * callback.earliest_epoch >= 30
    assert callback.earliest_epoch > 2
    assert _run(callback, [0.69] * 20) == callback.earliest_epoch


def test_pruning_can_be_turned_off(sine_spec):
    spec = sine_spec.updated({"search.prune_after": None})
    assert trials._pruning(spec, prepare(spec, load_dataset(spec)), 5) is None


def test_kt_still_reports_failures_as_failed(tmp_path):
    hp = kt.HyperParameters()
    hp.Choice("x", ["a", "b"])
    oracle = make_oracle("random", hp, max_trials=2, epochs=2, seeds=[], deadline=None, seed=0)

    class Failing:
        def run(self, trial):
            raise kt.errors.FailedTrialError("NaN")

        def trial_ended(self, trial):
            pass

    AutofixTuner(oracle, Failing(), directory=str(tmp_path), project_name="p").search(verbose=0)
    assert {t.status for t in oracle.trials.values()} == {"FAILED"}


class _Bunched:
    """A classifier whose probabilities sit near 0.5 but already rank the classes right."""

    stop_training = False

    def __init__(self, labels):
        self.labels = np.asarray(labels, dtype=float)

    def __call__(self, x, training=False):
        return (0.48 + 0.04 * self.labels[: len(x)]).reshape(-1, 1)


def test_a_classifier_that_separates_with_bunched_probabilities_is_not_pruned(tmp_path):
    # Seen on the late_separating_classifier case: class-weighted fixes separate the classes from
    # epoch 1 with probabilities bunched near 0.5 (std_ratio below 0.1) and a loss falling under 1%
    # an epoch; pruning stopped them at epoch 4.
    spec = _binary_spec(tmp_path, batch_size=8)
    prepared = prepare(spec, load_dataset(spec))
    callback = CollapsePruning(prepared, after=2, min_std_ratio=0.1, epochs=10, batch_size=8)
    callback.set_model(_Bunched(prepared.dataset.y_val))
    for epoch in range(9):
        callback.on_epoch_end(epoch, {"loss": 0.69})
    assert callback.pruned_at is None and callback.std_ratios[-1] < 0.1
