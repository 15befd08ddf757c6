"""End-to-end searches on tiny specs: a collapse gets fixed, no signal is not, kills resume.

Each trains real (tiny) models: 240-320 rows, an LSTM of 4-16 units, 2-3 epochs per trial.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import yaml
from helpers import collapsing_spec, make_series_csv, spec_dict, write_spec
from typer.testing import CliRunner

import autofix_lstm  # noqa: F401  (registers the layers best_model.keras needs)
from autofix_lstm.api import search
from autofix_lstm.cli import app
from autofix_lstm.data.dataset import load_dataset
from autofix_lstm.inputs import resolve_inputs
from autofix_lstm.modeling.train import train
from autofix_lstm.spec import load_spec

pytestmark = pytest.mark.slow

SUMMARY_KEYS = {
    "fixed", "verdict", "baseline", "best", "beats_constant", "beats_persistence", "changes", "trials_total",
    "trials_completed", "trials_failed", "trials_pruned", "trials_to_first_fix", "seconds_to_first_fix",
    "elapsed_seconds", "diagnosis",
}


@pytest.fixture(scope="module")
def fixed_search(tmp_path_factory):
    """One search over the collapsing spec (targets ~5,000 into a sigmoid head), shared by the tests below."""
    folder = tmp_path_factory.mktemp("collapsed")
    path = collapsing_spec(folder, epochs=3)
    raw = yaml.safe_load(path.read_text())
    raw["search"] = {"max_trials": 4, "tuner": "bayesian"}
    write_spec(folder, raw, path.name)
    return path, search(path)


def test_a_collapsed_spec_is_fixed_within_a_handful_of_trials(fixed_search):
    path, result = fixed_search
    summary = json.loads((result.output_dir / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(summary)
    assert summary["baseline"]["collapsed"] is True
    assert summary["fixed"] is True and result.fixed
    assert summary["best"]["collapsed"] is False
    assert summary["best"]["r2"] > 0.5
    assert summary["beats_constant"] is True
    assert summary["trials_to_first_fix"] is not None and 1 <= summary["trials_to_first_fix"] <= 2
    assert 0 < summary["seconds_to_first_fix"] <= summary["elapsed_seconds"]
    assert summary["trials_total"] == 4
    assert summary["trials_completed"] + summary["trials_pruned"] + summary["trials_failed"] == 4
    assert summary["changes"], "a fix must say what changed"
    assert {f["id"] for f in summary["diagnosis"]} >= {"collapsed_output"}
    assert "Fixed" in summary["verdict"]
    # what the spec as written did, and the fix confirmed on two more seeds (same split)
    assert summary["baseline_state"] == "collapsed" and summary["best_state"] == "working"
    assert "The spec as written collapsed" in summary["verdict"] or "the spec as written collapsed" in summary["verdict"]
    runs = summary["seed_runs"]
    assert [run["seed"] for run in runs] == [0, 1, 2]
    assert runs[0]["metrics"] == summary["best"]
    assert summary["confirmed_seeds"] == f"{sum(run['fix'] for run in runs)}/3"
    assert (summary["confirmed_seeds"] == "3/3") == (f"held on {summary['confirmed_seeds']} seeds" in summary["verdict"])
    # a first fix at the floor: the diagnosis saw the collapse, so the trials ran before the full baseline
    baseline = json.loads((result.output_dir / "baseline.json").read_text())
    assert summary["seconds_to_first_fix"] < baseline["elapsed_at_end"]
    # persistence applies (the target is a feature, horizon 1): the verdict says whether the fix beats it
    assert summary["beats_persistence"] is not None
    assert ("it beats repeating the last value" in summary["verdict"]) == summary["beats_persistence"]


def test_outputs_are_written_and_trials_csv_has_one_row_per_trial(fixed_search):
    _, result = fixed_search
    out = result.output_dir
    for name in ("best_spec.yaml", "best_model.keras", "summary.json", "trials.csv", "diagnosis.json"):
        assert (out / name).is_file(), name
    assert (out / "tuner").is_dir()
    frame = result.trials
    assert len(frame) == 4
    assert set(frame["status"]) <= {"completed", "pruned", "failed"}
    assert {"trial_id", "objective", "std_ratio", "seconds", "preprocessing.target"} <= set(frame.columns)


def test_the_time_block_accounts_for_the_search_and_every_record_says_where_its_time_went(fixed_search):
    path, result = fixed_search
    out = result.output_dir
    summary = json.loads((out / "summary.json").read_text())
    block = summary["time"]
    stages = ("diagnosis", "baseline", "oracle", "training", "evaluation", "writing", "confirmation", "minimal_fix",
              "other")
    assert all(block[key] >= 0 for key in stages)
    assert sum(block[key] for key in stages) == pytest.approx(block["wall"], abs=0.01)
    assert block["wall"] == pytest.approx(summary["elapsed_seconds"], abs=0.001)
    assert block["diagnosis"] > 0 and block["baseline"] > 0 and block["training"] > 0
    baseline = json.loads((out / "baseline.json").read_text())
    records = [json.loads(p.read_text()) for p in (out / "tuner").rglob("autofix_trial.json")]
    assert len(records) == 4
    for record in [baseline, *records]:
        assert record["train_seconds"] > 0 and record["eval_seconds"] > 0 and record["write_seconds"] >= 0
    assert all(r["oracle_seconds"] is not None and r["oracle_seconds"] >= 0 for r in records)
    retrained = (summary["confirmation"] or {}).get("seconds", 0.0) + (summary["minimal_fix"] or {}).get("seconds", 0.0)
    assert block["confirmation"] + block["minimal_fix"] == pytest.approx(retrained, abs=0.01)
    assert block["trained"] == pytest.approx(sum(r["train_seconds"] for r in [baseline, *records]) + retrained,
                                             abs=0.01)
    assert summary["overhead_share"] == pytest.approx((block["wall"] - block["trained"]) / block["trained"], abs=1e-3)
    assert block["oracle_share"] == pytest.approx(block["oracle"] / block["trained"], abs=1e-3)


def test_best_model_predicts_in_original_units_and_best_spec_reproduces(fixed_search):
    path, result = fixed_search
    model = keras.saving.load_model(result.output_dir / "best_model.keras")
    dataset = load_dataset(load_spec(path))
    pred = model.predict(dataset.x_val, verbose=0).reshape(-1)
    mse = float(np.mean((pred - dataset.y_val) ** 2))
    assert mse == pytest.approx(result.best["mse"], rel=1e-3)
    retrained = train(*resolve_inputs(result.output_dir / "best_spec.yaml")[:2])
    assert retrained.metrics.r2 == pytest.approx(result.best["r2"], abs=0.02)
    assert retrained.metrics.std_ratio == pytest.approx(result.best["std_ratio"], abs=0.02)


def _noise_spec(folder: Path) -> Path:
    make_series_csv(folder, n=240, kind="noise", scale=3.0, name="noise.csv")
    spec = spec_dict(
        "noise.csv",
        model={"layers": [{"type": "lstm", "units": 8}, {"type": "dense", "units": 1}]},
        preprocessing={"inputs": "standard", "target": "standard"},
        train={"epochs": 2},
        search={"max_trials": 3, "tuner": "random"},
        output="runs/noise",
    )
    return write_spec(folder, spec, "noise.yaml")


def test_no_signal_ends_not_fixed_with_exit_code_1(tmp_path):
    path = _noise_spec(tmp_path)
    result = CliRunner().invoke(app, ["search", str(path), "--json"])
    assert result.exit_code == 1, result.output
    summary = json.loads((tmp_path / "runs/noise/summary.json").read_text())
    assert summary["fixed"] is False
    assert "no signal" in summary["verdict"]
    assert summary["trials_to_first_fix"] is None and summary["seconds_to_first_fix"] is None


def test_a_killed_search_resumes_without_rerunning_finished_trials(tmp_path):
    path = collapsing_spec(tmp_path, epochs=2)
    exe = Path(sys.executable).parent / "autofix-lstm"
    command = [str(exe), "search", str(path), "--max-trials", "3", "--json", "--no-confirm", "--no-minimize"]
    first_record = tmp_path / "runs/collapsing/tuner/autofix/trial_0/autofix_trial.json"
    first_trial = first_record.with_name("trial.json")  # Keras Tuner's own record of the trial

    def first_trial_finished() -> bool:
        try:
            return json.loads(first_trial.read_text())["status"] in ("COMPLETED", "FAILED")
        except (OSError, ValueError, KeyError):
            return False

    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 240
        while not first_trial_finished() and time.time() < deadline and process.poll() is None:
            time.sleep(0.1)
        assert first_trial_finished(), "the first trial never finished"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    before = first_record.read_text()
    stamp = first_record.stat().st_mtime_ns
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    assert first_record.read_text() == before and first_record.stat().st_mtime_ns == stamp
    summary = json.loads(done.stdout)
    assert summary["trials_total"] == 3
    records = sorted((tmp_path / "runs/collapsing/tuner/autofix").glob("trial_*/autofix_trial.json"))
    assert len(records) == 3



def test_the_minimal_fix_keeps_the_changes_the_fix_needs(fixed_search):
    # The same search (no extra training beyond its own ablation stage): the sigmoid head on targets ~5,000.
    _, result = fixed_search
    summary = result.summary
    minimal = summary["minimal_fix"]
    assert minimal["ran"] and minimal["complete"] and minimal["fixed"]
    assert minimal["trainings"] + minimal["reused_trials"] >= 1 and minimal["changes_minimal"] <= minimal["changes_full"]
    necessary = summary["necessary_changes"]
    assert necessary and minimal["verdict"].startswith("The fix: ")
    for change in necessary:
        assert change["objective_with"] == summary["objective"] and change["objective_without"] is not None
    assert len(necessary) + len(summary["incidental_changes"]) == minimal["changes_full"]
    minimal_spec = load_spec(result.output_dir / "minimal_spec.yaml")
    assert minimal_spec.train.seed == load_spec(result.output_dir / "best_spec.yaml").train.seed
    assert 'id="minimal-fix"' in (result.output_dir / "report.html").read_text()
