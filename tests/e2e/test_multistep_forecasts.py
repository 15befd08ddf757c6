"""Multi-step forecasts in the vector form (issue 24, point 1): ``horizon: {steps: H}`` and a ``Dense(H)`` head.

The most common forecasting setup in the tutorials people copy was refused outright. Now a collapsed
H-step forecaster (a sigmoid head on a target in the hundreds) is diagnosed, fixed with its H outputs
kept, its fixed model predicts all H steps in original units, and the report draws the forecasts
against the actual values (a fan); a live model whose head has one unit for H steps (Keras broadcasts
it: the same value for every step) is named ``head_width_mismatch`` and given H units.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pandas as pd
import pytest
from helpers import spec_dict, write_spec
from typer.testing import CliRunner

from autofix_lstm import diagnose, search
from autofix_lstm.cli import app

pytestmark = pytest.mark.slow

STEPS = 4
WINDOW = 12


# a small search over the head and the scaling, the baseline's sigmoid head on an unscaled target
_HEAD_AND_SCALING = {"max_trials": 2, "tuner": "random", "strategies": ["scaling", "activations"], "rerun_pruned": 0,
                     "refine": False, "minimize": False, "confirm": False}


def _search_sigmoid_head(tmp_path, csv: str, data: dict, units: int, output: str) -> dict:
    """Run ``autofix-lstm search`` on an LSTM(16) with a ``units``-wide sigmoid head; summary.json's content."""
    spec = spec_dict(
        csv, data=data,
        model={"layers": [{"type": "lstm", "units": 16}, {"type": "dense", "units": units, "activation": "sigmoid"}],
               "optimizer": {"name": "adam", "learning_rate": 0.003}},
        train={"epochs": 8, "batch_size": 16}, search=_HEAD_AND_SCALING, output=output,
    )
    result = CliRunner().invoke(app, ["search", str(write_spec(tmp_path, spec))], terminal_width=400)
    assert result.exit_code == 0, result.output
    return json.loads((tmp_path / output / "summary.json").read_text())


def _load_series(n: int = 360) -> pd.DataFrame:
    """A daily-cycle load in the hundreds with an hour-of-cycle feature (seeded)."""
    rng = np.random.default_rng(0)
    t = np.arange(n)
    load = 500 + 100 * np.sin(2 * np.pi * t / 24) + 30 * np.sin(2 * np.pi * t / 90) + rng.normal(0, 5, n)
    return pd.DataFrame({"load": load, "hour": t % 24})


def test_a_collapsed_four_step_forecaster_is_fixed_keeping_its_four_outputs(tmp_path):
    frame = _load_series()
    frame.to_csv(tmp_path / "load.csv", index=False)
    spec = spec_dict(
        "load.csv",
        data={"target": "load", "features": ["load", "hour"], "window": WINDOW, "horizon": {"steps": STEPS}},
        model={"layers": [{"type": "lstm", "units": 16}, {"type": "dense", "units": STEPS, "activation": "sigmoid"}],
               "optimizer": {"name": "adam", "learning_rate": 0.003}},
        train={"epochs": 8, "batch_size": 16},
        search={"max_trials": 3, "tuner": "random", "strategies": ["scaling", "activations"], "rerun_pruned": 0,
                "refine": False, "minimize": False},
        output="runs/forecast",
    )
    path = write_spec(tmp_path, spec)
    runner = CliRunner()
    result = runner.invoke(app, ["search", str(path)], terminal_width=400)
    assert result.exit_code == 0, result.output
    out = tmp_path / "runs/forecast"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["baseline_state"] == "collapsed" and summary["fixed"] is True, summary["verdict"]
    best = summary["best"]
    assert best["r2"] > 0.5 and len(best["per_step"]) == STEPS and best["step_std_ratio"] > 0.5
    assert all(step["r2"] > 0.3 for step in best["per_step"])
    assert best["persistence_mse"] is not None and "repeating the last value" in summary["verdict"]
    assert f"Over its {STEPS} forecast steps, r2 goes from" in summary["verdict"]
    assert "model.layers[1].units" not in " ".join(summary["changes"])  # the four outputs stay

    model = keras.models.load_model(out / "best_model.keras")
    values = frame[["load", "hour"]].to_numpy(np.float32)
    starts = np.arange(300, 300 + 40)
    windows = np.stack([values[s : s + WINDOW] for s in starts])
    predicted = model.predict(windows, verbose=0)
    actual = np.stack([frame["load"].to_numpy()[s + WINDOW : s + WINDOW + STEPS] for s in starts])
    assert predicted.shape == (40, STEPS)  # every step, in the target's own units
    r2 = 1 - np.mean((predicted - actual) ** 2) / np.mean(np.var(actual, axis=0))
    assert r2 > 0.5 and abs(np.mean(predicted) - np.mean(actual)) < 50

    report = (out / "report.html").read_text()
    assert "Validation predictions against the actual values" in report  # the figure's alt text
    baseline = json.loads((out / "baseline.json").read_text())
    assert np.asarray(baseline["val_targets"]).shape[1] == STEPS


def _windows(n: int = 260):
    frame = _load_series(n + WINDOW + STEPS)
    values = ((frame - frame.mean()) / frame.std()).to_numpy(np.float32)
    x = np.stack([values[i : i + WINDOW] for i in range(n)])
    y = np.stack([values[i + WINDOW : i + WINDOW + STEPS, 0] for i in range(n)])
    return x, y


def test_a_live_model_with_one_output_for_four_steps_is_named_and_given_four(tmp_path):
    x, y = _windows()
    model = keras.Sequential([keras.Input((WINDOW, 2)), keras.layers.LSTM(8), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")

    diagnosis = diagnose(model, x=x, y=y, epochs=4, save=False)
    first = diagnosis.findings[0]
    assert first.id == "head_width_mismatch", [(f.id, f.severity) for f in diagnosis.findings]
    assert first.evidence["expected_units"] == [STEPS] and "same value for every step" in first.message

    result = search(model, x=x, y=y, epochs=6, batch_size=16, output=str(tmp_path / "search"),
                    search={"max_trials": 2, "tuner": "random", "strategies": ["loss"], "refine": False,
                            "rerun_pruned": 0, "confirm": False, "minimize": False})
    assert result.summary["baseline_state"] == "collapsed" and result.fixed, result.verdict
    assert result.baseline["step_std_ratio"] < 0.01  # one value broadcast to every step: flat
    assert result.best_spec.model.layers[-1].kwargs["units"] == STEPS and result.best["r2"] > 0.5
    predicted = result.best_model.predict(x[:5], verbose=0)
    assert predicted.shape == (5, STEPS)


def test_a_live_encoder_decoder_is_read_with_its_repeat_vector_and_fixed(tmp_path):
    x, y = _windows()
    y = 500 + 100 * y  # in the hundreds, under a sigmoid per-step head: collapsed
    model = keras.Sequential([
        keras.Input((WINDOW, 2)), keras.layers.LSTM(8), keras.layers.RepeatVector(STEPS),
        keras.layers.LSTM(8, return_sequences=True), keras.layers.TimeDistributed(keras.layers.Dense(1, activation="sigmoid")),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    result = search(model, x=x, y=y, epochs=6, batch_size=16, output=str(tmp_path / "encdec"),
                    search={"max_trials": 2, "tuner": "random", "strategies": ["scaling", "activations"],
                            "refine": False, "rerun_pruned": 0, "confirm": False, "minimize": False})
    types = [layer.type for layer in result.best_spec.model.layers]
    assert types == ["lstm", "repeat_vector", "lstm", "time_distributed"]
    assert result.summary["baseline_state"] == "collapsed" and result.fixed, result.verdict
    assert result.best["r2"] > 0.5 and len(result.best["per_step"]) == STEPS
    predicted = np.asarray(result.best_model.predict(x[-5:], verbose=0)).reshape(5, -1)
    assert predicted.shape == (5, STEPS) and np.all(np.abs(predicted - y[-5:]) < 100)  # in the target's units


def test_a_one_step_model_is_judged_rolled_out_and_fixed(tmp_path):
    _load_series().to_csv(tmp_path / "load.csv", index=False)
    data = {"target": "load", "features": ["load", "hour"], "window": WINDOW, "horizon": 1, "rollout": 8}
    summary = _search_sigmoid_head(tmp_path, "load.csv", data, 1, "runs/rollout")
    assert summary["baseline_state"] == "collapsed" and summary["fixed"] is True, summary["verdict"]
    best = summary["best"]
    assert best["rollout_steps"] == 8 and len(best["per_step"]) == 8
    assert "Over its 8 rolled-out steps, r2 goes from" in summary["verdict"]
    assert best["per_step"][-1]["r2"] > 0.3 and best["per_step"][-1]["std_ratio"] > 0.5  # the 8th fed-back step
    baseline = json.loads((tmp_path / "runs/rollout/baseline.json").read_text())
    assert np.asarray(baseline["val_targets"]).shape[1] == 8  # the roll-out's truth, drawn as a fan


def test_two_targets_in_their_own_units_are_fixed_together(tmp_path):
    rng = np.random.default_rng(1)
    t = np.arange(360)
    frame = pd.DataFrame({"load": 500 + 100 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 5, len(t)),
                          "temp": 15 + 0.05 * np.cos(2 * np.pi * t / 24 + 1) + rng.normal(0, 0.005, len(t)),
                          "hour": t % 24})
    frame.to_csv(tmp_path / "two.csv", index=False)
    data = {"target": ["load", "temp"], "features": ["load", "temp", "hour"], "window": WINDOW}
    summary = _search_sigmoid_head(tmp_path, "two.csv", data, 2, "runs/two")
    out = tmp_path / "runs/two"
    assert summary["baseline_state"] == "collapsed" and summary["fixed"] is True, summary["verdict"]
    per_target = {entry["target"]: entry for entry in summary["best"]["per_target"]}
    assert "Each target's r2: load " in summary["verdict"]
    assert per_target["load"]["r2"] > 0.5 and per_target["temp"]["r2"] > 0.5  # the tiny temp too
    model = keras.models.load_model(out / "best_model.keras")
    values = frame[["load", "temp", "hour"]].to_numpy(np.float32)
    windows = np.stack([values[s : s + WINDOW] for s in range(300, 330)])
    predicted = model.predict(windows, verbose=0)
    actual = frame[["load", "temp"]].to_numpy()[np.arange(300, 330) + WINDOW]
    assert predicted.shape == (30, 2)
    assert np.all(np.abs(predicted - actual).mean(axis=0) < [40.0, 0.03])  # each in its own units
