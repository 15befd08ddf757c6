"""Loss and head mistakes are causes the tool names and fixes, not inputs it refuses (issue 24, point 2).

A binary cross-entropy on a real-valued target and a Dense(3) head for a one-value regression were
refused at the boundary ("no training can fix them"). They are the user's mistake, and the fix is a
configuration change: the diagnosis names them first (``loss_target_mismatch``,
``head_width_mismatch``), ``train`` calls a spec Keras cannot train by its state ("cannot train: ..."),
and the search's ``loss`` strategy gives the model a regression loss and a one-unit linear head; from a
spec file, a live Keras model and a saved one.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from helpers import make_series_csv, spec_dict, write_spec
from typer.testing import CliRunner

from autofix_lstm import diagnose, search
from autofix_lstm.cli import app

pytestmark = pytest.mark.slow

_SEARCH = {"max_trials": 2, "tuner": "random", "strategies": ["loss"], "refine": False, "rerun_pruned": 0,
           "confirm": False}


def _sine_windows(n: int = 240, window: int = 8):
    """Windows of a noisy sine and its quarter-period lead; the target is the next value (real-valued, 0..100)."""
    rng = np.random.default_rng(0)
    t = np.arange(n + window, dtype=np.float64)
    series = np.sin(2 * np.pi * t / 16) + 0.05 * rng.normal(size=len(t))
    table = np.stack([np.sin(2 * np.pi * (t + 4) / 16), series], axis=1)
    x = np.stack([table[i : i + window] for i in range(n)]).astype(np.float32)
    return x, 50.0 + 40.0 * series[window : window + n]


def test_a_head_of_three_units_for_one_value_cannot_train_and_the_search_fixes_it(tmp_path):
    make_series_csv(tmp_path, n=300, kind="sine", scale=10.0, offset=50.0)
    spec = spec_dict(
        "series.csv",
        model={"layers": [{"type": "lstm", "units": 8}, {"type": "dense", "units": 3}]},
        preprocessing={"inputs": "standard", "target": "standard"},
        train={"epochs": 8, "batch_size": 16}, search=_SEARCH, output="runs/wide",
    )
    path = write_spec(tmp_path, spec)
    runner = CliRunner()

    diagnosed = runner.invoke(app, ["diagnose", str(path), "--json"])
    assert diagnosed.exit_code == 0, diagnosed.output
    first = json.loads(diagnosed.output)["findings"][0]
    assert first["id"] == "head_width_mismatch" and first["severity"] == "error"
    assert first["evidence"]["units"] == 3 and "Incompatible shapes" in first["evidence"]["training_error"]
    assert first["strategies"] == ["loss"]

    result = runner.invoke(app, ["search", str(path)], terminal_width=400)
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "runs/wide/summary.json").read_text())
    assert summary["baseline_state"] == "cannot_train" and summary["baseline"] is None
    assert summary["fixed"] is True and summary["best_state"] == "working" and summary["best"]["r2"] > 0.5
    assert "The spec as written could not be trained at all (cannot train: model.layers[1] (dense, 3 units" \
        in summary["verdict"]
    assert "model.layers[1].units: 3 -> 1" in summary["changes"]
    assert "cannot_train" in result.output  # the before/after table's state row


def test_a_live_model_with_binary_cross_entropy_on_a_real_target_is_diagnosed_and_fixed(tmp_path):
    x, y = _sine_windows()
    model = keras.Sequential([keras.Input((8, 2)), keras.layers.LSTM(8), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")

    diagnosis = diagnose(model, x=x, y=y, epochs=8, save=False)
    assert diagnosis.findings[0].id == "loss_target_mismatch", [(f.id, f.severity, f.evidence.get("task")) for f in diagnosis.findings]  # the task stays regression: a real-valued target
    assert diagnosis.findings[0].evidence["distinct_values"] > 100

    result = search(model, x=x, y=y, epochs=8, batch_size=16, output=str(tmp_path / "search"),
                    search={**_SEARCH, "strategies": ["loss", "scaling"]})
    assert result.summary["baseline_state"] == "collapsed" and result.fixed, result.verdict
    assert result.best_spec.model.loss == "mse" and result.best_spec.model.layers[-1].kwargs.get("units") == 1
    predictions = np.asarray(result.best_model.predict(x[-20:], verbose=0)).reshape(-1)
    assert 20 < predictions.mean() < 80  # original units: the target lies in 10..90


def test_a_saved_model_under_a_class_index_loss_on_a_real_target_is_diagnosed(tmp_path):
    x, y = _sine_windows()
    model = keras.Sequential([keras.Input((8, 2)), keras.layers.LSTM(8), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.save(tmp_path / "user.keras")
    np.savez(tmp_path / "windows.npz", x=x, y=y)
    # a saved model's layers are read from the file; its loss is the spec's (model.loss), as for model.layers
    spec = {"data": {"path": "windows.npz"},
            "model": {"path": "user.keras", "loss": "sparse_categorical_crossentropy"}, "train": {"epochs": 2},
            "output": "runs/saved"}
    result = CliRunner().invoke(app, ["diagnose", str(write_spec(tmp_path, spec)), "--json"])
    assert result.exit_code == 0, result.output
    first = json.loads(result.output)["findings"][0]
    assert first["id"] == "loss_target_mismatch" and first["evidence"]["loss_kind"] == "categorical"
    assert "outside the valid range" in first["evidence"]["training_error"]  # Keras could not train it at all


def test_a_live_model_keeps_its_l2_and_the_search_removes_it_when_it_collapses_the_output(tmp_path):
    # Issue 24 (3): a live model's regularizers and initializers were dropped when it was read into a
    # spec (the spec then described another model). An L2 of 5 on every kernel: the penalty is 60 times
    # what a constant predictor loses, the weights shrink and the output goes flat.
    x, y = _sine_windows()
    heavy = keras.regularizers.L2(5.0)
    model = keras.Sequential([
        keras.Input((8, 2)),
        keras.layers.LSTM(8, kernel_regularizer=heavy, recurrent_regularizer=heavy,
                          kernel_initializer=keras.initializers.RandomUniform(-0.05, 0.05)),
        keras.layers.Dense(1, kernel_regularizer=heavy),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    options = {"epochs": 10, "batch_size": 16, "preprocessing": {"inputs": "standard", "target": "standard"}}

    diagnosis = diagnose(model, x=x, y=y, save=False, **options)
    lstm = diagnosis.spec.model.layers[0].kwargs
    assert lstm["kernel_regularizer"] == {"class_name": "L2", "config": {"l2": 5.0}}
    assert lstm["kernel_initializer"] == {"class_name": "RandomUniform",
                                          "config": {"seed": None, "minval": -0.05, "maxval": 0.05}}
    finding = diagnosis.finding("heavy_regularization")
    assert finding is not None and finding.evidence["penalty_share"] > 10 and "regularization" in finding.strategies

    result = search(model, x=x, y=y, output=str(tmp_path / "search"),
                    search={**_SEARCH, "strategies": ["regularization"]}, **options)
    assert result.summary["baseline_state"] == "collapsed" and result.fixed, result.verdict
    assert "kernel_regularizer" not in result.best_spec.model.layers[0].kwargs  # removed: factor 0
