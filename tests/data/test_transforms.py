"""Every input scaler and target transform: fit on training data, its inverse, and numpy == Keras layer."""

from __future__ import annotations

from typing import get_args

import keras
import numpy as np
import pytest

from autofix_lstm.data.transforms import InputTransform, InvertTarget, ScaleInputs, TargetTransform, fit_scaler
from autofix_lstm.errors import DataError
from autofix_lstm.spec import InputScaling, TargetScaling

# every scaling the spec accepts, so a new one is tested the moment it is added
INPUT_KINDS = list(get_args(InputScaling))
TARGET_KINDS = list(get_args(TargetScaling))


def test_the_issue_scalings_are_all_there():
    assert set(INPUT_KINDS) >= {"none", "standard", "minmax", "robust", "window_relative"}
    assert set(TARGET_KINDS) >= {"none", "standard", "minmax", "robust", "log", "difference"}
    assert INPUT_KINDS[0] == TARGET_KINDS[0] == "none"


@pytest.fixture
def windows():
    """Training and validation windows (samples, 6 timesteps, 2 features) on different scales, and targets."""
    rng = np.random.default_rng(1)
    level = np.cumsum(rng.normal(size=130)) + 500.0  # a trending level around 500
    rows = np.stack([level, rng.uniform(0, 10, size=130)], axis=1)
    x = np.stack([rows[i : i + 6] for i in range(120)]).astype(np.float32)
    y = rows[6:126, 0].astype(np.float64)  # next row's level: the target is feature 0
    return x[:90], y[:90], x[90:], y[90:]


# --- inputs ---------------------------------------------------------------------------------------


def test_input_standard_matches_hand_statistics(windows):
    x_train, _, x_val, _ = windows
    t = InputTransform.fit("standard", x_train)
    flat = x_train.reshape(-1, 2).astype(np.float64)
    np.testing.assert_allclose(t.center, flat.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(t.scale, flat.std(axis=0), rtol=1e-6)
    out = t.apply(x_train).reshape(-1, 2)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-4)
    # validation uses the TRAINING statistics
    np.testing.assert_allclose(t.apply(x_val), (x_val - flat.mean(axis=0)) / flat.std(axis=0), rtol=1e-5, atol=1e-5)


def test_input_minmax_maps_training_range_to_0_1(windows):
    x_train, *_ = windows
    t = InputTransform.fit("minmax", x_train)
    out = t.apply(x_train).reshape(-1, 2)
    np.testing.assert_allclose(out.min(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(out.max(axis=0), 1, atol=1e-6)


def test_input_robust_uses_median_and_iqr(windows):
    x_train, *_ = windows
    t = InputTransform.fit("robust", x_train)
    flat = x_train.reshape(-1, 2).astype(np.float64)
    q1, median, q3 = np.percentile(flat, [25, 50, 75], axis=0)
    np.testing.assert_allclose(t.center, median, rtol=1e-6)
    np.testing.assert_allclose(t.scale, q3 - q1, rtol=1e-6)


def test_input_window_relative_subtracts_each_windows_last_row(windows):
    x_train, _, x_val, _ = windows
    t = InputTransform.fit("window_relative", x_train)
    relative = (x_train - x_train[:, -1:, :]).reshape(-1, 2).astype(np.float64)
    np.testing.assert_array_equal(t.center, [0.0, 0.0])
    np.testing.assert_allclose(t.scale, relative.std(axis=0), rtol=1e-5)
    out = t.apply(x_val)
    np.testing.assert_array_equal(out[:, -1, :], 0.0)  # the last row is the reference
    expected = (x_val[:, 0, :] - x_val[:, -1, :]) / t.scale
    np.testing.assert_allclose(out[:, 0, :], expected, rtol=1e-5)
    # a level shift of the whole window changes nothing
    np.testing.assert_allclose(t.apply(x_val + 1000.0), out, atol=1e-3)


def test_input_none_is_identity(windows):
    x_train, *_ = windows
    t = InputTransform.fit("none", x_train)
    np.testing.assert_array_equal(t.apply(x_train), x_train)
    assert t.layer() is None


@pytest.mark.parametrize("kind", INPUT_KINDS[1:])
def test_scale_inputs_layer_equals_numpy(windows, kind):
    x_train, _, x_val, _ = windows
    t = InputTransform.fit(kind, x_train)
    layer = t.layer()
    assert isinstance(layer, ScaleInputs)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x_val)), t.apply(x_val), rtol=1e-5, atol=1e-4)
    clone = ScaleInputs.from_config(layer.get_config())
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(clone(x_val)), keras.ops.convert_to_numpy(layer(x_val)))


def test_constant_feature_keeps_scale_one():
    x = np.ones((10, 3, 1), dtype=np.float32) * 7.0
    center, scale = fit_scaler("standard", x.reshape(-1, 1))
    assert center[0] == 7.0 and scale[0] == 1.0  # no division by zero
    with pytest.raises(ValueError, match="unknown scaling 'zscore'"):
        fit_scaler("zscore", x.reshape(-1, 1))


# --- targets --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", TARGET_KINDS)
def test_target_transform_inverts(windows, kind):
    x_train, y_train, x_val, y_val = windows
    t = TargetTransform.fit(kind, y_train, x_train, target_index=0)
    for x, y in ((x_train, y_train), (x_val, y_val)):
        model_space = t.apply(y, x)
        assert model_space.dtype == np.float32
        np.testing.assert_allclose(t.invert(model_space, x), y, rtol=1e-5)
        # (n, 1) model outputs invert to (n, 1)
        assert t.invert(model_space.reshape(-1, 1), x).shape == (len(y), 1)


@pytest.mark.parametrize("kind", TARGET_KINDS[1:])
def test_invert_target_layer_equals_numpy(windows, kind):
    x_train, y_train, x_val, y_val = windows
    t = TargetTransform.fit(kind, y_train, x_train, target_index=0)
    layer = t.layer()
    assert isinstance(layer, InvertTarget)
    pred = t.apply(y_val, x_val).reshape(-1, 1) + np.float32(0.1)  # not exactly the truth
    by_layer = keras.ops.convert_to_numpy(layer([pred, x_val]))
    np.testing.assert_allclose(by_layer, t.invert(pred, x_val), rtol=1e-5)
    clone = InvertTarget.from_config(layer.get_config())
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(clone([pred, x_val])), by_layer)


def test_target_standard_hand_values():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    t = TargetTransform.fit("standard", y, None, None)
    assert (t.center, t.scale) == (pytest.approx(2.5), pytest.approx(np.sqrt(1.25)))
    np.testing.assert_allclose(t.apply(np.array([2.5, 5.0]), None), [0.0, 2.5 / np.sqrt(1.25)], rtol=1e-6)


def test_target_minmax_and_robust_hand_values():
    y = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    minmax = TargetTransform.fit("minmax", y, None, None)
    np.testing.assert_allclose(minmax.apply(y, None), [0, 0.25, 0.5, 0.75, 1.0], atol=1e-7)
    robust = TargetTransform.fit("robust", y, None, None)
    assert (robust.center, robust.scale) == (30.0, 20.0)  # median, IQR (40 - 20)


def test_target_log_is_log1p_then_standard():
    y = np.array([0.0, 9.0, 99.0, 999.0])
    t = TargetTransform.fit("log", y, None, None)
    logs = np.log1p(y)
    assert t.center == pytest.approx(logs.mean()) and t.scale == pytest.approx(logs.std())
    np.testing.assert_allclose(t.invert(t.apply(y, None), None), y, rtol=1e-5, atol=1e-5)
    with pytest.raises(DataError, match="needs values > -1"):
        TargetTransform.fit("log", np.array([-2.0, 1.0]), None, None)


def test_target_difference_predicts_the_change():
    x = np.zeros((4, 3, 2), dtype=np.float32)
    x[:, -1, 1] = [10.0, 20.0, 30.0, 40.0]  # the last observed target (column 1)
    y = np.array([11.0, 19.0, 33.0, 40.0])  # changes +1, -1, +3, 0
    t = TargetTransform.fit("difference", y, x, target_index=1)
    changes = np.array([1.0, -1.0, 3.0, 0.0])
    assert t.center == pytest.approx(changes.mean()) and t.scale == pytest.approx(changes.std())
    np.testing.assert_allclose(t.apply(y, x), (changes - changes.mean()) / changes.std(), rtol=1e-6)
    # predicting "no change" (model output -mean/scale) gives back the last observed value
    no_change = np.full(4, -changes.mean() / changes.std())
    np.testing.assert_allclose(t.invert(no_change, x), x[:, -1, 1], rtol=1e-6)
    with pytest.raises(DataError, match="target column must be among data.features"):
        TargetTransform.fit("difference", y, x, target_index=None)
