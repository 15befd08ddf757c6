"""The verdict on real (tiny) trainings: a diverged spec is called diverged, a working one is not "fixed".

The diverged spec is the case seen: plain SGD at learning rate 1 on a target around 1e18 (unscaled),
whose training loss overflows to inf while its finite outputs still vary (std_ratio far above the
floor), so a bare collapse check said "not collapsed".
"""

from __future__ import annotations

import json

import pytest
from helpers import invoke_train, make_series_csv, make_windows_npz, spec_dict, write_spec
from typer.testing import CliRunner

from autofix_lstm.cli import app
from autofix_lstm.tuning.confirmation import TURNED_OFF

pytestmark = pytest.mark.slow


def test_train_calls_a_diverged_spec_diverged_never_not_collapsed(tmp_path):
    make_series_csv(tmp_path, n=200, kind="sine", scale=1e17, offset=1e18, name="huge.csv")
    spec = spec_dict("huge.csv", data={"features": ["x"]},
                     model={"optimizer": {"name": "sgd", "learning_rate": 1.0}}, output="runs/huge")
    result = invoke_train(write_spec(tmp_path, spec))
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "runs/huge/metrics.json").read_text())
    assert metrics["loss_diverged"] is True and metrics["collapsed"] is False  # varying, finite garbage
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("diverged: the training loss went NaN or infinite")
    assert "not collapsed" not in result.output


def test_a_working_classifier_is_not_fixed_and_exits_0_with_no_confirm(tmp_path):
    path = make_windows_npz(tmp_path, n=200, classes=2)
    spec = spec_dict(
        path.name,
        model={"layers": [{"type": "lstm", "units": 8}, {"type": "dense", "units": 1, "activation": "sigmoid"}],
               "loss": "binary_crossentropy", "optimizer": {"learning_rate": 0.01}},
        train={"epochs": 2, "batch_size": 16},
        search={"max_trials": 1, "tuner": "random", "strategies": ["learning_rate"]},
        output="runs/working",
    )
    result = CliRunner().invoke(app, ["search", str(write_spec(tmp_path, spec)), "--no-confirm"], terminal_width=400)
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "runs/working/summary.json").read_text())
    assert summary["baseline_state"] == "working" and summary["baseline"]["balanced_accuracy"] > 0.6
    assert summary["fixed"] is False
    assert summary["confirmed_seeds"] is None and summary["confirmation"]["skipped"] == TURNED_OFF
    assert summary["verdict"].startswith("The spec as written ")
    assert "not collapsed" in summary["verdict"] and "Fixed" not in summary["verdict"]
    assert result.output.strip().splitlines()[-1] == summary["verdict"]  # the last line
