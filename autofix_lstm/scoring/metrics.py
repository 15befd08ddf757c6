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

import dataclasses
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autofix_lstm.run_dir import jsonable

COLLAPSE_STD_RATIO = 0.1
_PROB_EPS = 1e-7

# The keys a task's metrics always carry, in the order the JSON files have always had them.
REGRESSION_KEYS = ("task", "n_val", "nan", "constant_mse", "persistence_mse", "std_ratio", "mse", "mae", "r2",
                   "collapsed")
CLASSIFICATION_KEYS = ("task", "n_val", "nan", "majority_accuracy", "majority_balanced_accuracy", "majority_macro_f1",
                       "prior_log_loss", "std_ratio", "accuracy", "balanced_accuracy", "macro_f1",
                       "distinct_predictions", "log_loss", "collapsed")
# Keys written only when set: how the training went, rather than what its predictions scored.
OPTIONAL_KEYS = ("loss_diverged", "collapse_checks_on", "message", "step_std_ratio", "per_step", "rollout_steps",
                 "per_target")


@dataclass(frozen=True)
class Metrics:
    """What one trained model scored on the validation part, in the target's ORIGINAL units.

    The one shape every reader takes (the objective, the verdicts, the diagnosis, trials.csv, the
    report), like Optuna's ``FrozenTrial`` values: read its attributes, never string keys. A
    regression fills ``mse``/``mae``/``r2`` and the constant and persistence errors; a classifier
    the accuracies, ``log_loss`` and the majority/prior baselines. ``to_dict``/``from_dict`` keep the
    JSON keys the record files have always had (``REGRESSION_KEYS``/``CLASSIFICATION_KEYS``);
    keys this version does not know are kept in ``extra`` and written back.
    """

    task: str
    n_val: int = 0
    nan: bool = False  # NaN/inf predictions
    std_ratio: float | None = None
    collapsed: bool = True
    # regression
    mse: float | None = None
    mae: float | None = None
    r2: float | None = None
    constant_mse: float | None = None  # always predicting the training mean
    persistence_mse: float | None = None  # repeating the last observed value (None: it does not apply)
    # classification
    accuracy: float | None = None
    balanced_accuracy: float | None = None
    macro_f1: float | None = None
    distinct_predictions: int | None = None
    log_loss: float | None = None
    majority_accuracy: float | None = None
    majority_balanced_accuracy: float | None = None
    majority_macro_f1: float | None = None
    prior_log_loss: float | None = None
    # how the training went
    loss_diverged: bool | None = None  # the training loss went NaN/inf (None: not a training's metrics)
    collapse_checks_on: str | None = None  # the validation sample the per-epoch collapse checks used
    message: str | None = None  # why a training failed, where it did
    # a multi-step forecast: how it varies across its steps against the truth, and each step's own numbers
    step_std_ratio: float | None = None
    per_step: list[dict[str, Any]] | None = None
    rollout_steps: int | None = None  # a one-step model rolled out this many steps (``data.rollout``)
    per_target: list[dict[str, Any]] | None = None  # several targets (``target: [a, b]``): each one's numbers
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know

    @property
    def is_regression(self) -> bool:
        """True for a regression model's metrics."""
        return self.task == "regression"

    @property
    def quality(self) -> float | None:
        """The number users judge the model on: r2 for a regression, balanced accuracy for a classifier."""
        return self.r2 if self.is_regression else self.balanced_accuracy

    @property
    def quality_label(self) -> str:
        """The name of ``quality``: "r2" or "balanced accuracy"."""
        return "r2" if self.is_regression else "balanced accuracy"

    def keys(self) -> tuple[str, ...]:
        """The keys ``to_dict`` writes, in order."""
        base = REGRESSION_KEYS if self.is_regression else CLASSIFICATION_KEYS
        return base + tuple(k for k in OPTIONAL_KEYS if getattr(self, k) is not None)

    def subset(self, names: tuple[str, ...]) -> dict[str, Any]:
        """The named values this task's metrics carry (a table's row, a finding's evidence), in ``names``' order."""
        carried = set(self.keys())
        return {name: getattr(self, name) for name in names if name in carried}

    # Read-only mapping access, for the users' code that indexed the dict these metrics used to be
    # (``result.best["r2"]``, ``train(...).metrics["collapsed"]``); the package itself reads attributes
    # (tests/test_architecture.py checks it).
    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __contains__(self, key: object) -> bool:
        return key in self.to_dict()

    def get(self, key: str, default: Any = None) -> Any:
        """The value under its JSON key, or ``default`` (as a dict's ``get``)."""
        return self.to_dict().get(key, default)

    def to_dict(self) -> dict[str, Any]:
        """The metrics as JSON-able data, with the keys the record files have always had."""
        out = {key: getattr(self, key) for key in self.keys()}
        out.update(self.extra)
        return jsonable(out)

    def with_training(self, **changes: Any) -> Metrics:
        """A copy with ``loss_diverged``/``collapse_checks_on`` (what the training adds) set."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | Metrics) -> Metrics:
        """Metrics from their JSON data (a ``Metrics`` is returned as it is).

        Raises:
            TypeError: ``raw`` is not a dict, or has no ``task``.
        """
        if isinstance(raw, Metrics):
            return raw
        if not isinstance(raw, dict) or "task" not in raw:
            raise TypeError(f"metrics must be a dict with a 'task'; got {type(raw).__name__}")
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        values = {k: v for k, v in raw.items() if k in known}
        extra = {k: v for k, v in raw.items() if k not in known}
        return cls(**values, extra=extra)

    @classmethod
    def failed(cls, task: str, message: str) -> Metrics:
        """The metrics of a training that could not run: NaN, collapsed, with its reason."""
        return cls(task=task, nan=True, collapsed=True, message=message)


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
    rollout: bool = False,
    targets: tuple[str, ...] | None = None,
) -> Metrics:
    """Metrics of a regression model; ``persistence`` is the last observed value per sample, if it applies.

    A multi-step forecast (``y_val`` of shape (samples, steps)) is measured over all its steps: ``mse``,
    ``mae`` and ``r2`` over every value (r2 against each step's own mean), ``std_ratio`` from each
    step's spread across samples, persistence as the last observed value repeated for every step.
    It is collapsed when it is the same for every sample, or when it is flat across its steps where the
    truth is not (``step_std_ratio`` below the floor); ``per_step`` holds each step's own numbers. A
    one-value prediction per sample on such a target is read as that value for every step. A one-step
    model's ``rollout`` is also collapsed when its last step is (its predictions converged to the same
    value whatever came before); ``rollout_steps`` says how many steps were rolled out.

    Several ``targets`` (the columns of a 2-D ``y_val``, each its own quantity; ``persistence`` then one
    column each): ``r2`` is the mean of each target's own r2 and ``std_ratio`` the weakest target's
    (an output constant on any target is collapsed on it); ``mse``/``mae`` stay over every value in
    original units; ``per_target`` holds each target's numbers.
    """
    # Imported here: the Metrics type itself is read by the CLI before anything trains.
    from sklearn.dummy import DummyRegressor
    from sklearn.metrics import mean_absolute_error, mean_squared_error

    y_val = np.asarray(y_val, dtype=np.float64)
    y_train = np.asarray(y_train, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    steps = y_val.shape[1] if y_val.ndim == 2 else 0
    pred = np.broadcast_to(pred.reshape(len(pred), -1), y_val.shape) if steps else pred.reshape(-1)
    if persistence is not None:
        persistence = np.asarray(persistence, dtype=np.float64)
        if steps and persistence.ndim == 1:  # one last observed value per sample, repeated for every step
            persistence = np.repeat(persistence.reshape(-1, 1), steps, axis=1)
    constant = DummyRegressor(strategy="mean").fit(np.zeros((len(y_train), 1)), y_train)
    constant_mse = float(mean_squared_error(y_val, constant.predict(np.zeros((len(y_val), 1)))))
    variance = float(np.mean(np.var(y_val, axis=0)))
    out = {
        "task": "regression",
        "n_val": int(len(y_val)),
        "nan": not _finite(pred),
        "constant_mse": constant_mse,
        "persistence_mse": None if persistence is None else float(mean_squared_error(y_val, persistence)),
    }
    if out["nan"]:
        out.update(std_ratio=None, mse=None, mae=None, r2=None, collapsed=True)
        return _finished(out)
    mse = float(mean_squared_error(y_val, pred))
    out.update(
        std_ratio=_spread_ratio(pred, y_val, y_train),
        mse=mse,
        mae=float(mean_absolute_error(y_val, pred)),
        r2=1.0 - mse / variance if variance > 0 else 0.0,
    )
    out["collapsed"] = out["std_ratio"] < min_std_ratio
    if targets:
        out["per_target"] = [
            _step_metrics({"target": name}, y_val[:, k], pred[:, k], y_train[:, k],
                          None if persistence is None else persistence[:, k])
            for k, name in enumerate(targets)
        ]
        out["r2"] = float(np.mean([entry["r2"] for entry in out["per_target"]]))
        out["std_ratio"] = float(min(entry["std_ratio"] for entry in out["per_target"]))
        out["collapsed"] = out["std_ratio"] < min_std_ratio
    elif steps:
        flat = _flatness_ratio(pred, y_val)
        out["step_std_ratio"] = flat
        out["collapsed"] = out["collapsed"] or (flat is not None and flat < min_std_ratio)
        out["per_step"] = [
            _step_metrics({"step": k + 1}, y_val[:, k], pred[:, k], y_train[:, k],
                          None if persistence is None else persistence[:, k])
            for k in range(steps)
        ]
        if rollout:
            out["rollout_steps"] = steps
            out["collapsed"] = out["collapsed"] or out["per_step"][-1]["std_ratio"] < min_std_ratio
    return _finished(out)


def _spread_ratio(pred: np.ndarray, truth: np.ndarray, reference: np.ndarray) -> float:
    """``_std_ratio`` of one target, or of a forecast's steps together: their spreads across samples, summed."""
    if truth.ndim == 1:
        return _std_ratio(pred, truth, reference)
    truth_std = float(np.sum(np.std(truth, axis=0)))
    if truth_std <= 0:
        truth_std = float(np.sum(np.std(reference, axis=0)))
    return float(np.sum(np.std(pred, axis=0))) / truth_std if truth_std > 0 else 0.0


def _flatness_ratio(pred: np.ndarray, truth: np.ndarray) -> float | None:
    """How much a forecast varies across its steps against how much the truth does (mean spread within a
    sample's steps); None when the truth does not vary across steps either."""
    truth_std = float(np.mean(np.std(truth, axis=1)))
    if truth_std <= 0:
        return None
    return float(np.mean(np.std(pred, axis=1))) / truth_std


def _step_metrics(label: dict[str, Any], truth: np.ndarray, pred: np.ndarray, train: np.ndarray,
                  persistence: np.ndarray | None) -> dict[str, Any]:
    """One forecast step's (or target's) numbers after its ``label`` (``{"step": 1}``, ``{"target": "a"}``):
    mse, mae, r2, std_ratio, persistence_mse."""
    mse = float(np.mean((truth - pred) ** 2))
    variance = float(np.var(truth))
    return {
        **label,
        "mse": mse,
        "mae": float(np.mean(np.abs(truth - pred))),
        "r2": 1.0 - mse / variance if variance > 0 else 0.0,
        "std_ratio": _std_ratio(pred, truth, train),
        "persistence_mse": None if persistence is None else float(np.mean((truth - persistence) ** 2)),
    }


def _finished(values: dict[str, Any]) -> Metrics:
    """The computed values as ``Metrics``, NaN/inf floats as None (as the JSON files hold them).

    A spread that overflowed (finite but huge predictions) is no spread to judge: collapsed, as
    ``is_collapsed`` reads a missing ``std_ratio``.
    """
    values = jsonable(values)
    if values["std_ratio"] is None:
        values["collapsed"] = True
    return Metrics(**values)


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
) -> Metrics:
    """Metrics of a classifier from its (samples, n_classes) probabilities and integer labels."""
    with warnings.catch_warnings():
        # scikit-learn warns when a class is absent from this validation part; the numbers are still right
        warnings.simplefilter("ignore", UserWarning)
        return _classification_metrics(y_val, proba, y_train, n_classes, min_std_ratio)


def _classification_metrics(y_val, proba, y_train, n_classes: int, min_std_ratio: float) -> Metrics:
    from sklearn.dummy import DummyClassifier
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, log_loss

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
        return _finished(out)
    predicted = np.argmax(proba, axis=1)
    score = proba[:, 1] if n_classes == 2 else predicted
    truth = y_val if n_classes == 2 else y_val.astype(np.float64)
    # A head as wide as the classes, or not (a 3-way softmax on 2 classes: the diagnosis explains it):
    # the log loss over every column the head has and every class there is, absent ones at ~0.
    width = max(proba.shape[1], n_classes)
    clipped = np.full((len(proba), width), _PROB_EPS)
    clipped[:, : proba.shape[1]] = np.clip(proba, _PROB_EPS, 1.0)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    out.update(
        std_ratio=_std_ratio(score, truth, y_train),
        accuracy=float(accuracy_score(y_val, predicted)),
        balanced_accuracy=float(balanced_accuracy_score(y_val, predicted)),
        macro_f1=float(f1_score(y_val, predicted, labels=labels, average="macro", zero_division=0)),
        distinct_predictions=int(len(np.unique(predicted))),
        log_loss=float(log_loss(y_val, clipped, labels=list(range(width)))),
    )
    out["collapsed"] = out["distinct_predictions"] < 2 or out["std_ratio"] < min_std_ratio
    return _finished(out)


def is_collapsed(metrics: Metrics, min_std_ratio: float = COLLAPSE_STD_RATIO) -> bool:
    """Collapse verdict with a custom floor (the search's ``min_std_ratio``)."""
    if metrics.nan or metrics.std_ratio is None:
        return True
    if not metrics.is_regression and metrics.distinct_predictions is not None and metrics.distinct_predictions < 2:
        return True
    flat = metrics.step_std_ratio is not None and metrics.step_std_ratio < min_std_ratio  # a flat forecast
    converged = bool(metrics.rollout_steps and metrics.per_step) and metrics.per_step[-1]["std_ratio"] < min_std_ratio
    return metrics.std_ratio < min_std_ratio or flat or converged
