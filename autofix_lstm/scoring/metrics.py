"""Collapse metrics on the validation part, in the target's ORIGINAL units.

``std_ratio`` is the std of the predictions over the std of the validation targets (for a binary
task: of the predicted probability of the positive class; for multiclass: of the predicted class
index). A model is ``collapsed`` when its predictions are NaN/inf, when ``std_ratio`` is below
``COLLAPSE_STD_RATIO`` (0.1: the output varies less than a tenth as much as the truth, which an
honest model on any signal it can use does not do: even r2 = 0.01 gives a ratio of about 0.1),
or when a classifier predicts a single class. When the validation targets happen to be constant
(a short validation part, a rare class), the ratio is taken against the TRAINING targets' std
instead, so that a varying model is not called collapsed for want of a reference.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
)

from autofix_lstm.run_dir import jsonable

COLLAPSE_STD_RATIO = 0.1
_PROB_EPS = 1e-7


def _std_ratio(pred: np.ndarray, truth: np.ndarray, reference: np.ndarray | None = None) -> float:
    truth_std = float(np.std(truth))
    if truth_std <= 0 and reference is not None:
        truth_std = float(np.std(np.asarray(reference, dtype=np.float64)))
    return float(np.std(pred)) / truth_std if truth_std > 0 else 0.0


def _finite(values: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(values)))


def regression_metrics(
    y_val: np.ndarray,
    pred: np.ndarray,
    y_train: np.ndarray,
    persistence: np.ndarray | None = None,
    *,
    min_std_ratio: float = COLLAPSE_STD_RATIO,
) -> dict:
    """Metrics of a regression model; ``persistence`` is the last observed value per sample, if it applies."""
    y_val = np.asarray(y_val, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64).reshape(-1)
    constant = DummyRegressor(strategy="mean").fit(np.zeros((len(y_train), 1)), y_train)
    constant_mse = float(mean_squared_error(y_val, constant.predict(np.zeros((len(y_val), 1)))))
    variance = float(np.var(y_val))
    out = {
        "task": "regression",
        "n_val": int(len(y_val)),
        "nan": not _finite(pred),
        "constant_mse": constant_mse,
        "persistence_mse": None if persistence is None else float(mean_squared_error(y_val, persistence)),
    }
    if out["nan"]:
        out.update(std_ratio=None, mse=None, mae=None, r2=None, collapsed=True)
        return out
    mse = float(mean_squared_error(y_val, pred))
    out.update(
        std_ratio=_std_ratio(pred, y_val, y_train),
        mse=mse,
        mae=float(mean_absolute_error(y_val, pred)),
        r2=1.0 - mse / variance if variance > 0 else 0.0,
    )
    out["collapsed"] = out["std_ratio"] < min_std_ratio
    return out


def class_probabilities(raw: np.ndarray, n_classes: int) -> np.ndarray:
    """Model outputs as (samples, n_classes) probabilities: one unit is P(class 1), K units are as given.

    A single output unit on a multiclass task is read as a class index (rounded and clipped).
    """
    raw = np.asarray(raw, dtype=np.float64)
    raw = raw.reshape(len(raw), -1)
    if raw.shape[1] == 1:
        if n_classes == 2:
            p = raw[:, 0]
            return np.stack([1.0 - p, p], axis=1)
        index = np.clip(np.rint(np.nan_to_num(raw[:, 0])), 0, n_classes - 1).astype(int)
        out = np.zeros((len(raw), n_classes))
        out[np.arange(len(raw)), index] = 1.0
        out[~np.isfinite(raw[:, 0])] = np.nan
        return out
    return raw


def classification_metrics(
    y_val: np.ndarray,
    proba: np.ndarray,
    y_train: np.ndarray,
    n_classes: int,
    *,
    min_std_ratio: float = COLLAPSE_STD_RATIO,
) -> dict:
    """Metrics of a classifier from its (samples, n_classes) probabilities and integer labels."""
    with warnings.catch_warnings():
        # scikit-learn warns when a class is absent from this validation part; the numbers are still right
        warnings.simplefilter("ignore", UserWarning)
        return _classification_metrics(y_val, proba, y_train, n_classes, min_std_ratio)


def _classification_metrics(y_val, proba, y_train, n_classes: int, min_std_ratio: float) -> dict:
    y_val = np.asarray(y_val, dtype=np.int64)
    labels = list(range(n_classes))
    zeros_train, zeros_val = np.zeros((len(y_train), 1)), np.zeros((len(y_val), 1))
    majority = DummyClassifier(strategy="most_frequent").fit(zeros_train, y_train).predict(zeros_val)
    prior = DummyClassifier(strategy="prior").fit(zeros_train, y_train)
    prior_proba = np.zeros((len(y_val), n_classes))
    prior_proba[:, prior.classes_] = prior.predict_proba(zeros_val)
    out = {
        "task": "binary" if n_classes == 2 else "multiclass",
        "n_val": int(len(y_val)),
        "nan": not _finite(proba),
        "majority_accuracy": float(accuracy_score(y_val, majority)),
        "majority_balanced_accuracy": float(balanced_accuracy_score(y_val, majority)),
        "majority_macro_f1": float(f1_score(y_val, majority, labels=labels, average="macro", zero_division=0)),
        "prior_log_loss": float(log_loss(y_val, np.clip(prior_proba, _PROB_EPS, 1.0), labels=labels)),
    }
    if out["nan"]:
        out.update(std_ratio=None, accuracy=None, balanced_accuracy=None, macro_f1=None,
                   distinct_predictions=0, log_loss=None, collapsed=True)
        return out
    predicted = np.argmax(proba, axis=1)
    score = proba[:, 1] if n_classes == 2 else predicted
    truth = y_val if n_classes == 2 else y_val.astype(np.float64)
    clipped = np.clip(proba, _PROB_EPS, 1.0)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    out.update(
        std_ratio=_std_ratio(score, truth, y_train),
        accuracy=float(accuracy_score(y_val, predicted)),
        balanced_accuracy=float(balanced_accuracy_score(y_val, predicted)),
        macro_f1=float(f1_score(y_val, predicted, labels=labels, average="macro", zero_division=0)),
        distinct_predictions=int(len(np.unique(predicted))),
        log_loss=float(log_loss(y_val, clipped, labels=labels)),
    )
    out["collapsed"] = out["distinct_predictions"] < 2 or out["std_ratio"] < min_std_ratio
    return out


def is_collapsed(metrics: dict, min_std_ratio: float = COLLAPSE_STD_RATIO) -> bool:
    """Collapse verdict with a custom floor (the search's ``min_std_ratio``)."""
    if metrics.get("nan") or metrics.get("std_ratio") is None:
        return True
    if metrics["task"] != "regression" and metrics.get("distinct_predictions", 2) < 2:
        return True
    return metrics["std_ratio"] < min_std_ratio


def clean_for_json(metrics: dict) -> dict:
    """NaN/inf floats replaced by None so the dict is valid JSON (``run_dir.jsonable``)."""
    return jsonable(metrics)
