"""Judging a finished search and writing what it leaves: summary.json, trials.csv, best_spec.yaml.

These files are a public contract (see the README). This module holds the verdict, the
summary.json keys, and the comparisons the summary reports: the list of changes (best spec
against the user's) and whether a spec can use the fast cuDNN kernel on a GPU.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from autofix_lstm.format import number, setting
from autofix_lstm.modeling.build import recurrent_config
from autofix_lstm.run_dir import RunDir, write_text
from autofix_lstm.scoring.metrics import COLLAPSE_STD_RATIO
from autofix_lstm.scoring.objective import ModelState, beats_constant, beats_persistence, model_state
from autofix_lstm.scoring.signal import SignalProbe
from autofix_lstm.spec import Spec, load_spec
from autofix_lstm.tuning.confirmation import NO_FIX, TURNED_OFF, Confirmation
from autofix_lstm.tuning.records import TrialRecord, TrialStatus


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


def _layer_text(layer: dict) -> str:
    args = ", ".join(f"{k}={setting(v)}" for k, v in layer.items() if k != "type")
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
            lines.append(f"{key}: {setting(a) if key in old else 'absent'} -> {setting(b) if key in new else 'absent'}")
    return lines


def cudnn_problems(spec: Spec) -> list[str]:
    """Why the spec's recurrent layers cannot use the cuDNN kernel on a GPU (empty when they can).

    Keras uses cuDNN for LSTM/GRU only with activation tanh, recurrent_activation sigmoid,
    recurrent_dropout 0, unroll False and use_bias True (GRU also reset_after True).
    """
    problems = []
    for index, layer in enumerate(spec.model.layers):
        kw = recurrent_config(layer.to_dict())  # a bidirectional's settings sit on the layer it wraps
        if kw is None:
            continue
        kind = kw["type"]
        where = f"model.layers[{index}] ({kind})" if kind == layer.type else f"model.layers[{index}] ({layer.type} {kind})"
        if kind == "simple_rnn":
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
        if kind == "gru" and not kw.get("reset_after", True):
            problems.append(f"{where} reset_after false (needs true)")
    return problems


def portable_spec(spec: Spec, folder: Path) -> Spec:
    """``spec`` re-anchored in ``folder``: data path relative to it, output a ``retrained/`` subfolder."""
    raw = spec.to_dict()
    if spec.data.path is not None:
        raw["data"]["path"] = os.path.relpath(spec.resolve(spec.data.path), folder)
    raw["output"] = "retrained"
    moved = load_spec(raw)
    moved._base_dir = folder
    return moved


def write_best_spec(spec: Spec, folder: Path) -> Path:
    """Write ``best_spec.yaml``: a complete, valid spec that ``autofix-lstm train`` can run."""
    header = "# The best configuration autofix-lstm found. Reproduce it with: autofix-lstm train best_spec.yaml\n"
    return write_text(header + portable_spec(spec, folder).to_yaml(), RunDir(folder).best_spec)


TRIAL_TIME_COLUMNS = ("oracle_seconds", "train_seconds", "eval_seconds", "write_seconds")
TRIAL_METRIC_COLUMNS = ("std_ratio", "mse", "mae", "r2", "accuracy", "balanced_accuracy", "macro_f1", "log_loss")


def trials_frame(records: list[TrialRecord], fields: list[str]) -> pd.DataFrame:
    """One row per trial, in start order: id, status, hyperparameters, objective, std_ratio, val metrics, seconds
    (then where the seconds went: ``TRIAL_TIME_COLUMNS``)."""
    rows = []
    for record in records:
        metrics = record.metrics or {}
        row: dict[str, Any] = {"trial_id": record.trial_id, "status": record.status.value}
        for name in fields:
            row[name] = record.values.get(name)
        row["objective"] = record.score
        for key in TRIAL_METRIC_COLUMNS:
            if key in metrics:
                row[key] = metrics[key]
        row["collapsed"] = metrics.get("collapsed")
        row["fix"] = record.fix
        row["epochs_run"] = record.epochs_run
        row["pruned_at_epoch"] = record.pruned_at
        row["seconds"] = record.seconds
        row["elapsed_seconds"] = record.elapsed_at_end
        row["source"] = record.source
        row["rerun_of"] = record.rerun_of
        row["message"] = record.message
        for key in TRIAL_TIME_COLUMNS:  # appended: the columns before keep their places
            row[key] = getattr(record, key)
        row["worker"] = record.worker
        rows.append(row)
    return pd.DataFrame(rows)


def record_spec(record: TrialRecord, user_spec: Spec) -> Spec:
    """The spec a record trained (the user's own for the baseline), anchored in the user's folder."""
    if record.is_baseline:
        return user_spec
    spec = load_spec(record.spec)
    spec._base_dir = user_spec.base_dir
    return spec


def first_fix(records: list[TrialRecord], baseline: TrialRecord) -> tuple[int | None, float | None]:
    """How many trials (in start order) and seconds it took to the first fix; (0, ...) when the spec already was one."""
    if baseline.fix:
        return 0, baseline.elapsed_at_end
    for position, record in enumerate(records, start=1):
        if record.fix:
            return position, record.elapsed_at_end
    return None, None


def _quality(metrics: dict) -> tuple[str, Any]:
    """The number users judge the task on: r2 for regression, balanced accuracy for a classifier."""
    if metrics.get("task") == "regression":
        return "r2", metrics.get("r2")
    return "balanced accuracy", metrics.get("balanced_accuracy")


def state_phrase(metrics: dict, min_std_ratio: float) -> str:
    """What the spec as written did, as a verb phrase: "collapsed (std_ratio 0.002)", "diverged (...)", ..."""
    state = model_state(metrics, min_std_ratio)
    label, value = _quality(metrics)
    if state is ModelState.DIVERGED:
        what = "its training loss" if metrics.get("loss_diverged") and not metrics.get("nan") else "its predictions"
        return f"diverged ({what} went NaN or infinite)"
    if state is ModelState.COLLAPSED:
        return f"collapsed (std_ratio {number(metrics.get('std_ratio'))})"
    if state is ModelState.LIVE:
        return f"was not collapsed, but no better than a constant predictor ({label} {number(value)})"
    return f"was not collapsed, and beat a constant predictor ({label} {number(value)})"


def state_line(metrics: dict, min_std_ratio: float = COLLAPSE_STD_RATIO) -> tuple[ModelState, str]:
    """A trained model's state and what it means, for ``autofix-lstm train``'s last line.

    ``(ModelState.DIVERGED, "the training loss went NaN or infinite: ...")``; a working regression
    model says whether it beats repeating the last value, where that applies.
    """
    state = model_state(metrics, min_std_ratio)
    label, value = _quality(metrics)
    if state is ModelState.DIVERGED:
        what = "the training loss" if metrics.get("loss_diverged") and not metrics.get("nan") else "the predictions"
        return state, f"{what} went NaN or infinite: the weights are garbage, whatever the other numbers say"
    if state is ModelState.COLLAPSED:
        return state, f"the output barely varies (std_ratio {number(metrics.get('std_ratio'))})"
    if state is ModelState.LIVE:
        return state, f"not collapsed, but no better than a constant predictor ({label} {number(value)})"
    text = f"not collapsed, and beats a constant predictor ({label} {number(value)})"
    clause = persistence_clause(metrics)
    return state, text if clause is None else f"{text}; {clause}"


def persistence_clause(metrics: dict) -> str | None:
    """Whether the model beats repeating the last value, with both errors; None where persistence does not apply."""
    beats = beats_persistence(metrics)
    if beats is None:
        return None
    errors = f"mse {number(metrics.get('mse'))} vs {number(metrics.get('persistence_mse'))}"
    if beats:
        return f"it beats repeating the last value: {errors}"
    return f"it does not beat repeating the last value ({errors}): not yet useful for forecasting"


def _seeds_sentence(confirmation: Confirmation | None, metrics: dict) -> str:
    """How the reported fix did on the other seeds (empty when confirmation did not run)."""
    if confirmation is None or confirmation.confirmed_seeds is None:
        if confirmation is not None and confirmation.skipped not in (None, NO_FIX, TURNED_OFF):
            return f" Not confirmed on other seeds: {confirmation.skipped}."
        return ""
    label, _ = _quality(metrics)
    values = ", ".join(number(_quality(run.metrics)[1]) for run in confirmation.runs)
    if confirmation.confirmed:
        return f" It held on {confirmation.confirmed_seeds} seeds ({label} {values})."
    text = f" It held on only {confirmation.confirmed_seeds} seeds ({label} {values})"
    others = [t["trial_id"] for t in confirmation.tried if t["trial_id"] != confirmation.trial_id]
    if others:
        text += f"; the next best fixes (trial {', '.join(others)}) did not hold on every seed either"
    if confirmation.skipped:
        text += f"; {confirmation.skipped}"
    return text + ": treat it with care, it may be a lucky seed."


def _headline(word: str, best: TrialRecord, confirmation: Confirmation | None) -> str:
    """"Fixed" with its qualifiers: persistence, and whether it held on every seed."""
    head = word
    if confirmation is not None and confirmation.confirmed_seeds is not None and not confirmation.confirmed:
        head += f" (on {confirmation.confirmed_seeds} seeds only)"
    clause = persistence_clause(best.metrics)
    if clause is None:
        return head + ":"
    if beats_persistence(best.metrics):
        return f"{head}, and {clause}."
    return f"{head}, but {clause}."


def verdict_text(fixed: bool, best: TrialRecord, baseline: TrialRecord, cudnn: list[str],
                 alternative: TrialRecord | None, interrupted: bool, probe: SignalProbe | None = None, *,
                 min_std_ratio: float = COLLAPSE_STD_RATIO, confirmation: Confirmation | None = None) -> str:
    """The verdict sentence summary.json, the CLI and the report show.

    It says what the spec as written did (``model_state``: collapsed, diverged, live or working),
    then what the search did: fixed (a collapse or a divergence repaired), improved (a working
    spec made better), or not fixed; where persistence applies, whether the best beats it; and
    whether the best held on the other seeds (``confirmation``).
    """
    metrics = best.metrics
    as_written = model_state(baseline.metrics, min_std_ratio)
    was = state_phrase(baseline.metrics, min_std_ratio)
    best_works = model_state(metrics, min_std_ratio) is ModelState.WORKING
    label, value = _quality(metrics)
    _, before = _quality(baseline.metrics)
    seeds = _seeds_sentence(confirmation, metrics) if not best.is_baseline else ""
    clause = persistence_clause(metrics)
    if best_works and best.is_baseline:
        text = (
            f"The spec as written works: it is not collapsed and beats a constant predictor ({label} {number(value)}); "
            "no configuration in the search beat it."
        )
        if clause is not None:
            text += f" {clause[0].upper()}{clause[1:]}."
    elif fixed:
        repaired = "no longer collapses" if as_written is ModelState.COLLAPSED else "trains without diverging, does not collapse"
        head = _headline("Fixed", best, confirmation)
        text = (
            f"{head} {'the' if head.endswith(':') else 'The'} spec as written {was}; trial {best.trial_id} {repaired} "
            f"(std_ratio {number(metrics.get('std_ratio'))}, {label} {number(value)}) and beats the constant baseline."
        ) + seeds
    elif best_works:
        # The spec as written was live or working: nothing collapsed or diverged, so nothing was "fixed".
        verb = "improves" if as_written is ModelState.WORKING else "beats the constant:"
        text = (
            f"The spec as written {was}; the best configuration (trial {best.trial_id}) {verb} "
            f"{label} from {number(before)} to {number(value)}."
        )
        if clause is not None:
            text += f" {clause[0].upper()}{clause[1:]}."
        text += seeds
    else:
        nothing = "no configuration in the search beat a constant predictor without collapsing"
        if probe is not None and probe.beats_constant:
            # Never blame the data while a simple model finds signal in it.
            text = (
                f"Not fixed: the spec as written {was}, and {nothing}; but the data holds signal "
                f"({probe.sentence()}): widen the space or the budget "
                "(--max-trials, more train.epochs, or your own strategy file in search.strategies)."
            )
        else:
            text = (
                f"Not fixed: the spec as written {was}, and {nothing}; the data may hold no signal the model "
                "can use for this target" + (f" (neither does a simple model: {probe.sentence()})." if probe is not None else ".")
            )
    if best_works and cudnn:
        text += f" On a GPU this configuration cannot use the cuDNN kernel ({'; '.join(cudnn)})"
        if alternative is not None:
            text += (
                f"; the nearest cuDNN-compatible candidate is trial {alternative.trial_id} "
                f"(objective {alternative.score:.4g}, std_ratio {number(alternative.metrics.get('std_ratio'))})."
            )
        else:
            text += "; no cuDNN-compatible candidate was a fix."
    if interrupted:
        text += " (Search interrupted: this is the best found so far.)"
    return text


def summary_dict(
    *, fixed: bool, verdict: str, best: TrialRecord, baseline: TrialRecord, records: list[TrialRecord],
    changes: list[str], findings: list, elapsed: float, min_std_ratio: float, tuner: str, fields: list[str],
    cudnn: list[str], alternative: TrialRecord | None, interrupted: bool, probe: SignalProbe | None = None,
    epochs: int | None = None, refine_budget: int | None = None, minimal: dict | None = None,
    confirmation: Confirmation | None = None,
    diagnosis_seconds: float | None = None,
) -> dict[str, Any]:
    """The content of summary.json (its keys are a public contract: extend, never change)."""
    statuses = [r.status for r in records]
    trials_to_fix, seconds_to_fix = first_fix(records, baseline)
    return {
        "fixed": fixed,
        "verdict": verdict,
        "baseline": baseline.metrics,
        "best": best.metrics,
        "beats_constant": beats_constant(best.metrics),
        "beats_persistence": beats_persistence(best.metrics),
        "changes": changes,
        "trials_total": len(records),
        "trials_completed": statuses.count(TrialStatus.COMPLETED),
        "trials_failed": statuses.count(TrialStatus.FAILED),
        "trials_pruned": statuses.count(TrialStatus.PRUNED),
        "trials_to_first_fix": trials_to_fix,
        "seconds_to_first_fix": seconds_to_fix,
        "elapsed_seconds": elapsed,
        "diagnosis": [f.to_dict() for f in findings],
        # Extensions beyond the contract:
        "baseline_state": model_state(baseline.metrics, min_std_ratio).value,
        "best_state": model_state(best.metrics, min_std_ratio).value,
        "confirmed_seeds": None if confirmation is None else confirmation.confirmed_seeds,
        "seed_runs": [] if confirmation is None else [run.to_dict() for run in confirmation.runs],
        "confirmation": None if confirmation is None else confirmation.to_dict(),
        "best_trial": best.trial_id,
        "objective": best.score,
        "baseline_objective": baseline.score,
        "baseline_pruned_at_epoch": baseline.pruned_at,
        "min_std_ratio": min_std_ratio,
        "tuner": tuner,
        "searched_fields": fields,
        "cudnn_compatible": not cudnn,
        "cudnn_problems": cudnn,
        "cudnn_alternative": None if alternative is None else {
            "trial_id": alternative.trial_id, "objective": alternative.score, "metrics": alternative.metrics,
        },
        "interrupted": interrupted,
        "signal_probe": None if probe is None else probe.to_dict(),
        "pruning": pruning_summary(records, epochs),
        "refinement": {
            "budget": refine_budget,
            "trials": sum(1 for r in records if r.source == "refine"),
            "fixes": sum(1 for r in records if r.source == "refine" and r.fix),
            "best_from_refinement": best.source == "refine",
        },
        # The minimal fix (``tuning.minimal.MinimalFix.to_summary``): the changes the fix needed, each with
        # the objective with and without it, the ones that did not matter, and the ablation's figures.
        "necessary_changes": (minimal or {}).get("necessary_changes"),
        "incidental_changes": (minimal or {}).get("incidental_changes"),
        "minimal_fix": (minimal or {}).get("minimal_fix"),
        **time_summary(records, baseline, elapsed, diagnosis_seconds,
                       confirmation_seconds=0.0 if confirmation is None else confirmation.seconds,
                       minimal_seconds=((minimal or {}).get("minimal_fix") or {}).get("seconds") or 0.0),
    }


TIME_STAGES = ("diagnosis", "baseline", "oracle", "training", "evaluation", "writing", "confirmation",
               "minimal_fix", "other")


def time_summary(records: list[TrialRecord], baseline: TrialRecord, elapsed: float,
                 diagnosis_seconds: float | None, confirmation_seconds: float = 0.0,
                 minimal_seconds: float = 0.0) -> dict[str, Any]:
    """Where the search's wall time went: summary.json's ``time`` block and ``overhead_share``.

    ``time`` holds seconds per stage (``TIME_STAGES``; the trial stages summed over the records,
    ``baseline`` the spec as written, ``confirmation`` and ``minimal_fix`` those stages' own seconds,
    ``other`` the rest of ``wall``: loading the data, Keras Tuner's bookkeeping, the signal probe,
    the report, earlier runs' diagnoses when the search was resumed), ``wall`` (= ``elapsed_seconds``),
    ``trained`` (seconds spent training models: the baseline's fit, every trial's fit, and the
    confirmation's and the minimal fix's stages, which are nothing but trainings of candidates, each
    with its own evaluation) and ``oracle_share`` (the oracle's seconds over ``trained``).
    ``overhead_share`` is ``(wall - trained) / trained``: 0 would be a search that only trains.
    Records without timings (written by an earlier version) count as ``other``.
    """
    def total(key: str) -> float:
        return float(sum(getattr(r, key) or 0.0 for r in records))

    stages = {
        "diagnosis": float(diagnosis_seconds or 0.0),
        "baseline": float(baseline.seconds or 0.0),
        "oracle": total("oracle_seconds"),
        "training": total("train_seconds"),
        "evaluation": total("eval_seconds"),
        "writing": total("write_seconds"),
        "confirmation": float(confirmation_seconds or 0.0),
        "minimal_fix": float(minimal_seconds or 0.0),
    }
    stages["other"] = max(0.0, elapsed - sum(stages.values()))
    trained = (stages["training"] + float(baseline.train_seconds or 0.0) + stages["confirmation"]
               + stages["minimal_fix"])
    return {
        "time": {
            **{key: round(value, 3) for key, value in stages.items()},
            "wall": round(elapsed, 3),
            "trained": round(trained, 3),
            "oracle_share": round(stages["oracle"] / trained, 4) if trained > 0 else None,
        },
        "overhead_share": round((elapsed - trained) / trained, 4) if trained > 0 else None,
    }


def pruning_summary(records: list[TrialRecord], epochs: int | None) -> dict[str, Any]:
    """What pruning saved (trials and epochs) and what the safety net's full re-runs found."""
    pruned = [r for r in records if r.status is TrialStatus.PRUNED]
    saved = sum(max(0, epochs - (r.epochs_run or 0)) for r in pruned) if epochs else None
    reruns = [r for r in records if r.rerun_of]
    return {
        "trials_pruned": len(pruned),
        "epochs_saved": saved,
        "reruns": [{"trial_id": r.trial_id, "rerun_of": r.rerun_of, "fix": r.fix, "objective": r.score} for r in reruns],
        "fixes_lost_to_pruning": sum(1 for r in reruns if r.fix),
    }


def overhead_text(summary: dict[str, Any]) -> str | None:
    """``"overhead 12% of its 60 s training (oracle 1%)"`` from summary.json; None without timings."""
    share, block = summary.get("overhead_share"), summary.get("time") or {}
    if share is None or not block.get("trained") or share < 0:  # < 0: workers trained side by side
        return None
    text = f"overhead {share:.0%} of its {block['trained']:.0f} s training"
    if block.get("oracle_share") is not None:
        text += f" (oracle {block['oracle_share']:.0%})"
    return text
