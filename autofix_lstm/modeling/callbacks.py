"""The callbacks every training shares: stop on a NaN loss, a progress bar, and collapse pruning.

``StopOnInvalidLoss`` stops at the first NaN/inf batch loss. ``EpochProgress`` draws a rich bar.

``CollapsePruning`` stops a trial whose output is still collapsed after its first epochs and
shows no sign of moving: most broken candidates are obvious early (NaN, or an output that does
not vary), and their time is better spent on other candidates. ``still_moving`` is that evidence,
on its own: ``diagnosis.monitor.CollapseMonitor`` warns on a user's fit by the same judgment.
"""

from __future__ import annotations

import math

import keras

from autofix_lstm.modeling.evaluate import measure, validation_predictions
from autofix_lstm.scoring.metrics import Metrics, is_collapsed
from autofix_lstm.scoring.objective import beats_constant

RECOVERY_FACTOR = 1.25
# A spread under this share of the collapse floor is nil: an output pinned at a bound (a saturated
# sigmoid head) whose float noise may well "grow" by a quarter from one epoch to the next.
NIL_SPREAD = 0.01
MIN_STEPS = 30  # optimizer steps a trial gets before it may be pruned
LOSS_STILL_FALLING = 0.02  # a training loss that fell by more than 2% over the last epoch is still moving
# The per-epoch collapse check looks at this many validation windows at most (evenly spaced): enough
# for a stable spread, at a bounded cost however large the validation part.
COLLAPSE_CHECK_WINDOWS = 10_000


def loss_still_falling(losses: list[float | None]) -> bool:
    """The last epoch's training loss fell by more than ``LOSS_STILL_FALLING`` of the one before (None, NaN: no)."""
    if len(losses) < 2 or losses[-2] is None or losses[-1] is None:
        return False
    before, now = losses[-2], losses[-1]
    return math.isfinite(before) and math.isfinite(now) and before > 0 and (before - now) / before > LOSS_STILL_FALLING


def still_moving(metrics: Metrics, previous: float | None, losses: list[float | None], *, min_std_ratio: float) -> bool:
    """Whether a collapsed output shows a sign of moving off its constant, one epoch against the last.

    The evidence ``CollapsePruning`` spares a trial on: its spread (``std_ratio``) is not nil (above
    ``NIL_SPREAD`` of ``min_std_ratio``) and either grew by ``RECOVERY_FACTOR`` since the previous
    look (``previous``) or this is the first look; or, for a classifier, its training loss fell by
    more than ``LOSS_STILL_FALLING`` over the last epoch (``losses``: one per epoch), or it already
    predicts two or more classes and beats the majority answer's balanced accuracy. NaN predictions
    never move.
    """
    if metrics.nan:
        return False
    ratio = metrics.std_ratio
    spread = ratio is not None and ratio > NIL_SPREAD * min_std_ratio
    spread_growing = spread and previous is not None and ratio > RECOVERY_FACTOR * previous
    first_look = spread and previous is None
    classifier = not metrics.is_regression
    # A classifier whose probabilities are still bunched (a low std_ratio) but that already ranks
    # the classes better than the majority answer, on two or more predicted classes, is separating.
    separating = classifier and (metrics.distinct_predictions or 0) >= 2 and beats_constant(metrics)
    learning = classifier and loss_still_falling(losses)
    return spread_growing or first_look or separating or learning


class StopOnInvalidLoss(keras.callbacks.Callback):
    """Keras' TerminateOnNaN without its print to stdout (which broke ``--json`` output)."""

    def __init__(self):
        super().__init__()
        self.batch: int | None = None  # the batch whose loss was NaN/inf, if any

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.batch = batch
            self.model.stop_training = True


class EpochProgress(keras.callbacks.Callback):
    """A rich progress bar over epochs, showing the last losses."""

    def __init__(self, epochs: int, description: str = "training"):
        super().__init__()
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("{task.fields[losses]}"), transient=True,
        )
        self._task = self._progress.add_task(description, total=epochs, losses="")

    def on_train_begin(self, logs=None):
        self._progress.start()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        losses = "  ".join(f"{k} {v:.4g}" for k, v in logs.items() if "loss" in k)
        self._progress.update(self._task, advance=1, losses=losses)

    def on_train_end(self, logs=None):
        self._progress.stop()


class CollapsePruning(keras.callbacks.Callback):
    """Stop training when the validation output stays collapsed and nothing says it is still moving.

    Pruning decides on optimizer steps and evidence, not on a fixed epoch. It looks only once the
    trial has run ``after`` epochs AND at least ``MIN_STEPS`` optimizer steps (a large batch gives
    few steps an epoch), never in the last epoch, and it spares a trial whose output is still
    moving: a classifier whose training loss fell by more than ``LOSS_STILL_FALLING`` over the last
    epoch (it may predict one class for a while before it separates), a classifier that already
    predicts two or more classes and beats the majority answer's balanced accuracy (its
    probabilities are still bunched, so its ``std_ratio`` is low, but it separates), or an output
    whose spread (``std_ratio``) grew by ``RECOVERY_FACTOR`` since the previous look. NaN
    predictions are pruned at the first look. Each look measures at most ``COLLAPSE_CHECK_WINDOWS``
    validation windows, evenly spaced (``checked_windows``; the trial's metrics say so when it is a sample).
    """

    def __init__(self, prepared, *, after: int = 2, min_std_ratio: float = 0.1, epochs: int | None = None,
                 batch_size: int | None = None):
        super().__init__()
        self.prepared = prepared
        self.checked = prepared.validation_sample(COLLAPSE_CHECK_WINDOWS)
        self.checked_windows = len(self.checked.y_val)  # validation windows each look measures
        self.after = after
        self.min_std_ratio = min_std_ratio
        self.epochs = epochs
        steps = None if batch_size is None else max(1, -(-len(prepared.y_train) // int(batch_size)))
        self.steps_per_epoch = steps
        self.pruned_at: int | None = None
        self.std_ratios: list[float | None] = []
        self.losses: list[float] = []

    @property
    def earliest_epoch(self) -> int:
        """The first epoch at whose end the trial may be pruned."""
        if self.steps_per_epoch is None:
            return self.after
        return max(self.after, -(-MIN_STEPS // self.steps_per_epoch))

    def look(self, epoch, logs=None) -> tuple[int, Metrics, float | None] | None:
        """Record the epoch's training loss and, when this epoch is one pruning looks at, measure the
        validation output: ``(epochs done, its metrics, the previous look's std_ratio)``; None otherwise."""
        loss = (logs or {}).get("loss")
        self.losses.append(float(loss) if loss is not None else float("nan"))
        done = epoch + 1
        if done < self.earliest_epoch or (self.epochs is not None and done >= self.epochs):
            return None
        metrics = measure(self.checked, validation_predictions(self.model, self.checked))
        previous = self.std_ratios[-1] if self.std_ratios else None
        self.std_ratios.append(metrics.std_ratio)
        return done, metrics, previous

    def on_epoch_end(self, epoch, logs=None):
        looked = self.look(epoch, logs)
        if looked is None:
            return
        done, metrics, previous = looked
        # NaN predictions count as collapsed and never as moving: pruned at the first look.
        if is_collapsed(metrics, self.min_std_ratio) and not still_moving(
            metrics, previous, self.losses, min_std_ratio=self.min_std_ratio
        ):
            self._prune(done)

    def _prune(self, epoch: int) -> None:
        self.pruned_at = epoch
        self.model.stop_training = True
