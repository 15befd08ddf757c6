"""A stateful model end to end (issue 24.3): diagnosed, made stateless by the search, exported for any number
of windows.

The spec is built to fail on purpose: a relu SimpleRNN whose recurrent weights amplify (orthogonal, gain
1.7). Over one window of 8 steps its state grows about 70-fold, which a stateless model learns to live with;
carried from batch to batch and never reset, it grows without bound and the loss goes NaN.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import yaml
from helpers import TRIALS_ONLY, make_series_csv, spec_dict, write_spec

import autofix_lstm  # noqa: F401  (registers the layers best_model.keras needs)
from autofix_lstm.api import search

pytestmark = pytest.mark.slow

BATCH = 16
AMPLIFYING_RNN = {"type": "simple_rnn", "units": 8, "activation": "relu", "stateful": True,
                  "recurrent_initializer": {"class_name": "Orthogonal", "config": {"gain": 1.7}}}


@pytest.fixture(scope="module")
def stateful_search(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stateful")
    make_series_csv(folder, n=200, kind="sine", scale=10.0, offset=50.0)
    raw = spec_dict("series.csv", model={"layers": [AMPLIFYING_RNN, {"type": "dense", "units": 1}]},
                    preprocessing={"inputs": "standard", "target": "standard"},
                    train={"epochs": 3, "batch_size": BATCH},
                    search={"max_trials": 2, "strategies": ["stateful"], **TRIALS_ONLY}, output="runs/stateful")
    return search(write_spec(folder, raw))


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_a_stateful_spec_is_diagnosed_and_made_stateless(stateful_search):
    result = stateful_search
    summary = json.loads((result.output_dir / "summary.json").read_text())
    leak = next(f for f in summary["diagnosis"] if f["id"] == "stateful_state_leak")
    assert leak["severity"] == "error" and leak["strategies"] == ["stateful"]
    evidence = leak["evidence"]
    assert evidence["stateful_layers"] == ["simple_rnn_0"] and evidence["batch_size"] == BATCH
    assert evidence["carried_from_rows_back"] == BATCH and evidence["overlap_rows"] == 0
    assert evidence["reset_states"] == "never" and evidence["windows_left_out"] == evidence["train_windows"] % BATCH
    # the training loss grew with the carried state while the windows read from zero states did not: the
    # gradients and the loss's rise are shown as its consequences, not as a learning rate to lower
    assert evidence["carried_state_grew"] is True and evidence["loss_end_over_start"] > 1e6
    explained = {f["id"]: f for f in summary["diagnosis"] if "stateful_state_leak" in f["evidence"].get("explained_by", [])}
    assert set(explained) == {"exploding_gradients", "learning_rate_too_high"}
    assert {f["severity"] for f in explained.values()} == {"info"}
    assert summary["baseline_state"] == "diverged" and summary["fixed"] is True
    assert summary["best"]["r2"] > 0.3
    assert summary["changes"] == ["model.layers[0].stateful: True -> absent"]
    best = yaml.safe_load((result.output_dir / "best_spec.yaml").read_text())
    assert "stateful" not in best["model"]["layers"][0]


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_the_stateless_fix_predicts_any_number_of_windows_and_the_spec_as_written_its_batch(stateful_search):
    result = stateful_search
    windows = np.random.default_rng(0).normal(size=(7, 8, 2)).astype("float32")
    best = keras.saving.load_model(result.output_dir / "best_model.keras")
    predictions = np.asarray(best.predict(windows, verbose=0)).reshape(-1)
    assert predictions.shape == (7,) and np.all(np.isfinite(predictions))
    baseline = keras.saving.load_model(result.output_dir / "baseline_model.keras")
    assert baseline.input_shape == (BATCH, 8, 2)  # the spec as written stays stateful: whole batches only
    with pytest.raises(ValueError, match="stateful"):
        baseline.predict(windows, verbose=0)
