"""The verdict at the top of the report and of a notebook result: banner, figures line, notes, before/after.

Every function here reads a ``tuning.search_summary.Summary`` (summary.json, typed) or ``Metrics``,
never the file's keys, and returns plain values for the templates.
"""

from __future__ import annotations

from autofix_lstm.format import MISSING, as_number, cell, number, plural
from autofix_lstm.scoring.metrics import Metrics
from autofix_lstm.scoring.objective import ModelState
from autofix_lstm.scoring.signal import MODEL_NAMES
from autofix_lstm.tuning.search_summary import Summary, overhead_text

# metric -> (label, the metric holding the constant predictor's value, the one holding persistence's)
_REGRESSION_ROWS = (
    ("std_ratio", "std_ratio (prediction spread / target spread)", None, None),
    ("mse", "mse", "constant_mse", "persistence_mse"),
    ("mae", "mae", None, None),
    ("r2", "r2", None, None),
    ("state", "state (working, live, collapsed or diverged)", None, None),
)
_CLASSIFICATION_ROWS = (
    ("std_ratio", "std_ratio (prediction spread / target spread)", None, None),
    ("accuracy", "accuracy", "majority_accuracy", None),
    ("balanced_accuracy", "balanced accuracy", "majority_balanced_accuracy", None),
    ("macro_f1", "macro F1", "majority_macro_f1", None),
    ("log_loss", "log loss", "prior_log_loss", None),
    ("distinct_predictions", "distinct predicted classes", None, None),
    ("state", "state (working, live, collapsed or diverged)", None, None),
)
# every metric a row reads: its own, the constant's and persistence's
_ROW_METRICS = tuple(sorted({name for rows in (_REGRESSION_ROWS, _CLASSIFICATION_ROWS)
                             for key, _, constant, persistence in rows for name in (key, constant, persistence)
                             if name is not None and name != "state"}))
_TIME_LABELS = {"training": "training the trials", "baseline": "the spec as written", "diagnosis": "diagnosis",
                "evaluation": "evaluating", "writing": "writing files", "oracle": "the oracle choosing trials",
                "confirmation": "confirming on more seeds", "minimal_fix": "finding the minimal fix",
                "other": "the rest"}


def _cells(values: list, states: bool = False) -> list[dict]:
    """Table cells: the text, and the classes that style it (``missing``; in the state row, each
    cell's own state, ``state-collapsed``, so a working best found is not red beside a collapsed spec)."""
    out = []
    for value in values:
        classes = ["missing"] if value is None else [f"state-{value}"] if states else []
        out.append({"text": cell(value), "missing": value is None, "classes": " ".join(classes)})
    return out


def before_after_table(baseline: Metrics | None, best: Metrics | None,
                       states: tuple[ModelState | None, ModelState | None] = (None, None)) -> dict | None:
    """Baseline against best, with the constant (and, where it applies, persistence) predictors.

    The ``state`` row says what each model did (``states``: the judgments the summary carries), so a
    spec whose loss diverged never reads as "collapsed: no". Returns the table as text (``head``; ``rows`` of
    ``label`` and ``cells``), or None when no metrics were recorded.
    """
    if baseline is None and best is None:
        return None
    reference = best or baseline
    regression = reference.is_regression
    persistence = regression and reference.persistence_mse is not None
    head = ["metric (validation, original units)", "your spec as written", "best found",
            "constant predictor" if regression else "majority class / prior"]
    if persistence:
        head.append("persistence (last value)")
    before = baseline.subset(_ROW_METRICS) if baseline else {}
    after = best.subset(_ROW_METRICS) if best else {}
    constants = reference.subset(_ROW_METRICS)
    rows = []
    for key, label, constant_key, persistence_key in _REGRESSION_ROWS if regression else _CLASSIFICATION_ROWS:
        if key == "state":
            values = [None if state is None else state.value for state in states]
            values += [None, None] if persistence else [None]
            rows.append({"label": label, "cells": _cells(values, states=True)})
            continue
        values = [before.get(key), after.get(key)]
        values.append(0.0 if key == "std_ratio" else constants.get(constant_key) if constant_key else None)
        if persistence:
            values.append(constants.get(persistence_key) if persistence_key else None)
        rows.append({"label": label, "cells": _cells(values)})
    return {"head": head, "rows": rows}


def _seconds(value) -> str:
    value = as_number(value)
    return MISSING if value is None else f"{value:.0f} s"


def stats_line(summary: Summary) -> str:
    """The search in figures, one line: trials, time, device, first fix, the comparisons, seeds, cuDNN."""
    parts = [
        f"{plural(summary.trials_total, 'trial')}: {cell(summary.trials_completed)} completed, "
        f"{cell(summary.trials_pruned)} pruned, {cell(summary.trials_failed)} failed",
        f"elapsed {_seconds(summary.elapsed_seconds)}",
    ]
    if summary.device:  # searches before the device was recorded have none
        parts.append(f"trained on {device_text(summary)}")
    if summary.trials_to_first_fix is not None:
        parts.append(f"first fix after {plural(summary.trials_to_first_fix, 'trial')} / "
                     f"{_seconds(summary.seconds_to_first_fix)}")
    if summary.best_state in (ModelState.COLLAPSED, ModelState.DIVERGED):
        # its errors may be below a constant's or persistence's, but a flat or diverged output is no forecast
        parts.append(f"the best found {summary.best_state.value}")
    else:
        if summary.beats_constant is not None:
            parts.append(f"beats a constant: {cell(summary.beats_constant)}")
        if summary.beats_persistence is not None:
            parts.append(f"beats persistence: {cell(summary.beats_persistence)}")
    if summary.confirmed_seeds is not None:
        parts.append(f"held on {summary.confirmed_seeds} seeds")
    if summary.cudnn_compatible is False:
        parts.append("not cuDNN-compatible: " + "; ".join(summary.cudnn_problems))
    return " · ".join(parts)


def device_text(summary: Summary) -> str:
    """The device the trials trained on: "CPU", "NVIDIA H200", or "2 GPUs, mirrored (NVIDIA H200, ...)"."""
    placement = summary.distribution or {}
    if placement.get("distribution") == "mirrored":
        devices = ", ".join(str(d) for d in placement.get("devices") or [summary.device])
        return f"{placement.get('replicas', 1)} replica(s), mirrored ({devices})"
    return str(summary.device)


def search_notes(summary: Summary) -> list[str]:
    """The signal probe, pruning's savings and the refinement's share, one sentence each."""
    notes = []
    probe = summary.signal_probe
    if probe is not None:
        model = MODEL_NAMES.get(probe.model, "a simple model").capitalize()
        verb = "beats" if probe.beats_constant else "does not beat"
        notes.append(
            f"Signal probe: {model} on the same windows reaches {str(probe.metric or '').replace('_', ' ')} "
            f"{number(probe.value, 2)} and {verb} a constant ({number(probe.constant, 2)}); "
            f"{number(probe.seconds, 2)} s."
        )
    pruning = summary.pruning
    if pruning.trials_pruned:
        text = (f"Pruning stopped {plural(pruning.trials_pruned, 'trial')} early, saving "
                f"{plural(pruning.epochs_saved, 'epoch')}")
        if pruning.reruns:
            reruns, lost = len(pruning.reruns), pruning.fixes_lost_to_pruning
            text += (f"; {reruns} of them {'was' if reruns == 1 else 'were'} re-run in full because no fix was found, "
                     f"and {cell(lost)} turned out to be {'a fix' if lost == 1 else 'fixes'}")
        notes.append(text + ".")
    refinement = summary.refinement
    if refinement.trials:
        notes.append(
            f"Refinement: {plural(refinement.trials, 'trial')} varied one field of the best fix at a time; "
            f"{cell(refinement.fixes)} {'was a fix' if refinement.fixes == 1 else 'were fixes'}"
            + ("; the best configuration came from one of them." if refinement.best_from_refinement else ".")
        )
    timing = time_note(summary)
    if timing:
        notes.append(timing)
    return notes


def banner_kind(summary: Summary | None) -> str:
    """The verdict banner's colour: ``fixed`` (green), ``working`` (blue: the spec as written already
    worked, or the search made a live one beat the constant; nothing was repaired), ``not-fixed``
    (red) or ``unknown`` (grey: no summary)."""
    if summary is None:
        return "unknown"
    if summary.fixed:
        return "fixed"
    return "working" if summary.best_works else "not-fixed"


def time_note(summary: Summary) -> str | None:
    """Where the search's time went, largest stage first, and its overhead over training."""
    block, overhead = summary.time, overhead_text(summary)
    if not overhead or not block.get("wall"):
        return None
    stages = sorted(((block.get(key) or 0.0, label) for key, label in _TIME_LABELS.items()), reverse=True)
    parts = ", ".join(f"{label} {seconds:.1f} s" for seconds, label in stages if seconds >= 0.05)
    return f"Time: {block['wall']:.0f} s in all: {parts}. Search {overhead}."
