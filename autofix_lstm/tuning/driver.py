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
(finished trials are kept, a trial whose record is missing or cut short is run again). The
baseline is cached in ``<output>/baseline.json``. Everything is checked (spec, data, strategy
files, the folder, an earlier search's files) before the folder is touched, and one search at a
time holds it (``RunDir.lock``). SIGINT (Ctrl-C) or SIGTERM stops after the current epoch, writes
the outputs for the best candidate so far and raises ``SearchInterrupted`` (``tuning.interrupts``).
best_model.keras and best_spec.yaml always come from the trial best_trial.json names.
Every run appends what it does to ``<output>/events.jsonl`` (``tuning.events``), and the trainings
run under ``search.distribution``'s strategy (``modeling.devices``); summary.json names the device.
Every file name is ``RunDir``'s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import math
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
from autofix_lstm.errors import AutofixError, CorruptRunError, SearchInterrupted, SpecError
from autofix_lstm.modeling.build import compile_core
from autofix_lstm.modeling.callbacks import CollapsePruning
from autofix_lstm.modeling.devices import Placement, distribution_scope, placement
from autofix_lstm.modeling.evaluate import predict_original
from autofix_lstm.modeling.train import export_model, fit_prepared, prepare
from autofix_lstm.run_dir import RunDir, copy_file, read_json, save_model, write_json, write_text
from autofix_lstm.scoring.objective import ModelState, is_fix, model_state, score
from autofix_lstm.scoring.signal import SignalProbe, probe_signal
from autofix_lstm.spec import Spec, load_spec
from autofix_lstm.tuning.confirmation import CONFIRM_SEEDS, TURNED_OFF, Confirmation, confirm_fixes
from autofix_lstm.tuning.distributed import ScaleOut, serve_workers
from autofix_lstm.tuning.events import EventLog, LoggedReporter, search_ended_fields
from autofix_lstm.tuning.interrupts import StopRequested, StopSignals
from autofix_lstm.tuning.minimal import MinimalFix, minimal_stage, skipped
from autofix_lstm.tuning.oracles import AutofixTuner, make_oracle
from autofix_lstm.tuning.records import (
    BASELINE_ID,
    TrialRecord,
    TrialStatus,
    best_record,
    load_records,
)
from autofix_lstm.tuning.space import SearchSpace, build_space, neighbours, seed_values
from autofix_lstm.tuning.strategies import Strategy, resolve_strategies
from autofix_lstm.tuning.summary import (
    cudnn_problems,
    record_spec,
    spec_changes,
    summary_dict,
    trials_frame,
    verdict_text,
    write_best_spec,
)
from autofix_lstm.tuning.workers import worker_name


def spec_fingerprint(spec: Spec, dataset: Dataset | None = None, strategies: list[Strategy] | None = None) -> str:
    """A hash of what decides trial results: the spec (search budget excluded, so a search can be
    extended), when given the windowed data itself (a changed file or DataFrame is a new search) and
    the contents of the strategies (an edited strategy file is a new search space).
    """
    raw = spec.to_dict()
    # The budget, the stages after the trials (minimize, confirm) and the oracle's proposal step do not
    # change a finished trial's result: a resumed search may change them.
    raw["search"] = {k: v for k, v in raw["search"].items()
                     if k not in ("max_trials", "max_time", "minimize", "confirm", "oracle_proposal", "tensorboard",
                                  "distribution")}
    raw.pop("output", None)
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode())
    if dataset is not None:
        dataset.update_digest(digest)  # a chunk at a time: no copy of the windows
    if strategies is not None:
        contents = [strategy.model_dump(mode="json") for strategy in strategies]
        digest.update(json.dumps(contents, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


class SearchReporter:
    """What a search tells about its progress; this base reports nothing (``progress=False``).

    ``autofix_lstm.render.progress`` draws it (a live display, or plain lines into a log), and every search
    also logs it to events.jsonl (``tuning.events.LoggedReporter``); the search never prints otherwise.
    """

    def start(self, total: int) -> None:
        """The search begins with a budget of ``total`` trials."""

    def stage(self, text: str) -> None:
        """A named stage (diagnosis, baseline) begins."""

    def trial_done(self, done: int, best: TrialRecord | None, fixed: bool) -> None:
        """``done`` trials have ended; ``best`` is the best record so far."""

    def trial_started(self, trial_id: str, worker: str | None = None) -> None:
        """A trial begins training (a re-run in full of a pruned one too); ``worker``: the worker that
        took it, when a distributed search's chief reports a worker's trial."""

    def trial_recorded(self, record: TrialRecord) -> None:
        """A trial ended and ``record`` is written (before ``trial_done`` tallies it)."""

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
    baseline_state: str | None = None  # what the spec as written did: collapsed, diverged, live or working
    confirmed_seeds: str | None = None  # on how many seeds the best fix held, e.g. "3/3"
    records: list[TrialRecord] = field(default_factory=list, repr=False)
    _best_model: keras.Model | None = field(default=None, repr=False)

    @property
    def best_model(self) -> keras.Model:
        """The best model, self-contained: raw windows in, original units out (loaded on first use).

        A fresh model, compiled with the best spec's optimizer and loss, so it can keep training.
        """
        if self._best_model is None:
            model = keras.saving.load_model(RunDir(self.output_dir).best_model, compile=False)
            self._best_model = compile_core(model, self.best_spec.model)
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
                 best: TrialRecord, stops: StopSignals | None = None):
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
        self.stops = stops
        self.replayed: set[str] = set()  # trials a kill left unfinished for Keras Tuner but recorded
        self.worker = worker_name()  # recorded in each trial record
        # A distributed search's workers train trials but leave the best's files (best_model.keras,
        # best_spec.yaml) and the refinements to the chief (tuning.distributed).
        self.publishes = True

    def _order(self, trial_id: str) -> int | None:
        order = getattr(self.oracle, "start_order", None) or []
        return order.index(trial_id) if trial_id in order else None

    def run(self, trial) -> dict:
        if self.stops is not None:
            self.stops.check()
        recorded = self._recorded(trial.trial_id)
        if recorded is not None:  # finished before a kill, but Keras Tuner did not hear of it: not run again
            self.replayed.add(trial.trial_id)
            if recorded.status is TrialStatus.FAILED:
                raise kt.errors.FailedTrialError(recorded.message)
            return {"score": recorded.score}
        started = time.perf_counter()
        values = dict(trial.hyperparameters.values)
        decoded = self.space.decode(values)
        source = getattr(self.oracle, "sources", {}).get(trial.trial_id, "oracle")
        proposal = getattr(self.oracle, "proposal_seconds", {}).get(trial.trial_id)
        record = self.train(trial.trial_id, values, decoded, started, order=self._order(trial.trial_id),
                            epochs=int(values.get("tuner/epochs", self.spec.train.epochs)), source=source,
                            oracle_seconds=proposal)
        if record.status is TrialStatus.FAILED:
            raise kt.errors.FailedTrialError(record.message)
        return {"score": record.score}

    def _recorded(self, trial_id: str) -> TrialRecord | None:
        path = self.run_dir.trial_record(trial_id)
        try:
            return TrialRecord.load(path) if path.is_file() else None
        except (OSError, CorruptRunError):
            return None  # cut short: run it again

    def train(self, trial_id: str, values: dict, decoded: dict, started: float, *, order: int | None,
              epochs: int, prune: bool = True, rerun_of: str | None = None, source: str | None = None,
              oracle_seconds: float | None = None) -> TrialRecord:
        """Train one candidate, write its record, keep the best model so far; the record (failed or not).

        Raises:
            StopRequested: a signal cut the training short (nothing is recorded: a resume runs it again).
        """
        self.reporter.trial_started(trial_id)
        began = time.perf_counter()
        # Each trial builds new models and traced functions; nothing from an earlier trial is used again.
        # Their train-step graphs are freed only because fit_prepared also releases the custom gradients
        # TensorFlow registers for them (modeling.release): clear_session alone left ~10 MB a trial
        # (benchmarks/long_memory.py).
        keras.backend.clear_session(free_memory=True)
        try:
            candidate = self.space.spec_for(self.spec, values)
            outcome, prepared, pruned_at = train_candidate(self.spec, candidate, self.dataset, epochs=epochs, prune=prune,
                                                           stops=self.stops, board=self._board(trial_id, decoded))
        except (AutofixError, ValueError) as err:
            return self._fail(trial_id, decoded, f"{type(err).__name__}: {err}", started, order=order, source=source,
                              oracle_seconds=oracle_seconds, train_seconds=time.perf_counter() - began)
        train_seconds, eval_seconds = _split(outcome, time.perf_counter() - began)
        metrics = outcome.metrics
        if metrics.get("nan") or metrics.get("loss_diverged"):
            return self._fail(trial_id, decoded, "NaN or infinite loss/predictions", started, metrics, order=order,
                              source=source, oracle_seconds=oracle_seconds, train_seconds=train_seconds)
        evaluating = time.perf_counter()
        objective = score(metrics, self.min_std_ratio)
        # The predictions the metrics were measured on (predicting the validation part again costs as much).
        val_predictions = _as_list(outcome.val_predictions)
        eval_seconds += time.perf_counter() - evaluating
        record = TrialRecord(
            trial_id=trial_id,
            status=TrialStatus.PRUNED if pruned_at is not None else TrialStatus.COMPLETED,
            values=decoded,
            metrics=metrics,
            score=objective,
            fix=is_fix(metrics, self.min_std_ratio),
            epochs_run=outcome.epochs_run,
            pruned_at=pruned_at,
            history=outcome.history,
            seconds=time.perf_counter() - started,
            elapsed_at_end=self.clock(),
            spec=candidate.to_dict(),
            val_predictions=val_predictions,
            order=order,
            source=source,
            rerun_of=rerun_of,
            oracle_seconds=oracle_seconds,
            train_seconds=train_seconds,
            eval_seconds=eval_seconds,
            write_seconds=0.0,
            worker=self.worker,
        )
        new_best = record.score < self.best.score
        if new_best:  # its model first: a record on disk always has the model its best_model.keras needs
            writing = time.perf_counter()
            save_model(export_model(outcome.core, prepared), self.run_dir.trial_model(trial_id))
            record.write_seconds = time.perf_counter() - writing
        self._finish(record)
        if new_best:
            previous, self.best = self.best, record
            if self.publishes:
                publish_best(self.run_dir, record, self.spec)
            if not previous.is_baseline:
                self.run_dir.trial_model(previous.trial_id).unlink(missing_ok=True)
            if record.fix and self.publishes:
                self._refine_around(record)
        return record

    def adopt(self, record: TrialRecord) -> None:
        """A trial another process (a worker) ran and recorded: keep it as the best so far if it is one,
        publishing its files and refining around it as ``train`` would have."""
        self.fix_found = self.fix_found or record.fix
        if not record.scored or record.score >= self.best.score:
            return
        self.best = record
        if self.run_dir.trial_model(record.trial_id).is_file():
            publish_best(self.run_dir, record, self.spec)
        if record.fix:
            self._refine_around(record)

    def started_count(self) -> int:
        return len(getattr(self.oracle, "start_order", None) or [])

    def _refine_around(self, record: TrialRecord) -> None:
        """Queue the new best fix's one-field neighbours ahead of the oracle (``search.refine``)."""
        if not self.spec.search.refine or self.oracle is None or not hasattr(self.oracle, "queue_refinements"):
            return
        remaining = max(0, self.spec.search.max_trials - self.started_count())
        self.oracle.queue_refinements(neighbours(self.space, record.values), budget=max(1, remaining // 2))

    def _fail(self, trial_id: str, values: dict, message: str, started: float, metrics: dict | None = None,
              *, order: int | None = None, source: str | None = None, oracle_seconds: float | None = None,
              train_seconds: float | None = None) -> TrialRecord:
        record = TrialRecord(
            trial_id=trial_id, status=TrialStatus.FAILED, values=values, message=message[:2000],
            metrics=metrics or {}, seconds=time.perf_counter() - started, elapsed_at_end=self.clock(), order=order,
            source=source, oracle_seconds=oracle_seconds, train_seconds=train_seconds, worker=self.worker,
        )
        self._finish(record)
        return record

    def _finish(self, record: TrialRecord) -> None:
        record.save(self.run_dir.trial_record(record.trial_id))
        self.fix_found = self.fix_found or record.fix
        self.reporter.trial_recorded(record)

    def _board(self, trial_id: str, values: dict) -> tuple[Path, dict] | None:
        """Where a trial's TensorBoard logs go, and its values (None when ``search.tensorboard`` is off)."""
        return (self.run_dir.tensorboard_trial(trial_id), values) if self.spec.search.tensorboard else None

    def trial_ended(self, trial) -> None:
        if trial.trial_id in self.replayed:  # already counted as done when the search resumed
            return
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


def train_candidate(spec: Spec, candidate: Spec, dataset: Dataset, *, epochs: int | None = None, prune: bool = True,
                    stops: StopSignals | None = None, board: tuple[Path, dict | None] | None = None):
    """Train one candidate the way every trial (and the baseline) is trained: ``(outcome, prepared, pruned_at)``.

    With ``stops``, a signal ends the training at the end of its current epoch and raises ``StopRequested``.
    With ``board`` (a folder, and the values to show in TensorBoard's HParams tab or None), the training's
    loss, val_loss and std_ratio per epoch are logged there for TensorBoard (``search.tensorboard``).
    The model is built and fit under ``search.distribution``'s strategy (``modeling.devices``).
    """
    epochs = epochs or candidate.train.epochs
    prepared = prepare(candidate, dataset)
    pruning = _pruning(spec, prepared, epochs) if prune else None
    callbacks = [pruning] if pruning else []
    stopper = stops.epoch_callback(epochs) if stops is not None else None
    if board is not None:
        from autofix_lstm.modeling.tensorboard_logs import TrialBoard  # loads TensorBoard's HParams plugin

        callbacks.insert(0, TrialBoard(board[0], prepared, hparams=board[1], trial_id=board[0].name))
    if stopper is not None:
        callbacks.append(stopper)  # after pruning: a trial pruned at this epoch end is complete
    with distribution_scope(spec.search.distribution):
        outcome = fit_prepared(
            candidate, prepared, epochs=epochs, callbacks=callbacks, min_std_ratio=spec.search.min_std_ratio
        )
    if stopper is not None and stopper.cut_short:
        raise StopRequested(stops.signal_name)
    return outcome, prepared, None if pruning is None else pruning.pruned_at


def _split(outcome, seconds: float) -> tuple[float, float]:
    """``seconds`` of ``train_candidate`` as (training, evaluation): fit_prepared measures after fitting."""
    measuring = max(0.0, outcome.seconds - (outcome.train_seconds or outcome.seconds))
    return seconds - measuring, measuring


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


def _room_after_search(spec: Spec, deadline: float | None, reference: TrialRecord | None,
                       baseline_pending: bool) -> float | None:
    """When the oracle stops starting trials: ``max_time`` less room for what follows the trials.

    The confirmation stage (``CONFIRM_SEEDS`` trainings) and, when the spec as written is trained
    after the trials (a first fix at the floor), that training too are counted in ``max_time``. Each
    is estimated from ``reference`` (the baseline, or the diagnosis' brief training scaled to a full
    one), and the room is never more than half of what is left.
    """
    trainings = (CONFIRM_SEEDS if spec.search.confirm else 0) + (1 if baseline_pending else 0)
    if deadline is None or not trainings or reference is None or not reference.seconds:
        return deadline
    per_epoch = reference.seconds / max(1, reference.epochs_run or 1)
    room = trainings * per_epoch * spec.train.epochs
    return deadline - min(room, max(0.0, deadline - time.time()) / 2)


def collapse_seen(diagnosis, min_std_ratio: float) -> TrialRecord | None:
    """The spec as written judged on the diagnosis' brief training, when that already shows it broken.

    Only an error-level ``collapsed_output`` (a collapse seen, not one still moving) or ``nan_output``
    counts. The record stands in for the baseline until the spec is trained in full (after the first
    trials); its ``seconds`` are the brief training's scaled to a full training. None otherwise.
    """
    seen = {f.id for f in _findings(diagnosis) if f.severity == "error"}
    metrics = getattr(diagnosis, "metrics", None)
    if not metrics or getattr(diagnosis, "training_error", None) or not seen & {"collapsed_output", "nan_output"}:
        return None
    probe = getattr(diagnosis, "probe", None) or {}
    metrics = {**metrics, "loss_diverged": probe.get("nonfinite_loss_step") is not None}
    steps, full = probe.get("steps") or 0, probe.get("full_training_steps") or 0
    brief = probe.get("seconds") or 0.0
    return TrialRecord(
        trial_id=BASELINE_ID, status=TrialStatus.PRUNED, metrics=metrics, score=score(metrics, min_std_ratio),
        fix=is_fix(metrics, min_std_ratio), epochs_run=max(1, int(probe.get("epochs") or 1)),
        seconds=brief * full / steps if steps else None,
        message="judged on the diagnosis' brief training: the spec as written was not trained in full",
    )


def _confirm(runner: _TrialRunner, records: list[TrialRecord], baseline: TrialRecord, deadline: float | None,
             reporter) -> Confirmation:
    """The confirmation stage: train the best fixes again with more seeds (``tuning.confirmation``).

    The candidates are the fixes that rank above the spec as written, best first. A fallback fix
    (the best one did not hold) gets its own seed trained again too, for best_model.keras.
    """
    spec, dataset = runner.spec, runner.dataset
    ranked = sorted((r for r in records if r.fix and r.scored), key=lambda r: r.score)
    candidates = [r for r in ranked if baseline.score is None or r.score < baseline.score]

    def train_with_seed(record: TrialRecord, seed: int) -> tuple[dict, float]:
        started = time.perf_counter()
        candidate = record_spec(record, spec).updated({"train.seed": seed})
        outcome, _, _ = train_candidate(spec, candidate, dataset, epochs=record.epochs_run or None,
                                        stops=runner.stops)
        return outcome.metrics, time.perf_counter() - started

    def on_run(record: TrialRecord, seed: int, position: int) -> None:
        reporter.stage(f"confirming trial {record.trial_id} with seed {seed} ({position} of {CONFIRM_SEEDS})")

    confirmation = confirm_fixes(candidates, train_with_seed, seed=spec.train.seed,
                                 min_std_ratio=spec.search.min_std_ratio, deadline=deadline, on_run=on_run)
    if candidates and confirmation.trial_id != candidates[0].trial_id:
        chosen = next(r for r in candidates if r.trial_id == confirmation.trial_id)
        reporter.stage(f"saving trial {chosen.trial_id}, the best fix that held on every seed")
        candidate = record_spec(chosen, spec)
        outcome, prepared, _ = train_candidate(spec, candidate, dataset, epochs=chosen.epochs_run or None,
                                               stops=runner.stops)
        save_model(export_model(outcome.core, prepared), runner.run_dir.trial_model(chosen.trial_id))
        publish_best(runner.run_dir, chosen, spec)
    return confirmation


def _as_list(values: np.ndarray) -> list:
    return np.asarray(values, dtype=np.float64).tolist()


def _cached_baseline(run: RunDir, fingerprint: str) -> TrialRecord | None:
    """The spec as written, from baseline.json, when an earlier run of this same search trained it."""
    if run.baseline.is_file() and run.baseline_model.is_file():
        cached = TrialRecord.load(run.baseline)
        if cached.fingerprint == fingerprint:
            return cached
    return None


def _baseline(spec: Spec, dataset: Dataset, run: RunDir, fingerprint: str, clock,
              stops: StopSignals | None = None) -> TrialRecord:
    """Train the spec as written (cached in baseline.json for resumed searches)."""
    cached = _cached_baseline(run, fingerprint)
    if cached is not None:
        return cached
    started = time.perf_counter()
    # The same pruning as every candidate: a spec still collapsed (and not moving) after its first
    # epochs would not change its verdict by training on, and its time goes to the fixes.
    board = (run.tensorboard_trial(BASELINE_ID), None) if spec.search.tensorboard else None
    outcome, prepared, pruned_at = train_candidate(spec, spec, dataset, stops=stops, board=board)
    train_seconds, eval_seconds = _split(outcome, time.perf_counter() - started)
    writing = time.perf_counter()
    save_model(export_model(outcome.core, prepared), run.baseline_model)
    write_seconds = time.perf_counter() - writing
    metrics = outcome.metrics
    evaluating = time.perf_counter()
    val_predictions = _as_list(predict_original(outcome.core, prepared, dataset.x_val))
    eval_seconds += time.perf_counter() - evaluating
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
        val_predictions=val_predictions,
        val_targets=_as_list(dataset.y_val),
        classes=dataset.classes,
        train_seconds=train_seconds,
        eval_seconds=eval_seconds,
        write_seconds=write_seconds,
    )
    record.save(run.baseline)
    return record


def _earlier_search(run: RunDir, fingerprint: str, fresh: bool) -> float | None:
    """Seconds already spent by an earlier run of this search, or None when there is none to resume.

    Reads only (nothing is touched before the diagnosis has accepted the spec). An earlier search
    for another spec is refused; one whose state or baseline file is damaged is refused naming the
    file, unless ``fresh`` discards it.

    Raises:
        SpecError: the folder holds a search for a different spec.
        CorruptRunError: search_state.json or baseline.json cannot be read.
    """
    if fresh or not run.state.is_file():
        return None
    state = read_json(run.state)
    if not isinstance(state, dict) or not isinstance(state.get("elapsed_seconds", 0.0), (int, float)):
        raise CorruptRunError(run.state, "not a search state")
    if state.get("fingerprint") != fingerprint:
        raise SpecError(
            f"{run.root} holds a search for a different spec (data, model, preprocessing, training, search settings "
            "or strategy files changed); run with --fresh to start over, or set a new output folder"
        )
    if run.baseline.is_file():
        TrialRecord.load(run.baseline)  # damaged: refused now, not after the diagnosis
    return float(state.get("elapsed_seconds", 0.0))


def _best_model_source(run: RunDir, record: TrialRecord) -> Path:
    return run.baseline_model if record.is_baseline else run.trial_model(record.trial_id)


def publish_best(run: RunDir, record: TrialRecord, spec: Spec) -> None:
    """Write best_model.keras and best_spec.yaml from ``record``, then best_trial.json naming it.

    Each file is replaced atomically and best_trial.json last, so a kill between two of the writes
    leaves best_trial.json naming an older trial: ``best_published`` then says False and the next
    run writes the pair again.
    """
    source = _best_model_source(run, record)
    if not source.is_file():
        raise CorruptRunError(source, f"the model of the best trial, {record.trial_id}, is missing")
    copy_file(source, run.best_model)
    write_best_spec(record_spec(record, spec), run.root)
    write_json({"trial_id": record.trial_id}, run.best_trial)


def best_published(run: RunDir, record: TrialRecord) -> bool:
    """True when best_trial.json names ``record`` and best_model.keras and best_spec.yaml are there."""
    if not (run.best_model.is_file() and run.best_spec.is_file() and run.best_trial.is_file()):
        return False
    try:
        marker = read_json(run.best_trial)
    except CorruptRunError:
        return False
    return isinstance(marker, dict) and marker.get("trial_id") == record.trial_id


def _rerun_unrecorded(runner: _TrialRunner, oracle, records: list[TrialRecord]) -> int:
    """Run again the trials Keras Tuner counts as ended whose record is missing or cut short; how many."""
    recorded = {r.trial_id for r in records}
    ran = 0
    for trial_id in list(oracle.start_order):
        trial = oracle.trials.get(trial_id)
        if trial is None or trial.status not in ("COMPLETED", "FAILED") or trial_id in recorded:
            continue
        values = dict(trial.hyperparameters.values)
        if runner.stops is not None:
            runner.stops.check()
        runner.reporter.stage(f"re-running trial {trial_id}: its record is missing or damaged")
        runner.train(trial_id, values, runner.space.decode(values), time.perf_counter(),
                     order=oracle.start_order.index(trial_id),
                     epochs=int(values.get("tuner/epochs", runner.spec.train.epochs)),
                     source=getattr(oracle, "sources", {}).get(trial_id))
        ran += 1
    return ran


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
    dataset: Dataset | None = None,
    minimize: bool = True,
    confirm: bool | None = None,
    workers: ScaleOut | int | None = None,
) -> SearchResult:
    """The search without its HTML report: what ``autofix_lstm.search`` runs (see its arguments).

    ``workers``: run the trials on worker processes over Keras Tuner's chief/worker mode
    (``tuning.distributed``): a number starts that many on this machine; a ``ScaleOut`` says how
    many, and whether workers on other machines may join. The rest runs here, as without it.

    ``reporter`` is told of each stage and trial (default: nothing is shown); ``autofix_lstm.search``
    passes a live display when asked for progress. ``dataset``: data already windowed and split,
    used instead of reading the spec's (or ``data``/``x``, ``y``).

    Raises:
        SearchInterrupted: SIGINT or SIGTERM stopped it; the outputs for the best so far are written
            first (its ``result``), unless it stopped before the baseline was trained.
        RunFolderError: the folder is not writable, another search holds it (``RunLockedError``), or an
            earlier search's files there are damaged (``CorruptRunError``).
    """
    spec = load_spec(spec)
    if max_trials is not None:
        spec = spec.updated({"search.max_trials": max_trials})
    if confirm is not None:
        spec = spec.updated({"search.confirm": confirm})
    reporter = reporter or SearchReporter()
    started = time.perf_counter()
    dataset = dataset if dataset is not None else load_dataset(spec, frame=data, x=x, y=y)
    strategies = resolve_strategies(spec.search.strategies, spec.base_dir)
    run = RunDir(spec.output_dir)
    run.check_writable(spec.source)
    fingerprint = spec_fingerprint(spec, dataset, strategies)
    scaleout = ScaleOut.of(workers)
    if scaleout is not None:
        scaleout.check(spec)
    events = EventLog(run.events, hold=True)  # written once the search has touched the folder
    reporter = LoggedReporter(reporter, events)
    with run.lock(), StopSignals() as stops:
        try:
            result = _search_locked(spec, dataset, strategies, run, fingerprint, fresh, reporter, started, stops,
                                    minimize, scaleout)
        except StopRequested as stop:  # outside the stages that wait for a safe point, or a second signal
            _log_quietly(events, "interrupted", signal=stop.signal_name, outputs_written=False)
            raise SearchInterrupted(stop.signal_name, None, run.root) from None
        except SearchInterrupted as stopped:
            _log_quietly(events, "interrupted", signal=stopped.signal_name, outputs_written=stopped.result is not None)
            raise
        except Exception as err:
            _log_quietly(events, "search_failed", error=f"{type(err).__name__}: {err}")
            raise
        _log_quietly(events, "search_ended", **search_ended_fields(result.summary))
        return result


def _log_quietly(events: EventLog, event: str, **fields) -> None:
    """Log an event on the way out of a search, never hiding why it is leaving (a full disk, say).

    Nothing is written for a search that ended before it touched the folder (refused by its checks,
    or stopped during the diagnosis).
    """
    if events.held:
        events.discard()
        return
    with contextlib.suppress(OSError):
        events.write(event, **fields)


def _search_locked(spec: Spec, dataset: Dataset, strategies: list[Strategy], run: RunDir, fingerprint: str,
                   fresh: bool, reporter: SearchReporter, started: float, stops: StopSignals,
                   minimize: bool = True, scaleout: ScaleOut | None = None) -> SearchResult:
    """``run_search`` once its inputs are checked and it holds the folder's lock and the signals."""
    discarded = fresh and run.state.is_file()
    earlier = _earlier_search(run, fingerprint, fresh)
    elapsed_before = earlier or 0.0
    where = placement(spec.search.distribution)
    if not isinstance(reporter, LoggedReporter):
        reporter = LoggedReporter(reporter, EventLog(run.events, hold=True))
    opening = {**where.to_dict(), "max_trials": spec.search.max_trials, "fingerprint": fingerprint}
    if earlier is None:
        reporter.log.write("search_started", discarded_earlier=discarded, **opening)
    else:
        reporter.log.write("resumed", elapsed_seconds_before=earlier, trials_recorded=len(list(run.trial_records())),
                           **opening)

    def clock() -> float:
        return elapsed_before + time.perf_counter() - started

    def save_state() -> None:
        write_json({"fingerprint": fingerprint, "elapsed_seconds": clock()}, run.state)

    interrupted = False
    start_order: list[str] | None = None
    baseline = runner = seen = None
    space = None
    minimal = skipped("the search was interrupted before it")
    confirmation: Confirmation | None = None
    try:
        reporter.stage("diagnosing")
        diagnosis = diagnose_dataset(spec, dataset, strategies, save=False)
        if earlier is None:  # starting over: what an earlier search wrote goes (only that)
            run.clear_search()
        run.remove_leftovers()
        save_state()
        reporter.log.release()  # the diagnosis accepted the spec and the folder is the search's now
        diagnosis.output_path = write_json(diagnosis.to_dict(), run.diagnosis)
        baseline = _cached_baseline(run, fingerprint)
        # A first fix at the floor: when the brief training already showed the spec collapsed or
        # diverged, the first trials start now and the spec as written is trained after them (it is
        # needed only for the before/after); otherwise it is trained first, as it may already work.
        seen = None if baseline is not None else collapse_seen(diagnosis, spec.search.min_std_ratio)
        if baseline is None and seen is None:
            reporter.stage("training the spec as written")
            with stops.at_epoch_ends():
                baseline = _baseline(spec, dataset, run, fingerprint, clock, stops)
        save_state()

        space = build_space(spec, dataset, strategies)
        seeds = seed_values(space, strategies, _findings(diagnosis), limit=max(1, spec.search.max_trials // 2))
        records = load_records(run)
        # Until the spec is trained in full, any trial's model is the best so far (score inf).
        best = best_record([baseline or dataclasses.replace(seen, score=math.inf), *records])
        if not best_published(run, best) and _best_model_source(run, best).is_file():
            publish_best(run, best, spec)  # a kill came between two of its writes (else _finish writes it)
        deadline = None if spec.search.max_seconds is None else time.time() + max(0.0, spec.search.max_seconds - clock())
        runner = _TrialRunner(spec, dataset, space, run, clock, reporter, best, stops)
        runner.done = len(records)
        if space.fields:
            oracle = make_oracle(
                spec.search.tuner, space.hyperparameters, max_trials=spec.search.max_trials, epochs=spec.train.epochs,
                seeds=seeds, deadline=_room_after_search(spec, deadline, baseline or seen, baseline is None),
                seed=spec.train.seed, proposal=spec.search.oracle_proposal,
            )
            with contextlib.redirect_stdout(io.StringIO()):  # Keras Tuner prints "Reloading Tuner from ..."
                tuner = AutofixTuner(oracle, runner, directory=str(run.tuner), project_name=run.project.name)
            runner.oracle = tuner.oracle
            reporter.start(spec.search.max_trials)
            reporter.trial_done(runner.done, runner.best, runner.fix_found)
            try:
                with stops.at_epoch_ends():
                    _rerun_unrecorded(runner, tuner.oracle, records)
                    with warnings.catch_warnings():
                        # The Gaussian process often sits at a kernel bound on a handful of points; harmless.
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        if scaleout is None:
                            tuner.search(verbose=0)
                        else:  # the workers run the trials; this process serves the oracle
                            serve_workers(tuner, runner, scaleout, stops, clock)
                    stops.check()
            except (StopRequested, KeyboardInterrupt) as stop:
                interrupted = _stopped_by(stop, stops)
            start_order = list(tuner.oracle.start_order)
            records = load_records(run, start_order)
        if baseline is None and not interrupted:
            reporter.stage("training the spec as written (for the before/after)")
            try:
                with stops.at_epoch_ends():
                    baseline = _baseline(spec, dataset, run, fingerprint, clock, stops)
            except (StopRequested, KeyboardInterrupt) as stop:
                interrupted = _stopped_by(stop, stops)
        baseline = baseline or seen  # interrupted first: the brief training's evidence stands in
        if space.fields:
            if not interrupted and not any(r.fix for r in [baseline, *records]) and spec.search.rerun_pruned:
                try:
                    with stops.at_epoch_ends():
                        _rerun_pruned(runner, records, deadline, reporter)
                        stops.check()
                except (StopRequested, KeyboardInterrupt) as stop:
                    interrupted = _stopped_by(stop, stops)
            if not spec.search.confirm:
                confirmation = Confirmation(skipped=TURNED_OFF)
            elif not interrupted:
                try:
                    with stops.at_epoch_ends():
                        confirmation = _confirm(runner, load_records(run, start_order), baseline, deadline, reporter)
                        stops.check()
                except (StopRequested, KeyboardInterrupt) as stop:
                    interrupted = _stopped_by(stop, stops)
        if not interrupted:
            with stops.at_epoch_ends():  # a signal ends the ablation after the current epoch, keeping what it found
                minimal = minimal_stage(
                    spec, space, baseline, _confirmed_first(load_records(run, start_order), confirmation), run.root,
                    deadline=deadline, stage=reporter.stage, enabled=minimize and spec.search.minimize,
                    train=lambda candidate, epochs: train_candidate(
                        spec, candidate, dataset, epochs=epochs, stops=stops)[0].metrics,
                )
            interrupted = stops.requested
        save_state()
    except (StopRequested, KeyboardInterrupt) as stop:
        interrupted = _stopped_by(stop, stops)
    finally:
        reporter.stop()
    baseline = baseline or seen  # stopped before the spec was trained in full: the brief training stands in
    if baseline is None:  # stopped during the diagnosis or the baseline: nothing to judge yet
        raise SearchInterrupted(stops.signal_name or "SIGINT", None, run.root)
    if space is None or runner is None:  # stopped between the baseline and the trials
        space = build_space(spec, dataset, strategies)
    probe = getattr(diagnosis, "signal_probe", None) or probe_signal(dataset, seed=spec.train.seed)
    with stops.at_epoch_ends():  # a first signal now waits for the outputs; a second one stops at once
        result = _finish(spec, run, baseline, diagnosis, space, clock, interrupted, start_order, probe,
                         getattr(runner, "oracle", None), minimal, confirmation, where)
        if interrupted:
            save_state()
    if interrupted or stops.requested:
        raise SearchInterrupted(stops.signal_name or "SIGINT", result, run.root)
    return result


def _stopped_by(stop: BaseException, stops: StopSignals) -> bool:
    """Note a stop (a KeyboardInterrupt raised by other means reads as SIGINT); True."""
    stops.request(getattr(stop, "signal_name", None) or "SIGINT")
    return True


def _confirmed_first(records: list[TrialRecord], confirmation: Confirmation | None) -> list[TrialRecord]:
    """The records the minimal fix picks its best from: only the confirmed fix, when confirmation
    chose one other than the lowest objective (the minimal fix is of the fix the search reports)."""
    if confirmation is None or confirmation.trial_id is None:
        return records
    chosen = [r for r in records if r.trial_id == confirmation.trial_id]
    return chosen or records


def _finish(spec: Spec, run: RunDir, baseline: TrialRecord, diagnosis, space: SearchSpace, clock,
            interrupted: bool, start_order: list[str] | None, probe: SignalProbe, oracle,
            minimal: MinimalFix, confirmation: Confirmation | None = None,
            where: Placement | None = None) -> SearchResult:
    """Pick the best candidate (the baseline included) and write the public outputs.

    The best is the lowest objective, unless the confirmation stage reported another fix (the best
    one that held on every seed). ``fixed`` means a collapse or a divergence was repaired: the spec
    as written was collapsed or diverged, and the best is a fix.
    """
    records = load_records(run, start_order)
    best = best_record([baseline, *records])
    if confirmation is not None and confirmation.trial_id is not None:
        best = next((r for r in records if r.trial_id == confirmation.trial_id), best)
    min_ratio = spec.search.min_std_ratio
    baseline_state = model_state(baseline.metrics, min_ratio)
    best_works = is_fix(best.metrics, min_ratio)
    fixed = bool(best_works and baseline_state in (ModelState.COLLAPSED, ModelState.DIVERGED))
    best_spec = record_spec(best, spec)
    if not best_published(run, best) and _best_model_source(run, best).is_file():
        publish_best(run, best, spec)
    cudnn = cudnn_problems(best_spec)
    alternative = None
    if best_works and cudnn:
        compatible = [r for r in [baseline, *records] if r.fix and not cudnn_problems(record_spec(r, spec))]
        alternative = best_record(compatible)
    verdict = verdict_text(fixed, best, baseline, cudnn, alternative, interrupted, probe, min_std_ratio=min_ratio,
                           confirmation=confirmation)
    changes = spec_changes(spec, best_spec)
    summary = summary_dict(
        fixed=fixed, verdict=verdict, best=best, baseline=baseline, records=records, changes=changes,
        findings=_findings(diagnosis), elapsed=clock(), min_std_ratio=min_ratio, tuner=spec.search.tuner,
        fields=space.fields, cudnn=cudnn, alternative=alternative, interrupted=interrupted,
        probe=probe, epochs=spec.train.epochs, refine_budget=getattr(oracle, "refine_budget", None),
        minimal=minimal.to_summary(), confirmation=confirmation,
        diagnosis_seconds=getattr(diagnosis, "seconds", None),
    )
    if where is not None:  # the device the trials trained on (modeling.devices)
        summary["device"] = where.device
        summary["distribution"] = where.to_dict()
    write_json(summary, run.summary)
    frame = trials_frame(records, space.fields)
    write_text(frame.to_csv(index=False), run.trials_csv)
    return SearchResult(
        fixed=fixed, verdict=verdict, best_spec=best_spec, baseline=baseline.metrics, best=best.metrics,
        changes=changes, summary=summary, trials=frame, output_dir=run.root, diagnosis=diagnosis,
        interrupted=interrupted, records=records, baseline_state=baseline_state.value,
        confirmed_seeds=summary["confirmed_seeds"],
    )


__all__ = ["SearchReporter", "SearchResult", "run_search", "spec_fingerprint"]
