"""Trial execution: train a candidate, score it, write its record, keep the best so far.

``train_candidate`` trains one candidate the way every trial and the baseline are trained (collapse
pruning, the signals, TensorBoard, ``search.distribution``'s strategy); ``TrialRunner`` runs the
trials Keras Tuner proposes (``tuning.oracles.AutofixTuner``) and writes their ``TrialRecord``s;
``train_baseline`` trains the spec as written once (cached in baseline.json, ``tuning.resume``).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from autofix_lstm.data.dataset import Dataset
from autofix_lstm.data.window_length import with_window
from autofix_lstm.errors import (
    AutofixError,
    CannotTrainError,
    CorruptRunError,
    FatalSearchError,
    ModelSpecError,
    RunFolderError,
    TrialFailed,
)
from autofix_lstm.modeling.callbacks import CollapsePruning
from autofix_lstm.modeling.devices import distribution_scope, require_one_replica_if_stateful
from autofix_lstm.modeling.evaluate import validation_predictions
from autofix_lstm.modeling.train import export_model, fit_prepared, prepare
from autofix_lstm.run_dir import RunDir, save_model
from autofix_lstm.scoring.metrics import Metrics
from autofix_lstm.scoring.objective import TIER_CANNOT_TRAIN, ModelState, judge
from autofix_lstm.scoring.signal import SignalProbe, far_below
from autofix_lstm.spec import Spec
from autofix_lstm.tuning.interrupts import StopRequested, StopSignals
from autofix_lstm.tuning.process_role import worker_name
from autofix_lstm.tuning.records import BASELINE_ID, TrialRecord, TrialStatus
from autofix_lstm.tuning.refinement import Refinement
from autofix_lstm.tuning.resume import cached_baseline, publish_best
from autofix_lstm.tuning.space import SearchSpace


class TrialRunner:
    """Trains the candidates Keras Tuner proposes, writes their records, and keeps the best so far."""

    def __init__(self, spec: Spec, dataset: Dataset, space: SearchSpace, run: RunDir, clock, reporter,
                 best: TrialRecord, stops: StopSignals | None = None, callbacks: list | None = None):
        self.spec = spec
        self.callbacks = list(callbacks or [])  # the user's Keras callbacks, for every trial's fit
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
        self.between_trials: Callable[[], object] | None = None  # search.stop's check after each trial
        self.refinement = Refinement()  # how it refines (the driver sets it from the diagnosis)
        self.refine_centre: TrialRecord | None = None  # the record the queued neighbourhood surrounds
        self.probe: SignalProbe | None = None  # the diagnosis' signal probe: a fix far below it widens first

    def _order(self, trial_id: str) -> int | None:
        order = getattr(self.oracle, "start_order", None) or []
        return order.index(trial_id) if trial_id in order else None

    def run(self, trial) -> dict:
        """Run one trial Keras Tuner proposes (``AutofixTuner.run_trial``); its objective, ``{"score": ...}``.

        Raises:
            TrialFailed: the candidate failed (its record, written, says why); the search goes on.
            FatalSearchError: the trial's record or model could not be written to the output folder
                (a full disk, say): every further trial would fail the same way, so the search stops.
            StopRequested: a signal cut the training short (nothing is recorded: a resume runs it again).
        """
        if self.stops is not None:
            self.stops.check()
        recorded = self._recorded(trial.trial_id)
        if recorded is not None:  # finished before a kill, but Keras Tuner did not hear of it: not run again
            self.replayed.add(trial.trial_id)
            if recorded.status is TrialStatus.FAILED:
                raise TrialFailed(recorded.message)
            return {"score": recorded.score}
        started = time.perf_counter()
        values = dict(trial.hyperparameters.values)
        decoded = self.space.decode(values)
        source = getattr(self.oracle, "sources", {}).get(trial.trial_id, "oracle")
        proposal = getattr(self.oracle, "proposal_seconds", {}).get(trial.trial_id)
        try:
            record = self.train(trial.trial_id, values, decoded, started, order=self._order(trial.trial_id),
                                epochs=_tuner_epochs(values), source=source,
                                oracle_seconds=proposal)
        except (RunFolderError, OSError) as err:  # a failed candidate is recorded by train; this could not be
            raise FatalSearchError(
                f"trial {trial.trial_id} could not be saved in {self.run_dir.root}, so the search stopped (every "
                f"further trial would fail the same way): {type(err).__name__}: {err}"
            ) from err
        if record.status is TrialStatus.FAILED:
            raise TrialFailed(record.message)
        return {"score": record.score}

    def _recorded(self, trial_id: str) -> TrialRecord | None:
        path = self.run_dir.trial_record(trial_id)
        try:
            return TrialRecord.load(path) if path.is_file() else None
        except (OSError, CorruptRunError):
            return None  # cut short: run it again

    def rerun_unrecorded(self, oracle, records: list[TrialRecord]) -> int:
        """Run again the trials Keras Tuner counts as ended whose record is missing or cut short; how many."""
        recorded = {r.trial_id for r in records}
        ran = 0
        for trial_id in list(oracle.start_order):
            trial = oracle.trials.get(trial_id)
            if trial is None or trial.status not in ("COMPLETED", "FAILED") or trial_id in recorded:
                continue
            values = dict(trial.hyperparameters.values)
            if self.stops is not None:
                self.stops.check()
            self.reporter.stage(f"re-running trial {trial_id}: its record is missing or damaged")
            self.train(trial_id, values, self.space.decode(values), time.perf_counter(),
                       order=oracle.start_order.index(trial_id),
                       epochs=_tuner_epochs(values),
                       source=getattr(oracle, "sources", {}).get(trial_id))
            ran += 1
        return ran

    def train(self, trial_id: str, values: dict, decoded: dict, started: float, *, order: int | None,
              epochs: int | None, prune: bool = True, rerun_of: str | None = None, source: str | None = None,
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
                                                           stops=self.stops, board=self._board(trial_id, decoded),
                                                           callbacks=self.callbacks)
        except (AutofixError, ValueError) as err:
            return self._fail(trial_id, decoded, f"{type(err).__name__}: {err}", started, order=order, source=source,
                              oracle_seconds=oracle_seconds, train_seconds=time.perf_counter() - began)
        train_seconds, eval_seconds = _split(outcome, time.perf_counter() - began)
        metrics = outcome.metrics
        if metrics.nan or metrics.loss_diverged:
            return self._fail(trial_id, decoded, "NaN or infinite loss/predictions", started, metrics, order=order,
                              source=source, oracle_seconds=oracle_seconds, train_seconds=train_seconds)
        evaluating = time.perf_counter()
        judgment = judge(metrics, self.min_std_ratio)
        # The predictions the metrics were measured on (predicting the validation part again costs as much).
        val_predictions = _as_list(outcome.val_predictions)
        eval_seconds += time.perf_counter() - evaluating
        record = TrialRecord.judged(
            trial_id,
            TrialStatus.PRUNED if pruned_at is not None else TrialStatus.COMPLETED,
            metrics,
            judgment,
            values=decoded,
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

    def _refines(self) -> bool:
        return bool(self.spec.search.refine and self.oracle is not None and hasattr(self.oracle, "queue_refinements"))

    def _refine_around(self, record: TrialRecord) -> None:
        """Queue the new best fix's one-field neighbours ahead of the oracle (``search.refine``)."""
        if not self._refines():
            return
        remaining = max(0, self.spec.search.max_trials - self.started_count())
        self.refine_centre = record
        widen = record.fix and far_below(self.probe, record.metrics) is not None
        self.oracle.queue_refinements(self.refinement.around(self.space, record.values or {}, widen=widen),
                                      budget=max(1, remaining // 2))

    def refine_near_working_spec(self, baseline: TrialRecord) -> None:
        """The spec as written already works: spend the refinement budget near it first (its learning
        rate, width and regularisation), after the diagnosis' first seed and before the oracle goes far away."""
        if baseline.state is ModelState.WORKING and baseline.fix and self.best is baseline and self._refines():
            self.oracle.seeds_first = 1
            self._refine_around(baseline)

    def _narrow_refinement(self) -> None:
        """A continuous field stepped both ways from the best with no gain: its narrower steps, once every
        other field had its nearest neighbour tried."""
        centre = self.refine_centre
        if not self._refines() or centre is None or centre is not self.best:
            return
        fields = set(self.space.fields)
        trials = list(getattr(self.oracle, "trials", {}).values())
        tried = [{k: v for k, v in t.hyperparameters.values.items() if k in fields} for t in trials]
        finished = [values for values, t in zip(tried, trials) if t.status not in ("RUNNING", "IDLE")]
        narrower = self.refinement.narrow(self.space, centre.values or {}, finished, tried)
        if narrower:
            self.oracle.refine_at(narrower, self.refinement.insert_at(self.oracle.refine_queue))

    def _fail(self, trial_id: str, values: dict, message: str, started: float, metrics: Metrics | None = None,
              *, order: int | None = None, source: str | None = None, oracle_seconds: float | None = None,
              train_seconds: float | None = None) -> TrialRecord:
        record = TrialRecord(
            trial_id=trial_id, status=TrialStatus.FAILED, values=values, message=message[:2000],
            metrics=metrics, seconds=time.perf_counter() - started, elapsed_at_end=self.clock(), order=order,
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
        """Keras Tuner ended ``trial``: tally it, then run ``between_trials`` (the stop rule may end the trials)."""
        if trial.trial_id in self.replayed:  # already counted as done when the search resumed
            return
        self.done += 1
        self.reporter.trial_done(self.done, self.best, self.fix_found)
        self._narrow_refinement()
        if self.between_trials is not None:
            self.between_trials()


def _tuner_epochs(values: dict) -> int | None:
    """The epochs Hyperband gave a trial (``tuner/epochs``); None: the candidate's own ``train.epochs``
    (the user's, or a value the search chose for that field)."""
    return int(values["tuner/epochs"]) if "tuner/epochs" in values else None


def _pruning(spec: Spec, prepared, epochs: int) -> CollapsePruning | None:
    """The collapse pruning a trial gets (None when ``search.prune_after`` is null)."""
    if spec.search.prune_after is None:
        return None
    return CollapsePruning(
        prepared, after=spec.search.prune_after, min_std_ratio=spec.search.min_std_ratio, epochs=epochs,
        batch_size=spec.train.batch_size,
    )


def train_candidate(spec: Spec, candidate: Spec, dataset: Dataset, *, epochs: int | None = None, prune: bool = True,
                    stops: StopSignals | None = None, board: tuple[Path, dict | None] | None = None,
                    callbacks: list | None = None):
    """Train one candidate the way every trial (and the baseline) is trained: ``(outcome, prepared, pruned_at)``.

    With ``stops``, a signal ends the training at the end of its current epoch and raises ``StopRequested``.
    With ``board`` (a folder, and the values to show in TensorBoard's HParams tab or None), the training's
    loss, val_loss and std_ratio per epoch are logged there for TensorBoard (``search.tensorboard``).
    The model is built and fit under ``search.distribution``'s strategy (``modeling.devices``). A stateful candidate
    mirrored over several replicas cannot train (``require_one_replica_if_stateful``).
    ``callbacks``: the user's own Keras callbacks, a fresh copy of each for this fit (as Keras Tuner
    copies them for each trial), after the pruning and before the signal check. A candidate with
    another ``data.window`` than ``spec``'s trains and is measured on ``dataset``'s samples cut to its
    window (``data.window_length``: the same validation targets), and ``prepared`` holds those.
    """
    epochs = epochs or candidate.train.epochs
    if candidate.data.window != spec.data.window:  # a searched window: the same samples, cut to its length
        dataset = with_window(dataset, candidate.data.window)
    prepared = prepare(candidate, dataset)
    pruning = _pruning(candidate, prepared, epochs) if prune else None  # its own batch size: steps per epoch
    user = [copy.deepcopy(callback) for callback in callbacks or []]
    callbacks = ([pruning] if pruning else []) + user
    stopper = stops.epoch_callback(epochs) if stops is not None else None
    if board is not None:
        from autofix_lstm.modeling.tensorboard_logs import TrialBoard  # loads TensorBoard's HParams plugin

        callbacks.insert(0, TrialBoard(board[0], prepared, hparams=board[1], trial_id=board[0].name))
    if stopper is not None:
        callbacks.append(stopper)  # after pruning: a trial pruned at this epoch end is complete
    require_one_replica_if_stateful(candidate, spec.search.distribution)  # else Keras fails on a shape, unexplained
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


def _as_list(values: np.ndarray) -> list:
    return np.asarray(values, dtype=np.float64).tolist()


def train_baseline(spec: Spec, dataset: Dataset, run: RunDir, fingerprint: str, clock,
              stops: StopSignals | None = None, callbacks: list | None = None) -> TrialRecord:
    """Train the spec as written (cached in baseline.json for resumed searches)."""
    cached = cached_baseline(run, fingerprint)
    if cached is not None:
        return cached
    started = time.perf_counter()
    # The same pruning as every candidate: a spec still collapsed (and not moving) after its first
    # epochs would not change its verdict by training on, and its time goes to the fixes.
    board = (run.tensorboard_trial(BASELINE_ID), None) if spec.search.tensorboard else None
    try:
        outcome, prepared, pruned_at = train_candidate(spec, spec, dataset, stops=stops, board=board, callbacks=callbacks)
    except ModelSpecError as err:  # Keras refused to train it: a state of the spec as written, which the search fixes
        record = cannot_train_record(err, fingerprint, time.perf_counter() - started, clock(), spec, dataset)
        record.save(run.baseline)
        return record
    train_seconds, eval_seconds = _split(outcome, time.perf_counter() - started)
    writing = time.perf_counter()
    save_model(export_model(outcome.core, prepared), run.baseline_model)
    write_seconds = time.perf_counter() - writing
    metrics = outcome.metrics
    evaluating = time.perf_counter()
    val_predictions = _as_list(validation_predictions(outcome.core, prepared))
    eval_seconds += time.perf_counter() - evaluating
    record = TrialRecord.judged(
        BASELINE_ID,
        TrialStatus.PRUNED if pruned_at is not None else TrialStatus.COMPLETED,
        metrics,
        judge(metrics, spec.search.min_std_ratio),
        pruned_at=pruned_at,
        fingerprint=fingerprint,
        epochs_run=outcome.epochs_run,
        history=outcome.history,
        seconds=time.perf_counter() - started,
        elapsed_at_end=clock(),
        spec=spec.to_dict(),
        val_predictions=val_predictions,
        val_targets=_as_list(dataset.validation_targets),
        classes=dataset.classes,
        train_seconds=train_seconds,
        eval_seconds=eval_seconds,
        write_seconds=write_seconds,
    )
    record.save(run.baseline)
    return record


def cannot_train_record(err: ModelSpecError, fingerprint: str, seconds: float, elapsed: float, spec: Spec,
                        dataset: Dataset) -> TrialRecord:
    """The baseline record of a spec Keras could not train at all: state ``cannot_train``, no metrics,
    the reason in one line as its message, ranked behind every trained candidate (``TIER_CANNOT_TRAIN``)."""
    reason = err.reason if isinstance(err, CannotTrainError) else " ".join(err.problems).strip()
    return TrialRecord(
        trial_id=BASELINE_ID, status=TrialStatus.FAILED, score=float(TIER_CANNOT_TRAIN), fix=False,
        state=ModelState.CANNOT_TRAIN, beats_constant=False, message=f"cannot train: {reason.removeprefix('cannot train: ')}"[:2000],
        fingerprint=fingerprint, seconds=seconds, elapsed_at_end=elapsed, spec=spec.to_dict(),
        val_targets=_as_list(dataset.validation_targets), classes=dataset.classes,
    )


__all__ = ["TrialRunner", "cannot_train_record", "train_baseline", "train_candidate"]
