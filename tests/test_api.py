"""The notebook API: ``from autofix_lstm import diagnose, search, train, load_spec`` on in-memory data.

Each entry point takes a spec path, a dict or a ``Spec``, and ``data=`` (a DataFrame) or ``x=``/``y=``
(already windowed arrays) instead of ``data.path``; ``progress=False`` prints nothing.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import pytest
from helpers import TRIALS_ONLY, series_frame, spec_dict, tiny_layers, write_spec

import autofix_lstm
from autofix_lstm import SearchResult, Spec, TrainResult, load_spec, search, train
from autofix_lstm.errors import SpecError


def _memory_spec(tmp_path, **sections) -> dict:
    """A tiny spec dict with no data.path (the data comes in memory) writing into ``tmp_path/out``."""
    spec = spec_dict("unused.csv", output=str(tmp_path / "out"), **sections)
    spec["data"].pop("path")
    return spec


def _windows(n: int = 160, window: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, window, 2)).astype(np.float32)
    return x, x[:, -1, 0] * 2.0 + 0.1 * rng.normal(size=n)


def test_public_names():
    for name in ("diagnose", "search", "train", "load_spec", "SearchResult", "TrainResult", "write_report"):
        assert name in autofix_lstm.__all__
        assert callable(getattr(autofix_lstm, name))


def test_train_on_a_dataframe_from_a_dict(tmp_path, capsys):
    spec = _memory_spec(tmp_path)
    result = train(spec, data=series_frame(200), progress=False)
    assert isinstance(result, TrainResult)
    assert result.metrics.task == "regression" and result.metrics.n_val > 0
    assert set(result.history) >= {"loss", "val_loss"}
    assert result.model.predict(np.zeros((2, 8, 2), np.float32), verbose=0).shape[0] == 2
    assert (tmp_path / "out" / "metrics.json").is_file()
    assert capsys.readouterr().out == ""


def test_train_on_arrays_from_a_spec_object(tmp_path):
    raw = _memory_spec(tmp_path)
    raw["data"] = {}  # arrays are already windowed: no target/features/window
    spec = load_spec(raw)
    assert isinstance(spec, Spec)
    x, y = _windows()
    result = train(spec, x=x, y=y, save=False, progress=False)
    assert result.metrics.n_val == 32
    assert result.output_dir is None


def test_train_from_a_path_with_in_memory_data(tmp_path):
    path = write_spec(tmp_path, _memory_spec(tmp_path))
    result = train(path, data=series_frame(200), save=False, progress=False)
    assert result.metrics.task == "regression"


def test_diagnose_on_a_dataframe_and_on_arrays(tmp_path):
    from autofix_lstm import diagnose

    result = diagnose(_memory_spec(tmp_path), data=series_frame(200), save=False, progress=False)
    assert isinstance(result.findings, list)
    assert list(result.to_frame().columns)[:2] == ["id", "severity"]
    assert "<table" in result._repr_html_()
    raw = _memory_spec(tmp_path)
    raw["data"] = {}
    x, y = _windows()
    assert diagnose(raw, x=x, y=y, save=False, progress=False).probe


def test_in_memory_errors_are_typed(tmp_path):
    with pytest.raises(SpecError, match="give both x and y"):
        train(_memory_spec(tmp_path), x=_windows()[0], progress=False)
    with pytest.raises(SpecError, match="data.path is required"):
        train(_memory_spec(tmp_path), progress=False)


@pytest.mark.slow
def test_search_on_a_dataframe(tmp_path, capsys):
    # Collapses on purpose: targets around 5,000 into a sigmoid head.
    frame = series_frame(220, scale=1000.0, offset=5000.0)
    spec = _memory_spec(
        tmp_path,
        model={"layers": tiny_layers(units=4, head_activation="sigmoid")},
        train={"epochs": 2},
        search={"max_trials": 1, "tuner": "random", **TRIALS_ONLY},
    )
    result = search(spec, data=frame, progress=False)
    assert capsys.readouterr().out == ""
    assert isinstance(result, SearchResult)
    assert result.baseline["collapsed"]
    assert isinstance(result.trials, pd.DataFrame) and len(result.trials) == 1
    assert isinstance(result.fixed, bool) and result.verdict
    out = tmp_path / "out"
    for name in ("summary.json", "trials.csv", "baseline.json", "best_spec.yaml", "diagnosis.json", "report.html"):
        assert (out / name).is_file(), name
    page = result._repr_html_()
    assert result.verdict.split(";")[0][:40] in html.unescape(page)
    assert 'src="data:image/png;base64,' in page
    assert result.plot()._repr_png_()[:4] == b"\x89PNG"
    assert result.best_spec.to_yaml()


@pytest.mark.slow
def test_search_on_arrays(tmp_path):
    raw = _memory_spec(tmp_path, train={"epochs": 1}, search={"max_trials": 1, "tuner": "random", **TRIALS_ONLY})
    raw["data"] = {}
    x, y = _windows()
    result = search(load_spec(raw), x=x, y=y, progress=False)
    assert result.summary["trials_total"] == 1
    assert (tmp_path / "out" / "report.html").is_file()
