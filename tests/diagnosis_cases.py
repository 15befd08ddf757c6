"""Tiny specs built to trigger each diagnosis detector, and healthy ones that must trigger none.

Each case is a spec dict plus in-memory data (a DataFrame, or windowed x/y arrays), small enough
that its diagnosis takes a second or two. ``run_case`` diagnoses a case once per test session and
caches the result, so the contract test, the result tests and the CLI tests share brief trainings.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from helpers import series_frame, spec_dict

SCALED = {"inputs": "standard", "target": "standard"}
LONG = {"epochs": 20, "batch_size": 32}  # the brief training then runs its full 3 epochs


def lstm(units: int = 8, **kwargs) -> dict:
    return {"type": "lstm", "units": units, **kwargs}


def dense(units: int = 1, activation: str = "linear", **kwargs) -> dict:
    return {"type": "dense", "units": units, "activation": activation, **kwargs}


def sine(n: int = 320) -> pd.DataFrame:
    """A learnable sine (target y) with a driver x a quarter period ahead, offset and scaled."""
    return series_frame(n, "sine", scale=10.0, offset=50.0)


def labelled(kind: str, n: int = 320) -> pd.DataFrame:
    """The sine table with y turned into class labels: binary (sign), multiclass (3 bands), uncommon
    (the top 18%), rare (top 7%)."""
    frame = series_frame(n, "sine")
    if kind == "binary":
        frame["y"] = (frame["y"] > 0).astype(int)
    elif kind == "uncommon":
        frame["y"] = (frame["y"] > 0.85).astype(int)
    elif kind == "multiclass":
        frame["y"] = np.digitize(frame["y"], [-0.5, 0.5])
    elif kind == "rare":
        frame["y"] = (frame["y"] > 0.97).astype(int)
    else:
        raise ValueError(kind)
    return frame


def windows(n: int = 240, window: int = 8, features: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Already windowed standard-normal inputs; y is the mean of each window's last row."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, window, features)).astype(np.float32)
    return x, x[:, -1, :].mean(axis=1)


def with_constant(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["c"] = 1.0
    return frame


@dataclass
class Case:
    """A spec dict and the data to diagnose it on."""

    spec: dict
    frame: Callable[[], pd.DataFrame] | None = None
    arrays: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None
    note: str = ""

    def data(self) -> dict[str, Any]:
        if self.arrays is not None:
            x, y = self.arrays()
            return {"x": x, "y": y}
        return {"data": self.frame()}


def _table(note: str, frame, **sections) -> Case:
    return Case(spec_dict("in-memory.csv", **sections), frame=frame, note=note)


# name -> case. Healthy cases: scaled data, a head that fits the task, a learnable signal.
HEALTHY: dict[str, Case] = {
    "regression_sine": _table(
        "scaled sine, LSTM 16, linear head", sine,
        model={"layers": [lstm(16), dense()]}, preprocessing=SCALED, train={"epochs": 20, "batch_size": 16},
    ),
    "binary_balanced": _table(
        "sign of a sine, sigmoid + binary cross-entropy", lambda: labelled("binary"),
        data={"features": ["x"], "task": "binary"},
        model={"layers": [lstm(16), dense(1, "sigmoid")], "loss": "binary_crossentropy"},
        preprocessing={"inputs": "standard"}, train={"epochs": 20, "batch_size": 16},
    ),
    "multiclass_bands": _table(
        "three bands of a sine, softmax over 3 + sparse categorical cross-entropy", lambda: labelled("multiclass"),
        data={"features": ["x"], "task": "multiclass"},
        model={"layers": [lstm(16), dense(3, "softmax")], "loss": "sparse_categorical_crossentropy"},
        preprocessing={"inputs": "standard"}, train={"epochs": 20, "batch_size": 16},
    ),
    "stacked_lstm_gru_dropout": _table(
        "LSTM -> Dropout 0.2 -> GRU stack on the scaled sine", sine,
        model={"layers": [lstm(16, return_sequences=True), {"type": "dropout", "rate": 0.2}, {"type": "gru", "units": 8},
                          dense()]},
        preprocessing=SCALED, train={"epochs": 20, "batch_size": 16},
    ),
    "windowed_arrays": Case(
        spec_dict("in-memory.npz", model={"layers": [lstm(16), dense()]}, train={"epochs": 20, "batch_size": 16}),
        arrays=windows, note="already windowed standard-normal x/y arrays",
    ),
}

_EXPLODING_RNN = {
    "type": "simple_rnn", "units": 8, "activation": "relu",
    "recurrent_initializer": {"class_name": "Orthogonal", "config": {"gain": 3.0}},
}
_DEAD_RELU = dense(8, "relu", bias_initializer={"class_name": "Constant", "config": {"value": -10.0}})

# name -> case built to trigger one or more detectors.
TRIGGER_CASES: dict[str, Case] = {
    "no_signal": _table(
        "white-noise target and driver: nothing to learn", lambda: series_frame(320, "noise"),
        preprocessing=SCALED, train={"epochs": 20, "batch_size": 16},
    ),
    "unscaled": _table(
        "targets around 5,000 and the raw target as an input feature, nothing scaled",
        lambda: series_frame(320, "sine", scale=1000.0, offset=5000.0), train=LONG,
    ),
    "exploding": _table(
        "relu SimpleRNN with recurrent gain 3 under plain SGD: the state and gradients blow up", sine,
        model={"layers": [_EXPLODING_RNN, dense()], "optimizer": {"name": "sgd", "learning_rate": 0.01}},
        preprocessing=SCALED, train=LONG,
    ),
    "sigmoid_head": _table(
        "standard-scaled target (half of it negative) into a sigmoid head", sine,
        model={"layers": [lstm(), dense(1, "sigmoid")]}, preprocessing=SCALED, train=LONG,
    ),
    "dead_relu_head": _table(
        "a relu head whose bias starts at -10 on a target around 100 (scale 50): it outputs exactly 0 for every "
        "sample, which reads like an unscaled target but no scaling revives it",
        lambda: series_frame(320, "sine", scale=50.0, offset=100.0), data={"features": ["x"]},
        model={"layers": [lstm(), dense(1, "relu", bias_initializer={"class_name": "Constant", "config": {"value": -10.0}})]},
        preprocessing={"inputs": "standard"}, train=LONG,
    ),
    "bce_linear": _table(
        "binary labels, binary cross-entropy on a linear head", lambda: labelled("binary"),
        data={"features": ["x"]}, model={"layers": [lstm(), dense()], "loss": "binary_crossentropy"},
        preprocessing={"inputs": "standard"}, train=LONG,
    ),
    "bce_regression": _table(
        "binary cross-entropy on a real-valued target (a scaled sine), the head linear", sine,
        model={"layers": [lstm(), dense()], "loss": "binary_crossentropy"}, preprocessing=SCALED, train=LONG,
    ),
    "wide_regression_head": _table(
        "a Dense head of 3 units for a one-value regression target", sine,
        model={"layers": [lstm(), dense(3)]}, preprocessing=SCALED, train=LONG,
    ),
    "few_steps": _table(
        "a batch of 256 on ~250 windows for 2 epochs at Adam's default rate: 2 optimizer steps in all", sine,
        model={"layers": [lstm(), dense()], "optimizer": {"learning_rate": 0.001}}, preprocessing=SCALED,
        train={"epochs": 2, "batch_size": 256},
    ),
    "heavy_l2": _table(
        "an L2 penalty of 5 on every kernel: the weights shrink to zero and the output to the bias", sine,
        model={"layers": [lstm(kernel_regularizer={"class_name": "L2", "config": {"l2": 5.0}},
                               recurrent_regularizer={"class_name": "L2", "config": {"l2": 5.0}}),
                          dense(kernel_regularizer={"class_name": "L2", "config": {"l2": 5.0}})]},
        preprocessing=SCALED, train=LONG,
    ),
    "zeros_init": _table(
        "every kernel initialised to zeros: no unit differs and no gradient reaches the LSTM", sine,
        model={"layers": [lstm(kernel_initializer="zeros", recurrent_initializer="zeros"),
                          dense(kernel_initializer="zeros")]},
        preprocessing=SCALED, train=LONG,
    ),
    "deep_sigmoid": _table(
        "six sigmoid Dense layers between the LSTM and the head", sine,
        model={"layers": [lstm(), *[dense(8, "sigmoid") for _ in range(6)], dense()]}, preprocessing=SCALED, train=LONG,
    ),
    "lr_high": _table(
        "plain SGD at learning rate 1.0", sine,
        model={"layers": [lstm(), dense()], "optimizer": {"name": "sgd", "learning_rate": 1.0}},
        preprocessing=SCALED, train=LONG,
    ),
    "lr_low": _table(
        "Adam at learning rate 1e-5", sine,
        model={"layers": [lstm(), dense()], "optimizer": {"learning_rate": 1e-5}}, preprocessing=SCALED, train=LONG,
    ),
    "adagrad": _table(
        "the sign of a sine (which Adam learns to 0.93 balanced accuracy) under Adagrad at learning rate 1e-3",
        lambda: labelled("binary"), data={"features": ["x"], "task": "binary"},
        model={"layers": [lstm(), dense(1, "sigmoid")], "loss": "binary_crossentropy",
               "optimizer": {"name": "adagrad", "learning_rate": 0.001}},
        preprocessing={"inputs": "standard"}, train=LONG,
    ),
    "dead_relu": _table(
        "a relu Dense layer whose bias starts at -10: every unit outputs 0", sine,
        model={"layers": [lstm(), _DEAD_RELU, dense()]}, preprocessing=SCALED, train=LONG,
    ),
    "heavy_dropout": _table(
        "Dropout 0.8 after an LSTM of 8 units", sine,
        model={"layers": [lstm(), {"type": "dropout", "rate": 0.8}, dense()]}, preprocessing=SCALED, train=LONG,
    ),
    "little_data": _table(
        "45 rows (30 training windows) for an LSTM of 32 units", lambda: series_frame(45, "sine"),
        model={"layers": [lstm(32), dense()]}, preprocessing=SCALED, train=LONG,
    ),
    "imbalanced": _table(
        "a binary label that is 1 in 7% of the rows", lambda: labelled("rare"),
        data={"features": ["x"]}, model={"layers": [lstm(), dense(1, "sigmoid")], "loss": "binary_crossentropy"},
        preprocessing={"inputs": "standard"}, train=LONG,
    ),
    "separates_late": _table(
        "a label that is 1 in 18% of the rows, learnable from the sine, under Adam at 3e-4: collapsed after the "
        "brief training's 48 steps but separating (balanced accuracy 0.95 after the full 40 epochs)",
        lambda: labelled("uncommon", n=640), data={"features": ["x"], "task": "binary"},
        model={"layers": [lstm(), dense(1, "sigmoid")], "loss": "binary_crossentropy", "optimizer": {"learning_rate": 3e-4}},
        preprocessing={"inputs": "standard"}, train={"epochs": 40, "batch_size": 32},
    ),
    "little_noise": _table(
        "45 rows (30 training windows) of white noise for an LSTM of 32 units: it settles on the mean",
        lambda: series_frame(45, "noise"), model={"layers": [lstm(32), dense()]}, preprocessing=SCALED, train=LONG,
    ),
    "trend": _table(
        "a target climbing steadily: validation lies above the training range", lambda: series_frame(320, "trend"),
        preprocessing=SCALED, train=LONG,
    ),
    "bottleneck": _table(
        "a one-unit sigmoid Dense layer between the LSTM and a softmax over 3 bands of a sine",
        lambda: labelled("multiclass"), data={"features": ["x"], "task": "multiclass"},
        model={"layers": [lstm(16), dense(1, "sigmoid"), dense(3, "softmax")], "loss": "sparse_categorical_crossentropy"},
        preprocessing={"inputs": "standard"}, train=LONG,
    ),
    "leak": _table(
        "the target column as a feature with horizon 0", sine,
        data={"horizon": 0}, preprocessing=SCALED, train={"epochs": 3},
    ),
    "constant_column": _table(
        "an extra feature that is 1.0 in every row", lambda: with_constant(sine()),
        data={"features": ["x", "y", "c"]}, preprocessing=SCALED, train={"epochs": 3},
    ),
    "single_step": _table(
        "windows of one timestep", sine, data={"window": 1}, preprocessing=SCALED, train={"epochs": 3},
    ),
    "stateful": _table(
        "a stateful LSTM on sliding windows of 8 rows, batches of 16 (the state comes from 16 rows back)", sine,
        model={"layers": [lstm(8, stateful=True), dense()]}, preprocessing=SCALED,
        train={"epochs": 3, "batch_size": 16},
    ),
}


@dataclass
class Trigger:
    """What a detector must report on its case: the severity and the evidence behind it."""

    case: str
    severity: str
    evidence: tuple[str, ...]
    check: Callable[[dict], bool] = field(default=lambda evidence: True)


# finding id -> the case that must trigger it. The contract test requires one entry per registered detector.
TRIGGERS: dict[str, Trigger] = {
    "collapsed_output": Trigger("no_signal", "error", ("std_ratio", "baselines"), lambda e: e["std_ratio"] < 0.1),
    "nan_output": Trigger("exploding", "error", ("nonfinite_loss_step",), lambda e: e["nonfinite_loss_step"] is not None),
    "unscaled_inputs": Trigger(
        "unscaled", "error", ("feature_magnitude_p99", "gate_saturation_init"),
        lambda e: e["feature_magnitude_p99"]["y"] > 1000 and e["gate_saturation_init"]["all"] > 0.9,
    ),
    "unscaled_target": Trigger("unscaled", "error", ("target_mean", "target_std"), lambda e: e["target_mean"] > 1000),
    "output_activation_range": Trigger(
        "sigmoid_head", "error", ("activation_range", "fraction_outside"), lambda e: e["fraction_outside"] > 0.3,
    ),
    "loss_activation_mismatch": Trigger(
        "bce_linear", "error", ("loss", "head_activation"), lambda e: e["head_activation"] == "linear",
    ),
    "loss_target_mismatch": Trigger(
        "bce_regression", "error", ("loss", "target_range", "distinct_values"),
        lambda e: e["loss_kind"] == "binary" and e["distinct_values"] > 100,
    ),
    "head_width_mismatch": Trigger(
        "wide_regression_head", "error", ("layer", "units", "expected_units", "training_error"),
        lambda e: e["units"] == 3 and e["expected_units"] == [1] and "Incompatible shapes" in e["training_error"],
    ),
    "bottleneck_layer": Trigger(
        "bottleneck", "warning", ("layer", "units", "needed_width"), lambda e: e["units"] == 1 and e["needed_width"] == 2,
    ),
    "vanishing_gradients": Trigger(
        "deep_sigmoid", "error", ("early_grad_norms", "ratio_to_head"),
        lambda e: min(v for v in e["ratio_to_head"].values() if v is not None) < 1e-3,
    ),
    "exploding_gradients": Trigger(
        "exploding", "error", ("early_grad_norms", "nonfinite_gradient_step"),
        lambda e: e["nonfinite_gradient_step"] is not None,
    ),
    "learning_rate_too_high": Trigger(
        "lr_high", "error", ("end_over_start", "early_update_ratios", "learning_rate"), lambda e: e["end_over_start"] > 2,
    ),
    "learning_rate_too_low": Trigger(
        "lr_low", "error", ("median_update_ratio", "learning_rate"), lambda e: e["median_update_ratio"] < 1e-4,
    ),
    "slow_optimizer": Trigger(
        "adagrad", "error", ("median_update_ratio", "optimizer", "update_ratio_limit"),
        lambda e: e["optimizer"] == "adagrad" and e["median_update_ratio"] < e["update_ratio_limit"] == 1e-3,
    ),
    "too_few_steps": Trigger(
        "few_steps", "warning", ("steps", "steps_per_epoch", "epochs", "batch_size"),
        lambda e: e["steps"] == 2 and e["brief_training_steps"] == 2 and e["beats_constant"] is False,
    ),
    "heavy_regularization": Trigger(
        "heavy_l2", "error", ("largest_factor", "penalties", "initial_penalty", "penalty_share"),
        lambda e: e["largest_factor"] == 5.0 and e["penalty_share"] >= 1.0 and len(e["penalties"]) == 3,
    ),
    "custom_initialization": Trigger(
        "zeros_init", "error", ("initializers", "initial_output_spread", "target_spread", "initial_spread_share"),
        lambda e: len(e["initializers"]) == 3 and e["initial_spread_share"] == 0.0,
    ),
    # Its case kills the units with a bias initializer of -10: custom_initialization names that cause (an
    # error) and shows the dead units as its consequence, so dead_units is info here, explained by it.
    "dead_units": Trigger("dead_relu", "info", ("layers", "dead_fraction", "explained_by"),
                          lambda e: e["dead_fraction"] == 1.0 and e["explained_by"] == ["custom_initialization"]),
    "excess_dropout": Trigger("heavy_dropout", "error", ("dropout", "keep_probability"), lambda e: e["keep_probability"] < 0.25),
    # A warning: 30 windows of a sine are few for 1,000+ weights, but the model learns them (r2 0.98 in a
    # full training), so it explains no collapse. The error path is tested in test_agreement.py.
    "too_little_data": Trigger(
        "little_data", "warning", ("train_samples", "trainable_params", "params_per_sample"), lambda e: e["train_samples"] < 32,
    ),
    "class_imbalance": Trigger(
        "imbalanced", "error", ("majority_share", "majority_accuracy"), lambda e: e["majority_share"] >= 0.8,
    ),
    "nonstationary_target": Trigger(
        "trend", "error", ("fraction_outside", "train_range", "validation_range"), lambda e: e["fraction_above"] > 0.3,
    ),
    "target_leakage": Trigger("leak", "error", ("horizon", "target"), lambda e: e["horizon"] == 0),
    "constant_feature": Trigger("constant_column", "warning", ("constant_features",), lambda e: "c" in e["constant_features"]),
    "short_window": Trigger("single_step", "warning", ("window",), lambda e: e["window"] == 1),
    "stateful_state_leak": Trigger(
        "stateful", "warning", ("stateful_layers", "batch_size", "carried_from_rows_back", "overlap_rows", "reset_states"),
        lambda e: e["stateful_layers"] == ["lstm_0"] and e["carried_from_rows_back"] == 16 and e["overlap_rows"] == 0
        and e["reset_states"] == "never" and e["windows_left_out"] == e["train_windows"] % 16 > 0,
    ),
}

ALL_CASES = {**HEALTHY, **TRIGGER_CASES}


@functools.cache
def run_case(name: str):
    """The diagnosis of case ``name`` (computed once per test session; nothing written to disk)."""
    from autofix_lstm.diagnosis import diagnose
    from autofix_lstm.inputs import resolve_inputs

    case = ALL_CASES[name]
    spec, dataset, _ = resolve_inputs(case.spec, save=False, **case.data())
    return diagnose(spec, dataset, save=False)
