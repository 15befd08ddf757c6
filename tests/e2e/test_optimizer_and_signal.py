"""The failure that made the optimizer a remedy, rebuilt with data the tests generate.

A binary classifier on a next-step rule a small LSTM can learn, trained with Adagrad and a one-unit
softmax head (which always outputs 1): the search must fix it; with the optimizer and learning-rate
strategies removed it ends "not fixed", and the verdict says the data holds signal (the probe beat
the constant) instead of blaming the data; on a pure-noise target it ends "not fixed" and the probe
does not beat the constant either.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import TRIALS_ONLY, write_spec

from autofix_lstm.api import search
from autofix_lstm.data.dataset import load_dataset
from autofix_lstm.scoring.signal import probe_signal
from autofix_lstm.spec import load_spec

pytestmark = pytest.mark.slow


def _next_step_rule(folder, n=480, noise=0.15, seed=0):
    """Will the next value of a noisy oscillation be above the current one?"""
    rng = np.random.default_rng(seed)
    x = np.sin(np.arange(n) * 0.35) + noise * rng.standard_normal(n)
    frame = pd.DataFrame({"x": x[:-1], "up": (x[1:] > x[:-1]).astype(int)})
    frame.to_csv(folder / "rule.csv", index=False)


def _adagrad_spec(folder, **search):
    return {
        "data": {"path": "rule.csv", "target": "up", "features": ["x"], "window": 8, "horizon": 0,
                 "validation_split": 0.25},
        "model": {"layers": [{"type": "lstm", "units": 12}, {"type": "dense", "units": 1, "activation": "softmax"}],
                  "optimizer": {"name": "adagrad", "learning_rate": 0.001}, "loss": "binary_crossentropy"},
        "train": {"epochs": 6, "batch_size": 64, "seed": 0},
        "search": {"tuner": "bayesian", **search},
        "output": "runs/adagrad",
    }


def test_the_optimizer_remedy_fixes_an_adagrad_classifier(tmp_path):
    _next_step_rule(tmp_path)
    result = search(write_spec(tmp_path, _adagrad_spec(tmp_path, max_trials=6, **TRIALS_ONLY)))
    assert result.summary["baseline"]["collapsed"] is True
    assert result.fixed, result.verdict
    assert result.best["balanced_accuracy"] > 0.75
    assert result.best_spec.model.optimizer.name != "adagrad" or result.best_spec.model.optimizer.learning_rate > 0.01
    assert result.summary["signal_probe"]["beats_constant"] is True


def test_without_the_optimizer_remedies_the_verdict_credits_the_data_with_signal(tmp_path):
    _next_step_rule(tmp_path)
    kept = ["activations", "class_weights", "dropout"]
    path = write_spec(tmp_path, _adagrad_spec(tmp_path, max_trials=3, strategies=kept))
    result = search(path)
    summary = json.loads((result.output_dir / "summary.json").read_text())
    assert summary["fixed"] is False
    probe = summary["signal_probe"]
    assert probe["beats_constant"] is True and probe["metric"] == "balanced_accuracy" and probe["value"] > 0.75
    assert "the data holds signal" in summary["verdict"] and "no signal" not in summary["verdict"]
    assert "widen the space or the budget" in summary["verdict"]


def test_on_pure_noise_the_probe_finds_no_signal_either(tmp_path):
    rng = np.random.default_rng(1)
    pd.DataFrame({"x": rng.standard_normal(400), "y": rng.standard_normal(400)}).to_csv(tmp_path / "noise.csv", index=False)
    raw = {
        "data": {"path": "noise.csv", "target": "y", "features": ["x"], "window": 6, "horizon": 1},
        "model": {"layers": [{"type": "lstm", "units": 8}, {"type": "dense", "units": 1}]},
        "preprocessing": {"inputs": "standard", "target": "standard"},
        "train": {"epochs": 2, "batch_size": 32, "seed": 0},
        "search": {"max_trials": 2, "tuner": "random"},
        "output": "runs/noise",
    }
    spec = load_spec(write_spec(tmp_path, raw))
    probe = probe_signal(load_dataset(spec))
    assert probe.beats_constant is False
    result = search(spec)
    assert result.fixed is False
    assert "no signal" in result.verdict and "neither does a simple model" in result.verdict
    assert result.summary["signal_probe"]["beats_constant"] is False
