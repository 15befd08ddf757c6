"""The search driver: diagnose, train the baseline, let Keras Tuner explore the remedies, write the fix.

``run_search(spec)`` is the core of ``autofix-lstm search`` (``autofix_lstm.search`` adds the HTML
report on top):

1. diagnose the spec (brief instrumented training) and train it as written (the baseline);
2. build the search space from the strategies and seed the first trials with the remedies the
   findings recommend; Keras Tuner's oracle explores the rest;
3. train every candidate the same way, stop it early when its output stays collapsed, and score
   it in original units (``autofix_lstm.scoring.objective``); each ends as a ``TrialRecord``;
4. write best_spec.yaml, best_model.keras, summary.json and trials.csv into ``<output>/``.

The Keras Tuner project lives in ``<output>/tuner``: running the same search again resumes it
(finished trials are kept). The baseline is cached in ``<output>/baseline.json``. Ctrl-C stops
after writing the outputs for the best candidate so far. Every file name is ``RunDir``'s.
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

from autofix_lstm.data.dataset import Dataset, load_dataset
from autofix_lstm.diagnosis.runner import diagnose_dataset
from autofix_lstm.errors import AutofixError, SpecError
from autofix_lstm.modeling.callbacks import CollapsePruning
from autofix_lstm.modeling.evaluate import predict_original
from autofix_lstm.modeling.train import export_model, fit_prepared, prepare
from autofix_lstm.preflight import check_output_folder
from autofix_lstm.run_dir import RunDir, copy_file, read_json, save_model, write_json, write_text
from autofix_lstm.scoring.objective import is_fix, score
from autofix_lstm.scoring.signal import SignalProbe, probe_signal
from autofix_lstm.spec import Spec, load_spec
from autofix_lstm.tuning.oracles import AutofixTuner, make_oracle
from autofix_lstm.tuning.records import BASELINE_ID, TrialRecord, TrialStatus, best_record, load_records
from autofix_lstm.tuning.space import SearchSpace, build_space, neighbours, seed_values
from autofix_lstm.tuning.strategies import resolve_strategies
from autofix_lstm.tuning.summary import (
    cudnn_problems,
    record_spec,
    spec_changes,
    summary_dict,
    trials_frame,
    verdict_text,
    write_best_spec,
)


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


class SearchReporter:
    """What a search tells about its progress; this base reports nothing (``progress=False``).

    ``autofix_lstm.render.progress.RichReporter`` draws it; the search never prints otherwise.
    """

    def start(self, total: int) -> None:
        """The search begins with a budget of ``total`` trials."""

    def stage(self, text: str) -> None:
        """A named stage (diagnosis, baseline) begins."""

    def trial_done(self, done: int, best: TrialRecord | None, fixed: bool) -> None:
        """``done`` trials have ended; ``best`` is the best record so far."""

    def stop(self) -> None:
        """The search has ended."""


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
    records: list[TrialRecord] = field(default_factory=list, repr=False)
    _best_model: keras.Model | None = field(default=None, repr=False)

    @property
    def best_model(self) -> keras.Model:
        """The best model, self-contained: raw windows in, original units out (loaded on first use)."""
        if self._best_model is None:
            self._best_model = keras.saving.load_model(RunDir(self.output_dir).best_model)
        return self._best_model

    def plot(self):
        """A matplotlib figure: every trial's objective against its std_ratio, and the best marked."""
        from autofix_lstm.render.plots import trials_figure

        return trials_figure(self.trials, self.summary)

    def _repr_html_(self) -> str:
        from autofix_lstm.render.report import search_result_html

        return search_result_html(self)


class _TrialRunner:
    """Trains the candidates Keras Tuner proposes, writes their records, and keeps the best so far."""

    def __init__(self, spec: Spec, dataset: Dataset, space: SearchSpace, run: RunDir, clock, reporter,
                 best: TrialRecord):
        self.spec = spec
        self.dataset = dataset
        self.space = space
        self.run_dir = run
        self.clock = clock
        self.reporter = reporter
        self.best = best  # the best record so far (the baseline to start with)
        self.min_std_ratio = spec.search.min_std_ratio
        self.done = 0
        self.fix_found = best.fix
        self.oracle = None  # set once the oracle exists: its start order numbers the records

    def _order(self, trial_id: str) -> int | None:
        order = getattr(self.oracle, "start_order", None) or []
        return order.index(trial_id) if trial_id in order else None

    def run(self, trial) -> dict:
        started = time.perf_counter()
        values = dict(trial.hyperparameters.values)
        decoded = self.space.decode(values)
        source = getattr(self.oracle, "sources", {}).get(trial.trial_id, "oracle")
        record = self.train(trial.trial_id, values, decoded, started, order=self._order(trial.trial_id),
                            epochs=int(values.get("tuner/epochs", self.spec.train.epochs)), source=source)
        if record.status is TrialStatus.FAILED:
            raise kt.errors.FailedTrialError(record.message)
        return {"score": record.score}

    def train(self, trial_id: str, values: dict, decoded: dict, started: float, *, order: int | None,
              epochs: int, prune: bool = True, rerun_of: str | None = None, source: str | None = None) -> TrialRecord:
        """Train one candidate, write its record, keep the best model so far; the record (failed or not)."""
        try:
            candidate = self.space.spec_for(self.spec, values)
            outcome, prepared, pruned_at = train_candidate(self.spec, candidate, self.dataset, epochs=epochs, prune=prune)
        except (AutofixError, ValueError) as err:
            return self._fail(trial_id, decoded, f"{type(err).__name__}: {err}", started, order=order, source=source)
        metrics = outcome.metrics
        if metrics.get("nan") or metrics.get("loss_diverged"):
            return self._fail(trial_id, decoded, "NaN or infinite loss/predictions", started, metrics, order=order,
                              source=source)
        record = TrialRecord(
            trial_id=trial_id,
            status=TrialStatus.PRUNED if pruned_at is not None else TrialStatus.COMPLETED,
            values=decoded,
            metrics=metrics,
            score=score(metrics, self.min_std_ratio),
            fix=is_fix(metrics, self.min_std_ratio),
            epochs_run=outcome.epochs_run,
            pruned_at=pruned_at,
            history=outcome.history,
            seconds=time.perf_counter() - started,
            elapsed_at_end=self.clock(),
            spec=candidate.to_dict(),
            val_predictions=_as_list(predict_original(outcome.core, prepared, self.dataset.x_val)),
            order=order,
            source=source,
            rerun_of=rerun_of,
        )
        if record.score < self.best.score:
            save_model(export_model(outcome.core, prepared), self.run_dir.best_model)
            write_best_spec(candidate, self.run_dir.root)
            self.best = record
            if record.fix:
                self._refine_around(record)
        self._finish(record)
        return record

    def started_count(self) -> int:
        return len(getattr(self.oracle, "start_order", None) or [])

    def _refine_around(self, record: TrialRecord) -> None:
        """Queue the new best fix's one-field neighbours ahead of the oracle (``search.refine``)."""
        if not self.spec.search.refine or self.oracle is None or not hasattr(self.oracle, "queue_refinements"):
            return
        remaining = max(0, self.spec.search.max_trials - self.started_count())
        self.oracle.queue_refinements(neighbours(self.space, record.values), budget=max(1, remaining // 2))

    def _fail(self, trial_id: str, values: dict, message: str, started: float, metrics: dict | None = None,
              *, order: int | None = None, source: str | None = None) -> TrialRecord:
        record = TrialRecord(
            trial_id=trial_id, status=TrialStatus.FAILED, values=values, message=message[:2000],
            metrics=metrics or {}, seconds=time.perf_counter() - started, elapsed_at_end=self.clock(), order=order,
            source=source,
        )
        self._finish(record)
        return record

    def _finish(self, record: TrialRecord) -> None:
        record.save(self.run_dir.trial_record(record.trial_id))
        self.fix_found = self.fix_found or record.fix

    def trial_ended(self, trial) -> None:
        self.done += 1
        self.reporter.trial_done(self.done, self.best, self.fix_found)


def _pruning(spec: Spec, prepared, epochs: int) -> CollapsePruning | None:
    """The collapse pruning a trial gets (None when ``search.prune_after`` is null)."""
    if spec.search.prune_after is None:
        return None
    return CollapsePruning(
        prepared, after=spec.search.prune_after, min_std_ratio=spec.search.min_std_ratio, epochs=epochs,
        batch_size=spec.train.batch_size,
    )


def train_candidate(spec: Spec, candidate: Spec, dataset: Dataset, *, epochs: int | None = None, prune: bool = True):
    """Train one candidate the way every trial (and the baseline) is trained: ``(outcome, prepared, pruned_at)``."""
    epochs = epochs or candidate.train.epochs
    prepared = prepare(candidate, dataset)
    pruning = _pruning(spec, prepared, epochs) if prune else None
    outcome = fit_prepared(
        candidate, prepared, epochs=epochs, callbacks=[pruning] if pruning else [], min_std_ratio=spec.search.min_std_ratio
    )
    return outcome, prepared, None if pruning is None else pruning.pruned_at


RERUN_SUFFIX = "_full"


def loss_trend(record: TrialRecord) -> float:
    """How much a trial's training loss fell, relative to its first epoch (0 when unknown): its promise."""
    losses = [v for v in (record.history or {}).get("loss", []) if v is not None and np.isfinite(v)]
    if len(losses) < 2 or losses[0] <= 0:
        return 0.0
    return (losses[0] - losses[-1]) / losses[0]


def _rerun_pruned(runner: _TrialRunner, records: list[TrialRecord], deadline: float | None, reporter) -> int:
    """The safety net: with no fix, re-run the most promising pruned trials in full, before any verdict.

    Pruning judges a trial on its first epochs; a candidate that would have separated later must not
    be lost to it. The pruned trials whose training loss fell most are trained again for the spec's
    full epochs without pruning (``search.rerun_pruned`` of them, within ``max_time``).
    Returns how many were re-run.
    """
    spec = runner.spec
    done = {r.rerun_of for r in records if r.rerun_of}
    pruned = [r for r in records if r.status is TrialStatus.PRUNED and not r.rerun_of and r.trial_id not in done]
    chosen = sorted(pruned, key=loss_trend, reverse=True)[: max(0, spec.search.rerun_pruned - len(done))]
    ran = 0
    for position, record in enumerate(chosen):
        if deadline is not None and time.time() >= deadline:
            break
        reporter.stage(f"re-running pruned trial {record.trial_id} in full")
        started = time.perf_counter()
        runner.train(
            f"{record.trial_id}{RERUN_SUFFIX}", runner.space.encode(record.values), record.values, started,
            order=len(records) + position, epochs=spec.train.epochs, prune=False, rerun_of=record.trial_id,
            source="rerun",
        )
        ran += 1
    return ran


def _as_list(values: np.ndarray) -> list:
    return np.asarray(values, dtype=np.float64).tolist()


def _baseline(spec: Spec, dataset: Dataset, run: RunDir, fingerprint: str, clock) -> TrialRecord:
    """Train the spec as written (cached in baseline.json for resumed searches)."""
    if run.baseline.is_file() and run.baseline_model.is_file():
        cached = TrialRecord.load(run.baseline)
        if cached.fingerprint == fingerprint:
            return cached
    started = time.perf_counter()
    # The same pruning as every candidate: a spec still collapsed (and not moving) after its first
    # epochs would not change its verdict by training on, and its time goes to the fixes.
    outcome, prepared, pruned_at = train_candidate(spec, spec, dataset)
    save_model(export_model(outcome.core, prepared), run.baseline_model)
    metrics = outcome.metrics
    record = TrialRecord(
        trial_id=BASELINE_ID,
        status=TrialStatus.PRUNED if pruned_at is not None else TrialStatus.COMPLETED,
        pruned_at=pruned_at,
        fingerprint=fingerprint,
        metrics=metrics,
        score=score(metrics, spec.search.min_std_ratio),
        fix=is_fix(metrics, spec.search.min_std_ratio),
        epochs_run=outcome.epochs_run,
        history=outcome.history,
        seconds=time.perf_counter() - started,
        elapsed_at_end=clock(),
        spec=spec.to_dict(),
        val_predictions=_as_list(predict_original(outcome.core, prepared, dataset.x_val)),
        val_targets=_as_list(dataset.y_val),
        classes=dataset.classes,
    )
    record.save(run.baseline)
    return record


def _check_resumable(run: RunDir, fingerprint: str, fresh: bool) -> float:
    """Seconds already spent by earlier runs of this search (0 when starting over)."""
    if fresh:
        shutil.rmtree(run.tuner, ignore_errors=True)
        for path in run.search_outputs():
            path.unlink(missing_ok=True)
        return 0.0
    if not run.state.is_file():
        if run.tuner.exists():
            shutil.rmtree(run.tuner)
        return 0.0
    state = read_json(run.state)
    if state.get("fingerprint") != fingerprint:
        raise SpecError(
            f"{run.root} holds a search for a different spec (data, model, preprocessing, training or search settings "
            "changed); run with --fresh to start over, or set a new output folder"
        )
    return float(state.get("elapsed_seconds", 0.0))


def _findings(diagnosis) -> list:
    return list(getattr(diagnosis, "findings", []) or [])


def run_search(
    spec: str | Path | dict | Spec,
    *,
    data=None,
    x=None,
    y=None,
    fresh: bool = False,
    reporter: SearchReporter | None = None,
    max_trials: int | None = None,
) -> SearchResult:
    """The search without its HTML report: what ``autofix_lstm.search`` runs (see its arguments).

    ``reporter`` is told of each stage and trial (default: nothing is shown); ``autofix_lstm.search``
    passes a live display when asked for progress.
    """
    spec = load_spec(spec)
    if max_trials is not None:
        spec = spec.updated({"search.max_trials": max_trials})
    reporter = reporter or SearchReporter()
    started = time.perf_counter()
    check_output_folder(spec)
    dataset = load_dataset(spec, frame=data, x=x, y=y)
    strategies = resolve_strategies(spec.search.strategies, spec.base_dir)
    run = RunDir(spec.output_dir)
    run.root.mkdir(parents=True, exist_ok=True)
    fingerprint = spec_fingerprint(spec, dataset)
    elapsed_before = _check_resumable(run, fingerprint, fresh)

    def clock() -> float:
        return elapsed_before + time.perf_counter() - started

    def save_state() -> None:
        write_json({"fingerprint": fingerprint, "elapsed_seconds": clock()}, run.state)

    interrupted = False
    start_order: list[str] | None = None
    try:
        reporter.stage("diagnosing")
        diagnosis = diagnose_dataset(spec, dataset, strategies, save=True)
        reporter.stage("training the spec as written")
        baseline = _baseline(spec, dataset, run, fingerprint, clock)
        save_state()

        space = build_space(spec, dataset, strategies)
        seeds = seed_values(space, strategies, _findings(diagnosis), limit=max(1, spec.search.max_trials // 2))
        records = load_records(run)
        best = best_record([baseline, *records])
        deadline = None if spec.search.max_seconds is None else time.time() + max(0.0, spec.search.max_seconds - clock())
        runner = _TrialRunner(spec, dataset, space, run, clock, reporter, best)
        runner.done = len(records)
        if space.fields:
            oracle = make_oracle(
                spec.search.tuner, space.hyperparameters, max_trials=spec.search.max_trials, epochs=spec.train.epochs,
                seeds=seeds, deadline=deadline, seed=spec.train.seed,
            )
            with contextlib.redirect_stdout(io.StringIO()):  # Keras Tuner prints "Reloading Tuner from ..."
                tuner = AutofixTuner(oracle, runner, directory=str(run.tuner), project_name=run.project.name)
            runner.oracle = tuner.oracle
            reporter.start(spec.search.max_trials)
            reporter.trial_done(runner.done, runner.best, runner.fix_found)
            try:
                with warnings.catch_warnings():
                    # The Gaussian process often sits at a kernel bound on a handful of points; harmless.
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    tuner.search(verbose=0)
            except KeyboardInterrupt:
                interrupted = True
            start_order = list(tuner.oracle.start_order)
            records = load_records(run, start_order)
            if not interrupted and not any(r.fix for r in [baseline, *records]) and spec.search.rerun_pruned:
                try:
                    _rerun_pruned(runner, records, deadline, reporter)
                except KeyboardInterrupt:
                    interrupted = True
        save_state()
    finally:
        reporter.stop()
    probe = getattr(diagnosis, "signal_probe", None) or probe_signal(dataset, seed=spec.train.seed)
    return _finish(spec, run, baseline, diagnosis, space, clock, interrupted, start_order, probe,
                   getattr(runner, "oracle", None))


def _finish(spec: Spec, run: RunDir, baseline: TrialRecord, diagnosis, space: SearchSpace, clock,
            interrupted: bool, start_order: list[str] | None, probe: SignalProbe, oracle) -> SearchResult:
    """Pick the best candidate (the baseline included) and write the public outputs."""
    records = load_records(run, start_order)
    best = best_record([baseline, *records])
    min_ratio = spec.search.min_std_ratio
    fixed = bool(is_fix(best.metrics, min_ratio))
    best_spec = record_spec(best, spec)
    if best.is_baseline:
        copy_file(run.baseline_model, run.best_model)
        write_best_spec(spec, run.root)
    cudnn = cudnn_problems(best_spec)
    alternative = None
    if fixed and cudnn:
        compatible = [r for r in [baseline, *records] if r.fix and not cudnn_problems(record_spec(r, spec))]
        alternative = best_record(compatible)
    verdict = verdict_text(fixed, best, baseline, cudnn, alternative, interrupted, probe)
    changes = spec_changes(spec, best_spec)
    summary = summary_dict(
        fixed=fixed, verdict=verdict, best=best, baseline=baseline, records=records, changes=changes,
        findings=_findings(diagnosis), elapsed=clock(), min_std_ratio=min_ratio, tuner=spec.search.tuner,
        fields=space.fields, cudnn=cudnn, alternative=alternative, interrupted=interrupted,
        probe=probe, epochs=spec.train.epochs, refine_budget=getattr(oracle, "refine_budget", None),
    )
    write_json(summary, run.summary)
    frame = trials_frame(records, space.fields)
    write_text(frame.to_csv(index=False), run.trials_csv)
    return SearchResult(
        fixed=fixed, verdict=verdict, best_spec=best_spec, baseline=baseline.metrics, best=best.metrics,
        changes=changes, summary=summary, trials=frame, output_dir=run.root, diagnosis=diagnosis,
        interrupted=interrupted, records=records,
    )


__all__ = ["SearchReporter", "SearchResult", "run_search", "spec_fingerprint"]
