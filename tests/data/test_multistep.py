"""Multi-step forecasts (issue 24, point 1, the vector form): the spec's forms, the windows, the arrays,
the target transforms per step and the metrics over all steps.

``data.horizon: [1, 2, 3]`` or ``{steps: 3}`` gives each sample the next rows' targets; a head of H
units (``Dense(H)``) predicts them at once.
"""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

from autofix_lstm.api import check
from autofix_lstm.data.dataset import dataset_from_arrays, load_dataset
from autofix_lstm.data.transforms import TargetTransform
from autofix_lstm.diagnosis.stepper import predict_validation
from autofix_lstm.errors import DataError, SpecError
from autofix_lstm.modeling.train import prepare
from autofix_lstm.scoring.metrics import is_collapsed, regression_metrics
from autofix_lstm.spec import load_spec

LAYERS = {"layers": [{"type": "lstm", "units": 4}, {"type": "dense", "units": 3}]}


def _spec(horizon, **data):
    """A spec for an in-memory DataFrame (no data.path) with a 3-unit head."""
    return load_spec({"data": {"target": "y", "window": 4, "horizon": horizon, **data}, "model": LAYERS})


@pytest.mark.parametrize(("horizon", "steps"), [(2, (2,)), ([1, 2, 3], (1, 2, 3)), ({"steps": 3}, (1, 2, 3)),
                                                ([0, 5], (0, 5))])
def test_the_horizon_forms_give_the_steps(horizon, steps):
    data = _spec(horizon).data
    assert data.steps == steps and data.furthest == max(steps) and data.multi_step == (len(steps) > 1)


@pytest.mark.parametrize(("horizon", "says"), [([3, 1], "strictly ascending"), ([], "at least one offset"),
                                               ([1, -2], "between 0 and"), ({"steps": 0}, "steps must be >= 1"),
                                               ({"step": 3}, "steps")])
def test_a_bad_horizon_says_what_it_takes(horizon, says):
    with pytest.raises(SpecError, match=says):
        _spec(horizon)


def test_each_sample_gets_the_target_of_every_step_and_a_missing_one_drops_the_sample():
    target = np.arange(20, dtype=np.float64) * 10.0
    target[12] = np.nan  # row 12 (never filled in) is a target of the samples starting at 6, 7 and 8
    frame = pd.DataFrame({"y": target, "other": np.arange(20) % 3})
    dataset = load_dataset(_spec({"steps": 3}, features=["other"], missing="ffill"), frame=frame)
    y = np.concatenate([dataset.y_train, dataset.y_val])
    starts = dataset.starts
    assert y.shape == (len(starts), 3) and dataset.n_outputs == 3 and dataset.steps == (1, 2, 3)
    for start, row in zip(starts, y):
        assert list(row) == [target[start + 3 + h] for h in (1, 2, 3)]
    assert not {6, 7, 8} & set(starts.tolist()) and {5, 9} <= set(starts.tolist())
    assert dataset.x_train.shape[1:] == (4, 1) and dataset.horizon == 1


def test_a_forecast_of_class_labels_is_refused_naming_the_horizon():
    frame = pd.DataFrame({"y": ["a", "b"] * 30})
    with pytest.raises(DataError, match="3-step forecast.*binary"):
        load_dataset(_spec({"steps": 3}, features=None), frame=frame.assign(f=np.arange(60.0)))


def test_windowed_arrays_with_a_forecast_per_sample_are_a_regression():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 5, 2)), rng.normal(size=(60, 4))
    dataset = dataset_from_arrays(x[:48], y[:48], x[48:], y[48:])
    assert dataset.task == "regression" and dataset.y_val.shape == (12, 4) and dataset.multi_output
    one_hot = np.eye(3)[rng.integers(0, 3, 60)]
    one_hot_ce = dataset_from_arrays(x[:48], one_hot[:48], x[48:], one_hot[48:], loss="categorical_crossentropy")
    assert one_hot_ce.task == "multiclass" and one_hot_ce.y_val.ndim == 1
    # rows that look one-hot under a regression loss stay a forecast's targets
    assert dataset_from_arrays(x[:48], one_hot[:48], x[48:], one_hot[48:], loss="mse").y_val.shape == (12, 3)
    with pytest.raises(DataError, match="y_val has targets of shape"):
        dataset_from_arrays(x[:48], y[:48], x[48:], y[48:, :2])
    with pytest.raises(DataError, match="4-step forecast, which predicts numbers"):
        dataset_from_arrays(x[:48], y[:48], x[48:], y[48:], task="multiclass")


@pytest.mark.parametrize("kind", ["standard", "difference", "log"])
def test_the_target_transform_round_trips_every_step(kind):
    rng = np.random.default_rng(1)
    x = rng.uniform(1, 5, size=(40, 6, 2))
    y = x[:, -1:, 0] + np.cumsum(rng.normal(0, 0.3, size=(40, 4)), axis=1)  # the next 4 values of feature 0
    transform = TargetTransform.fit(kind, y, x, target_index=0)
    scaled = transform.apply(y, x)
    assert scaled.shape == (40, 4)
    np.testing.assert_allclose(transform.invert(scaled, x), y, rtol=1e-5, atol=1e-5)
    if kind == "difference":  # each step's change from the last observed value, one scale for all steps
        change = y - x[:, -1:, 0]
        np.testing.assert_allclose(scaled, (change - change.mean()) / change.std(), rtol=1e-4, atol=1e-4)


def _sine_forecast(steps=5, n=240):
    t = np.arange(n + steps + 1)
    series = np.sin(t / 6.0)
    y = np.stack([series[i + 1 : i + 1 + steps] for i in range(n)])
    return series[:n], y


def test_a_forecast_is_measured_over_every_step_with_persistence_repeated():
    last, y = _sine_forecast()
    truth, train = y[180:], y[:180]
    rng = np.random.default_rng(2)
    good = regression_metrics(truth, truth + rng.normal(0, 0.05, truth.shape), train, last[180:])
    assert not good.collapsed and good.r2 > 0.98 and good.std_ratio == pytest.approx(1.0, abs=0.05)
    assert [step["step"] for step in good.per_step] == [1, 2, 3, 4, 5]
    persistence = np.mean((truth - last[180:, None]) ** 2)
    assert good.persistence_mse == pytest.approx(persistence)
    # persistence gets worse step by step: each step's own number says so
    assert [s["persistence_mse"] for s in good.per_step] == sorted(s["persistence_mse"] for s in good.per_step)
    assert "per_step" in good.to_dict() and "step_std_ratio" in good.to_dict()


def test_a_forecast_flat_across_its_steps_or_the_same_for_every_sample_is_collapsed():
    last, y = _sine_forecast()
    truth, train = y[180:], y[:180]
    flat = regression_metrics(truth, truth[:, :1], train)  # one value per sample, as a Dense(1) head gives
    assert flat.std_ratio > 0.9 and flat.step_std_ratio < 1e-9 and flat.collapsed and is_collapsed(flat)
    same = regression_metrics(truth, np.tile(truth[0], (len(truth), 1)), train)
    assert same.std_ratio < 1e-9 and same.collapsed
    one_step = regression_metrics(truth[:, 0], truth[:, 0], train[:, 0])
    assert one_step.step_std_ratio is None and "per_step" not in one_step.to_dict()


def test_the_diagnosis_brief_training_judges_every_step_of_a_forecast():
    # it took the first column of a forecast's predictions, as for one value: a flat forecast, "collapsed"

    last, y = _sine_forecast()
    x = np.stack([np.sin(np.arange(i - 7, i + 1) / 6.0) for i in range(240)])[:, :, None]
    dataset = dataset_from_arrays(x[:180], y[:180], x[180:], y[180:])
    spec = load_spec({"data": {}, "model": {"layers": [{"type": "lstm", "units": 2}, {"type": "dense", "units": 5}]}})
    prepared = prepare(spec, dataset)
    core = keras.Sequential([keras.Input((8, 1)), keras.layers.Flatten(), keras.layers.Dense(5)])
    assert predict_validation(core, prepared).shape == (60, 5)


def test_check_says_what_each_samples_target_is():
    frame = pd.DataFrame({"y": np.sin(np.arange(80) / 4.0), "other": np.arange(80) % 3})
    forecast = check(_spec({"steps": 3}, features=["y", "other"]), data=frame)
    assert "regression (a 3-step forecast)" in forecast.sentence()
    one = check(_spec(1, features=["y", "other"]).updated({"model.layers": [{"type": "lstm", "units": 2},
                                                                              {"type": "dense", "units": 1}]}), data=frame)
    assert "usable: regression, " in one.sentence()
