"""model.keras holds its preprocessing and inverse: raw windows in, predictions in original units out."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from helpers import make_series_csv, spec_dict, write_spec

import autofix_lstm  # noqa: F401  (registers the custom layers before loading)
from autofix_lstm.data.dataset import load_dataset
from autofix_lstm.modeling.train import (
    build_model,
    export_model,
    fit_prepared,
    measure,
    predict_original,
    prepare,
    save_model,
)
from autofix_lstm.spec import load_spec


def _prepared(tmp_path, inputs: str, target: str):
    # a trend in the thousands: far from model units, so a missing transform would show at once
    path = make_series_csv(tmp_path, n=120, kind="trend", scale=1000.0, offset=2000.0)
    spec = load_spec(write_spec(tmp_path, spec_dict(path.name, preprocessing={"inputs": inputs, "target": target},
                                                    model={"layers": [{"type": "lstm", "units": 4},
                                                                      {"type": "dense", "units": 1}]})))
    return spec, prepare(spec, load_dataset(spec))


def _save_and_load(core, prepared, folder):
    save_model(export_model(core, prepared), folder / "model.keras")
    loaded = keras.saving.load_model(folder / "model.keras")  # safe_mode=True by default
    return loaded, np.asarray(loaded.predict(prepared.dataset.x_val, verbose=0), dtype=np.float64).reshape(-1)


def test_saved_model_equals_training_time_predictions(tmp_path):
    """Trained with window_relative inputs and a difference target; metrics from the loaded model match."""
    spec, prepared = _prepared(tmp_path, "window_relative", "difference")
    outcome = fit_prepared(spec, prepared, epochs=1)
    expected = predict_original(outcome.core, prepared, prepared.dataset.x_val)  # what the metrics were made from
    loaded, got = _save_and_load(outcome.core, prepared, tmp_path)
    assert [layer.name for layer in loaded.layers if layer.name in ("scale_inputs", "invert_target")] == [
        "scale_inputs", "invert_target"]
    assert got.shape == expected.shape == (len(prepared.dataset.y_val),)
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    # in original units: the predictions live near the targets (thousands), not near 0
    y_val = prepared.dataset.y_val
    assert np.median(np.abs(got - y_val)) < 0.5 * np.median(np.abs(y_val))
    assert measure(prepared, got).mse == pytest.approx(outcome.metrics.mse, rel=1e-3)
    assert measure(prepared, got).std_ratio == pytest.approx(outcome.metrics.std_ratio, rel=1e-3)


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")  # an untrained model's optimizer
@pytest.mark.parametrize(("inputs", "target"), [("minmax", "log"), ("robust", "standard"), ("standard", "minmax"),
                                                ("none", "robust")])
def test_saved_model_carries_every_transform(tmp_path, inputs, target):
    """The same equality for other transforms, on an untrained model (the transforms do not care)."""
    spec, prepared = _prepared(tmp_path, inputs, target)
    core = build_model(spec, prepared)
    expected = predict_original(core, prepared, prepared.dataset.x_val)
    loaded, got = _save_and_load(core, prepared, tmp_path)
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    assert ("scale_inputs" in [layer.name for layer in loaded.layers]) == (inputs != "none")


def test_difference_target_is_anchored_on_the_last_raw_value(tmp_path):
    """Shifting a raw window's level by 500 shifts a difference model's prediction by exactly 500."""
    path = make_series_csv(tmp_path, n=120, kind="trend", scale=1000.0)
    spec = load_spec(write_spec(tmp_path, spec_dict(path.name, preprocessing={"inputs": "window_relative",
                                                                              "target": "difference"})))
    prepared = prepare(spec, load_dataset(spec))
    model = export_model(build_model(spec, prepared), prepared)
    x = prepared.dataset.x_val[:5]
    shifted = x.copy()
    shifted[:, :, 1] += 500.0  # the target column (features are x, y)
    delta = model.predict(shifted, verbose=0) - model.predict(x, verbose=0)
    np.testing.assert_allclose(delta, 500.0, rtol=1e-4)
