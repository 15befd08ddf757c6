"""The signal probe: do fast scikit-learn models find signal in the same windows?

Before anything says "the data may hold no signal", a linear model and a gradient-boosted tree
model are fit on the flattened windows (the same time-ordered split the search uses, inputs
standardised on the training part) and judged against the same constant baseline and margin as
every LSTM candidate (``objective.beats_constant``), on the validation part and again on an
earlier fold (the end of the training part, fit on what precedes it): a model counts only when it
beats the constant on both, so two models tried on a short validation part cannot find "signal" by luck. If either beats the constant, the data holds
signal that the LSTM search did not find; only when none does may a verdict blame the data.

The probe is bounded so it stays a small fraction of one training, in time and in memory, however
long the data and the window: at most ``MAX_COLUMNS`` flattened inputs (the most recent timesteps),
and at most ``probe_rows`` training windows (the most recent ones) and as many validation windows
(evenly spaced; ``validation_rows``): ``MAX_ROWS``, or fewer where a window flattens to more than
``MAX_VALUES / MAX_ROWS`` values, so that each flattened matrix holds at most ``MAX_VALUES`` values
(``rows`` in the record says how many were used). Only those windows are copied, once, in float32.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from autofix_lstm.scoring.metrics import Metrics, classification_metrics, regression_metrics
from autofix_lstm.scoring.objective import beats_constant

MODEL_NAMES = {"linear": "a linear model", "gradient_boosting": "a gradient-boosted model"}  # for sentences
MAX_ROWS = 20_000
MAX_COLUMNS = 2_000
# Values in each flattened matrix (20,000 windows of 300 values, e.g. 30 timesteps x 10 features): the
# probe's memory (about 35 bytes a value at its peak, in the gradient-boosted model's float64 copies)
# stays near 200 MB whatever the window, instead of growing with it up to MAX_COLUMNS.
MAX_VALUES = 6_000_000
TREE_ITERATIONS = 100


@dataclass
class ProbeModel:
    """One probe model's result on the validation part."""

    model: str  # "linear" or "gradient_boosting"
    metric: str  # "r2" or "balanced_accuracy"
    value: float | None
    beats_constant: bool


@dataclass
class SignalProbe:
    """The best probe model, the constant's score on the same metric, and every model tried.

    ``beats_constant`` is True when any probe model beats the constant baseline by the margin a
    fix needs: the data holds signal a model can use.
    """

    model: str
    metric: str
    value: float | None
    constant: float
    beats_constant: bool
    seconds: float = 0.0
    rows: int = 0  # training windows the models fitted on
    models: list[ProbeModel] = field(default_factory=list)
    validation_rows: int | None = None  # validation windows the models were judged on (a sample when large)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for summary.json and diagnosis.json."""
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | SignalProbe | None) -> SignalProbe | None:
        """The probe from its JSON data (None stays None; keys this version does not know are ignored).

        Raises:
            TypeError: ``raw`` is not a probe's data (not a dict, or a required key missing).
        """
        if raw is None or isinstance(raw, SignalProbe):
            return raw
        if not isinstance(raw, dict):
            raise TypeError(f"a signal probe is a JSON object; got {type(raw).__name__}")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known}
        values["models"] = [m if isinstance(m, ProbeModel) else ProbeModel(**m) for m in values.get("models") or []]
        return cls(**values)

    def sentence(self) -> str:
        """The probe's result for a person, e.g. "a gradient-boosted model on the same windows reaches r2 0.81"."""
        name = MODEL_NAMES[self.model]
        metric = self.metric.replace("_", " ")
        value = "-" if self.value is None else f"{self.value:.2f}"
        constant = f"{self.constant:.2f}"
        return f"{name} on the same windows reaches {metric} {value} (a constant: {constant})"


# The kept model is "far below" the probe when the probe's r2 or balanced accuracy is higher by this much.
FAR_BELOW_MARGIN = 0.2


@dataclass(frozen=True)
class ProbeGap:
    """A kept model far below the signal probe on the same windows: the metric, its value and the probe's."""

    metric: str
    kept: float
    probe: float

    def sentence(self) -> str:
        """"far below what a simple model reaches on the same windows: r2 0.23 vs 0.88"."""
        return (f"far below what a simple model reaches on the same windows: {self.metric.replace('_', ' ')} "
                f"{self.kept:.2f} vs {self.probe:.2f}")


def far_below(probe: SignalProbe | None, metrics) -> ProbeGap | None:
    """The gap when ``probe`` (which beats a constant) reaches ``FAR_BELOW_MARGIN`` more than the model whose
    validation ``metrics`` are given, on the same metric; None otherwise, and where the two are not the same
    measure (no probe value, no quality, a roll-out, which the one-step probe does not judge, or several
    targets, whose r2 is the mean of each target's where the probe's pools their columns)."""
    if probe is None or not probe.beats_constant or probe.value is None or metrics is None:
        return None
    if getattr(metrics, "rollout_steps", None) or getattr(metrics, "per_target", None):
        return None
    kept = metrics.quality
    if kept is None or not np.isfinite(kept) or probe.value - kept < FAR_BELOW_MARGIN:
        return None
    return ProbeGap(probe.metric, float(kept), float(probe.value))


def probe_rows(window: int, n_features: int) -> int:
    """Windows the probe fits on (and judges on) at most, for windows of ``window`` x ``n_features``:
    ``MAX_ROWS``, fewer for wide windows, so that a flattened matrix holds at most ``MAX_VALUES`` values."""
    columns = max(1, min(window * n_features, MAX_COLUMNS))
    return max(1, min(MAX_ROWS, MAX_VALUES // columns))


def _flat(x: np.ndarray) -> np.ndarray:
    """The windows ``x`` flattened to (windows, values), the most recent ``MAX_COLUMNS`` values of each,
    NaN/inf as 0: one float32 copy of those values only (``x`` may be views over shared rows)."""
    steps = -(-MAX_COLUMNS // max(1, x.shape[2]))  # the timesteps that hold the last MAX_COLUMNS values
    flat = np.array(x[:, -steps:], dtype=np.float32, order="C").reshape(len(x), -1)
    if flat.shape[1] > MAX_COLUMNS:
        flat = np.ascontiguousarray(flat[:, -MAX_COLUMNS:])  # the most recent timesteps
    bad = np.isfinite(flat)
    np.logical_not(bad, out=bad)
    flat[bad] = 0.0  # in place (nan_to_num's three masks would cost most of another copy)
    return flat


def probe_signal(dataset, *, seed: int = 0) -> SignalProbe:
    """Fit the probe models on ``dataset``'s windows and judge them against the constant baseline.

    Args:
        dataset: a ``data.dataset.Dataset`` (windows, targets, task, persistence).
        seed: the models' random state.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    started = time.perf_counter()
    limit = probe_rows(dataset.window, dataset.n_features)
    dataset = dataset.validation_sample(limit)
    x_train, x_val = _flat(dataset.x_train[-limit:]), _flat(dataset.x_val)
    y_train, y_val = np.asarray(dataset.y_train)[-limit:], np.asarray(dataset.y_val)
    regression = dataset.task == "regression"
    if regression:
        candidates = {
            # copy_X=False: the scaler's output is the model's own copy, centred in place (the same numbers).
            "linear": make_pipeline(StandardScaler(), Ridge(alpha=1.0, copy_X=False)),
            "gradient_boosting": HistGradientBoostingRegressor(max_iter=TREE_ITERATIONS, random_state=seed),
        }
        persistence = dataset.last_observed(dataset.x_val) if dataset.persistence_applies else None
    else:
        persistence = None
        candidates = {
            "linear": make_pipeline(StandardScaler(), LogisticRegression(max_iter=300, class_weight="balanced")),
            # Unweighted (scikit-learn's weighted binning is 10x slower); its probabilities are divided
            # by the class priors instead, which gives the same balanced decision.
            "gradient_boosting": HistGradientBoostingClassifier(max_iter=TREE_ITERATIONS, random_state=seed),
        }
    results: list[tuple[ProbeModel, Metrics]] = []
    # A second, earlier fold (the end of the training part) must agree: two models tried on a short
    # validation part can beat a constant by luck, and a false "the data holds signal" misleads.
    k = min(len(x_val), len(x_train) // 3)
    folds = [(x_train, y_train, x_val, y_val, persistence if regression else None)]
    if k >= 10:
        earlier = dataset.last_observed(dataset.x_train[-limit:])[-k:] if regression and persistence is not None else None
        folds.append((x_train[:-k], y_train[:-k], x_train[-k:], y_train[-k:], earlier))
    for name, model in candidates.items():
        fold_metrics = []
        for fit_x, fit_y, test_x, test_y, last in folds:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # convergence chatter on tiny or degenerate data
                try:
                    model.fit(fit_x, fit_y.astype(np.float64) if regression else fit_y.astype(int))
                except ValueError:
                    break  # e.g. a single class in the training part
                if regression:
                    metrics = regression_metrics(test_y, model.predict(test_x), fit_y, last)
                else:
                    balance = None if name == "linear" else fit_y
                    metrics = classification_metrics(test_y, _proba(model, test_x, dataset.n_classes, balance), fit_y,
                                                     dataset.n_classes)
            fold_metrics.append(metrics)
        if not fold_metrics:
            continue
        metric = "r2" if regression else "balanced_accuracy"
        beats = len(fold_metrics) == len(folds) and all(beats_constant(m) for m in fold_metrics)
        results.append((ProbeModel(name, metric, fold_metrics[0].quality, bool(beats)), fold_metrics[0]))
    metric = "r2" if regression else "balanced_accuracy"
    if not results:
        return SignalProbe("linear", metric, None, 0.0, False, time.perf_counter() - started, len(x_train),
                           validation_rows=len(x_val))
    best, best_metrics = max(results, key=lambda item: -np.inf if item[0].value is None else item[0].value)
    constant = 0.0 if regression else float(best_metrics.majority_balanced_accuracy or 0.0)
    return SignalProbe(
        model=best.model, metric=metric, value=best.value, constant=constant,
        beats_constant=any(m.beats_constant for m, _ in results), seconds=time.perf_counter() - started,
        rows=len(x_train), models=[m for m, _ in results], validation_rows=len(x_val),
    )


def _proba(model, x: np.ndarray, n_classes: int, balance_by: np.ndarray | None = None) -> np.ndarray:
    """Class probabilities over all ``n_classes`` (a class absent from training gets probability 0).

    With ``balance_by`` (the training labels), each class's probability is divided by its share of
    them and renormalised: the decision a class-balanced model would make.
    """
    proba = model.predict_proba(x)
    classes = list(model.classes_)
    out = np.zeros((len(x), n_classes))
    for column, label in enumerate(classes):
        out[:, int(label)] = proba[:, column]
    if balance_by is not None:
        shares = np.bincount(np.asarray(balance_by, dtype=int), minlength=n_classes) / len(balance_by)
        out = np.where(shares > 0, out / np.where(shares > 0, shares, 1.0), 0.0)
        out = out / np.clip(out.sum(axis=1, keepdims=True), 1e-12, None)
    return out
