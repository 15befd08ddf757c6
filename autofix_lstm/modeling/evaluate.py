"""Predicting in the target's original units and measuring the predictions on the validation part.

Shared by training, the collapse pruning callback and the diagnosis, so every model is judged the
same way. ``prepared`` is a ``modeling.train.Prepared`` (the dataset with its fitted transforms).
"""

from __future__ import annotations

import keras
import numpy as np

from autofix_lstm.modeling.stateful import predict_in_batches, static_batch_size
from autofix_lstm.scoring.metrics import Metrics, class_probabilities, classification_metrics, regression_metrics


def predict_original(core: keras.Model, prepared, x_raw: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Predictions for raw windows in ORIGINAL units (regression: (n,), or (n, steps) for a multi-step
    forecast; classification: raw outputs).

    A stateful model predicts its static batch at a time, from zero states carried from chunk to chunk
    (the last chunk padded), and its training's states are left as they were (``modeling.stateful``).
    """
    static = static_batch_size(core)
    with np.errstate(all="ignore"):
        # Called directly rather than through model.predict: every candidate is a new model, and
        # predict would trace a new tf.function for each (slow, and TensorFlow warns about it).
        # Scaled a batch at a time: the windows may be views that a whole-array transform would copy.
        if static is not None and len(x_raw):
            out = predict_in_batches(core, x_raw, prepared.inputs.apply).astype(np.float64)
        else:
            chunks = [np.asarray(core(prepared.inputs.apply(x_raw[i : i + batch_size]), training=False))
                      for i in range(0, len(x_raw), batch_size)]
            out = np.concatenate(chunks).astype(np.float64) if chunks else np.empty((0, 1))
        if prepared.dataset.task == "regression":
            values = prepared.target.invert(out, x_raw).reshape(len(x_raw), -1)
            return values if prepared.dataset.multi_output else values[:, 0]
    return out


def rollout_predictions(core: keras.Model, prepared) -> np.ndarray:
    """The one-step model rolled out ``data.rollout`` steps from each rolled-out validation sample, each
    prediction fed back as the next window's target value: (samples, steps), original units."""
    rollout, window = prepared.dataset.rollout, prepared.dataset.window
    segments = np.array(rollout.segments, dtype=np.float32, copy=True)
    out = np.empty((len(segments), rollout.steps))
    for k in range(rollout.steps):
        out[:, k] = predict_original(core, prepared, segments[:, k : k + window])
        if k + 1 < rollout.steps:  # the row this step predicted is the last row of the next step's window
            with np.errstate(all="ignore"):
                segments[:, window + k, rollout.target_index] = out[:, k].astype(np.float32)
    return out


def validation_predictions(core: keras.Model, prepared) -> np.ndarray:
    """What the validation part is judged on: the predictions for its windows, or with ``data.rollout``
    the roll-out's (``rollout_predictions``); ``measure`` takes either."""
    if prepared.dataset.rollout is not None:
        return rollout_predictions(core, prepared)
    return predict_original(core, prepared, prepared.dataset.x_val)


def measure(
    prepared, raw_pred: np.ndarray, *, min_std_ratio: float | None = None
) -> Metrics:
    """The metrics of ``raw_pred`` on the validation part (NaN/inf values as None).

    With ``data.rollout``, predictions of the roll-out's shape (``validation_predictions``) are measured
    against each step's truth, persistence repeating the last observed value; one-step predictions
    (the diagnosis' brief training) are measured as one step.
    """
    ds = prepared.dataset
    kwargs = {} if min_std_ratio is None else {"min_std_ratio": min_std_ratio}
    rollout = ds.rollout
    if rollout is not None and np.ndim(raw_pred) == 2 and np.shape(raw_pred) == rollout.targets.shape:
        train = np.repeat(np.asarray(ds.y_train, np.float64).reshape(-1, 1), rollout.steps, axis=1)
        return regression_metrics(rollout.targets, raw_pred, train, rollout.last_observed(ds.window),
                                  rollout=True, **kwargs)
    if ds.task == "regression":
        persistence = ds.last_observed(ds.x_val) if ds.persistence_applies else None
        return regression_metrics(ds.y_val, raw_pred, ds.y_train, persistence,
                                  targets=ds.target_names if ds.multi_target else None, **kwargs)
    proba = class_probabilities(raw_pred, ds.n_classes)
    return classification_metrics(ds.y_val, proba, ds.y_train, ds.n_classes, **kwargs)
