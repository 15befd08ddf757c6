"""The optimisation history: each trial's objective against its number, with the best so far as a step line.

Optuna's ``plot_optimization_history`` in our terms. Beside the objective-against-std_ratio scatter
(``plots.trials_figure``), where trials with the same outcome land on the same spot (every collapsed
trial sits at std_ratio 0, every failed one on the failed row), this figure gives each trial its own
place on the x axis, so every trial is visible and the search's progress reads left to right.

Trials are drawn in trials.csv's order (the order they started), each by its kind: completed with a
live output, completed but collapsed (or diverged), pruned, failed. The spec as written stands left
of the first trial; a spec Keras could not train sits on the failed row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from autofix_lstm.format import as_number
from autofix_lstm.render.plots import (
    BASELINE_COLOUR,
    BASELINE_UNTRAINABLE,
    BEST_COLOUR,
    FAILED_Y,
    STATUS_STYLE,
    TRIALS_FIGSIZE,
    new_figure,
    tier_bands,
)
from autofix_lstm.scoring.objective import TIER_CANNOT_TRAIN, TIER_COLLAPSED
from autofix_lstm.tuning.records import BASELINE_ID, TrialStatus

if TYPE_CHECKING:
    from autofix_lstm.tuning.search_summary import Summary

COLLAPSED = "collapsed"
# kind -> (colour, marker, legend label); the statuses keep the scatter's styles, so one trial looks alike in both
KIND_STYLE = {
    TrialStatus.COMPLETED.value: (STATUS_STYLE["completed"][0], "o", "completed, output live"),
    COLLAPSED: ("#9467bd", "v", "completed, but collapsed or diverged"),
    TrialStatus.PRUNED.value: STATUS_STYLE["pruned"],
    TrialStatus.FAILED.value: STATUS_STYLE["failed"],
}
BASELINE_TICK = "yours"
ALT_TEXT = "Optimisation history: each trial's objective in the order it ran, the best so far as a step line"


def trial_kind(row: dict) -> str:
    """How a trials.csv row is drawn: its status, or ``collapsed`` for a completed trial whose output
    collapsed or diverged (its ``collapsed`` column, else an objective in the collapsed tier or above)."""
    status = str(row.get("status"))
    if status != TrialStatus.COMPLETED.value:
        return status if status in KIND_STYLE else TrialStatus.FAILED.value
    objective = as_number(row.get("objective"))
    if str(row.get("collapsed")).strip().lower() == "true" or (objective is not None and objective >= TIER_COLLAPSED):
        return COLLAPSED
    return status


def trial_numbers(rows: list[dict]) -> list[int]:
    """Each row's place on the x axis: its trial id when every id is a whole number rising in row order
    (Keras Tuner's "00", "01", ...), else its position from 1 (ids like "3_full" from a re-run)."""
    ids = []
    for row in rows:
        try:
            ids.append(int(str(row.get("trial_id"))))
        except ValueError:
            break
    if len(ids) == len(rows) and all(a < b for a, b in zip(ids, ids[1:])) and (not ids or ids[0] >= 0):
        return ids
    return list(range(1, len(rows) + 1))


def _best_so_far(points: list[tuple[int, float | None]]) -> tuple[list[int], list[float]]:
    """The running minimum over the scored points, one step per point (unscored ones carry it on)."""
    xs, ys, best = [], [], None
    for x, y in points:
        if y is not None:
            best = y if best is None else min(best, y)
        if best is not None:
            xs.append(x)
            ys.append(best)
    return xs, ys


def history_figure(trials, summary: Summary | None = None) -> Figure:
    """Every trial's objective against its number, the best so far as a step line, the best trial starred.

    Args:
        trials: the trials table (``trials.csv`` / ``SearchResult.trials``), in start order: columns
            ``trial_id``, ``status``, ``objective`` and, where written, ``collapsed``.
        summary: the search's ``Summary`` (``baseline_objective``, ``best_trial``); without it the spec
            as written is left out and the lowest objective is starred.

    Returns:
        A figure with the objective's tiers shaded as in the scatter, failed trials (no objective) on
        a row above them, and the spec as written left of the first trial (tick ``yours``).
    """
    fig, axes = new_figure(*TRIALS_FIGSIZE)
    ax = axes[0, 0]
    rows = [] if trials is None else trials.to_dict("records")
    numbers = trial_numbers(rows)
    objectives = [as_number(row.get("objective")) for row in rows]
    kinds = [trial_kind(row) for row in rows]
    for kind, (colour, marker, label) in KIND_STYLE.items():
        mine = [i for i, k in enumerate(kinds) if k == kind]
        if mine:
            ys = [FAILED_Y if objectives[i] is None else objectives[i] for i in mine]
            ax.scatter([numbers[i] for i in mine], ys, c=colour, marker=marker, s=40, edgecolors="white",
                       linewidths=0.6, label=f"{label}: {len(mine)}", zorder=3)

    first = numbers[0] if numbers else 1
    baseline_x = first - 1
    baseline = None if summary is None else as_number(summary.baseline_objective)
    untrainable = baseline is not None and baseline >= TIER_CANNOT_TRAIN
    if baseline is not None:
        ax.scatter([baseline_x], [FAILED_Y if untrainable else baseline], marker="D", s=60, facecolors="none",
                   edgecolors=BASELINE_COLOUR, linewidths=1.8, zorder=4,
                   label=BASELINE_UNTRAINABLE if untrainable else "your spec as written")

    scored = [(baseline_x, None if untrainable else baseline)] if baseline is not None else []
    scored += [(x, None if kind == TrialStatus.FAILED.value else y) for x, y, kind in zip(numbers, objectives, kinds)]
    xs, ys = _best_so_far(scored)
    if xs:
        last = numbers[-1] if numbers else baseline_x
        ax.step([*xs, last], [*ys, ys[-1]], where="post", color=BEST_COLOUR, linewidth=1.8, zorder=2,
                label="best so far")

    best = _best_point(rows, numbers, objectives, summary, baseline_x, None if untrainable else baseline)
    if best is not None:
        ax.scatter([best[0]], [best[1]], marker="*", s=320, c=BEST_COLOUR, edgecolors="black", linewidths=0.8,
                   label=f"best (trial {best[2]})", zorder=5)

    right = (numbers[-1] if numbers else baseline_x) + 0.6
    failed = untrainable or TrialStatus.FAILED.value in kinds
    tier_bands(ax, right, failed=failed)
    if not rows:
        ax.text(0.5, 0.5, "no trials recorded", ha="center", va="center", transform=ax.transAxes, color="#555555")
    ax.set_xlim(baseline_x - 0.6 if baseline is not None else first - 0.6, right)
    ax.set_ylim(-0.05, FAILED_Y + 0.35 if failed else 3.1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(
        lambda x, _: BASELINE_TICK if baseline is not None and round(x) == baseline_x else f"{x:.0f}"))
    ax.set_xlabel("trial (in the order they started)")
    ax.set_ylabel("objective (lower is better)")
    ax.set_title("Optimisation history")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, fontsize=8, frameon=False)
    return fig


def _best_point(rows, numbers, objectives, summary, baseline_x, baseline) -> tuple[int, float, str] | None:
    """(x, objective, trial id) of the best: the summary's ``best_trial``, else the lowest objective."""
    best_id = None if summary is None else summary.best_trial
    if best_id is not None and str(best_id) == BASELINE_ID:
        return None if baseline is None else (baseline_x, baseline, BASELINE_ID)
    for row, x, y in zip(rows, numbers, objectives):
        if best_id is not None and str(row.get("trial_id")) == str(best_id) and y is not None:
            return x, y, str(best_id)
    scored = [(y, x, str(row.get("trial_id"))) for row, x, y in zip(rows, numbers, objectives) if y is not None]
    if not scored:
        return None
    y, x, trial_id = min(scored)
    return x, y, trial_id


__all__ = ["ALT_TEXT", "KIND_STYLE", "history_figure", "trial_kind", "trial_numbers"]
