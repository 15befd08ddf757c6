"""Judging a finished search and writing what it leaves: summary.json, trials.csv, best_spec.yaml.

These files are a public contract (see docs/outputs.md). This module holds the verdict, the
summary.json keys, and the comparisons the summary reports: the list of changes (best spec
against the user's) and whether a spec can use the fast cuDNN kernel on a GPU.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from autofix_lstm.format import first_line, number, setting
from autofix_lstm.modeling.build import recurrent_config
from autofix_lstm.run_dir import RunDir, write_text
from autofix_lstm.scoring.metrics import COLLAPSE_STD_RATIO, Metrics
from autofix_lstm.scoring.objective import ModelState, beats_persistence, model_state
from autofix_lstm.scoring.signal import SignalProbe, far_below
from autofix_lstm.spec import Spec, load_spec
from autofix_lstm.tuning.confirmation import NO_FIX, TURNED_OFF, Confirmation
from autofix_lstm.tuning.records import TrialRecord


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
    """``"field: old -> new"`` for every model, preprocessing and training field that differs (the seed
    aside: it is the run's, not the configuration's), and ``data.window``.

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
    old = _flatten({"model": b["model"], "preprocessing": b["preprocessing"], "train": _configured(b)})
    new = _flatten({"model": a["model"], "preprocessing": a["preprocessing"], "train": _configured(a)})
    for key in list(dict.fromkeys([*old, *new])):
        a, b = old.get(key, "absent"), new.get(key, "absent")
        if a != b:
            lines.append(f"{key}: {setting(a) if key in old else 'absent'} -> {setting(b) if key in new else 'absent'}")
    windows = before.data.window, after.data.window  # a searched window (``remedies.fields``)
    if windows[0] != windows[1]:
        lines.append(f"data.window: {setting(windows[0])} -> {setting(windows[1])}")
    return lines


def _configured(raw: dict) -> dict:
    """The training settings a search may change (``train.batch_size``, ``epochs``, ``reset_states``...)."""
    return {k: v for k, v in (raw.get("train") or {}).items() if k != "seed"}


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
    changes: dict = {"output": "retrained"}
    if spec.data.path is not None:
        changes["data.path"] = os.path.relpath(spec.resolve(spec.data.path), folder)
    moved = spec.updated(changes)
    moved._base_dir = folder
    return moved


def best_spec_text(spec: Spec, folder: Path) -> str:
    """What ``write_best_spec`` writes for ``spec`` in ``folder`` (a resume compares it with the file)."""
    header = "# The best configuration autofix-lstm found. Reproduce it with: autofix-lstm train best_spec.yaml\n"
    return header + portable_spec(spec, folder).to_yaml()


def write_best_spec(spec: Spec, folder: Path) -> Path:
    """Write ``best_spec.yaml``: a complete, valid spec that ``autofix-lstm train`` can run."""
    return write_text(best_spec_text(spec, folder), RunDir(folder).best_spec)


TRIAL_TIME_COLUMNS = ("oracle_seconds", "train_seconds", "eval_seconds", "write_seconds")
TRIAL_METRIC_COLUMNS = ("std_ratio", "mse", "mae", "r2", "accuracy", "balanced_accuracy", "macro_f1", "log_loss")


def trials_frame(records: list[TrialRecord], fields: list[str]) -> pd.DataFrame:
    """One row per trial, in start order: id, status, hyperparameters, objective, std_ratio, val metrics, seconds
    (then where the seconds went: ``TRIAL_TIME_COLUMNS``)."""
    rows = []
    for record in records:
        metrics = record.metrics
        row: dict[str, Any] = {"trial_id": record.trial_id, "status": record.status.value}
        for name in fields:
            row[name] = record.values.get(name)
        row["objective"] = record.score
        if metrics is not None:
            row.update(metrics.subset(TRIAL_METRIC_COLUMNS))
        row["collapsed"] = None if metrics is None else metrics.collapsed
        row["fix"] = record.fix
        row["epochs_run"] = record.epochs_run
        row["pruned_at_epoch"] = record.pruned_at
        row["seconds"] = record.seconds
        row["elapsed_seconds"] = record.elapsed_at_end
        row["source"] = None if record.source is None else record.source.value
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


def _quality(metrics: Metrics | None) -> tuple[str, Any]:
    """The number users judge the task on: r2 for regression, balanced accuracy for a classifier
    (``("quality", None)`` for a model that could not be trained)."""
    if metrics is None:
        return "quality", None
    return metrics.quality_label, metrics.quality


def cannot_train_reason(message: str | None) -> str:
    """Keras' reason a spec could not be trained, in one line (from a ``cannot_train`` record's message)."""
    return first_line((message or "").removeprefix("cannot train:"), 300) or "Keras refused to train it"


def state_phrase(metrics: Metrics | None, state: ModelState | None, message: str | None = None) -> str:
    """What the spec as written did (its ``state``, as judged), as a verb phrase: "collapsed (std_ratio 0.002)"."""
    if state is ModelState.CANNOT_TRAIN:
        return f"could not be trained at all (cannot train: {cannot_train_reason(message)})"
    if metrics is None or state is None:
        return "could not be trained"
    label, value = _quality(metrics)
    if state is ModelState.DIVERGED:
        what = "its training loss" if metrics.loss_diverged and not metrics.nan else "its predictions"
        return f"diverged ({what} went NaN or infinite)"
    if state is ModelState.COLLAPSED:
        return f"collapsed ({collapse_evidence(metrics)})"
    if state is ModelState.LIVE:
        return f"was not collapsed, but no better than a constant predictor ({label} {number(value)})"
    return f"was not collapsed, and beat a constant predictor ({label} {number(value)})"


def state_line(metrics: Metrics, min_std_ratio: float = COLLAPSE_STD_RATIO) -> tuple[ModelState, str]:
    """A trained model's state and what it means, for ``autofix-lstm train``'s last line.

    ``(ModelState.DIVERGED, "the training loss went NaN or infinite: ...")``; a working regression
    model says whether it beats repeating the last value, where that applies.
    """
    state = model_state(metrics, min_std_ratio)
    label, value = _quality(metrics)
    if state is ModelState.DIVERGED:
        what = "the training loss" if metrics.loss_diverged and not metrics.nan else "the predictions"
        return state, f"{what} went NaN or infinite: the weights are garbage, whatever the other numbers say"
    if state is ModelState.COLLAPSED:
        return state, f"the output barely varies ({collapse_evidence(metrics, min_std_ratio)})"
    if state is ModelState.LIVE:
        return state, f"not collapsed, but no better than a constant predictor ({label} {number(value)})"
    text = f"not collapsed, and beats a constant predictor ({label} {number(value)})"
    clause = persistence_clause(metrics)
    return state, text if clause is None else f"{text}; {clause}"


def collapse_evidence(metrics: Metrics, min_std_ratio: float = COLLAPSE_STD_RATIO) -> str:
    """The number that makes a collapsed model collapsed: "std_ratio 0.002"; for a forecast flat across its
    steps, its step_std_ratio; for a roll-out that converged, its last step's std_ratio."""
    text = f"std_ratio {number(metrics.std_ratio)}"
    if metrics.per_target and metrics.std_ratio is not None:  # several targets: the weakest one's
        weakest = min(metrics.per_target, key=lambda entry: entry["std_ratio"])
        return f"{text} on {weakest['target']}, the target whose output varies least"
    if metrics.std_ratio is None or metrics.std_ratio < min_std_ratio or not metrics.per_step:
        return text
    last = metrics.per_step[-1]
    if metrics.rollout_steps and last["std_ratio"] < min_std_ratio:
        return (f"rolled out {metrics.rollout_steps} steps, it converges to the same value whatever came before: "
                f"std_ratio {number(last['std_ratio'])} at the last step, {number(metrics.std_ratio)} over all")
    if metrics.step_std_ratio is not None and metrics.step_std_ratio < min_std_ratio:
        return (f"its forecast is flat across its {len(metrics.per_step)} steps: step_std_ratio "
                f"{number(metrics.step_std_ratio)}, {text} across samples")
    return text


def steps_sentence(metrics: Metrics | None) -> str:
    """A forecast's steps in a sentence: " Over its 6 forecast steps, r2 goes from 0.95 (step 1) to 0.81 (step
    6)." (rolled-out steps for a roll-out; each target's r2 for several targets); empty otherwise."""
    if metrics is None:
        return ""
    if metrics.per_target:
        parts = ", ".join(f"{entry['target']} {number(entry['r2'])}" for entry in metrics.per_target)
        return f" Each target's r2: {parts}."
    if not metrics.per_step or len(metrics.per_step) < 2:
        return ""
    first, last = metrics.per_step[0], metrics.per_step[-1]
    kind = "rolled-out" if metrics.rollout_steps else "forecast"
    return (f" Over its {len(metrics.per_step)} {kind} steps, r2 goes from {number(first['r2'])} (step 1) to "
            f"{number(last['r2'])} (step {len(metrics.per_step)}).")


def persistence_clause(metrics: Metrics) -> str | None:
    """Whether the model beats repeating the last value, with both errors; None where persistence does not apply."""
    beats = beats_persistence(metrics)
    if beats is None:
        return None
    errors = f"mse {number(metrics.mse)} vs {number(metrics.persistence_mse)}"
    if beats:
        return f"it beats repeating the last value: {errors}"
    return f"it does not beat repeating the last value ({errors}): not yet useful for forecasting"


def _seeds_sentence(confirmation: Confirmation | None, metrics: Metrics) -> str:
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
    if best.beats_persistence:
        return f"{head}, and {clause}."
    return f"{head}, but {clause}."


def verdict_text(fixed: bool, best: TrialRecord, baseline: TrialRecord, cudnn: list[str],
                 alternative: TrialRecord | None, interrupted: bool, probe: SignalProbe | None = None, *,
                 min_std_ratio: float = COLLAPSE_STD_RATIO, confirmation: Confirmation | None = None,
                 stopped: str | None = None) -> str:
    """The verdict sentence summary.json, the CLI and the report show.

    It says what the spec as written did (``model_state``: collapsed, diverged, live or working),
    then what the search did: fixed (a collapse or a divergence repaired), improved (a working
    spec made better), or not fixed; where persistence applies, whether the best beats it; and
    whether the best held on the other seeds (``confirmation``); ``stopped``: the sentence saying why the
    trials ended before the budget (``search.stop: confirmed``).
    """
    best, baseline = best.judged_at(min_std_ratio), baseline.judged_at(min_std_ratio)
    metrics = best.metrics
    as_written = baseline.state
    was = state_phrase(baseline.metrics, baseline.state, baseline.message)
    best_works = best.state is ModelState.WORKING
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
        repaired = {ModelState.COLLAPSED: "no longer collapses",
                    ModelState.CANNOT_TRAIN: "trains, does not collapse"}.get(as_written,
                                                                              "trains without diverging, does not collapse")
        head = _headline("Fixed", best, confirmation)
        text = (
            f"{head} {'the' if head.endswith(':') else 'The'} spec as written {was}; trial {best.trial_id} {repaired} "
            f"(std_ratio {number(metrics.std_ratio)}, {label} {number(value)}) and beats the constant baseline."
        ) + steps_sentence(metrics) + seeds
    elif best_works:
        # The spec as written was live or working: nothing collapsed or diverged, so nothing was "fixed".
        verb = "improves" if as_written is ModelState.WORKING else "beats the constant:"
        text = (
            f"The spec as written {was}; the best configuration (trial {best.trial_id}) {verb} "
            f"{label} from {number(before)} to {number(value)}."
        )
        if clause is not None:
            text += f" {clause[0].upper()}{clause[1:]}."
        text += steps_sentence(metrics) + seeds
    elif metrics is None:
        text = (f"Not fixed: the spec as written {was}, and no configuration in the search could be trained either; "
                "fix the loss and the head by hand (the diagnosis says how), or widen search.strategies.")
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
    gap = far_below(probe, metrics) if best_works else None
    if gap is not None:
        word = "Fixed" if fixed else "Works" if best.is_baseline else "Improved"
        text = (f"{word}, but {gap.sentence()}; more trials or a wider space (capacity: width, depth, "
                f"a bottleneck removed) should do better. {text}")
    if best_works and cudnn:
        text += f" On a GPU this configuration cannot use the cuDNN kernel ({'; '.join(cudnn)})"
        if alternative is not None:
            text += (
                f"; the nearest cuDNN-compatible candidate is trial {alternative.trial_id} "
                f"(objective {alternative.score:.4g}, std_ratio {number(alternative.metrics.std_ratio)})."
            )
        else:
            text += "; no cuDNN-compatible candidate was a fix."
    if stopped:
        text += f" {stopped}"
    if interrupted:
        text += " (Search interrupted: this is the best found so far.)"
    return text
