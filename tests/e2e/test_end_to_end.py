"""``autofix-lstm train`` end to end: a model that collapses on purpose (through the installed script), one that does not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import collapsing_spec, healthy_spec, invoke_train, make_windows_npz, spec_dict, write_spec

from autofix_lstm.inputs import resolve_inputs
from autofix_lstm.modeling.train import train

pytestmark = pytest.mark.slow

CONSOLE_SCRIPT = Path(sys.executable).parent / "autofix-lstm"


def _json_from(output: str) -> dict:
    """The JSON object printed by ``train --json`` (anything logged before it is skipped)."""
    return json.loads(output[output.index("{"):])


def test_healthy_spec_reports_not_collapsed(tmp_path):
    spec = healthy_spec(tmp_path)
    result = invoke_train(spec)
    assert result.exit_code == 0, result.output
    assert "not collapsed" in result.stdout
    metrics = json.loads((tmp_path / "runs" / "healthy" / "metrics.json").read_text())
    assert metrics["collapsed"] is False and metrics["nan"] is False
    assert metrics["std_ratio"] > 0.5
    assert metrics["r2"] > 0.5 and metrics["mse"] < metrics["constant_mse"]
    assert metrics["persistence_mse"] > 0 and metrics["n_val"] > 0


def test_binary_classifier_from_npz(tmp_path):
    """A classification run measures accuracy and baselines on already windowed data."""
    path = make_windows_npz(tmp_path, n=160, classes=2)
    spec = spec_dict(path.name, model={"layers": [{"type": "lstm", "units": 4},
                                                  {"type": "dense", "units": 1, "activation": "sigmoid"}],
                                       "loss": "binary_crossentropy"},
                     preprocessing={"class_weight": "balanced"}, train={"epochs": 1})
    result = train(*resolve_inputs(write_spec(tmp_path, spec), save=False)[:2], save=False)
    m = result.metrics
    with np.load(path) as arrays:
        y = arrays["y"]
    majority = int(np.bincount(y[:128]).argmax())
    assert m.task == "binary" and m.n_val == 32
    assert m.majority_accuracy == pytest.approx(np.mean(y[128:] == majority))
    assert 0.0 <= m.accuracy <= 1.0 and 0.0 <= m.balanced_accuracy <= 1.0
    assert m.distinct_predictions in (1, 2) and isinstance(m.collapsed, bool)
    assert result.output_dir is None  # save=False writes nothing
    assert not (tmp_path / "runs").exists()


def test_collapsing_spec_through_the_installed_console_script(tmp_path):
    """The real `autofix-lstm` script, in its own process, on a model that collapses on purpose."""
    assert CONSOLE_SCRIPT.is_file(), f"console script not installed at {CONSOLE_SCRIPT}"
    spec = collapsing_spec(tmp_path, epochs=1)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([str(CONSOLE_SCRIPT), "train", str(spec), "--json"], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    metrics = _json_from(done.stdout)
    assert metrics["collapsed"] is True
    assert metrics["std_ratio"] < 0.01  # a sigmoid saturated near 1.0 against targets around 5,000
    assert metrics["r2"] < -10 and metrics["mse"] > metrics["constant_mse"]
    saved = json.loads((tmp_path / "runs" / "collapsing" / "metrics.json").read_text())
    assert saved == metrics
    assert (tmp_path / "runs" / "collapsing" / "model.keras").is_file()
