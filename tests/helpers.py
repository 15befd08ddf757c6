"""Builders for tiny data files and specs, shared by every test module.

Everything here writes into a folder the test owns (``tmp_path``) and stays small: a few hundred
rows, windows of 8, one tiny LSTM, 1-3 epochs. ``collapsing_spec`` builds a model that collapses
on purpose (targets in the thousands into a sigmoid head); ``healthy_spec`` one that does not.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

SERIES_KINDS = ("sine", "noise", "trend")
# search settings for a test that checks the trials only: the stages after them (the confirmation's seed runs,
# the minimal fix) retrain the kept fix and have their own tests (tests/e2e/test_search_e2e.py, tests/tuning/
# test_minimal.py, the live Sequential in tests/test_live_models.py)
TRIALS_ONLY = {"confirm": False, "minimize": False}


def series_frame(
    n: int = 300,
    kind: str = "sine",
    *,
    scale: float = 1.0,
    offset: float = 0.0,
    period: float = 16.0,
    noise: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    """A table with columns ``t`` (time index), ``x`` (a driver) and ``y`` (the target).

    ``sine``: ``y`` is a sine of ``period`` rows plus a little noise, ``x`` the same sine a quarter
    period ahead (both learnable); ``noise``: ``y`` and ``x`` are white noise; ``trend``: ``y`` climbs
    linearly from 0 to ``scale`` over the rows, with a small ripple. ``y`` is ``offset + scale * signal``.
    """
    if kind not in SERIES_KINDS:
        raise ValueError(f"kind must be one of {SERIES_KINDS}, got {kind!r}")
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64)
    phase = 2 * np.pi * t / period
    if kind == "sine":
        signal = np.sin(phase) + noise * rng.normal(size=n)
        driver = np.sin(phase + np.pi / 2) + noise * rng.normal(size=n)
    elif kind == "noise":
        signal = rng.normal(size=n)
        driver = rng.normal(size=n)
    else:
        signal = t / max(n - 1, 1) + 0.05 * np.sin(phase) + noise * 0.1 * rng.normal(size=n)
        driver = np.sin(phase)
    return pd.DataFrame({"t": t, "x": driver, "y": offset + scale * signal})


def make_series_csv(tmp_path: Path, n: int = 300, kind: str = "sine", *, name: str = "series.csv", **kwargs) -> Path:
    """Write ``series_frame(n, kind, **kwargs)`` as a CSV file in ``tmp_path``; return its path."""
    path = Path(tmp_path) / name
    series_frame(n, kind, **kwargs).to_csv(path, index=False)
    return path


def make_series_parquet(
    tmp_path: Path, n: int = 300, kind: str = "sine", *, name: str = "series.parquet", **kwargs
) -> Path:
    """Write ``series_frame(n, kind, **kwargs)`` as a Parquet file in ``tmp_path``; return its path."""
    path = Path(tmp_path) / name
    series_frame(n, kind, **kwargs).to_parquet(path, index=False)
    return path


def make_windows_npz(
    tmp_path: Path,
    n: int = 200,
    window: int = 8,
    features: int = 2,
    *,
    name: str = "windows.npz",
    classes: int | None = None,
    seed: int = 0,
    **arrays: np.ndarray,
) -> Path:
    """Write already windowed arrays ``x`` (n, window, features) and ``y`` (n,) to an ``.npz`` file.

    ``y`` is the mean of each window's last row (regression) or, with ``classes``, that mean cut
    into ``classes`` bins (class labels 0..classes-1). Extra keyword ``arrays`` replace or add arrays
    (pass ``x=None`` or ``y=None`` to leave one out).
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, window, features)).astype(np.float32)
    y = x[:, -1, :].mean(axis=1).astype(np.float64)
    if classes is not None:
        edges = np.quantile(y, np.linspace(0, 1, classes + 1)[1:-1])
        y = np.digitize(y, edges).astype(np.int64)
    payload: dict[str, Any] = {"x": x, "y": y, **arrays}
    path = Path(tmp_path) / name
    np.savez(path, **{k: v for k, v in payload.items() if v is not None})
    return path


def tiny_layers(units: int = 8, head_activation: str = "linear", head_units: int = 1) -> list[dict]:
    """One small LSTM and a Dense head: the fastest model that still is an LSTM."""
    return [{"type": "lstm", "units": units}, {"type": "dense", "units": head_units, "activation": head_activation}]


def one_epoch_sine_spec(tmp_path: Path, units: int = 4) -> Path:
    """A 120-row sine and a spec training a ``units``-unit LSTM on it for one epoch (batch 32, seed 0)."""
    make_series_csv(tmp_path, n=120, kind="sine")
    layers = [{"type": "lstm", "units": units}, {"type": "dense", "units": 1}]
    return write_spec(tmp_path, spec_dict("series.csv", model={"layers": layers},
                                          train={"epochs": 1, "batch_size": 32, "seed": 0}))


class FakeDiagnosis:
    """What the search reads of a diagnosis, with no finding (for tests that stop a search before its trials)."""

    findings, signal_probe, output_path = [], None, None

    def to_dict(self) -> dict:
        return {"findings": []}


def spec_dict(data_path: str | Path = "series.csv", **sections: Any) -> dict:
    """A complete, tiny spec dict for a CSV/Parquet file; ``sections`` deep-merge over the defaults.

    ``spec_dict("s.csv", data={"window": 4}, train={"epochs": 1})`` changes only those keys. For an
    ``.npz`` file the table-only keys (target, features, window, horizon) are left out.
    """
    data: dict[str, Any] = {"path": str(data_path)}
    if not str(data_path).endswith(".npz"):
        data.update(target="y", features=["x", "y"], window=8, horizon=1)
    spec: dict[str, Any] = {
        "data": data,
        "model": {"layers": tiny_layers(), "optimizer": {"name": "adam", "learning_rate": 0.01}, "loss": "mse"},
        "train": {"epochs": 1, "batch_size": 32, "seed": 0},
        "output": "runs/test",
    }
    return deep_merge(spec, sections)


def deep_merge(base: dict, changes: dict) -> dict:
    """``base`` with ``changes`` merged in recursively (a ``None`` value removes the key)."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def write_spec(tmp_path: Path, spec: dict | str, name: str = "spec.yaml") -> Path:
    """Write a spec dict (or raw YAML text) to ``tmp_path/name``; return its path."""
    path = Path(tmp_path) / name
    text = spec if isinstance(spec, str) else yaml.safe_dump(spec, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def collapsing_spec(tmp_path: Path, *, epochs: int = 2, name: str = "collapsing.yaml") -> Path:
    """A spec whose output collapses on purpose: unscaled targets around 5,000 into a sigmoid head.

    The sigmoid can only output values in (0, 1), and the huge errors saturate it at 1.0, so the
    predictions are (nearly) one number whatever the input.
    """
    data = make_series_csv(tmp_path, n=240, kind="sine", scale=1000.0, offset=5000.0, name="collapsing.csv")
    spec = spec_dict(
        data.name,
        model={"layers": tiny_layers(units=4, head_activation="sigmoid")},
        train={"epochs": epochs},
        output="runs/collapsing",
    )
    return write_spec(tmp_path, spec, name)


def healthy_spec(tmp_path: Path, *, epochs: int = 3, name: str = "healthy.yaml") -> Path:
    """A spec that learns: a clean sine, standard-scaled inputs and target, a linear head."""
    data = make_series_csv(tmp_path, n=320, kind="sine", scale=10.0, offset=50.0, name="healthy.csv")
    spec = spec_dict(
        data.name,
        model={"layers": tiny_layers(units=16), "optimizer": {"learning_rate": 0.01}},
        preprocessing={"inputs": "standard", "target": "standard"},
        train={"epochs": epochs, "batch_size": 16},
        output="runs/healthy",
    )
    return write_spec(tmp_path, spec, name)


def invoke_train(spec_path: Path, *args: str):
    """Run ``autofix-lstm train spec_path *args`` through typer's CliRunner; return the Result."""
    from typer.testing import CliRunner

    from autofix_lstm.cli import app

    return CliRunner().invoke(app, ["train", str(spec_path), *args])
