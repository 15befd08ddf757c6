"""Figures of a search and a diagnosis, drawn with matplotlib's Agg canvas.

Every function returns a ``matplotlib.figure.Figure`` built without ``pyplot``: nothing is
registered in pyplot's global figure list, and the user's backend is left alone, so calling these
from a notebook or a server leaks no state. The figures show themselves in Jupyter (``_repr_png_``)
and ``figure_data_uri`` turns one into a base64 PNG for a self-contained HTML page.

The record dicts these functions read are the ones a search writes: ``baseline.json`` and each
trial's ``autofix_trial.json`` (``metrics``, ``history``, ``val_predictions``; the baseline also
``val_targets`` and ``classes``).
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from autofix_lstm.format import as_number
from autofix_lstm.scoring.objective import TIER_CANNOT_TRAIN
from autofix_lstm.tuning.records import TrialStatus

if TYPE_CHECKING:
    from autofix_lstm.tuning.search_summary import Summary

# status -> (colour, marker, legend label)
STATUS_STYLE = {
    TrialStatus.COMPLETED.value: ("#1f77b4", "o", "completed"),
    TrialStatus.PRUNED.value: ("#ff7f0e", "s", "pruned (still collapsed after its first epochs)"),
    TrialStatus.FAILED.value: ("#d62728", "X", "failed (NaN or error)"),
}
BASELINE_COLOUR = "#7f7f7f"
BEST_COLOUR = "#2ca02c"
ACTUAL_COLOUR = "#222222"
# The objective's tiers (autofix_lstm.scoring.objective): the integer part of a score.
TIER_LABELS = ("fix", "live, no better than a constant", "collapsed", "NaN")
# Failed trials have no objective; they are drawn just above the NaN tier (so is a spec Keras could not train).
FAILED_Y = 3.25
BASELINE_UNTRAINABLE = "your spec as written (could not be trained)"
# The two trial figures share a size: the report shows them side by side, each in half the page's width.
TRIALS_FIGSIZE = (6.4, 4.2)


class ReportFigure(Figure):
    """A Figure that renders itself as a PNG in Jupyter, with or without pyplot's inline backend."""

    def _repr_png_(self) -> bytes:
        return figure_png(self)


def new_figure(width: float, height: float, *, ncols: int = 1, nrows: int = 1, **kwargs):
    """A ``ReportFigure`` on its own Agg canvas (never pyplot's) and its grid of axes (``axes[row, column]``)."""
    fig = ReportFigure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    return fig, axes


def figure_png(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes."""
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def figure_data_uri(fig: Figure, dpi: int = 110) -> str:
    """The figure as a ``data:image/png;base64,...`` URI, for an ``<img src>`` that needs no file or network."""
    return "data:image/png;base64," + base64.b64encode(figure_png(fig, dpi)).decode("ascii")


def note(ax, text: str) -> None:
    """Write ``text`` in the middle of an empty panel, without ticks: what it shows instead of data."""
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, transform=ax.transAxes, color="#555555")
    ax.set_xticks([])
    ax.set_yticks([])


def tier_bands(ax, x: float, *, failed: bool = False) -> None:
    """Shade the objective's first three tiers on ``ax`` and name each at ``x`` (data units), just right of
    the plot; with ``failed``, also name the row where trials without an objective are drawn (``FAILED_Y``)."""
    for level, label in enumerate(TIER_LABELS[:3]):
        ax.axhspan(level, level + 1, color=("#e8f5e9", "#fff8e1", "#fdecea")[level], zorder=0)
        ax.text(x, level + 0.5, f" {label}", va="center", ha="left", fontsize=8, color="#555555", clip_on=False)
    if failed:
        ax.text(x, FAILED_Y, " failed", va="center", ha="left", fontsize=8, color="#555555", clip_on=False)


# ---------------------------------------------------------------- trials


def trials_figure(trials, summary: Summary | None = None) -> Figure:
    """Every trial as a point: objective against std_ratio, coloured by status, the best marked.

    Args:
        trials: the trials table (``trials.csv`` / ``SearchResult.trials``): columns ``trial_id``,
            ``status``, ``objective``, ``std_ratio``.
        summary: the search's ``Summary`` (``min_std_ratio``, ``best_trial``, ``baseline``,
            ``baseline_objective``); without it the floor is drawn at the default 0.1.

    Returns:
        A figure whose x axis is symmetric-log (collapsed trials sit near 0), with the collapse floor
        (``min_std_ratio``) as a vertical line and the objective's tiers shaded.
    """
    floor = (None if summary is None else as_number(summary.min_std_ratio)) or 0.1
    fig, axes = new_figure(*TRIALS_FIGSIZE)
    ax = axes[0, 0]
    rows = [] if trials is None else trials.to_dict("records")
    ratios = [r for r in (as_number(row.get("std_ratio")) for row in rows) if r is not None]
    baseline_ratio = None if summary is None or summary.baseline is None else as_number(summary.baseline.std_ratio)
    top = max([1.0, floor * 2, *ratios, *([baseline_ratio] if baseline_ratio is not None else [])]) * 1.3

    ax.axvline(floor, color="#d62728", linestyle="--", linewidth=1.2, label=f"collapse floor (min_std_ratio {floor:g})")

    for status, (colour, marker, label) in STATUS_STYLE.items():
        points = [row for row in rows if row.get("status") == status]
        if not points:
            continue
        xs = [as_number(p.get("std_ratio")) or 0.0 for p in points]
        ys = [as_number(p.get("objective")) for p in points]
        ys = [FAILED_Y if y is None else y for y in ys]
        ax.scatter(xs, ys, c=colour, marker=marker, s=46, edgecolors="white", linewidths=0.6,
                   label=f"{label}: {len(points)}", zorder=3)

    baseline_objective = None if summary is None else as_number(summary.baseline_objective)
    untrainable = baseline_objective is not None and baseline_objective >= TIER_CANNOT_TRAIN
    if baseline_objective is not None:
        ax.scatter([baseline_ratio or 0.0], [FAILED_Y if untrainable else baseline_objective], marker="D", s=60,
                   facecolors="none", edgecolors=BASELINE_COLOUR, linewidths=1.8, zorder=4,
                   label=BASELINE_UNTRAINABLE if untrainable else "your spec as written")

    best_id = None if summary is None else summary.best_trial
    best_point = None
    if best_id is not None and str(best_id) != "baseline":
        match = [row for row in rows if str(row.get("trial_id")) == str(best_id)]
        if match:
            best_point = (as_number(match[0].get("std_ratio")) or 0.0, as_number(match[0].get("objective")))
    elif str(best_id) == "baseline" and baseline_objective is not None and not untrainable:
        best_point = (baseline_ratio or 0.0, baseline_objective)
    if best_point is None and rows:  # no summary: the lowest objective is the best
        scored = [row for row in rows if as_number(row.get("objective")) is not None]
        if scored:
            row = min(scored, key=lambda r: as_number(r["objective"]))
            best_id = row.get("trial_id")
            best_point = (as_number(row.get("std_ratio")) or 0.0, as_number(row["objective"]))
    if best_point is not None and best_point[1] is not None:
        ax.scatter([best_point[0]], [best_point[1]], marker="*", s=320, c=BEST_COLOUR, edgecolors="black",
                   linewidths=0.8, label=f"best (trial {best_id})", zorder=5)

    failed = untrainable or any(row.get("status") == TrialStatus.FAILED.value for row in rows)
    tier_bands(ax, top, failed=failed)
    if not rows and baseline_objective is None:
        ax.text(0.5, 0.5, "no trials recorded", ha="center", va="center", transform=ax.transAxes, color="#555555")
    linthresh = max(floor / 10, 1e-4)
    ax.set_xscale("symlog", linthresh=linthresh, linscale=0.5)
    ax.set_xlim(-linthresh / 2, top)  # a little room left of 0, where the collapsed trials sit
    ax.set_ylim(-0.05, FAILED_Y + 0.35 if failed else 3.1)
    ax.set_xlabel("std_ratio (prediction spread / target spread; validation)")
    ax.set_ylabel("objective (lower is better)")
    ax.set_title("Every trial of the search")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, fontsize=8, frameon=False)
    return fig


# ---------------------------------------------------------------- learning curves


def learning_curves_figure(baseline_history: dict | None, best_history: dict | None = None, *,
                           baseline_label: str = "your spec as written", best_label: str = "best found") -> Figure:
    """Training and validation loss per epoch: the spec as written and the best, side by side.

    The losses are in each model's own (scaled) units, which differ between runs, so each run has
    its own panel; a log scale is used when every loss is positive.
    """
    runs = [(baseline_label, baseline_history)]
    if best_history is not None:
        runs.append((best_label, best_history))
    fig, axes = new_figure(4.6 * len(runs), 3.4, ncols=len(runs))
    for ax, (label, history) in zip(axes[0], runs):
        series = {k: v for k, v in (history or {}).items() if k in ("loss", "val_loss") and v}
        if not series:
            note(ax, f"{label}:\nno training history saved")
            continue
        values = []
        for name, raw in series.items():
            points = [(i + 1, as_number(v)) for i, v in enumerate(raw)]
            points = [(i, v) for i, v in points if v is not None]
            if not points:
                continue
            values += [v for _, v in points]
            ax.plot(*zip(*points), marker="o", markersize=3,
                    linestyle="-" if name == "loss" else "--", label="training" if name == "loss" else "validation")
        if values and min(values) > 0:
            ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss (model units)")
        ax.set_title(label, fontsize=10)
        ax.legend(fontsize=8)
    return fig


# ---------------------------------------------------------------- diagnosis


def gradient_norm_figure(norms: dict[str, float | None], *, ratios: dict[str, float | None] | None = None) -> Figure:
    """Per-layer gradient norms from the diagnosis' brief training, as a bar chart on a log scale.

    Args:
        norms: layer name -> median gradient norm over the first steps (None where never finite).
        ratios: layer name -> norm relative to the head's, written on the bars when given.
    """
    names = list(norms)
    fig, axes = new_figure(max(4.5, 1.1 * len(names) + 2), 3.2)
    ax = axes[0, 0]
    if not names:
        note(ax, "no gradient norms were measured")
        return fig
    values = [as_number(norms[name]) for name in names]
    finite = [v for v in values if v is not None and v > 0]
    floor = min(finite) / 10 if finite else 1e-12
    heights = [v if v is not None and v > 0 else floor for v in values]
    colours = ["#1f77b4" if v is not None and v > 0 else "#d62728" for v in values]
    bars = ax.bar(names, heights, color=colours)
    ax.set_yscale("log")
    for bar, name, value in zip(bars, names, values):
        if value is None:
            text = "NaN/inf"
        elif value <= 0:
            text = "0"
        else:
            ratio = as_number((ratios or {}).get(name))
            text = f"{value:.2g}" + (f"\n({ratio:.2g}x head)" if ratio is not None and name != names[-1] else "")
        ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom",
                    fontsize=8, xytext=(0, 2), textcoords="offset points")
    ax.set_ylabel("gradient norm (median, first steps)")
    ax.set_xlabel("layer (input side first)")
    ax.set_title("Gradient norm per layer during the brief training", fontsize=10)
    ax.margins(y=0.25)
    return fig


# ---------------------------------------------------------------- the minimal fix

NECESSARY_COLOUR = "#2e7d32"
INCIDENTAL_COLOUR = "#9e9e9e"


def change_contribution_figure(summary: Summary) -> Figure:
    """What each of the best trial's changes contributes: the objective without it minus with all of them.

    Reads the summary's ``necessary_changes`` and ``incidental_changes`` (each with ``objective_with`` and
    ``objective_without``) and ``minimal_fix.tolerance``. Bars past the dashed line (the tolerance, as an
    objective difference) mark changes the fix cannot lose; the x axis is symmetric-log, since a change
    whose removal collapses the output costs whole tiers (2 or more) and the rest a few hundredths.
    """
    rows = [(c, True) for c in summary.necessary_changes or []]
    rows += [(c, False) for c in summary.incidental_changes or []]
    fig, axes = new_figure(8.5, max(2.2, 0.55 * len(rows) + 1.3))
    ax = axes[0, 0]
    if not rows:
        note(ax, "no changes were ablated")
        return fig
    tolerance = (None if summary.minimal_fix is None else as_number(summary.minimal_fix.tolerance)) or 0.0
    labels, values, colours, texts = [], [], [], []
    for change, necessary in rows:
        with_all, without = as_number(change.objective_with), as_number(change.objective_without)
        delta = None if with_all is None or without is None else without - with_all
        labels.append(change.label)
        values.append(0.0 if delta is None else delta)
        colours.append(NECESSARY_COLOUR if necessary else INCIDENTAL_COLOUR)
        if delta is None:
            texts.append("not tested")
        else:
            texts.append(f"{delta:+.3g}" + ("" if change.fix_without else "  (no fix without it)"))
    positions = np.arange(len(rows))[::-1]
    ax.barh(positions, values, color=colours)
    ax.set_yticks(positions, labels, fontsize=9)
    with_all = as_number(rows[0][0].objective_with) or 0.0
    threshold = tolerance * with_all
    linear = max(threshold, 1e-3)
    ax.set_xscale("symlog", linthresh=linear)
    if threshold > 0:
        ax.axvline(threshold, color="#c62828", linestyle="--", linewidth=1,
                   label=f"tolerance: {tolerance:.0%} of the best objective")
        ax.legend(loc="lower right", fontsize=8)
    ax.axvline(0, color="#333333", linewidth=0.8)
    for position, value, text in zip(positions, values, texts):
        ax.annotate(text, (value, position), xytext=(4 if value >= 0 else -4, 0), textcoords="offset points",
                    ha="left" if value >= 0 else "right", va="center", fontsize=8)
    ax.set_xlabel("objective without the change minus with every change (higher: matters more)", fontsize=9)
    ax.set_title("What each change contributes (green: needed; grey: did not matter)", fontsize=10)
    high, low = max(values + [threshold]), min(values + [0.0])
    # room for the labels beside the bars on the symlog axis
    ax.set_xlim(low * 10 if low < 0 else 0.0, high * 30 if high > linear else linear * 30)
    return fig


__all__ = [
    "ReportFigure",
    "change_contribution_figure",
    "figure_data_uri",
    "figure_png",
    "gradient_norm_figure",
    "learning_curves_figure",
    "new_figure",
    "note",
    "tier_bands",
    "trials_figure",
]
