"""The signal probe's memory does not grow with the window (issue 15): its flattened matrices hold at
most ``MAX_VALUES`` values, copied once in float32 from the window views."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
from helpers import spec_dict

from autofix_lstm.data.dataset import load_dataset
from autofix_lstm.scoring import signal
from autofix_lstm.spec import load_spec


def _dataset(window: int, rows: int = 1200):
    rng = np.random.default_rng(0)
    t = np.arange(rows, dtype=np.float64)
    frame = pd.DataFrame({"a": np.sin(t / 9) + 0.1 * rng.normal(size=rows), "y": np.sin(t / 9 + 0.4)})
    spec = load_spec(spec_dict(None, data={"path": None, "target": "y", "features": ["a", "y"], "window": window}))
    return load_dataset(spec, frame=frame)


def test_wider_windows_get_fewer_probe_rows_and_as_many_values(monkeypatch):
    monkeypatch.setattr(signal, "MAX_ROWS", 600)
    monkeypatch.setattr(signal, "MAX_VALUES", 600 * 16)  # 600 windows of 8 timesteps x 2 features
    monkeypatch.setattr(signal, "TREE_ITERATIONS", 10)  # time; the sizes are what is tested
    flattened = []
    real_flat = signal._flat
    monkeypatch.setattr(signal, "_flat", lambda x: flattened.append(real_flat(x)) or flattened[-1])
    values = {}
    for window in (8, 32):
        flattened.clear()
        probe = signal.probe_signal(_dataset(window), seed=0)
        x_train, x_val = flattened
        assert x_train.shape == (probe.rows, window * 2) and len(x_val) == probe.validation_rows
        assert x_train.dtype == np.float32 and x_train.size <= signal.MAX_VALUES and x_val.size <= signal.MAX_VALUES
        values[window] = x_train.size
        assert probe.beats_constant  # a clear signal is still found on the smaller sample
    assert values[32] == values[8] == 600 * 16  # 4x longer windows: a quarter of the rows, the same values


def test_small_data_keeps_every_probe_row():
    assert signal.probe_rows(24, 3) == signal.MAX_ROWS  # the benchmark cases' sizes: unchanged
    assert signal.probe_rows(120, 10) * 1200 <= signal.MAX_VALUES < (signal.probe_rows(120, 10) + 1) * 1200
    assert signal.probe_rows(10_000, 10) == signal.MAX_VALUES // signal.MAX_COLUMNS  # columns are capped too


def test_flattening_copies_the_chosen_values_once_in_float32():
    rows = np.random.default_rng(1).normal(size=(3000, 10)).astype(np.float32)
    rows[5, 3], rows[1990, 9] = np.nan, np.inf
    for window in (30, 400):  # 400 x 10 values: more than MAX_COLUMNS, the most recent kept
        views = np.lib.stride_tricks.sliding_window_view(rows, window, axis=0).transpose(0, 2, 1)[:2000]
        tracemalloc.start()
        flat = signal._flat(views)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        expected = views.reshape(len(views), -1)[:, -signal.MAX_COLUMNS:]
        np.testing.assert_array_equal(flat, np.nan_to_num(expected, nan=0.0, posinf=0.0))
        assert flat.dtype == np.float32 and flat.flags.c_contiguous
        # one float32 copy of the kept values (for the widest windows: of whole timesteps, then the kept columns)
        assert peak <= (2.3 if window == 400 else 1.3) * flat.nbytes + 2**16
