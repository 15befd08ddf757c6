"""The callbacks every training shares: stop on a NaN loss, a progress bar, and collapse pruning.

``StopOnInvalidLoss`` stops at the first NaN/inf batch loss. ``EpochProgress`` draws a rich bar.

Pruning a trial whose output is still collapsed after its first epochs:

Most broken candidates are obvious within an epoch or two: NaN, or an output that does not vary.
From epoch ``after`` on, ``CollapsePruning`` measures the validation predictions in original
units at the end of every epoch and stops training when they are NaN, or collapsed and not
recovering (``std_ratio`` grew by less than ``RECOVERY_FACTOR`` since the previous epoch). A
slowly waking model, whose output variance is still growing, is left to train.
"""

from __future__ import annotations

import math

import keras

from autofix_lstm.modeling.evaluate import measure, predict_original
from autofix_lstm.scoring.metrics import is_collapsed

RECOVERY_FACTOR = 1.25


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
    """Stop training when validation predictions stay collapsed after ``after`` epochs."""

    def __init__(self, prepared, *, after: int = 2, min_std_ratio: float = 0.1, epochs: int | None = None):
        super().__init__()
        self.prepared = prepared
        self.after = after
        self.min_std_ratio = min_std_ratio
        self.epochs = epochs
        self.pruned_at: int | None = None
        self.std_ratios: list[float | None] = []

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if done < self.after or (self.epochs is not None and done >= self.epochs):
            return
        metrics = measure(self.prepared, predict_original(self.model, self.prepared, self.prepared.dataset.x_val))
        ratio = metrics.get("std_ratio")
        previous = self.std_ratios[-1] if self.std_ratios else None
        self.std_ratios.append(ratio)
        if not is_collapsed(metrics, self.min_std_ratio):
            return
        recovering = ratio is not None and previous is not None and ratio > RECOVERY_FACTOR * previous
        first_look = previous is None and ratio is not None and ratio > 0.01 * self.min_std_ratio
        if metrics.get("nan") or not (recovering or first_look):
            self.pruned_at = done
            self.model.stop_training = True
