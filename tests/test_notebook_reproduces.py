"""A notebook search writes specs the command line reproduces (issue 25, point 1).

best_spec.yaml said "Reproduce it with: autofix-lstm train best_spec.yaml", but a search on data in
memory wrote `data.path: null` and the command failed (exit 2). The data now lands in the output folder.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import TRIALS_ONLY, series_frame
from typer.testing import CliRunner

import autofix_lstm
from autofix_lstm.cli import app
from autofix_lstm.data.dataset import load_dataset
from autofix_lstm.spec import load_spec

pytestmark = pytest.mark.slow
SEARCH = {"max_trials": 1, "rerun_pruned": 0, "prune_after": None, **TRIALS_ONLY}


def _model(window: int = 6, features: int = 2) -> keras.Model:
    model = keras.Sequential([keras.Input((window, features)), keras.layers.LSTM(4),
                              keras.layers.Dense(1, activation="sigmoid")], name="notebook_lstm")
    model.compile(optimizer="adam", loss="mse")
    return model


def _trains_from_the_cli(folder) -> dict:
    spec = yaml.safe_load((folder / "best_spec.yaml").read_text())
    result = CliRunner().invoke(app, ["train", str(folder / "best_spec.yaml")])
    assert result.exit_code in (0, 1), result.output  # trained (1: it collapsed), not refused
    return spec


@pytest.mark.parametrize("validation", ["split", "validation_data"])
def test_a_search_on_arrays_writes_a_best_spec_the_cli_trains(tmp_path, monkeypatch, validation):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(150, 6, 2)).astype("float32")
    y = 300.0 + 50.0 * x[:, -1, 0]
    given = ({"validation_split": 0.2} if validation == "split"
             else {"validation_data": (x[120:], y[120:])})
    arrays = {"x": x, "y": y} if validation == "split" else {"x": x[:120], "y": y[:120]}
    result = autofix_lstm.search(_model(), **arrays, **given, epochs=1, search=SEARCH)
    spec = _trains_from_the_cli(result.output_dir)
    assert spec["data"]["path"] == "data.npz"  # beside best_spec.yaml, relative to it
    saved = np.load(result.output_dir / "data.npz")
    np.testing.assert_array_equal(saved["x"], x)
    assert spec["data"]["validation_split"] == pytest.approx(0.2)


def test_a_search_on_a_dataframe_writes_a_best_spec_the_cli_trains(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    frame = series_frame(200, scale=100.0, offset=300.0)
    result = autofix_lstm.search(_model(window=8, features=1), data=frame, target="y", features=["x"], window=8,
                                 epochs=1, search=SEARCH)
    spec = _trains_from_the_cli(result.output_dir)
    assert spec["data"]["path"].endswith("data.parquet")
    assert (result.output_dir / "data.parquet").is_file()


def test_a_search_on_arrays_with_two_named_targets_reproduces_them_from_its_best_spec(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(150, 6, 2)).astype("float32")
    y = pd.DataFrame({"load": 300.0 + 50.0 * x[:, -1, 0], "temp": 15.0 + 0.1 * x[:, -1, 1]})
    model = keras.Sequential([keras.Input((6, 2)), keras.layers.LSTM(4), keras.layers.Dense(2)], name="two_targets")
    model.compile(optimizer="adam", loss="mse")
    result = autofix_lstm.search(model, x=x, y=y, epochs=1, search=SEARCH)
    summary = json.loads((result.output_dir / "summary.json").read_text())
    per_target = summary["baseline"]["per_target"]
    assert [entry["target"] for entry in per_target] == ["load", "temp"]  # each in its own units: mae ~300 and ~15
    assert per_target[0]["mae"] > 100 and 5 < per_target[1]["mae"] < 30
    spec = _trains_from_the_cli(result.output_dir)
    assert spec["data"]["target"] == ["load", "temp"] and spec["data"]["path"] == "data.npz"
    again = load_dataset(load_spec(result.output_dir / "best_spec.yaml"))
    assert again.target_names == ("load", "temp") and again.multi_target
    np.testing.assert_array_equal(np.concatenate([again.y_train, again.y_val]), y.to_numpy())
    np.testing.assert_array_equal(np.concatenate([again.x_train, again.x_val]), x)
    assert len(again.x_val) == 30  # the spec's validation_split (0.2) of 150, as the search split it
