"""Hand-picked weight initializers as a cause to name and fix (issue 24, point 3).

A live Keras model whose kernels start at zero never separates its units and passes no gradient back:
the output is the head's bias for every window. Its initializers are read into the spec (not dropped),
the diagnosis names ``custom_initialization`` first, and the ``initialization`` strategy puts Keras'
defaults back.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from autofix_lstm import diagnose, search

pytestmark = pytest.mark.slow


def _sine_windows(n: int = 240, window: int = 8):
    rng = np.random.default_rng(0)
    t = np.arange(n + window, dtype=np.float64)
    series = np.sin(2 * np.pi * t / 16) + 0.05 * rng.normal(size=len(t))
    x = np.stack([series[i : i + window] for i in range(n)])[:, :, None].astype(np.float32)
    return x, series[window : window + n]


def test_a_model_whose_kernels_start_at_zero_is_named_and_given_kerass_initializers(tmp_path):
    x, y = _sine_windows()
    model = keras.Sequential([
        keras.Input((8, 1)),
        keras.layers.LSTM(8, kernel_initializer="zeros", recurrent_initializer="zeros"),
        keras.layers.Dense(1, kernel_initializer="zeros"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")

    diagnosis = diagnose(model, x=x, y=y, epochs=6, save=False)
    first = diagnosis.findings[0]
    assert first.id == "custom_initialization" and first.severity == "error", [(f.id, f.severity) for f in diagnosis.findings]
    assert {entry["argument"] for entry in first.evidence["initializers"]} == {"kernel_initializer", "recurrent_initializer"}
    assert first.evidence["initial_spread_share"] == 0.0 and first.strategies == ["initialization"]

    result = search(model, x=x, y=y, epochs=6, batch_size=16, output=str(tmp_path / "init"),
                    search={"max_trials": 1, "tuner": "random", "strategies": ["initialization"], "refine": False,
                            "rerun_pruned": 0, "confirm": False, "minimize": False})
    assert result.summary["baseline_state"] == "collapsed" and result.fixed, result.verdict
    assert all("initializer" not in key for layer in result.best_spec.model.layers for key in layer.kwargs)
    assert result.best["r2"] > 0.5
