"""The search's logic without real training: objective, space, strategies, seeding, pruning, tuner.

The tuner tests replay fixed scores through a fake runner, as Keras Tuner's own tests replay
histories through a mock model.
"""

from __future__ import annotations

import dataclasses
import time

import keras_tuner as kt
import numpy as np
import pytest
from helpers import make_series_csv, spec_dict, write_spec

from autofix_lstm.data.dataset import load_dataset
from autofix_lstm.errors import FatalSearchError, SpecError, TrialFailed
from autofix_lstm.modeling.callbacks import CollapsePruning, still_moving
from autofix_lstm.modeling.train import prepare
from autofix_lstm.remedies.fields import FIELDS, apply_values
from autofix_lstm.remedies.strategies import builtin_strategies, resolve_strategies
from autofix_lstm.scoring.metrics import Metrics
from autofix_lstm.scoring.objective import BEAT_MARGIN, beats_constant, is_fix, score, tier
from autofix_lstm.spec import load_spec
from autofix_lstm.tuning.oracles import AutofixTuner, make_oracle
from autofix_lstm.tuning.space import build_space, seed_values
from autofix_lstm.tuning.summary import cudnn_problems, spec_changes

# --- objective -----------------------------------------------------------------------------------


def _reg(std_ratio, r2, mse=1.0, constant_mse=2.0, nan=False):
    return Metrics(task="regression", std_ratio=std_ratio, r2=r2, mse=mse, constant_mse=constant_mse, nan=nan,
                   persistence_mse=None)


def test_collapsed_never_outranks_live_whatever_the_loss():
    collapsed_low_loss = _reg(std_ratio=0.05, r2=0.9, mse=0.1)
    live_bad_loss = _reg(std_ratio=0.5, r2=0.01, mse=1.9)
    assert score(live_bad_loss, 0.1) < score(collapsed_low_loss, 0.1)
    assert tier(collapsed_low_loss, 0.1) == 2 and tier(live_bad_loss, 0.1) == 1


def test_fix_outranks_live_and_nan_is_worst():
    fix = _reg(std_ratio=0.8, r2=0.3, mse=0.7)
    live = _reg(std_ratio=0.8, r2=0.01, mse=0.99, constant_mse=1.0)
    nan = _reg(std_ratio=None, r2=None, mse=None, nan=True)
    assert score(fix, 0.1) < 1.0 <= score(live, 0.1) < 2.0
    assert score(nan, 0.1) == 3.0
    assert is_fix(fix, 0.1) and not is_fix(live, 0.1)


def test_within_a_tier_lower_mse_scores_lower():
    better, worse = _reg(0.9, r2=0.8, mse=0.2), _reg(0.9, r2=0.5, mse=0.5)
    assert score(better, 0.1) < score(worse, 0.1)
    assert score(better, 0.1) == pytest.approx(0.2 / 1.2)


def test_beats_constant_needs_the_margin_against_both_constants():
    assert not beats_constant(_reg(0.5, r2=BEAT_MARGIN / 2, mse=0.5, constant_mse=2.0))  # hindsight constant wins
    assert not beats_constant(_reg(0.5, r2=0.5, mse=1.0, constant_mse=1.02))  # training-mean constant is as good
    assert beats_constant(_reg(0.5, r2=0.5, mse=1.0, constant_mse=2.0))
    binary = Metrics(task="binary", nan=False, balanced_accuracy=0.53, majority_balanced_accuracy=0.5)
    assert not beats_constant(binary)
    assert beats_constant(dataclasses.replace(binary, balanced_accuracy=0.7))


def test_a_min_std_ratio_floor_is_respected():
    metrics = _reg(std_ratio=0.15, r2=0.5)
    assert tier(metrics, 0.1) == 0 and tier(metrics, 0.2) == 2


# --- strategies and fields ------------------------------------------------------------------------


def test_builtin_strategies_are_the_documented_set_and_use_known_fields():
    strategies = builtin_strategies()
    assert set(strategies) == {
        "scaling", "gradient_clipping", "learning_rate", "architecture", "dropout", "class_weights", "activations",
        "optimizer", "bottleneck", "loss", "training", "regularization", "stateful", "initialization",
    }
    for strategy in strategies.values():
        assert set(strategy.fields) <= set(FIELDS)
    scaling = strategies["scaling"].fields
    assert "window_relative" in scaling["preprocessing.inputs"].values
    assert "difference" in scaling["preprocessing.target"].values


def test_user_strategy_file_and_unknown_field(tmp_path):
    good = tmp_path / "mine.yaml"
    good.write_text("name: mine\nfields:\n  model.optimizer.clipnorm:\n    values: [2.0, 3.0]\n")
    assert [s.name for s in resolve_strategies(["mine.yaml", "dropout"], tmp_path)] == ["mine", "dropout"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nfields:\n  model.optimizer.momentum:\n    values: [0.9]\n")
    with pytest.raises(SpecError, match="not known"):
        resolve_strategies(["bad.yaml"], tmp_path)
    with pytest.raises(SpecError, match="unknown strategy 'nope'"):
        resolve_strategies(["nope"], tmp_path)


def _raw(layers, loss="mse"):
    return {"model": {"layers": layers, "optimizer": {"name": "adam", "learning_rate": 0.001}, "loss": loss},
            "preprocessing": {"inputs": "none", "target": "none", "class_weight": None}}


def test_depth_up_and_down_keeps_return_sequences_consistent():
    layers = [{"type": "lstm", "units": 64}, {"type": "dropout", "rate": 0.2}, {"type": "dense", "units": 1}]
    deeper = apply_values(_raw(layers), {"architecture.depth": 3}, {"task": "regression", "n_classes": 0})
    types = [layer["type"] for layer in deeper["model"]["layers"]]
    assert types == ["lstm", "lstm", "lstm", "dropout", "dense"]
    assert [layer.get("return_sequences") for layer in deeper["model"]["layers"][:3]] == [True, True, False]
    shallower = apply_values(deeper, {"architecture.depth": 1}, {"task": "regression", "n_classes": 0})
    assert [layer["type"] for layer in shallower["model"]["layers"]] == ["lstm", "dropout", "dense"]
    assert shallower["model"]["layers"][0]["return_sequences"] is False


def test_units_keep_the_users_taper_and_dropout_zero_removes_dropout_layers():
    layers = [{"type": "lstm", "units": 64, "return_sequences": True}, {"type": "dropout", "rate": 0.8},
              {"type": "lstm", "units": 32, "dropout": 0.5}, {"type": "dense", "units": 1}]
    out = apply_values(_raw(layers), {"architecture.units": 16, "dropout.rate": 0.0}, {"task": "regression", "n_classes": 0})
    rec = [layer for layer in out["model"]["layers"] if layer["type"] == "lstm"]
    assert [layer["units"] for layer in rec] == [16, 8]
    assert all(layer["type"] != "dropout" for layer in out["model"]["layers"])
    assert rec[1]["dropout"] == 0.0


@pytest.mark.parametrize(
    ("task", "n_classes", "units", "activation", "loss"),
    [("regression", 0, 1, "linear", "mse"), ("binary", 2, 1, "sigmoid", "binary_crossentropy"),
     ("multiclass", 4, 4, "softmax", "sparse_categorical_crossentropy")],
)
def test_task_head_fits_units_activation_and_loss(task, n_classes, units, activation, loss):
    raw = _raw([{"type": "lstm", "units": 8}, {"type": "dense", "units": 1, "activation": "softmax"}], loss="mae" if task != "regression" else "binary_crossentropy")
    out = apply_values(raw, {"activations.head": "task"}, {"task": task, "n_classes": n_classes})
    head = out["model"]["layers"][-1]
    assert (head["units"], head["activation"], out["model"]["loss"]) == (units, activation, loss)


# --- space and seeds -------------------------------------------------------------------------------


@pytest.fixture
def sine_spec(tmp_path):
    make_series_csv(tmp_path, n=200, kind="sine", scale=100.0)
    return load_spec(write_spec(tmp_path, spec_dict("series.csv", model={"layers": [
        {"type": "lstm", "units": 8}, {"type": "dense", "units": 1, "activation": "sigmoid"}]})))


def test_space_has_the_specs_own_values_as_defaults_and_no_noop_candidates(sine_spec):
    dataset = load_dataset(sine_spec)
    space = build_space(sine_spec, dataset, list(builtin_strategies().values()))
    defaults = {hp.name: hp.default for hp in space.hyperparameters.space}
    assert defaults["preprocessing.inputs"] == "none"
    assert defaults["activations.head"] == "sigmoid"
    assert defaults["model.optimizer.learning_rate"] == pytest.approx(0.01)
    assert "preprocessing.class_weight" not in space.fields  # regression
    # the user's spec is exactly what the defaults decode to
    assert space.spec_for(sine_spec, space.encode({})).to_dict() == sine_spec.to_dict()
    # every candidate of every choice produces a distinct spec
    for name, labels in space.choices.items():
        specs = [space.spec_for(sine_spec, {**space.encode({}), name: lab}).to_dict() for lab in labels]
        assert len({repr(s) for s in specs}) == len(specs), name


def test_difference_is_not_offered_when_the_target_is_not_a_feature(tmp_path):
    make_series_csv(tmp_path, n=200)
    spec = load_spec(write_spec(tmp_path, spec_dict("series.csv", data={"features": ["x"]})))
    space = build_space(spec, load_dataset(spec), list(builtin_strategies().values()))
    assert "difference" not in space.choices["preprocessing.target"]
    assert "standard" in space.choices["preprocessing.target"]


class _Finding:
    def __init__(self, id, severity, strategies):
        self.id, self.severity, self.strategies = id, severity, strategies


def test_seeds_follow_the_findings(sine_spec):
    strategies = list(builtin_strategies().values())
    space = build_space(sine_spec, load_dataset(sine_spec), strategies)
    findings = [_Finding("unscaled_target", "error", ["scaling"]),
                _Finding("output_activation_range", "error", ["activations"]),
                _Finding("nonstationary_target", "warning", ["scaling"]),
                _Finding("short_window", "info", ["architecture"])]
    seeds = seed_values(space, strategies, findings, limit=5)
    decoded = [space.decode(s) for s in seeds]
    assert decoded[0]["preprocessing.target"] == "difference"  # the finding-specific seed first
    assert decoded[1]["preprocessing.target"] == "standard" and decoded[1]["activations.head"] == "task"
    assert all(d["architecture.depth"] == 1 for d in decoded)  # info findings do not seed
    assert seed_values(space, strategies, findings, limit=1) == seeds[:1]
    assert seed_values(space, strategies, [], limit=5) == []


# --- pruning ---------------------------------------------------------------------------------------


class _ReplayModel:
    """Stands in for a Keras model: each call replays the next epoch's fixed output."""

    def __init__(self, outputs):
        self.outputs = list(outputs)
        self.stop_training = False

    def __call__(self, x, training=False):
        return self.outputs.pop(0)[: len(x)].reshape(-1, 1)


def _pruning_run(spec, outputs, epochs=6):
    prepared = prepare(spec, load_dataset(spec))
    callback = CollapsePruning(prepared, after=2, min_std_ratio=0.1, epochs=epochs)
    callback.set_model(_ReplayModel(outputs))
    for epoch in range(epochs):
        callback.on_epoch_end(epoch)
        if callback.model.stop_training:
            break
    return callback


def test_pruning_stops_a_flat_output_and_spares_a_varying_or_waking_one(sine_spec):
    n = len(load_dataset(sine_spec).y_val)
    truth_std = float(np.std(load_dataset(sine_spec).y_val))
    rng = np.random.default_rng(0)
    flat = [np.full(n, 0.5)] * 6
    assert _pruning_run(sine_spec, flat).pruned_at == 2
    varying = [rng.normal(size=n) * truth_std] * 6
    assert _pruning_run(sine_spec, varying).pruned_at is None
    small = [rng.normal(size=n)] * 6  # varies, but 1/70 as much as the truth (in original units): collapsed
    assert _pruning_run(sine_spec, small).pruned_at == 3
    # std_ratio grows 0.01 -> 0.02 -> 0.04 -> 0.08 -> 0.2: waking up, not pruned
    base = rng.normal(size=n)
    base = (base - base.mean()) / base.std()
    waking = [base * truth_std * s for s in (0.01, 0.02, 0.04, 0.08, 0.2, 0.3)]
    assert _pruning_run(sine_spec, waking).pruned_at is None
    nan = [np.full(n, np.nan)] * 6
    assert _pruning_run(sine_spec, nan).pruned_at == 2


def test_still_moving_is_the_pruning_evidence_one_epoch_against_the_last():
    """The judgment CollapsePruning and CollapseMonitor share, on fixed metrics."""
    def regression(ratio):
        return Metrics(task="regression", std_ratio=ratio, collapsed=True)

    assert still_moving(regression(0.05), None, [1.0], min_std_ratio=0.1)  # first look, spread not nil
    assert not still_moving(regression(0.0005), None, [1.0], min_std_ratio=0.1)  # first look, flat
    assert still_moving(regression(0.07), 0.05, [1.0, 0.9], min_std_ratio=0.1)  # grew 1.4x
    assert not still_moving(regression(0.06), 0.05, [1.0, 0.5], min_std_ratio=0.1)  # 1.2x; a falling loss is no evidence
    assert not still_moving(regression(0.0008), 0.0005, [1.0, 0.9], min_std_ratio=0.1)  # a nil spread's noise
    assert not still_moving(Metrics(task="regression", nan=True), 0.05, [1.0, 0.5], min_std_ratio=0.1)
    one_class = Metrics(task="binary", std_ratio=0.01, distinct_predictions=1, collapsed=True)
    assert still_moving(one_class, 0.01, [1.0, 0.9], min_std_ratio=0.1)  # a classifier's loss still falling
    assert not still_moving(one_class, 0.01, [1.0, 0.99], min_std_ratio=0.1)
    assert not still_moving(one_class, 0.01, [None, 0.5], min_std_ratio=0.1)


# --- the tuner, with a fake runner -----------------------------------------------------------------


class _FakeRunner:
    """Replays scores: ``score_of(values)`` decides each trial; some trials fail."""

    def __init__(self, score_of, fail_first=0):
        self.score_of = score_of
        self.fail_first = fail_first
        self.ran: list[dict] = []

    def run(self, trial):
        values = dict(trial.hyperparameters.values)
        self.ran.append(values)
        if len(self.ran) <= self.fail_first:
            raise TrialFailed("NaN loss")
        return {"score": self.score_of(values)}

    def trial_ended(self, trial):
        pass


def _hp():
    hp = kt.HyperParameters()
    hp.Choice("preprocessing.target", ["none", "standard", "minmax"], default="none")
    hp.Float("model.optimizer.learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
    return hp


@pytest.mark.parametrize("tuner_name", ["random", "bayesian", "hyperband"])
def test_seeds_run_first_then_the_oracle_and_failures_never_end_the_search(tmp_path, tuner_name):
    seed = {"preprocessing.target": "standard", "model.optimizer.learning_rate": 0.001}
    oracle = make_oracle(tuner_name, _hp(), max_trials=8, epochs=4, seeds=[seed], deadline=None, seed=0)
    runner = _FakeRunner(lambda v: 0.1 if v["preprocessing.target"] == "standard" else 2.5, fail_first=5)
    tuner = AutofixTuner(oracle, runner, directory=str(tmp_path), project_name="p")
    tuner.search(verbose=0)
    assert runner.ran[0]["preprocessing.target"] == "standard"
    assert runner.ran[0]["model.optimizer.learning_rate"] == pytest.approx(0.001)
    assert len(runner.ran) == 8  # five failures in a row did not stop it
    statuses = [t.status for t in oracle.trials.values()]
    assert statuses.count("FAILED") == 5 and statuses.count("COMPLETED") == 3


def test_a_fatal_search_error_stops_the_search_at_once(tmp_path):
    class Fatal(_FakeRunner):
        def run(self, trial):
            if self.ran:
                self.ran.append(dict(trial.hyperparameters.values))
                raise FatalSearchError("the output folder is full")
            return super().run(trial)

    oracle = make_oracle("random", _hp(), max_trials=8, epochs=2, seeds=[], deadline=None, seed=0)
    runner = Fatal(lambda v: 1.0)
    with pytest.raises(FatalSearchError, match="the output folder is full"):
        AutofixTuner(oracle, runner, directory=str(tmp_path), project_name="p").search(verbose=0)
    assert len(runner.ran) == 2  # no trial after the fatal one


def test_a_resumed_search_keeps_finished_trials_and_skips_tried_seeds(tmp_path):
    seed = {"preprocessing.target": "standard", "model.optimizer.learning_rate": 0.001}
    first = _FakeRunner(lambda v: 1.0)
    oracle = make_oracle("random", _hp(), max_trials=3, epochs=2, seeds=[seed], deadline=None, seed=0)
    AutofixTuner(oracle, first, directory=str(tmp_path), project_name="p").search(verbose=0)
    second = _FakeRunner(lambda v: 1.0)
    oracle = make_oracle("random", _hp(), max_trials=5, epochs=2, seeds=[seed], deadline=None, seed=0)
    tuner = AutofixTuner(oracle, second, directory=str(tmp_path), project_name="p")
    tuner.search(verbose=0)
    assert len(first.ran) == 3 and len(second.ran) == 2
    assert seed not in second.ran
    assert len(tuner.oracle.trials) == 5


def test_max_time_starts_no_new_trial_after_the_deadline(tmp_path):
    oracle = make_oracle("random", _hp(), max_trials=50, epochs=2, seeds=[], deadline=time.time() + 0.3, seed=0)

    def slow(values):
        time.sleep(0.2)
        return 1.0

    runner = _FakeRunner(slow)
    AutofixTuner(oracle, runner, directory=str(tmp_path), project_name="p").search(verbose=0)
    assert 1 <= len(runner.ran) <= 3


# --- outputs ---------------------------------------------------------------------------------------


def test_changes_and_cudnn_check(sine_spec):
    fixed = sine_spec.updated({
        "preprocessing.target": "standard",
        "model.layers": [{"type": "lstm", "units": 8, "activation": "relu"}, {"type": "dense", "units": 1}],
    })
    changes = spec_changes(sine_spec, fixed)
    assert "preprocessing.target: none -> standard" in changes
    assert "model.layers[1].activation: sigmoid -> absent" in changes
    assert "model.layers[0].activation: absent -> relu" in changes
    assert cudnn_problems(sine_spec) == []
    assert cudnn_problems(fixed) == ["model.layers[0] (lstm) activation relu (needs tanh)"]
    # a searched training setting is a change too (the minimal fix ablates it, minimal_spec.yaml keeps it);
    # the seed is the run's, never listed
    trained = sine_spec.updated({"train.batch_size": 8, "train.epochs": 40, "train.seed": 7})
    assert sorted(spec_changes(sine_spec, trained)) == [f"train.batch_size: {sine_spec.train.batch_size} -> 8",
                                                        f"train.epochs: {sine_spec.train.epochs} -> 40"]


def test_clipnorm_replaces_a_users_clipvalue_so_the_candidate_is_valid(sine_spec):
    spec = sine_spec.updated({"model.optimizer.clipvalue": 0.5})
    space = build_space(spec, load_dataset(spec), list(builtin_strategies().values()))
    candidate = space.spec_for(spec, {**space.encode({}), "model.optimizer.clipnorm": "1.0"})
    assert candidate.model.optimizer.clipnorm == 1.0 and candidate.model.optimizer.clipvalue is None


def test_records_with_a_diverged_history_are_written_as_valid_json(tmp_path):
    import json

    from autofix_lstm.run_dir import write_json

    path = write_json({"history": {"loss": [1.0, float("nan"), float("inf")]}, "pred": np.array([np.nan, 2.0])},
                      tmp_path / "r.json")
    assert json.loads(path.read_text()) == {"history": {"loss": [1.0, None, None]}, "pred": [None, 2.0]}



def test_a_bottleneck_before_the_head_is_diagnosed_and_its_removal_seeds_the_search():
    # Issue 24 (4): a 1-unit layer before a softmax was neither diagnosed nor searched (the width
    # strategy changed the recurrent layers only).
    from diagnosis_cases import ALL_CASES, run_case

    from autofix_lstm.inputs import resolve_inputs

    diagnosis = run_case("bottleneck")
    finding = next(f for f in diagnosis.findings if f.id == "bottleneck_layer")
    assert finding.strategies == ["bottleneck"]
    assert (finding.evidence["layer"], finding.evidence["units"], finding.evidence["needed_width"]) == ("dense_1", 1, 2)
    case = ALL_CASES["bottleneck"]
    spec, dataset, _ = resolve_inputs(case.spec, save=False, **case.data())
    strategies = list(builtin_strategies().values())
    space = build_space(spec, dataset, strategies)
    assert set(space.choices["architecture.hidden_dense_units"].values()) == {0, 1, 16, 32, 64}
    seeds = [space.decode(values) for values in seed_values(space, strategies, diagnosis.findings, limit=3)]
    assert seeds and seeds[0]["architecture.hidden_dense_units"] == 0
    layers = space.spec_for(spec, seed_values(space, strategies, diagnosis.findings, limit=1)[0]).model.layers
    assert [layer.type for layer in layers] == ["lstm", "dense"] and layers[-1].kwargs["units"] == 3


def test_a_range_of_whole_numbers_searches_whole_numbers(sine_spec, tmp_path):
    from autofix_lstm.tuning.refinement import RATE_STEP, _alternatives

    width = {"name": "width", "fields": {"architecture.units": {"range": {"min": 4, "max": 64, "sampling": "log"}}}}
    rate = {"name": "rate", "fields": {"model.optimizer.learning_rate": {"range": {"min": 1e-4, "max": 1e-2}}}}
    space = build_space(sine_spec, load_dataset(sine_spec), resolve_strategies([width, rate], tmp_path))
    units = next(hp for hp in space.hyperparameters.space if hp.name == "architecture.units")
    assert isinstance(units, kt.engine.hyperparameters.Int)  # a float width (12.7 units) fails every trial
    decoded = space.decode({"architecture.units": 13.6, "model.optimizer.learning_rate": 0.003})
    assert decoded == {"architecture.units": 14, "model.optimizer.learning_rate": 0.003}
    assert space.encode({"architecture.units": 200})["architecture.units"] == 64  # clipped to the range
    steps = _alternatives(space, "architecture.units", 10, RATE_STEP, smaller_first=False)
    assert steps == [30, 4] and all(isinstance(v, int) for v in steps)  # x3, /3 (3.3 clipped to the min 4)
    assert space.spec_for(sine_spec, space.encode({"architecture.units": 30})).model.layers[0].units == 30
