"""TensorBoard logs of one training: loss, val_loss and std_ratio per epoch, and the trial's values.

``TrialBoard`` is a Keras callback writing with TensorBoard's own summary writer
(``tf.summary``) and its HParams plugin (``tensorboard.plugins.hparams.api``), so
``tensorboard --logdir <output>/tensorboard`` shows every trial's curves side by side and the
HParams tab compares trials by their values. Keras' own ``TensorBoard`` callback logs the losses but
not the collapse measure (``std_ratio``) nor the values we searched, hence this small one.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import keras
import tensorflow as tf
from tensorboard.plugins.hparams import api as hp

from autofix_lstm.modeling.callbacks import COLLAPSE_CHECK_WINDOWS
from autofix_lstm.modeling.evaluate import measure, validation_predictions
from autofix_lstm.run_dir import TENSORBOARD_FILES

SCALARS = ("loss", "val_loss", "std_ratio")  # the tags written each epoch


def hparam_value(value):
    """``value`` as the HParams plugin takes it (bool, int, float or str): other values as JSON text."""
    if isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(value, sort_keys=True, default=str)


class TrialBoard(keras.callbacks.Callback):
    """Writes one training's ``SCALARS`` each epoch, and ``hparams`` once, into ``logdir``.

    ``std_ratio`` is measured on at most ``COLLAPSE_CHECK_WINDOWS`` validation windows (as collapse
    pruning measures it), in original units. Event files an earlier, interrupted run of the same
    trial left in ``logdir`` are replaced.
    """

    def __init__(self, logdir: Path, prepared, *, hparams: dict | None = None, trial_id: str | None = None):
        super().__init__()
        self.logdir = Path(logdir)
        self.checked = prepared.validation_sample(COLLAPSE_CHECK_WINDOWS)
        self.hparams = hparams
        self.trial_id = trial_id
        self._writer = None

    def on_train_begin(self, logs=None):
        if self.logdir.is_dir():
            for old in self.logdir.glob(TENSORBOARD_FILES):
                old.unlink(missing_ok=True)
        self.logdir.mkdir(parents=True, exist_ok=True)
        self._writer = tf.summary.create_file_writer(str(self.logdir))
        if self.hparams is not None:
            with self._writer.as_default():
                hp.hparams({str(k): hparam_value(v) for k, v in self.hparams.items()}, trial_id=self.trial_id)

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        metrics = measure(self.checked, validation_predictions(self.model, self.checked))
        logs["std_ratio"] = metrics.std_ratio
        with self._writer.as_default():
            for tag in SCALARS:
                value = logs.get(tag)
                if value is not None and math.isfinite(float(value)):
                    tf.summary.scalar(tag, float(value), step=epoch)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


__all__ = ["SCALARS", "TrialBoard", "hparam_value"]
