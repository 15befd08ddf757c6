"""Predicting in the target's original units and measuring the predictions on the validation part.

Shared by training, the collapse pruning callback and the diagnosis, so every model is judged the
same way. ``prepared`` is a ``modeling.train.Prepared`` (the dataset with its fitted transforms).
"""

from __future__ import annotations

import keras
import numpy as np

from autofix_lstm.scoring.metrics import Metrics, class_probabilities, classification_metrics, regression_metrics


def predict_original(core: keras.Model, prepared, x_raw: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Predictions for raw windows in ORIGINAL units (regression: (n,), or (n, steps) for a multi-step
    forecast; classification: raw outputs)."""
    with np.errstate(all="ignore"):
        # Called directly rather than through model.predict: every candidate is a new model, and
        # predict would trace a new tf.function for each (slow, and TensorFlow warns about it).
        # Scaled a batch at a time: the windows may be views that a whole-array transform would copy.
        chunks = [np.asarray(core(prepared.inputs.apply(x_raw[i : i + batch_size]), training=False))
                  for i in range(0, len(x_raw), batch_size)]
        out = np.concatenate(chunks).astype(np.float64) if chunks else np.empty((0, 1))
        if prepared.dataset.task == "regression":
            values = prepared.target.invert(out, x_raw).reshape(len(x_raw), -1)
            return values if prepared.dataset.multi_step else values[:, 0]
    return out


def measure(
    prepared, raw_pred: np.ndarray, *, min_std_ratio: float | None = None
) -> Metrics:
    """The metrics of ``raw_pred`` on the validation part (NaN/inf values as None)."""
    ds = prepared.dataset
    kwargs = {} if min_std_ratio is None else {"min_std_ratio": min_std_ratio}
    if ds.task == "regression":
        persistence = ds.last_observed(ds.x_val) if ds.persistence_applies else None
        return regression_metrics(ds.y_val, raw_pred, ds.y_train, persistence, **kwargs)
    proba = class_probabilities(raw_pred, ds.n_classes)
    return classification_metrics(ds.y_val, proba, ds.y_train, ds.n_classes, **kwargs)
