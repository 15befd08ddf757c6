"""Validation predictions against the actual values: the spec as written and the best, on one figure.

Regression: the validation series with both predictions over it; a multi-step forecast: a few
validation windows' whole forecasts drawn over the steps they predict (a fan). Binary: the predicted
probability of the positive class and both confusion matrices. Multiclass: both confusion matrices.
Built like every figure of ``render.plots`` (its own Agg canvas, never pyplot).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from autofix_lstm.render.plots import ACTUAL_COLOUR, BASELINE_COLOUR, BEST_COLOUR, new_figure, note
from autofix_lstm.scoring.metrics import class_probabilities


def _as_array(values) -> np.ndarray | None:
    if values is None:
        return None
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array if array.size else None


def predictions_figure(baseline: dict, best: dict | None = None, *, best_label: str = "best found") -> Figure:
    """Validation predictions against the actual values: the spec as written and the best, on one figure.

    Regression: the validation series with both predictions over it. Binary: the predicted
    probability of the positive class against the true labels, and both confusion matrices.
    Multiclass: both confusion matrices.

    Args:
        baseline: the baseline record (``baseline.json``): ``val_targets``, ``val_predictions``,
            ``metrics`` and, for classification, ``classes``.
        best: the best trial's record (its ``val_predictions``); None when the baseline is the best.
    """
    targets = _as_array(baseline.get("val_targets"))
    task = (baseline.get("metrics") or {}).get("task", "regression")
    runs = [("your spec as written", BASELINE_COLOUR, _as_array(baseline.get("val_predictions")))]
    if best is not None:
        runs.append((best_label, BEST_COLOUR, _as_array(best.get("val_predictions"))))
    several = [entry.get("target") for entry in (baseline.get("metrics") or {}).get("per_target") or []]
    if task == "regression" and targets is not None and targets.ndim == 2 and len(several) == targets.shape[1] > 1:
        return _target_predictions(targets, runs, several)
    if task == "regression" and targets is not None and targets.ndim == 2 and targets.shape[1] > 1:
        return _forecast_predictions(targets, runs)
    if task == "regression":
        return _regression_predictions(targets, runs)
    if targets is None:
        fig, axes = new_figure(7.5, 2.2)
        note(axes[0, 0], "No validation labels were saved with the baseline (baseline.json has no val_targets).")
        return fig
    classes = list(baseline.get("classes") or [])
    n_classes = len(classes) or int(np.nanmax(targets)) + 1
    return _classification_predictions(targets.astype(int), runs, n_classes, classes)


def _regression_predictions(targets: np.ndarray | None, runs) -> Figure:
    fig, axes = new_figure(9, 3.8)
    ax = axes[0, 0]
    notes = []
    if targets is not None:
        ax.plot(np.arange(len(targets)), targets, color=ACTUAL_COLOUR, linewidth=1.4, label="actual")
        length = len(targets)
        # The y range follows the actual values: a prediction far off them (a collapsed model stuck
        # near 0 while the target is in the thousands) would otherwise flatten the rest of the plot.
        low, high = float(np.min(targets)), float(np.max(targets))
        pad = 0.25 * (high - low) if high > low else max(abs(high), 1.0) * 0.1
        window = (low - pad, high + pad)
    else:
        window = None
        notes.append("actual values not saved (baseline.json has no val_targets)")
        length = next((len(p.reshape(-1)) for _, _, p in runs if p is not None), 0)
    index = np.arange(length)
    for label, colour, pred in runs:
        if pred is None or pred.reshape(-1).shape[0] != length:
            notes.append(f"{label}: no predictions saved")
            continue
        pred = pred.reshape(-1)
        if not np.all(np.isfinite(pred)):
            notes.append(f"{label}: predictions are NaN/inf")
            continue
        style = "--" if colour == BASELINE_COLOUR else "-"
        ax.plot(index, pred, color=colour, linestyle=style, linewidth=1.6, label=label)
        if window is not None and np.mean((pred < window[0]) | (pred > window[1])) > 0.5:
            above = np.median(pred) > window[1]
            ax.annotate(f"{label}: around {np.median(pred):.4g}, off the chart {'above' if above else 'below'}",
                        (0.5, 0.97 if above else 0.03), xycoords="axes fraction", ha="center",
                        va="top" if above else "bottom", fontsize=8, color=colour,
                        bbox={"boxstyle": "round", "fc": "white", "ec": colour})
    if window is not None:
        ax.set_ylim(*window)
    ax.set_xlabel("validation sample (time order)")
    ax.set_ylabel("target (original units)")
    ax.set_title("Validation predictions against the actual values")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8)
    if notes:
        ax.text(0.01, 0.02, "; ".join(notes), transform=ax.transAxes, fontsize=8, color="#d62728")
    return fig


FAN_WINDOWS = 6  # validation samples whose whole forecast a multi-step report draws


MAX_TARGET_PANELS = 4  # several targets: one panel each, the first ones


def _target_predictions(targets: np.ndarray, runs, names: list[str]) -> Figure:
    """Several targets (``target: [a, b]``): a panel per target, the actual series with each run's predictions."""
    shown = min(len(names), MAX_TARGET_PANELS)
    fig, axes = new_figure(9, 2.4 * shown, nrows=shown)
    samples = len(targets)
    for k in range(shown):
        ax = axes[k, 0]
        ax.plot(np.arange(samples), targets[:, k], color=ACTUAL_COLOUR, linewidth=1.4, label="actual")
        low, high = float(np.min(targets[:, k])), float(np.max(targets[:, k]))
        pad = 0.25 * (high - low) if high > low else max(abs(high), 1.0) * 0.1
        notes = []
        for label, colour, pred in runs:
            if pred is None or pred.size != targets.size:
                notes.append(f"{label}: no predictions saved")
                continue
            column = pred.reshape(samples, -1)[:, k]
            if not np.all(np.isfinite(column)):
                notes.append(f"{label}: predictions are NaN/inf")
                continue
            ax.plot(np.arange(samples), column, color=colour, linestyle="--" if colour == BASELINE_COLOUR else "-",
                    linewidth=1.6, label=label)
            if np.mean((column < low - pad) | (column > high + pad)) > 0.5:
                notes.append(f"{label}: around {np.median(column):.4g}, off the chart")
        ax.set_ylim(low - pad, high + pad)
        ax.set_ylabel(f"{names[k]} (original units)")
        if notes:
            ax.text(0.01, 0.02, "; ".join(notes), transform=ax.transAxes, fontsize=8, color="#d62728")
    axes[0, 0].set_title(f"Validation predictions against the actual values, {len(names)} targets"
                         + (f" (the first {shown})" if shown < len(names) else ""))
    axes[0, 0].legend(loc="best", fontsize=8)
    axes[shown - 1, 0].set_xlabel("validation sample (time order)")
    return fig


def _forecast_predictions(targets: np.ndarray, runs) -> Figure:
    """A multi-step forecast: the actual series (each sample's first step) and, from a few evenly spaced
    validation samples, every run's whole forecast drawn over the steps it predicts (a fan)."""
    fig, axes = new_figure(9, 3.8)
    ax = axes[0, 0]
    samples, steps = targets.shape
    ax.plot(np.arange(samples), targets[:, 0], color=ACTUAL_COLOUR, linewidth=1.4, label="actual (first step)")
    low, high = float(np.min(targets)), float(np.max(targets))
    pad = 0.25 * (high - low) if high > low else max(abs(high), 1.0) * 0.1
    starts = np.unique(np.linspace(0, max(samples - steps, 0), FAN_WINDOWS).astype(int))
    notes = []
    for label, colour, pred in runs:
        if pred is None or pred.size not in (samples, samples * steps):
            notes.append(f"{label}: no predictions saved")
            continue
        pred = np.broadcast_to(pred.reshape(samples, -1), targets.shape)  # one value per sample: every step
        if not np.all(np.isfinite(pred)):
            notes.append(f"{label}: predictions are NaN/inf")
            continue
        style = "--" if colour == BASELINE_COLOUR else "-"
        for n, start in enumerate(starts):
            ax.plot(start + np.arange(steps), pred[start], color=colour, linestyle=style, linewidth=1.6,
                    marker=".", markersize=4, label=f"{label}: {steps}-step forecasts" if n == 0 else None)
        if np.mean((pred < low - pad) | (pred > high + pad)) > 0.5:
            notes.append(f"{label}: around {np.median(pred):.4g}, off the chart")
    ax.set_ylim(low - pad, high + pad)
    ax.set_xlabel("validation sample (time order); each forecast drawn over the steps it predicts")
    ax.set_ylabel("target (original units)")
    ax.set_title(f"{steps}-step forecasts from {len(starts)} validation windows against the actual values")
    ax.legend(loc="best", fontsize=8)
    if notes:
        ax.text(0.01, 0.02, "; ".join(notes), transform=ax.transAxes, fontsize=8, color="#d62728")
    return fig


def _confusion(truth: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    matrix = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(matrix, (truth, predicted), 1)
    return matrix


def _classification_predictions(targets: np.ndarray, runs, n_classes: int, classes: list) -> Figure:
    binary = n_classes == 2
    ncols = len(runs) + (1 if binary else 0)
    fig, axes = new_figure(3.4 * ncols + (2.2 if binary else 0), 3.6, ncols=ncols,
                        width_ratios=[2.2, *[1] * len(runs)] if binary else None)
    names = [str(c) for c in classes] if classes else [str(i) for i in range(n_classes)]
    column = 0
    probabilities = []
    for label, colour, raw in runs:
        proba = None
        if raw is not None and len(raw) == len(targets):
            with np.errstate(all="ignore"):
                proba = class_probabilities(raw.reshape(len(raw), -1), n_classes)
            if not np.all(np.isfinite(proba)):
                proba = None
        probabilities.append((label, colour, proba))
    if binary:
        ax = axes[0, 0]
        index = np.arange(len(targets))
        ax.scatter(index, targets, s=8, color=ACTUAL_COLOUR, label=f"actual class ({names[0]} = 0, {names[1]} = 1)")
        for label, colour, proba in probabilities:
            if proba is not None:
                ax.plot(index, proba[:, 1], color=colour, linewidth=1.4, label=f"{label}: P({names[1]})")
        ax.axhline(0.5, color="#999999", linestyle=":", linewidth=1)
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel("validation sample (time order)")
        ax.set_ylabel(f"predicted probability of {names[1]}")
        ax.set_title("Predicted probability against the actual class")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), fontsize=8, frameon=False)
        column = 1
    for label, _colour, proba in probabilities:
        ax = axes[0, column]
        column += 1
        if proba is None:
            note(ax, f"{label}:\nno finite predictions")
            continue
        matrix = _confusion(targets, np.argmax(proba, axis=1), n_classes)
        ax.imshow(matrix, cmap="Blues")
        for (i, j), count in np.ndenumerate(matrix):
            ax.text(j, i, str(count), ha="center", va="center",
                    color="white" if count > matrix.max() / 2 else "black", fontsize=9)
        ax.set_xticks(range(n_classes), names, rotation=45 if n_classes > 4 else 0)
        ax.set_yticks(range(n_classes), names)
        ax.set_xlabel("predicted")
        ax.set_ylabel("actual")
        ax.set_title(f"Confusion matrix: {label}", fontsize=10)
    return fig
