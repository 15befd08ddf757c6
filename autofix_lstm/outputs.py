"""What a search leaves in ``<output>/``: best_spec.yaml, best_model.keras, summary.json, trials.csv.

These files are a public contract (see the README). This module also holds the two comparisons
the summary reports: the list of changes (best spec against the user's) and whether a spec can
use the fast cuDNN kernel on a GPU.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from autofix_lstm.model import RECURRENT_TYPES
from autofix_lstm.spec import Spec


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(node, list) and node and all(isinstance(v, dict) for v in node):
        out = {}
        for index, value in enumerate(node):
            out.update(_flatten(value, f"{prefix}[{index}]"))
        return out
    return {prefix: node}


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _layer_text(layer: dict) -> str:
    args = ", ".join(f"{k}={_show(v)}" for k, v in layer.items() if k != "type")
    return f"{layer['type']}({args})"


def spec_changes(before: Spec, after: Spec) -> list[str]:
    """``"field: old -> new"`` for every model/preprocessing field that differs.

    When the layer stack itself changed (layers added or removed), it is one line showing both stacks.
    """
    b, a = before.to_dict(), after.to_dict()
    lines = []
    old_layers, new_layers = b["model"].get("layers", []), a["model"].get("layers", [])
    if [layer["type"] for layer in old_layers] != [layer["type"] for layer in new_layers]:
        lines.append(
            f"model.layers: [{', '.join(map(_layer_text, old_layers))}] -> [{', '.join(map(_layer_text, new_layers))}]"
        )
        b["model"].pop("layers", None)
        a["model"].pop("layers", None)
    old = _flatten({"model": b["model"], "preprocessing": b["preprocessing"]})
    new = _flatten({"model": a["model"], "preprocessing": a["preprocessing"]})
    for key in list(dict.fromkeys([*old, *new])):
        a, b = old.get(key, "absent"), new.get(key, "absent")
        if a != b:
            lines.append(f"{key}: {_show(a) if key in old else 'absent'} -> {_show(b) if key in new else 'absent'}")
    return lines


def cudnn_problems(spec: Spec) -> list[str]:
    """Why the spec's recurrent layers cannot use the cuDNN kernel on a GPU (empty when they can).

    Keras uses cuDNN for LSTM/GRU only with activation tanh, recurrent_activation sigmoid,
    recurrent_dropout 0, unroll False and use_bias True (GRU also reset_after True).
    """
    problems = []
    for index, layer in enumerate(spec.model.layers):
        if layer.type not in RECURRENT_TYPES:
            continue
        kw = layer.kwargs
        where = f"model.layers[{index}] ({layer.type})"
        if layer.type == "simple_rnn":
            problems.append(f"{where} has no cuDNN kernel")
            continue
        if kw.get("activation", "tanh") != "tanh":
            problems.append(f"{where} activation {kw['activation']} (needs tanh)")
        if kw.get("recurrent_activation", "sigmoid") != "sigmoid":
            problems.append(f"{where} recurrent_activation {kw['recurrent_activation']} (needs sigmoid)")
        if float(kw.get("recurrent_dropout", 0.0) or 0.0) != 0.0:
            problems.append(f"{where} recurrent_dropout {kw['recurrent_dropout']} (needs 0)")
        if kw.get("unroll", False):
            problems.append(f"{where} unroll true (needs false)")
        if not kw.get("use_bias", True):
            problems.append(f"{where} use_bias false (needs true)")
        if layer.type == "gru" and not kw.get("reset_after", True):
            problems.append(f"{where} reset_after false (needs true)")
    return problems


def portable_spec(spec: Spec, folder: Path) -> Spec:
    """``spec`` re-anchored in ``folder``: data path relative to it, output a ``retrained/`` subfolder."""
    raw = spec.to_dict()
    if spec.data.path is not None:
        raw["data"]["path"] = os.path.relpath(spec.resolve(spec.data.path), folder)
    raw["output"] = "retrained"
    from autofix_lstm.spec import load_spec

    moved = load_spec(raw)
    moved._base_dir = folder
    return moved


def write_best_spec(spec: Spec, folder: Path) -> Path:
    """Write ``best_spec.yaml``: a complete, valid spec that ``autofix-lstm train`` can run."""
    path = folder / "best_spec.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    header = "# The best configuration autofix-lstm found. Reproduce it with: autofix-lstm train best_spec.yaml\n"
    path.write_text(header + portable_spec(spec, folder).to_yaml())
    return path


TRIAL_METRIC_COLUMNS = ("std_ratio", "mse", "mae", "r2", "accuracy", "balanced_accuracy", "macro_f1", "log_loss")


def trials_frame(records: list[dict], fields: list[str]) -> pd.DataFrame:
    """One row per trial: id, status, hyperparameters, objective, std_ratio, val metrics, seconds."""
    rows = []
    for record in records:
        metrics = record.get("metrics") or {}
        row = {"trial_id": record["trial_id"], "status": record["status"]}
        for name in fields:
            row[name] = record.get("values", {}).get(name)
        row["objective"] = record.get("score")
        for key in TRIAL_METRIC_COLUMNS:
            if key in metrics:
                row[key] = metrics[key]
        row["collapsed"] = metrics.get("collapsed")
        row["fix"] = record.get("fix")
        row["epochs_run"] = record.get("epochs_run")
        row["pruned_at_epoch"] = record.get("pruned_at")
        row["seconds"] = record.get("seconds")
        row["elapsed_seconds"] = record.get("elapsed_at_end")
        row["message"] = record.get("message")
        rows.append(row)
    return pd.DataFrame(rows)
