"""The CLI's rich tables: a model's metrics, and the spec as written against the best found."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from autofix_lstm.format import cell

if TYPE_CHECKING:
    from autofix_lstm.scoring.metrics import Metrics
    from autofix_lstm.scoring.objective import ModelState

# a model's state (scoring.objective.ModelState) -> its colour
STATE_STYLES = {"working": "bold green", "live": "bold yellow", "collapsed": "bold red", "diverged": "bold red",
                "cannot_train": "bold red"}


def metrics_table(metrics: Metrics, title: str = "validation metrics (original units)") -> Table:
    """A two-column rich table of a model's metrics."""
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.to_dict().items():
        style = "bold red" if key == "collapsed" and value else ("bold green" if key == "collapsed" else None)
        table.add_row(key, cell(value), style=style)
    return table


# metrics shown in the before/after table, by task
_BEFORE_AFTER = {
    "regression": ("std_ratio", "mse", "mae", "r2", "constant_mse", "persistence_mse"),
    "classification": ("std_ratio", "accuracy", "balanced_accuracy", "macro_f1", "distinct_predictions",
                       "majority_balanced_accuracy"),
}


def before_after_table(baseline: Metrics | None, best: Metrics | None,
                       states: tuple[ModelState | None, ModelState | None]) -> Table:
    """Baseline (the spec as written) against the best candidate, metric by metric, and each one's state.

    The ``state`` row (working, live, collapsed, diverged or cannot_train) replaces a bare ``collapsed``
    yes/no, which said "no" for a spec whose loss went NaN. A model that could not be trained has no
    metrics: its column shows "-".
    """
    table = Table(title="before / after (validation, original units)")
    table.add_column("metric")
    table.add_column("as written", justify="right")
    table.add_column("best found", justify="right")
    measured = best or baseline
    keys = _BEFORE_AFTER["regression" if measured is None or measured.is_regression else "classification"]
    before, after = (m.subset(keys) if m is not None else {} for m in (baseline, best))
    for key in keys:
        table.add_row(key, cell(before.get(key)), cell(after.get(key)))
    words = ["-" if state is None else state.value for state in states]
    table.add_row("state", *(f"[{STATE_STYLES.get(word, 'dim')}]{word}[/]" for word in words))
    return table
