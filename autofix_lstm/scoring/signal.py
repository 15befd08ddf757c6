"""The signal probe: do fast scikit-learn models find signal in the same windows?

Before anything says "the data may hold no signal", a linear model and a gradient-boosted tree
model are fit on the flattened windows (the same time-ordered split the search uses, inputs
standardised on the training part) and judged against the same constant baseline and margin as
every LSTM candidate (``objective.beats_constant``). If either beats the constant, the data holds
signal that the LSTM search did not find; only when none does may a verdict blame the data.

The probe is bounded so it stays a small fraction of one training: at most ``MAX_ROWS`` training
windows (the most recent ones) and ``MAX_COLUMNS`` flattened inputs (the most recent timesteps).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from autofix_lstm.scoring.metrics import classification_metrics, regression_metrics
from autofix_lstm.scoring.objective import beats_constant

MAX_ROWS = 20_000
MAX_COLUMNS = 2_000
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
    seconds: float
    rows: int
    models: list[ProbeModel] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for summary.json and diagnosis.json."""
        return asdict(self)

    def sentence(self) -> str:
        """The probe's result for a person, e.g. "a gradient-boosted model on the same windows reaches r2 0.81"."""
        name = {"linear": "a linear model", "gradient_boosting": "a gradient-boosted model"}[self.model]
        metric = self.metric.replace("_", " ")
        value = "-" if self.value is None else f"{self.value:.2f}"
        constant = f"{self.constant:.2f}"
        return f"{name} on the same windows reaches {metric} {value} (a constant: {constant})"


def _flat(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    flat = x.reshape(len(x), -1)
    if flat.shape[1] > MAX_COLUMNS:
        flat = flat[:, -MAX_COLUMNS:]  # the most recent timesteps
    return np.nan_to_num(flat, nan=0.0, posinf=0.0, neginf=0.0)


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
    x_train, x_val = _flat(dataset.x_train), _flat(dataset.x_val)
    y_train, y_val = np.asarray(dataset.y_train), np.asarray(dataset.y_val)
    if len(x_train) > MAX_ROWS:
        x_train, y_train = x_train[-MAX_ROWS:], y_train[-MAX_ROWS:]
    regression = dataset.task == "regression"
    if regression:
        candidates = {
            "linear": make_pipeline(StandardScaler(), Ridge(alpha=1.0)),
            "gradient_boosting": HistGradientBoostingRegressor(max_iter=TREE_ITERATIONS, random_state=seed),
        }
        persistence = dataset.last_observed(dataset.x_val) if dataset.persistence_applies else None
    else:
        candidates = {
            "linear": make_pipeline(StandardScaler(), LogisticRegression(max_iter=300, class_weight="balanced")),
            "gradient_boosting": HistGradientBoostingClassifier(
                max_iter=TREE_ITERATIONS, random_state=seed, class_weight="balanced"
            ),
        }
    results: list[tuple[ProbeModel, dict]] = []
    for name, model in candidates.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter on tiny or degenerate data
            try:
                model.fit(x_train, y_train.astype(np.float64) if regression else y_train.astype(int))
            except ValueError:
                continue  # e.g. a single class in the training part
            if regression:
                metrics = regression_metrics(y_val, model.predict(x_val), y_train, persistence)
            else:
                metrics = classification_metrics(
                    y_val, _proba(model, x_val, dataset.n_classes), y_train, dataset.n_classes
                )
        metric = "r2" if regression else "balanced_accuracy"
        results.append((ProbeModel(name, metric, metrics.get(metric), bool(beats_constant(metrics))), metrics))
    metric = "r2" if regression else "balanced_accuracy"
    if not results:
        return SignalProbe("linear", metric, None, 0.0, False, time.perf_counter() - started, len(x_train))
    best, best_metrics = max(results, key=lambda item: -np.inf if item[0].value is None else item[0].value)
    constant = 0.0 if regression else float(best_metrics["majority_balanced_accuracy"])
    return SignalProbe(
        model=best.model, metric=metric, value=best.value, constant=constant,
        beats_constant=any(m.beats_constant for m, _ in results), seconds=time.perf_counter() - started,
        rows=len(x_train), models=[m for m, _ in results],
    )


def _proba(model, x: np.ndarray, n_classes: int) -> np.ndarray:
    """Class probabilities over all ``n_classes`` (a class absent from training gets probability 0)."""
    proba = model.predict_proba(x)
    classes = list(model.classes_)
    out = np.zeros((len(x), n_classes))
    for column, label in enumerate(classes):
        out[:, int(label)] = proba[:, column]
    return out
