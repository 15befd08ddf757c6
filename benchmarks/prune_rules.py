"""The pruning looks a full training would have had, and what other pruning rules would have decided.

``PruneWatch`` is ``CollapsePruning`` that looks but never stops: at every epoch end from the rule's
earliest epoch it measures the validation output as pruning does and records the look (spread,
collapsed, still moving), and the epoch the current rule would have pruned at. ``benchmarks.false_prunes``
trains each pruned trial in full with one; ``simulate`` replays the looks under other rules (a later
first look, a share of the planned epochs, growth since the first look) to say which trials each
rule would have spared.
"""

from __future__ import annotations

import math
from typing import Any

from autofix_lstm.modeling.callbacks import (
    NIL_SPREAD,
    RECOVERY_FACTOR,
    CollapsePruning,
    loss_still_falling,
    still_moving,
)
from autofix_lstm.scoring.metrics import is_collapsed
from autofix_lstm.scoring.objective import beats_constant


class PruneWatch(CollapsePruning):
    """Collapse pruning's looks, recorded, without stopping the training (``would_prune_at``: the rule's verdict)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.looks: list[dict[str, Any]] = []
        self.would_prune_at: int | None = None

    def __deepcopy__(self, memo):  # train_candidate copies the user's callbacks: this one must stay itself
        return self

    def on_epoch_end(self, epoch, logs=None):
        """Look as ``CollapsePruning`` looks; record it; never stop."""
        looked = self.look(epoch, logs)
        if looked is None:
            return
        done, metrics, previous = looked
        collapsed = is_collapsed(metrics, self.min_std_ratio)
        moving = still_moving(metrics, previous, self.losses, min_std_ratio=self.min_std_ratio)
        self.looks.append({"epoch": done, "std_ratio": metrics.std_ratio, "collapsed": collapsed, "moving": moving,
                           "beats_constant": bool(beats_constant(metrics)), "classifier": not metrics.is_regression,
                           "distinct": metrics.distinct_predictions, "loss": self.losses[-1]})
        if collapsed and not moving and self.would_prune_at is None:
            self.would_prune_at = done


def _moving(look: dict, previous: float | None, first: float | None, losses: list[float], min_std_ratio: float,
            cumulative: bool, loss_any_task: bool = False) -> bool:
    """``still_moving`` replayed from a recorded look (and, with ``cumulative``, growth since the first look;
    with ``loss_any_task``, a training loss still falling counts for a regression too)."""
    ratio = look["std_ratio"]
    spread = ratio is not None and ratio > NIL_SPREAD * min_std_ratio
    if spread and (previous is None or ratio > RECOVERY_FACTOR * previous):
        return True
    if cumulative and spread and first is not None and ratio > RECOVERY_FACTOR * first:
        return True
    separating = (look["distinct"] or 0) >= 2 and look["beats_constant"]
    if loss_any_task and loss_still_falling(losses):
        return True
    return look["classifier"] and (separating or loss_still_falling(losses))


def simulate(looks: list[dict], losses: list[float], *, start: int, min_std_ratio: float,
             cumulative: bool = False, loss_any_task: bool = False) -> int | None:
    """The epoch a rule would prune at, replaying ``looks`` (None: it would train in full).

    ``start``: the rule's first look (epochs before it are not looked at; the first look it makes has
    no previous one, as the search's first look has none). ``cumulative``: a spread that grew by
    ``RECOVERY_FACTOR`` since the rule's first look also counts as moving (a slow riser).
    """
    previous = first = None
    for look in looks:
        if look["epoch"] < start:
            continue
        so_far = losses[: look["epoch"]]
        if look["collapsed"] and not _moving(look, previous, first, so_far, min_std_ratio, cumulative, loss_any_task):
            return look["epoch"]
        previous = look["std_ratio"]
        first = first if first is not None else look["std_ratio"]
    return None


def rules(steps_per_epoch: int, epochs: int, after: int, min_steps: int = 30) -> dict[str, dict[str, Any]]:
    """The rules compared: the current one and candidates that prune later or on more evidence."""
    def first_epoch(steps: int, share: float = 0.0) -> int:
        return max(after, -(-steps // steps_per_epoch), math.ceil(share * epochs))

    return {
        "current": {"start": first_epoch(min_steps)},
        "min_steps_60": {"start": first_epoch(60)},
        "min_steps_100": {"start": first_epoch(100)},
        "quarter_of_epochs": {"start": first_epoch(min_steps, 0.25)},
        "growth_since_first_look": {"start": first_epoch(min_steps), "cumulative": True},
        "min_steps_60_and_growth": {"start": first_epoch(60), "cumulative": True},
        "loss_falling_any_task": {"start": first_epoch(min_steps), "loss_any_task": True},
        "loss_falling_any_task_and_min_steps_60": {"start": first_epoch(60), "loss_any_task": True},
    }


def replay(row: dict, after: int = 2) -> dict[str, int | None] | None:
    """Every compared rule replayed on one pruned trial's watched full training (``benchmarks.false_prunes``'s
    row): the epoch each would prune at (None: trained in full); None when the training was not watched."""
    full = row.get("full") or {}
    looks, losses = full.get("looks"), (full.get("history") or {}).get("loss")
    if looks is None or losses is None or not row.get("steps_per_epoch") or not row.get("epochs"):
        return None
    ratio = full.get("min_std_ratio", 0.1)
    return {name: simulate(looks, losses, start=rule["start"], min_std_ratio=ratio,
                           cumulative=rule.get("cumulative", False), loss_any_task=rule.get("loss_any_task", False))
            for name, rule in rules(row["steps_per_epoch"], row["epochs"], full.get("prune_after", after)).items()}
