"""The three ways of searching a case, on the same space, budget and seeds.

* ``autofix``: ``autofix_lstm.tuning.driver`` (diagnosis-guided seeds, collapse pruning, the tiered
  objective in original units).
* ``keras_tuner``: plain Keras Tuner ``RandomSearchOracle`` over the same space, objective
  ``val_loss`` (the model's own loss on the validation part, in whatever units its target
  scaling produces), no pruning, no diagnosis, Keras Tuner's defaults otherwise.
* ``optuna``: Optuna's TPE sampler over the same space, objective ``val_loss``, no pruning.

The runner does not trust any method's own verdict: every trial's validation predictions are
measured here, in original units, with one definition of a fix (``autofix_lstm.scoring.objective.is_fix``),
and the final verdict is computed from the method's saved best model. Metrics are judged as ``Metrics``
and written into the results as ``Metrics.to_dict()`` (the keys the record files have).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import keras
import keras_tuner as kt
import numpy as np

from autofix_lstm.data.dataset import Dataset, load_dataset
from autofix_lstm.errors import AutofixError
from autofix_lstm.modeling.evaluate import measure, validation_predictions
from autofix_lstm.modeling.train import export_model, fit_prepared, prepare
from autofix_lstm.remedies.strategies import resolve_strategies
from autofix_lstm.run_dir import RunDir, save_model
from autofix_lstm.scoring.metrics import Metrics
from autofix_lstm.scoring.objective import beats_persistence, is_fix, score
from autofix_lstm.spec import Spec, load_spec
from autofix_lstm.tuning.confirmation import CONFIRM_SEEDS
from autofix_lstm.tuning.records import TrialRecord
from autofix_lstm.tuning.space import SearchSpace, build_space


@dataclass
class MethodRun:
    """What one method did on one case: per-trial measurements and its chosen best."""

    method: str
    trials: list[dict] = field(default_factory=list)  # each: values, own objective, metrics (JSON), fix, elapsed
    best_model_path: Path | None = None
    best_spec: Spec | None = None
    total_seconds: float = 0.0
    stopped: str | None = None  # why the method ended its search before the budget, if it did

    def first_fix(self) -> tuple[int | None, float | None]:
        """1-based trial index and elapsed seconds at the end of the first trial that is a fix."""
        for index, trial in enumerate(self.trials, start=1):
            if trial["fix"]:
                return index, trial["elapsed"]
        return None, None


def _val_loss(history: dict) -> float:
    values = [v for v in history.get("val_loss", []) if v is not None and math.isfinite(v)]
    return min(values) if values else float("nan")


class _PlainRunner:
    """Trains a candidate like a plain Keras user: full epochs, no pruning; reports val_loss."""

    def __init__(self, spec: Spec, dataset: Dataset, space: SearchSpace, out: Path, run: MethodRun, clock):
        self.spec, self.dataset, self.space, self.out, self.run_record, self.clock = spec, dataset, space, out, run, clock
        self.best_loss = math.inf

    def train(self, values: dict) -> float:
        min_ratio = self.spec.search.min_std_ratio
        try:
            candidate = self.space.spec_for(self.spec, values)
            prepared = prepare(candidate, self.dataset)
            outcome = fit_prepared(candidate, prepared, min_std_ratio=min_ratio)
        except (AutofixError, ValueError) as err:
            self.run_record.trials.append({"values": self.space.decode(values), "objective": None, "metrics": {},
                                           "fix": False, "elapsed": self.clock(), "error": str(err)[:300]})
            return float("nan")
        loss = _val_loss(outcome.history)
        self.run_record.trials.append({
            "values": self.space.decode(values), "objective": loss, "metrics": outcome.metrics.to_dict(),
            "fix": is_fix(outcome.metrics, min_ratio), "elapsed": self.clock(),
        })
        if math.isfinite(loss) and loss < self.best_loss:
            self.best_loss = loss
            save_model(export_model(outcome.core, prepared), self.out / "best_model.keras")
            self.run_record.best_model_path = self.out / "best_model.keras"
            self.run_record.best_spec = candidate
        return loss

    # Keras Tuner runner interface
    def run(self, trial) -> dict:
        loss = self.train(dict(trial.hyperparameters.values))
        if not math.isfinite(loss):
            raise kt.errors.FailedTrialError("NaN val_loss or a failed build")
        return {"val_loss": loss}

    def trial_ended(self, trial) -> None:
        pass


def _space(spec: Spec, dataset: Dataset) -> SearchSpace:
    return build_space(spec, dataset, resolve_strategies(spec.search.strategies, spec.base_dir))


def run_autofix(spec: Spec, out: Path) -> MethodRun:
    """autofix-lstm's own search; per-trial numbers are re-read from its trial records."""
    from autofix_lstm.api import search

    started = time.perf_counter()
    result = search(spec.updated({"output": str(out)}), fresh=True, progress=False)  # report included, as users get it
    run = MethodRun("autofix", total_seconds=time.perf_counter() - started)
    folder = RunDir(out)
    baseline = TrialRecord.load(folder.baseline)
    min_ratio = spec.search.min_std_ratio
    # The spec as written is a candidate of autofix's search too: it counts as trial 0 when it is a fix.
    if baseline.metrics is not None and is_fix(baseline.metrics, min_ratio):
        run.trials.append({"values": {}, "objective": baseline.score, "metrics": baseline.metrics.to_dict(),
                           "fix": True, "elapsed": baseline.elapsed_at_end, "baseline": True})
    for record in result.records:  # in the tuner's start order
        metrics = record.metrics
        run.trials.append({
            "values": record.values, "objective": record.score, "metrics": {} if metrics is None else metrics.to_dict(),
            "fix": metrics is not None and not metrics.nan and is_fix(metrics, min_ratio),
            "elapsed": record.elapsed_at_end, "status": record.status.value,
        })
    run.best_model_path = folder.best_model
    run.best_spec = result.best_spec
    return run


def run_keras_tuner(spec: Spec, out: Path) -> MethodRun:
    """Plain Keras Tuner RandomSearch over the same space, objective val_loss."""
    from autofix_lstm.tuning.oracles import AutofixTuner

    dataset = load_dataset(spec)
    space = _space(spec, dataset)
    run = MethodRun("keras_tuner")
    started = time.perf_counter()
    runner = _PlainRunner(spec, dataset, space, out, run, lambda: time.perf_counter() - started)
    oracle = kt.oracles.RandomSearchOracle(
        objective=kt.Objective("val_loss", "min"), max_trials=spec.search.max_trials,
        hyperparameters=space.hyperparameters, seed=spec.train.seed + 1,
    )
    tuner = AutofixTuner(oracle, runner, directory=str(out), project_name="keras_tuner", overwrite=True)
    try:
        tuner.search(verbose=0)
    except RuntimeError as err:  # Keras Tuner's default: stop after 3 consecutive failed trials
        run.stopped = str(err).splitlines()[0][:200]
    run.total_seconds = time.perf_counter() - started
    return run


def run_optuna(spec: Spec, out: Path) -> MethodRun:
    """Optuna TPE over the same space, objective val_loss."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dataset = load_dataset(spec)
    space = _space(spec, dataset)
    run = MethodRun("optuna")
    started = time.perf_counter()
    runner = _PlainRunner(spec, dataset, space, out, run, lambda: time.perf_counter() - started)

    def objective(trial: optuna.Trial) -> float:
        values = {}
        for hp in space.hyperparameters.space:
            if hp.name in space.choices:
                values[hp.name] = trial.suggest_categorical(hp.name, list(space.choices[hp.name]))
            else:
                values[hp.name] = trial.suggest_float(hp.name, hp.min_value, hp.max_value, log=hp.sampling == "log")
        loss = runner.train(values)
        return loss if math.isfinite(loss) else float("nan")

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=spec.train.seed))
    study.optimize(objective, n_trials=spec.search.max_trials, catch=(Exception,))
    run.total_seconds = time.perf_counter() - started
    return run


METHODS = {"autofix": run_autofix, "keras_tuner": run_keras_tuner, "optuna": run_optuna}


class _Unchanged:
    """The input and target transforms of a saved model, which scales and inverts inside itself."""

    @staticmethod
    def apply(x_raw: np.ndarray) -> np.ndarray:
        return x_raw

    @staticmethod
    def invert(out: np.ndarray, x_raw: np.ndarray) -> np.ndarray:
        return out


def verify(run: MethodRun, spec: Spec) -> dict:
    """The runner's own verdict: load the method's saved best model and measure its predictions."""
    dataset = load_dataset(spec)
    if run.best_model_path is None or not run.best_model_path.is_file():
        return {"fixed": False, "metrics": None, "beats_persistence": None}
    model = keras.saving.load_model(run.best_model_path)
    # Judged the way every trial was (``validation_predictions``): every step or target of a forecast, and
    # with data.rollout the roll-out, not one step. The saved model takes raw windows and gives original
    # units, so there is no scaling to apply or invert.
    prepared = SimpleNamespace(dataset=dataset, inputs=_Unchanged(), target=_Unchanged())
    raw = validation_predictions(model, prepared)
    metrics = measure(prepared, raw, min_std_ratio=spec.search.min_std_ratio)
    return {
        "fixed": is_fix(metrics, spec.search.min_std_ratio),
        "metrics": metrics.to_dict(),
        "beats_persistence": beats_persistence(metrics),
    }


def floor_seconds(best_spec: Spec | None, dataset_spec: Spec) -> float | None:
    """Seconds for ONE training of the final configuration: no search can fix a model faster."""
    if best_spec is None:
        return None
    dataset = load_dataset(dataset_spec)
    started = time.perf_counter()
    fit_prepared(best_spec, prepare(best_spec, dataset))
    return time.perf_counter() - started


def common_score(metrics: Metrics | dict | None, spec: Spec) -> float | None:
    """autofix-lstm's tiered objective for a trial's metrics (lower is better), whichever method ran it.

    ``metrics`` as a trial here holds them (``Metrics.to_dict()``; empty when it failed) or a ``Metrics``.
    The peers optimise their own ``val_loss``; the anytime curves compare every method on this one
    scale, computed here from the measured metrics.
    """
    if not metrics:
        return None
    value = score(Metrics.from_dict(metrics), spec.search.min_std_ratio)
    return value if math.isfinite(value) else None


def _train_and_measure(candidate: Spec, dataset: Dataset) -> tuple[Metrics, float]:
    started = time.perf_counter()
    outcome = fit_prepared(candidate, prepare(candidate, dataset), min_std_ratio=candidate.search.min_std_ratio)
    return outcome.metrics, time.perf_counter() - started


def seed_check(best_spec: Spec | None, spec: Spec) -> list[dict]:
    """Train a method's best configuration with autofix's extra confirmation seeds: is it a fix on each?"""
    if best_spec is None:
        return []
    dataset = load_dataset(spec)
    runs = []
    for offset in range(1, CONFIRM_SEEDS + 1):
        seed = spec.train.seed + offset
        metrics, seconds = _train_and_measure(best_spec.updated({"train.seed": seed}), dataset)
        runs.append({"seed": seed, "fix": is_fix(metrics, spec.search.min_std_ratio), "seconds": seconds,
                     "metrics": metrics.to_dict()})
    return runs


def train_reference(reference_fix: Path, spec: Spec) -> dict:
    """One training of the case's hand-written reference fix, with the run's epochs and seed."""
    reference = load_spec(reference_fix).updated({"train.epochs": spec.train.epochs, "train.seed": spec.train.seed})
    metrics, seconds = _train_and_measure(reference, load_dataset(reference))
    return {"metrics": metrics.to_dict(), "seconds": seconds, "fix": is_fix(metrics, spec.search.min_std_ratio),
            "beats_persistence": beats_persistence(metrics)}
