"""A search over ``data.window`` (issue 25, point 10): each trial trains on windows of its own length,
every length is scored on the same validation targets, and the kept fix carries its window.

The data make the window matter: the target is the mean of the last 8 values of a noise driver, so a
window of 2 rows sees a quarter of what it needs and a window of 8 all of it.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import series_frame, spec_dict, write_spec

import autofix_lstm  # noqa: F401  (registers the layers best_model.keras needs)
from autofix_lstm.api import search
from autofix_lstm.data.dataset import load_dataset
from autofix_lstm.data.window_length import with_window
from autofix_lstm.modeling.train import export_model
from autofix_lstm.spec import load_spec
from autofix_lstm.tuning.trials import train_candidate

pytestmark = pytest.mark.slow

WINDOWS = {"name": "windows", "fields": {"data.window": {"values": [8, 12]}}}


def _mean_of_last_8(n: int = 240) -> pd.DataFrame:
    x = np.random.default_rng(0).normal(size=n)
    return pd.DataFrame({"x": x, "y": pd.Series(x).rolling(8).mean().shift(1).fillna(0.0).to_numpy()})


def test_a_trial_with_another_window_trains_on_it_is_scored_on_the_same_targets_and_is_kept_with_it(tmp_path):
    _mean_of_last_8().to_csv(tmp_path / "lagged.csv", index=False)
    raw = spec_dict("lagged.csv", data={"features": ["x"], "window": 2}, train={"epochs": 3, "batch_size": 16, "seed": 0},
                    search={"max_trials": 3, "tuner": "random", "strategies": [WINDOWS]}, output="run")
    path = write_spec(tmp_path, raw)
    result = search(path)
    run = result.output_dir
    # 240 rows, window 2, horizon 1: 238 samples, the last 48 validate; every window is scored on those 48
    own = load_dataset(load_spec(path))
    assert len(own.y_val) == 48
    by_window = {r.values["data.window"]: r for r in result.records}
    assert sorted(by_window) == [2, 8, 12]
    assert all(len(r.val_predictions) == 48 and r.metrics.n_val == 48 for r in result.records)
    assert len(json.loads((run / "baseline.json").read_text())["val_targets"]) == 48
    # the window of 8 sees every value the target averages; 2 sees a quarter of them
    assert by_window[8].metrics.r2 > 0.85 > by_window[12].metrics.r2 > by_window[2].metrics.r2
    assert result.baseline.r2 < 0.4 and result.best.r2 == by_window[8].metrics.r2
    assert result.summary["best_trial"] == by_window[8].trial_id
    assert result.changes == ["data.window: 2 -> 8"]
    assert result.summary["confirmed_seeds"] == "3/3"  # retrained on two more seeds, on windows of 8
    assert [c["description"] for c in result.summary["necessary_changes"]] == ["use windows of 8 steps"]
    # the kept files carry the window: both specs, and the model takes windows of 8 rows
    assert yaml.safe_load((run / "best_spec.yaml").read_text())["data"]["window"] == 8
    assert yaml.safe_load((run / "minimal_spec.yaml").read_text())["data"]["window"] == 8
    model = keras.models.load_model(run / "best_model.keras")
    assert model.input_shape == (None, 8, 1)
    # ... and answers the 48 validation windows of 8 rows with the predictions the trial was scored on
    predicted = model.predict(with_window(own, 8).x_val, verbose=0).reshape(-1)
    np.testing.assert_allclose(predicted, by_window[8].val_predictions, atol=1e-4)


_FORMS = {
    "forecast": ({"horizon": {"steps": 3}}, [{"type": "lstm", "units": 4}, {"type": "dense", "units": 3}], {}),
    "rollout": ({"features": ["x", "y"], "rollout": 4}, [{"type": "lstm", "units": 4}, {"type": "dense", "units": 1}], {}),
    "stateful": ({}, [{"type": "lstm", "units": 4, "stateful": True}, {"type": "dense", "units": 1}], {"batch_size": 8}),
}


@pytest.mark.parametrize("form", list(_FORMS))
def test_a_multi_step_forecast_a_roll_out_and_a_stateful_model_train_on_another_window(form):
    data, layers, train = _FORMS[form]
    spec = load_spec(spec_dict(None, data={"path": None, "window": 6, **data}, model={"layers": layers},
                               train={"epochs": 1, "batch_size": 16, "seed": 0, **train}))
    dataset = load_dataset(spec, frame=series_frame(120))
    candidate = spec.updated({"data.window": 10})
    outcome, prepared, _ = train_candidate(spec, candidate, dataset, prune=False)
    assert prepared.dataset.window == 10 and prepared.x_val.shape[1] == 10
    # the same validation targets as the spec's own window: every step of every sample, or every rolled-out one
    assert outcome.metrics.n_val == len(dataset.validation_targets)
    assert np.asarray(outcome.val_predictions).shape == np.asarray(dataset.validation_targets).shape
    assert np.isfinite(outcome.metrics.mse)
    assert export_model(outcome.core, prepared).input_shape[1:] == (10, len(dataset.feature_names))
