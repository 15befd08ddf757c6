"""A search's output folder written by hand, so report and plot tests need no training.

``write_fake_outputs(folder)`` writes the files a finished search leaves (summary.json, trials.csv,
baseline.json, the best trial's autofix_trial.json, best_spec.yaml, diagnosis.json) in their real
shapes, with small numbers: 40 validation samples, 5 trials (completed, pruned and failed ones).
``leave_out`` names files to skip, to test a report over a partial folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from autofix_lstm.scoring.metrics import Metrics

N_VAL = 40
FILES = ("summary.json", "trials.csv", "baseline.json", "best_trial", "best_spec.yaml", "diagnosis.json")


def _regression_metrics(pred: np.ndarray, truth: np.ndarray) -> dict:
    """A regression's metrics as the JSON files hold them (``Metrics.to_dict``: the real keys, in order)."""
    mse = float(np.mean((pred - truth) ** 2))
    return Metrics(
        task="regression", n_val=len(truth), nan=False, constant_mse=float(np.var(truth)) * 1.02,
        persistence_mse=float(np.var(truth)) * 0.4, std_ratio=float(np.std(pred) / np.std(truth)),
        mse=mse, mae=float(np.mean(np.abs(pred - truth))), r2=1 - mse / float(np.var(truth)),
        collapsed=bool(np.std(pred) / np.std(truth) < 0.1),
    ).to_dict()


def _classification_metrics(task: str, collapsed: bool) -> dict:
    """A classifier's metrics as the JSON files hold them (``Metrics.to_dict``)."""
    return Metrics(
        task=task, n_val=N_VAL, nan=False, majority_accuracy=0.55, majority_balanced_accuracy=0.5,
        majority_macro_f1=0.35, prior_log_loss=0.69, std_ratio=0.0 if collapsed else 0.8,
        accuracy=0.55 if collapsed else 0.85, balanced_accuracy=0.5 if collapsed else 0.84,
        macro_f1=0.35 if collapsed else 0.84, distinct_predictions=1 if collapsed else 2,
        log_loss=0.7 if collapsed else 0.4, collapsed=collapsed,
    ).to_dict()


def _data(task: str, rng: np.random.Generator):
    """(val_targets, baseline predictions, best predictions, classes)."""
    t = np.arange(N_VAL)
    if task == "regression":
        truth = 5000 + 800 * np.sin(t / 4) + rng.normal(0, 50, N_VAL)
        return truth, np.full(N_VAL, 0.999), truth + rng.normal(0, 150, N_VAL), None
    classes = ["down", "up"] if task == "binary" else ["low", "mid", "high"]
    truth = (np.sin(t / 3) > 0).astype(int) if task == "binary" else (t % 3)
    if task == "binary":
        baseline = np.full((N_VAL, 1), 0.51)
        best = np.clip(truth + rng.normal(0, 0.3, N_VAL), 0.01, 0.99).reshape(-1, 1)
    else:
        baseline = np.tile([0.2, 0.5, 0.3], (N_VAL, 1))
        best = np.eye(3)[truth] * 0.7 + 0.1
    return truth, baseline, best, classes


def write_fake_outputs(folder: Path, *, task: str = "regression", leave_out: tuple[str, ...] = (),
                       fixed: bool = True) -> Path:
    """Write a finished search's outputs into ``folder``; return it. ``leave_out`` names from ``FILES``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    truth, baseline_pred, best_pred, classes = _data(task, rng)
    if task == "regression":
        baseline_metrics = _regression_metrics(baseline_pred, truth)
        best_metrics = _regression_metrics(best_pred, truth)
    else:
        baseline_metrics = _classification_metrics(task, collapsed=True)
        best_metrics = _classification_metrics(task, collapsed=False)
    verdict = (
        "Fixed: trial 3 no longer collapses (std_ratio 0.94, r2 0.88) and beats the constant baseline."
        if fixed else
        "Not fixed: no configuration in the search space beat a constant predictor without collapsing."
    )
    summary = {
        "fixed": fixed, "verdict": verdict, "baseline": baseline_metrics, "best": best_metrics,
        "baseline_state": "collapsed", "best_state": "working" if fixed else "collapsed",
        "beats_constant": fixed, "beats_persistence": True if task == "regression" else None,
        "changes": ["preprocessing.target: none -> standard", "model.layers[1].activation: sigmoid -> linear",
                    "model.optimizer.clipnorm: null -> 1"],
        "trials_total": 5, "trials_completed": 2, "trials_failed": 1, "trials_pruned": 2,
        "trials_to_first_fix": 1, "seconds_to_first_fix": 3.2, "elapsed_seconds": 21.5,
        "diagnosis": [{"id": "unscaled_target", "severity": "error", "message": "The target is unscaled.",
                       "evidence": {"target_std": 812.0}, "strategies": ["scaling"]}],
        "best_trial": "3", "objective": 0.11, "baseline_objective": 2.99, "min_std_ratio": 0.1,
        "cudnn_compatible": True, "cudnn_problems": [], "cudnn_alternative": None, "interrupted": False,
    }
    history = {"loss": [2.1e7, 2.0e7, 1.99e7], "val_loss": [2.2e7, 2.2e7, 2.19e7]}
    best_history = {"loss": [0.9, 0.4, 0.2], "val_loss": [1.0, 0.5, 0.3]}
    if "summary.json" not in leave_out:
        (folder / "summary.json").write_text(json.dumps(summary, indent=2))
    if "trials.csv" not in leave_out:
        pd.DataFrame([
            {"trial_id": 0, "status": "completed", "preprocessing.target": "standard", "objective": 0.3, "std_ratio": 0.7},
            {"trial_id": 1, "status": "pruned", "preprocessing.target": "none", "objective": 2.9, "std_ratio": 0.0},
            {"trial_id": 2, "status": "pruned", "preprocessing.target": "minmax", "objective": 2.5, "std_ratio": 3e-5},
            {"trial_id": 3, "status": "completed", "preprocessing.target": "standard", "objective": 0.11, "std_ratio": 0.94},
            {"trial_id": 4, "status": "failed", "preprocessing.target": "none", "objective": None, "std_ratio": None},
        ]).to_csv(folder / "trials.csv", index=False)
    if "baseline.json" not in leave_out:
        (folder / "baseline.json").write_text(json.dumps({
            "trial_id": "baseline", "status": "completed", "metrics": baseline_metrics, "score": 2.99,
            "history": history, "val_predictions": np.asarray(baseline_pred).tolist(),
            "val_targets": np.asarray(truth, dtype=float).tolist(), "classes": classes,
        }))
    if "best_trial" not in leave_out:
        trial = folder / "tuner" / "autofix" / "trial_3"
        trial.mkdir(parents=True, exist_ok=True)
        (trial / "autofix_trial.json").write_text(json.dumps({
            "trial_id": "3", "status": "completed", "metrics": best_metrics, "score": 0.11, "history": best_history,
            "val_predictions": np.asarray(best_pred).tolist(),
        }))
    if "best_spec.yaml" not in leave_out:
        (folder / "best_spec.yaml").write_text(
            "# The best configuration autofix-lstm found.\ndata: {path: ../data.csv, target: y, window: 8}\n"
            "model:\n  layers:\n  - {type: lstm, units: 8}\n  - {type: dense, units: 1, activation: linear}\n"
            "  loss: mse\npreprocessing: {inputs: standard, target: standard}\n"
        )
    if "diagnosis.json" not in leave_out:
        (folder / "diagnosis.json").write_text(json.dumps({
            "findings": [
                {"id": "unscaled_target", "severity": "error", "message": "The target is unscaled <std 812>.",
                 "evidence": {"target_std": 812.0, "head_activation": "sigmoid"}, "strategies": ["scaling"]},
                {"id": "vanishing_gradients", "severity": "warning", "message": "The first layer barely learns.",
                 "evidence": {"ratio": 1.2e-4}, "strategies": ["gradient_clipping", "architecture"]},
            ],
            "probe": {"early_grad_norms": {"lstm_0": 2.0e-5, "dense_1": 0.17},
                      "grad_norm_ratios": {"lstm_0": 1.2e-4, "dense_1": 1.0},
                      "brief_training": "30 steps (3 epochs started) of 100 in a full training"},
        }))
    return folder


def fake_result(folder: Path, output_dir: Path | None = None):
    """A stand-in for a SearchResult over a fake output folder: the attributes the notebook view reads."""
    from types import SimpleNamespace

    summary = json.loads((folder / "summary.json").read_text())
    return SimpleNamespace(
        fixed=summary["fixed"], verdict=summary["verdict"], baseline=Metrics.from_dict(summary["baseline"]),
        best=Metrics.from_dict(summary["best"]),
        changes=summary["changes"], trials=pd.read_csv(folder / "trials.csv"), output_dir=output_dir or folder,
        summary=summary,
    )
