"""The search driver: diagnose, train the baseline, let Keras Tuner explore the remedies, write the fix.

``search(spec)`` is what ``autofix-lstm search`` runs:

1. diagnose the spec (brief instrumented training) and train it as written (the baseline);
2. build the search space from the strategies and seed the first trials with the remedies the
   findings recommend; Keras Tuner's oracle explores the rest;
3. train every candidate the same way, stop it early when its output stays collapsed, and score
   it in original units (``autofix_lstm.objective``);
4. write best_spec.yaml, best_model.keras, summary.json and trials.csv into ``<output>/``.

The Keras Tuner project lives in ``<output>/tuner``: running the same search again resumes it
(finished trials are kept). The baseline is cached in ``<output>/baseline.json``. Ctrl-C stops
after writing the outputs for the best candidate so far.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning

from autofix_lstm.data import Dataset, load_dataset
from autofix_lstm.errors import AutofixError, SpecError
from autofix_lstm.objective import beats_constant, beats_persistence, is_fix, score
from autofix_lstm.outputs import cudnn_problems, spec_changes, trials_frame, write_best_spec
from autofix_lstm.progress import RichReporter, SilentReporter
from autofix_lstm.pruning import CollapsePruning
from autofix_lstm.remedies import resolve_strategies
from autofix_lstm.space import SearchSpace, build_space, seed_values
from autofix_lstm.spec import Spec, load_spec
from autofix_lstm.training import export_model, fit_prepared, predict_original, prepare, save_model, write_json
from autofix_lstm.tuner import AutofixTuner, make_oracle

TUNER_FOLDER = "tuner"
PROJECT_NAME = "autofix"
STATE_FILE = "search_state.json"
BASELINE_FILE = "baseline.json"
RECORD_FILE = "autofix_trial.json"
BEST_MODEL = "best_model.keras"
BASELINE_MODEL = "baseline_model.keras"


def spec_fingerprint(spec: Spec, dataset: Dataset | None = None) -> str:
    """A hash of what decides trial results: the spec (search budget excluded, so a search can be
    extended) and, when given, the windowed data itself (a changed file or DataFrame is a new search).
    """
    raw = spec.to_dict()
    raw["search"] = {k: v for k, v in raw["search"].items() if k not in ("max_trials", "max_time")}
    raw.pop("output", None)
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode())
    if dataset is not None:
        for array in (dataset.x_train, dataset.y_train, dataset.x_val, dataset.y_val):
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


@dataclass
class SearchResult:
    """What a search found: the verdict, the best spec and model, metrics and every trial."""

    fixed: bool
    verdict: str
    best_spec: Spec
    baseline: dict
    best: dict
    changes: list[str]
    summary: dict
    trials: pd.DataFrame
    output_dir: Path
    diagnosis: Any = None
    interrupted: bool = False
    _best_model: keras.Model | None = field(default=None, repr=False)

    @property
    def best_model(self) -> keras.Model:
        """The best model, self-contained: raw windows in, original units out (loaded on first use)."""
        if self._best_model is None:
            self._best_model = keras.saving.load_model(self.output_dir / BEST_MODEL)
        return self._best_model

    def plot(self):
        """A matplotlib figure: every trial's objective against its std_ratio, and the best marked."""
        from autofix_lstm.plots import trials_figure

        return trials_figure(self.trials, self.summary)

    def _repr_html_(self) -> str:
        from autofix_lstm.plots import search_result_html

        return search_result_html(self)


class _TrialRunner:
    """Trains the candidates Keras Tuner proposes, and keeps the records and the best so far."""

    def __init__(self, spec: Spec, dataset: Dataset, space: SearchSpace, out: Path, clock, reporter, best: dict):
        self.spec = spec
        self.dataset = dataset
        self.space = space
        self.out = out
        self.clock = clock
        self.reporter = reporter
        self.best = best  # the best record so far (the baseline to start with)
        self.min_std_ratio = spec.search.min_std_ratio
        self.done = 0
        self.fix_found = best.get("fix", False)

    def _record_path(self, trial_id: str) -> Path:
        return self.out / TUNER_FOLDER / PROJECT_NAME / f"trial_{trial_id}" / RECORD_FILE

    def run(self, trial) -> dict:
        started = time.perf_counter()
        values = dict(trial.hyperparameters.values)
        record: dict[str, Any] = {"trial_id": trial.trial_id, "values": self.space.decode(values)}
        try:
            candidate = self.space.spec_for(self.spec, values)
            epochs = int(values.get("tuner/epochs", self.spec.train.epochs))
            prepared = prepare(candidate, self.dataset)
            pruning = CollapsePruning(
                prepared, after=self.spec.search.prune_after, min_std_ratio=self.min_std_ratio, epochs=epochs
            )
            outcome = fit_prepared(candidate, prepared, epochs=epochs, callbacks=[pruning], min_std_ratio=self.min_std_ratio)
        except (AutofixError, ValueError) as err:
            self._write_failed(record, f"{type(err).__name__}: {err}", started)
            raise kt.errors.FailedTrialError(str(err)) from None
        metrics = outcome.metrics
        if metrics.get("nan") or metrics.get("loss_diverged"):
            self._write_failed(record, "NaN or infinite loss/predictions", started, metrics)
            raise kt.errors.FailedTrialError("NaN or infinite loss/predictions")
        record.update(
            status="pruned" if pruning.pruned_at is not None else "completed",
            metrics=metrics,
            score=score(metrics, self.min_std_ratio),
            fix=is_fix(metrics, self.min_std_ratio),
            epochs_run=outcome.epochs_run,
            pruned_at=pruning.pruned_at,
            history=outcome.history,
            seconds=time.perf_counter() - started,
            elapsed_at_end=self.clock(),
            spec=candidate.to_dict(),
            val_predictions=_as_list(predict_original(outcome.core, prepared, self.dataset.x_val)),
        )
        if record["score"] < self.best["score"]:
            save_model(export_model(outcome.core, prepared), self.out / BEST_MODEL)
            write_best_spec(candidate, self.out)
            self.best = record
        write_json(record, self._record_path(trial.trial_id))
        return {"score": record["score"]}

    def _write_failed(self, record: dict, message: str, started: float, metrics: dict | None = None) -> None:
        record.update(
            status="failed", message=message[:2000], metrics=metrics or {}, score=None, fix=False,
            seconds=time.perf_counter() - started, elapsed_at_end=self.clock(),
        )
        write_json(record, self._record_path(record["trial_id"]))

    def trial_ended(self, trial) -> None:
        self.done += 1
        path = self._record_path(trial.trial_id)
        if path.is_file() and json.loads(path.read_text()).get("fix"):
            self.fix_found = True
        self.reporter.trial_done(self.done, self.best, self.fix_found or self.best.get("fix", False))


def _as_list(values: np.ndarray) -> list:
    return np.asarray(values, dtype=np.float64).tolist()


def _load_records(out: Path) -> list[dict]:
    folder = out / TUNER_FOLDER / PROJECT_NAME
    records = []
    for path in sorted(folder.glob(f"trial_*/{RECORD_FILE}")):
        records.append(json.loads(path.read_text()))
    return sorted(records, key=lambda r: r["trial_id"])


def _baseline(spec: Spec, dataset: Dataset, out: Path, fingerprint: str, clock) -> dict:
    """Train the spec as written (cached in baseline.json for resumed searches)."""
    path = out / BASELINE_FILE
    if path.is_file():
        cached = json.loads(path.read_text())
        if cached.get("fingerprint") == fingerprint and (out / BASELINE_MODEL).is_file():
            return cached
    started = time.perf_counter()
    prepared = prepare(spec, dataset)
    # The same pruning as every candidate: a spec still collapsed (and not recovering) after its
    # first epochs would not change its verdict by training on, and its time goes to the fixes.
    pruning = CollapsePruning(
        prepared, after=spec.search.prune_after, min_std_ratio=spec.search.min_std_ratio, epochs=spec.train.epochs
    )
    outcome = fit_prepared(spec, prepared, callbacks=[pruning], min_std_ratio=spec.search.min_std_ratio)
    save_model(export_model(outcome.core, prepared), out / BASELINE_MODEL)
    metrics = outcome.metrics
    record = {
        "trial_id": "baseline",
        "status": "pruned" if pruning.pruned_at is not None else "completed",
        "pruned_at": pruning.pruned_at,
        "fingerprint": fingerprint,
        "metrics": metrics,
        "score": score(metrics, spec.search.min_std_ratio),
        "fix": is_fix(metrics, spec.search.min_std_ratio),
        "epochs_run": outcome.epochs_run,
        "history": outcome.history,
        "seconds": time.perf_counter() - started,
        "elapsed_at_end": clock(),
        "spec": spec.to_dict(),
        "val_predictions": _as_list(predict_original(outcome.core, prepared, dataset.x_val)),
        "val_targets": _as_list(dataset.y_val),
        "classes": dataset.classes,
    }
    write_json(record, path)
    return record


def _check_resumable(out: Path, fingerprint: str, fresh: bool) -> float:
    """Seconds already spent by earlier runs of this search (0 when starting over)."""
    state_path = out / STATE_FILE
    if fresh:
        for name in (TUNER_FOLDER,):
            shutil.rmtree(out / name, ignore_errors=True)
        for name in (STATE_FILE, BASELINE_FILE, BEST_MODEL, BASELINE_MODEL, "summary.json", "trials.csv", "best_spec.yaml"):
            (out / name).unlink(missing_ok=True)
        return 0.0
    if not state_path.is_file():
        if (out / TUNER_FOLDER).exists():
            shutil.rmtree(out / TUNER_FOLDER)
        return 0.0
    state = json.loads(state_path.read_text())
    if state.get("fingerprint") != fingerprint:
        raise SpecError(
            f"{out} holds a search for a different spec (data, model, preprocessing, training or search settings "
            "changed); run with --fresh to start over, or set a new output folder"
        )
    return float(state.get("elapsed_seconds", 0.0))


def _verdict(fixed: bool, best: dict, baseline: dict, cudnn: list[str], alternative: dict | None, interrupted: bool) -> str:
    metrics = best["metrics"]
    if fixed:
        if best["trial_id"] == "baseline":
            text = "The model as written is not collapsed and beats a constant predictor; no configuration in the search beat it."
        else:
            key = "r2" if metrics["task"] == "regression" else "balanced_accuracy"
            text = (
                f"Fixed: trial {best['trial_id']} no longer collapses (std_ratio {metrics['std_ratio']:.3g}, "
                f"{key} {metrics[key]:.3g}) and beats the constant baseline"
            )
            if baseline["metrics"].get("collapsed"):
                text += f"; the spec as written had std_ratio {_fmt(baseline['metrics'].get('std_ratio'))}."
            else:
                text += "."
    else:
        text = (
            "Not fixed: no configuration in the search space beat a constant predictor without collapsing; "
            "the data may hold no signal the model can use for this target."
        )
    if fixed and cudnn:
        text += f" On a GPU this configuration cannot use the cuDNN kernel ({'; '.join(cudnn)})"
        if alternative is not None:
            text += (
                f"; the nearest cuDNN-compatible candidate is trial {alternative['trial_id']} "
                f"(objective {alternative['score']:.4g}, std_ratio {_fmt(alternative['metrics'].get('std_ratio'))})."
            )
        else:
            text += "; no cuDNN-compatible candidate was a fix."
    if interrupted:
        text += " (Search interrupted: this is the best found so far.)"
    return text


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3g}"


def _first_fix(records: list[dict], baseline: dict) -> tuple[int | None, float | None]:
    if baseline.get("fix"):
        return 0, baseline.get("elapsed_at_end")
    for position, record in enumerate(records, start=1):
        if record.get("fix"):
            return position, record.get("elapsed_at_end")
    return None, None


def _findings(diagnosis) -> list:
    return list(getattr(diagnosis, "findings", []) or [])


def search(
    spec: str | Path | dict | Spec,
    *,
    data=None,
    x=None,
    y=None,
    fresh: bool = False,
    progress: bool = False,
    max_trials: int | None = None,
) -> SearchResult:
    """Search for a configuration whose output no longer collapses, and write it out.

    Args:
        spec: a spec file path, a dict or a ``Spec``.
        data: a pandas DataFrame to use instead of ``data.path``.
        x, y: already windowed arrays to use instead of ``data.path``.
        fresh: discard an earlier search in the output folder instead of resuming it.
        progress: show a live progress display.
        max_trials: override ``search.max_trials``.

    Returns:
        A ``SearchResult``; ``fixed`` is True only when the best candidate is not collapsed and
        beats the constant baseline on the validation part.

    Raises:
        SpecError, DataError: bad input, with the field and the fix.
    """
    spec = load_spec(spec)
    if max_trials is not None:
        spec = spec.updated({"search.max_trials": max_trials})
    reporter = RichReporter() if progress else SilentReporter()
    started = time.perf_counter()
    dataset = load_dataset(spec, frame=data, x=x, y=y)
    out = spec.output_dir
    out.mkdir(parents=True, exist_ok=True)
    fingerprint = spec_fingerprint(spec, dataset)
    elapsed_before = _check_resumable(out, fingerprint, fresh)

    def clock() -> float:
        return elapsed_before + time.perf_counter() - started

    def save_state() -> None:
        write_json({"fingerprint": fingerprint, "elapsed_seconds": clock()}, out / STATE_FILE)

    interrupted = False
    try:
        reporter.stage("diagnosing")
        from autofix_lstm.diagnosis import diagnose

        diagnosis = diagnose(spec, data=data, x=x, y=y, save=True, progress=False)
        reporter.stage("training the spec as written")
        baseline = _baseline(spec, dataset, out, fingerprint, clock)
        save_state()

        strategies = resolve_strategies(spec.search.strategies, spec.base_dir)
        space = build_space(spec, dataset, strategies)
        seeds = seed_values(space, strategies, _findings(diagnosis), limit=max(1, spec.search.max_trials // 2))
        records = _load_records(out)
        best = min([baseline, *[r for r in records if r.get("score") is not None]], key=lambda r: r["score"])
        deadline = None if spec.search.max_seconds is None else time.time() + max(0.0, spec.search.max_seconds - clock())
        runner = _TrialRunner(spec, dataset, space, out, clock, reporter, best)
        runner.done = len(records)
        if space.fields:
            oracle = _make_oracle(spec, space, seeds, deadline)
            with contextlib.redirect_stdout(io.StringIO()):  # Keras Tuner prints "Reloading Tuner from ..."
                tuner = AutofixTuner(oracle, runner, directory=str(out / TUNER_FOLDER), project_name=PROJECT_NAME)
            reporter.start(spec.search.max_trials)
            reporter.trial_done(runner.done, runner.best, runner.fix_found)
            try:
                with warnings.catch_warnings():
                    # The Gaussian process often sits at a kernel bound on a handful of points; harmless.
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    tuner.search(verbose=0)
            except KeyboardInterrupt:
                interrupted = True
        save_state()
    finally:
        reporter.stop()
    result = _finish(spec, out, baseline, diagnosis, space, clock, interrupted)
    return result


def _make_oracle(spec: Spec, space: SearchSpace, seeds: list, deadline: float | None):
    return make_oracle(
        spec.search.tuner, space.hyperparameters, max_trials=spec.search.max_trials, epochs=spec.train.epochs,
        seeds=seeds, deadline=deadline, seed=spec.train.seed,
    )


def _finish(spec: Spec, out: Path, baseline: dict, diagnosis, space: SearchSpace, clock, interrupted: bool) -> SearchResult:
    """Pick the best candidate (the baseline included) and write the public outputs."""
    records = _load_records(out)
    scored = [r for r in records if r.get("score") is not None]
    best = min([baseline, *scored], key=lambda r: r["score"])
    min_ratio = spec.search.min_std_ratio
    fixed = bool(is_fix(best["metrics"], min_ratio))
    if best["trial_id"] == "baseline":
        best_spec = spec
        shutil.copyfile(out / BASELINE_MODEL, out / BEST_MODEL)
        write_best_spec(spec, out)
    else:
        best_spec = load_spec(best["spec"])
        best_spec._base_dir = spec.base_dir
    cudnn = cudnn_problems(best_spec)
    alternative = None
    if fixed and cudnn:
        compatible = [
            r for r in [baseline, *scored]
            if r.get("fix") and not cudnn_problems(load_spec(r["spec"]) if r["trial_id"] != "baseline" else spec)
        ]
        alternative = min(compatible, key=lambda r: r["score"]) if compatible else None
    verdict = _verdict(fixed, best, baseline, cudnn, alternative, interrupted)
    trials_to_fix, seconds_to_fix = _first_fix(records, baseline)
    changes = spec_changes(spec, best_spec)
    statuses = [r["status"] for r in records]
    summary = {
        "fixed": fixed,
        "verdict": verdict,
        "baseline": baseline["metrics"],
        "best": best["metrics"],
        "beats_constant": beats_constant(best["metrics"]),
        "beats_persistence": beats_persistence(best["metrics"]),
        "changes": changes,
        "trials_total": len(records),
        "trials_completed": statuses.count("completed"),
        "trials_failed": statuses.count("failed"),
        "trials_pruned": statuses.count("pruned"),
        "trials_to_first_fix": trials_to_fix,
        "seconds_to_first_fix": seconds_to_fix,
        "elapsed_seconds": clock(),
        "diagnosis": [f.to_dict() for f in _findings(diagnosis)],
        # Extensions beyond the contract:
        "best_trial": best["trial_id"],
        "objective": best["score"],
        "baseline_objective": baseline["score"],
        "baseline_pruned_at_epoch": baseline.get("pruned_at"),
        "min_std_ratio": min_ratio,
        "tuner": spec.search.tuner,
        "searched_fields": space.fields,
        "cudnn_compatible": not cudnn,
        "cudnn_problems": cudnn,
        "cudnn_alternative": None if alternative is None else {
            "trial_id": alternative["trial_id"], "objective": alternative["score"], "metrics": alternative["metrics"],
        },
        "interrupted": interrupted,
    }
    write_json(summary, out / "summary.json")
    frame = trials_frame(records, space.fields)
    frame.to_csv(out / "trials.csv", index=False)
    from autofix_lstm.report import write_report

    write_report(out)  # <output>/report.html, from the files just written
    return SearchResult(
        fixed=fixed, verdict=verdict, best_spec=best_spec, baseline=baseline["metrics"], best=best["metrics"],
        changes=changes, summary=summary, trials=frame, output_dir=out, diagnosis=diagnosis, interrupted=interrupted,
    )


__all__ = ["SearchResult", "search", "spec_fingerprint"]
