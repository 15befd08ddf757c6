"""The search driver: diagnose, train the baseline, let Keras Tuner explore the remedies, write the fix.

``run_search(spec, dataset, options)`` is the core of ``autofix-lstm search`` (``autofix_lstm.search`` adds the HTML
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

This module holds the stages, in order (``_search_locked``); a trial's training and record are
``tuning.trials`` (``TrialRunner``), what a search returns and reports is ``tuning.result``, and what
carries a search from one run to the next (fingerprint, cached baseline, the best's files) is
``tuning.resume``. The confirmation across seeds is ``tuning.confirm_stage``, and ``search.stop``
(whether the trials may end once a fix is confirmed) ``tuning.stopping``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import time
import warnings
from collections.abc import Callable
from typing import TypeVar

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from autofix_lstm.data.dataset import Dataset
from autofix_lstm.diagnosis.findings import Severity
from autofix_lstm.diagnosis.runner import diagnose_dataset
from autofix_lstm.errors import SearchInterrupted, SpecError
from autofix_lstm.inputs import Options
from autofix_lstm.modeling.devices import Placement, placement
from autofix_lstm.remedies.strategies import Strategy, check_candidates, resolve_strategies
from autofix_lstm.run_dir import RunDir, RunLock, write_json, write_text
from autofix_lstm.scoring.objective import ModelState, judge
from autofix_lstm.scoring.signal import SignalProbe, probe_signal
from autofix_lstm.spec import Spec
from autofix_lstm.tuning.confirm_stage import confirm_stage, load_known
from autofix_lstm.tuning.confirmation import CONFIRM_SEEDS, TURNED_OFF, Confirmation
from autofix_lstm.tuning.distributed import ScaleOut, serve_workers
from autofix_lstm.tuning.events import EventLog, LoggedReporter, search_ended_fields
from autofix_lstm.tuning.interrupts import StopNow, StopRequested, StopSignals
from autofix_lstm.tuning.minimal import MinimalFix, minimal_stage, skipped
from autofix_lstm.tuning.oracles import AutofixTuner, make_oracle
from autofix_lstm.tuning.records import BASELINE_ID, TrialRecord, TrialStatus, best_record, load_records
from autofix_lstm.tuning.refinement import refinement_for
from autofix_lstm.tuning.result import SearchReporter, SearchResult
from autofix_lstm.tuning.resume import cached_baseline, earlier_search, keep_best_published, spec_fingerprint
from autofix_lstm.tuning.search_summary import Summary, build_summary
from autofix_lstm.tuning.space import SearchSpace, build_space, seed_values
from autofix_lstm.tuning.stopping import EarlyStop, stop_rule
from autofix_lstm.tuning.summary import (
    cudnn_problems,
    record_spec,
    spec_changes,
    trials_frame,
    verdict_text,
)
from autofix_lstm.tuning.trials import TrialRunner, train_baseline, train_candidate

T = TypeVar("T")


def run_search(spec: Spec, dataset: Dataset, options: Options, *, reporter: SearchReporter | None = None,
               lock: RunLock | None = None) -> SearchResult:
    """The search without its HTML report: what ``autofix_lstm.search`` runs (see its arguments).

    ``spec``, ``dataset`` and ``options`` are ``inputs.resolve_inputs``'s: the spec with its
    overrides applied (``max_trials``, ``confirm`` ...), its data windowed and split, and how to run
    (``fresh``, ``minimize``, ``workers``). ``options.workers``: run the trials on worker processes
    over Keras Tuner's chief/worker mode (``tuning.distributed``): a number starts that many on this
    machine; a ``ScaleOut`` says how many, and whether workers on other machines may join. The rest
    runs here, as without it.

    ``reporter`` is told of each stage and trial (default: nothing is shown); ``autofix_lstm.search``
    passes a live display when asked for progress. ``lock``: the output folder's lock, already held
    by the caller (the CLI takes it before TensorFlow loads, so a held folder is refused at once);
    None: the search takes it.

    Raises:
        SearchInterrupted: SIGINT or SIGTERM stopped it; the outputs for the best so far are written
            first (its ``result``), unless it stopped before any trial ended (in the diagnosis, the
            baseline or the first trial: no verdict on nothing) or a second signal stopped it at once.
        RunFolderError: the folder is not writable, another search holds it (``RunLockedError``), or an
            earlier search's files there are damaged (``CorruptRunError``).
    """
    reporter = reporter or SearchReporter()
    started = time.perf_counter()
    strategies = resolve_strategies(spec.search.strategies, spec.base_dir)
    check_candidates(strategies, spec, dataset)
    run = RunDir(spec.output_dir)
    run.check_writable(spec.source)
    fingerprint = spec_fingerprint(spec, dataset, strategies)
    scaleout = ScaleOut.of(options.workers)
    if scaleout is not None:
        scaleout.check(spec)
        if options.callbacks:
            raise SpecError("callbacks= run in this process, but with workers= the trials train in other "
                            "processes; leave out one of the two")
        if spec.search.stop == "confirmed":
            raise SpecError("search.stop: confirmed confirms fixes between trials, which a search with workers= "
                            "does not pause for; use search.stop: budget with workers")
    if lock is not None and lock.path != run.lock_file:
        raise ValueError(f"the lock given is {lock.path}'s, not {run.lock_file}'s")
    events = EventLog(run.events, hold=True)  # written once the search has touched the folder
    reporter = LoggedReporter(reporter, events)
    # A first signal waits for the search's next check point all along (tuning.interrupts says why).
    with run.lock() if lock is None else contextlib.nullcontext(), StopSignals() as stops, stops.at_epoch_ends():
        try:
            result = _search_locked(spec, dataset, strategies, run, fingerprint, options.fresh, reporter, started,
                                    stops, options.minimize, scaleout, list(options.callbacks or []))
        except StopRequested as stop:  # a second signal (StopNow): stopped at once, nothing more written
            _log_quietly(events, "interrupted", signal=stop.signal_name, outputs_written=False)
            raise SearchInterrupted(stop.signal_name, None, run.root) from None
        except SearchInterrupted as stopped:
            _log_quietly(events, "interrupted", signal=stopped.signal_name, outputs_written=stopped.result is not None)
            raise
        except Exception as err:
            _log_quietly(events, "search_failed", error=f"{type(err).__name__}: {err}")
            raise
        _log_quietly(events, "search_ended", **search_ended_fields(Summary.from_dict(result.summary)))
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
                   minimize: bool = True, scaleout: ScaleOut | None = None, callbacks: list | None = None) -> SearchResult:
    """``run_search`` once its inputs are checked and it holds the folder's lock and the signals."""
    discarded = fresh and run.state.is_file()
    earlier = earlier_search(run, fingerprint, fresh)
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
    stopper = None
    try:
        reporter.stage("diagnosing")
        diagnosis = diagnose_dataset(spec, dataset, strategies, save=False, check=stops.check)
        stops.check()  # a search stopped during its diagnosis touches nothing
        if earlier is None:  # starting over: what an earlier search wrote goes (only that)
            run.clear_search()
        run.remove_leftovers()
        known = load_known(run)  # fixes confirmed between trials by an earlier run (search.stop: confirmed)
        save_state()
        reporter.log.release()  # the diagnosis accepted the spec and the folder is the search's now
        diagnosis.output_path = write_json(diagnosis.to_dict(), run.diagnosis)
        baseline = cached_baseline(run, fingerprint)
        # A first fix at the floor: when the brief training already showed the spec collapsed or
        # diverged, the first trials start now and the spec as written is trained after them (it is
        # needed only for the before/after); otherwise it is trained first, as it may already work.
        seen = None if baseline is not None else collapse_seen(diagnosis, spec.search.min_std_ratio)
        if baseline is None and seen is None:
            reporter.stage("training the spec as written")
            with stops.at_epoch_ends():
                baseline = train_baseline(spec, dataset, run, fingerprint, clock, stops, callbacks)
        save_state()

        space = build_space(spec, dataset, strategies)
        seeds = seed_values(space, strategies, _findings(diagnosis), limit=max(1, spec.search.max_trials // 2))
        records = load_records(run)
        # Until the spec is trained in full, any trial's model is the best so far (score inf).
        best = best_record([baseline or dataclasses.replace(seen, score=math.inf), *records])
        keep_best_published(run, best, spec)  # a kill between two of its writes, a file damaged since
        deadline = None if spec.search.max_seconds is None else time.time() + max(0.0, spec.search.max_seconds - clock())
        runner = TrialRunner(spec, dataset, space, run, clock, reporter, best, stops, callbacks)
        runner.done = len(records)
        if space.fields:
            oracle = make_oracle(
                spec.search.tuner, space.hyperparameters, max_trials=spec.search.max_trials, epochs=spec.train.epochs,
                seeds=seeds, deadline=_room_after_search(spec, deadline, baseline or seen, baseline is None),
                seed=spec.search_seed, proposal=spec.search.oracle_proposal,
            )
            with contextlib.redirect_stdout(io.StringIO()):  # Keras Tuner prints "Reloading Tuner from ..."
                tuner = AutofixTuner(oracle, runner, directory=str(run.tuner), project_name=run.project.name)
            runner.oracle = tuner.oracle
            runner.refinement = refinement_for(_findings(diagnosis), baseline is not None and baseline.fix)
            runner.probe = getattr(diagnosis, "signal_probe", None)
            if baseline is not None:
                runner.refine_near_working_spec(baseline)
            stopper = stop_rule(spec, runner, run, known, deadline, probe=runner.probe)
            runner.between_trials = None if stopper is None else stopper.trial_ended
            reporter.start(spec.search.max_trials)
            reporter.deadline(deadline)
            reporter.trial_done(runner.done, runner.best, runner.fix_found)

            def trials() -> None:
                stops.check()  # not even trial 0 starts after a signal
                runner.rerun_unrecorded(tuner.oracle, records)
                if stopper is not None:  # a resumed search that had stopped early starts no trial
                    stopper.start(load_records(run, tuner.oracle.start_order))
                with warnings.catch_warnings():
                    # The Gaussian process often sits at a kernel bound on a handful of points; harmless.
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    if scaleout is None:
                        tuner.search(verbose=0)
                    else:  # the workers run the trials; this process serves the oracle
                        serve_workers(tuner, runner, scaleout, stops, clock)

            _, interrupted = _until_stopped(stops, trials)
            start_order = list(tuner.oracle.start_order)
            records = load_records(run, start_order)
        if baseline is None and not interrupted:
            reporter.stage("training the spec as written (for the before/after)")
            baseline, interrupted = _until_stopped(
                stops, lambda: train_baseline(spec, dataset, run, fingerprint, clock, stops, callbacks))
        baseline = baseline or seen  # interrupted first: the brief training's evidence stands in
        if space.fields:
            if not interrupted and not any(r.fix for r in [baseline, *records]) and spec.search.rerun_pruned:
                _, interrupted = _until_stopped(stops, lambda: _rerun_pruned(runner, records, deadline, reporter))
            if not spec.search.confirm:
                confirmation = Confirmation(skipped=TURNED_OFF)
            elif not interrupted:
                confirmation, interrupted = _until_stopped(stops, lambda: confirm_stage(
                    runner, load_records(run, start_order), baseline, deadline, reporter, known))
        if not interrupted:
            # A signal ends the ablation after the current epoch, keeping what it found.
            found, interrupted = _until_stopped(stops, lambda: minimal_stage(
                spec, space, baseline, _confirmed_first(load_records(run, start_order), confirmation), run.root,
                deadline=deadline, stage=reporter.stage, enabled=minimize and spec.search.minimize,
                train=lambda candidate, epochs: train_candidate(
                    spec, candidate, dataset, epochs=epochs, stops=stops, callbacks=callbacks)[0].metrics,
            ))
            minimal = minimal if found is None else found
        save_state()
    except StopNow:
        raise
    except (StopRequested, KeyboardInterrupt) as stop:
        interrupted = _stopped_by(stop, stops)
    finally:
        reporter.stop()
    baseline = baseline or seen  # stopped before the spec was trained in full: the brief training stands in
    # Stopped during the diagnosis or the baseline, or before any trial ended: no verdict on nothing.
    if baseline is None or (interrupted and not load_records(run)):
        raise SearchInterrupted(stops.signal_name or "SIGINT", None, run.root)
    if space is None or runner is None:  # stopped between the baseline and the trials
        space = build_space(spec, dataset, strategies)
    probe = getattr(diagnosis, "signal_probe", None) or probe_signal(dataset, seed=spec.train.seed)
    with stops.at_epoch_ends():  # a first signal now waits for the outputs; a second one stops at once
        result = _finish(spec, run, baseline, diagnosis, space, clock, interrupted, start_order, probe,
                         getattr(runner, "oracle", None), minimal, confirmation, where,
                         None if stopper is None else stopper.stopped)
        if interrupted:
            save_state()
    if interrupted or stops.requested:
        raise SearchInterrupted(stops.signal_name or "SIGINT", result, run.root)
    return result


def _until_stopped(stops: StopSignals, stage: Callable[[], T]) -> tuple[T | None, bool]:
    """Run one stage after the baseline so that a signal ends it at an epoch's end: (its result, stopped).

    Within the stage a first signal waits for the end of the current epoch (``StopSignals.at_epoch_ends``);
    it is raised at the stage's end (``check``) or by the training it cut short, and caught here, so
    the search goes on to write the outputs for the best so far. The result is None when the stop
    cut the stage short, and kept when the signal came after the stage had finished.
    """
    result = None
    try:
        with stops.at_epoch_ends():
            result = stage()
            stops.check()
    except StopNow:  # a second signal: no outputs are written after it
        raise
    except (StopRequested, KeyboardInterrupt) as stop:
        return result, _stopped_by(stop, stops)
    return result, False


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
            where: Placement | None = None, stopped: EarlyStop | None = None) -> SearchResult:
    """Pick the best candidate (the baseline included) and write the public outputs.

    The best is the lowest objective, unless the confirmation stage reported another fix (the best
    one that held on every seed). ``fixed`` means a collapse or a divergence was repaired: the spec
    as written was collapsed, diverged or could not be trained at all, and the best is a fix.
    ``stopped``: why the trials ended before the budget (``search.stop: confirmed``), or None.
    """
    records = load_records(run, start_order)
    best = best_record([baseline, *records])
    if confirmation is not None and confirmation.trial_id is not None:
        best = next((r for r in records if r.trial_id == confirmation.trial_id), best)
    min_ratio = spec.search.min_std_ratio
    best, baseline = best.judged_at(min_ratio), baseline.judged_at(min_ratio)
    baseline_state = baseline.state
    best_works = best.state is ModelState.WORKING
    fixed = bool(best_works and baseline_state in (ModelState.COLLAPSED, ModelState.DIVERGED, ModelState.CANNOT_TRAIN))
    best_spec = record_spec(best, spec)
    keep_best_published(run, best, spec)  # a rerun of a finished search rewrites what is not whole
    cudnn = cudnn_problems(best_spec)
    alternative = None
    if best_works and cudnn:
        compatible = [r for r in [baseline, *records] if r.fix and not cudnn_problems(record_spec(r, spec))]
        alternative = best_record(compatible)
    verdict = verdict_text(fixed, best, baseline, cudnn, alternative, interrupted, probe, min_std_ratio=min_ratio,
                           confirmation=confirmation, stopped=None if stopped is None else stopped.sentence())
    changes = spec_changes(spec, best_spec)
    summary = build_summary(
        fixed=fixed, verdict=verdict, best=best, baseline=baseline, records=records, changes=changes,
        findings=_findings(diagnosis), elapsed=clock(), min_std_ratio=min_ratio, tuner=spec.search.tuner,
        fields=space.fields, cudnn=cudnn, alternative=alternative, interrupted=interrupted,
        probe=probe, epochs=spec.train.epochs, refine_budget=getattr(oracle, "refine_budget", None),
        minimal=minimal, confirmation=confirmation, stopped=stopped,
        diagnosis_seconds=getattr(diagnosis, "seconds", None),
        # the device the trials trained on (modeling.devices)
        device=None if where is None else where.device, distribution=None if where is None else where.to_dict(),
    )
    summary.save(run.summary)
    frame = trials_frame(records, space.fields)
    write_text(frame.to_csv(index=False), run.trials_csv)
    return SearchResult(
        fixed=fixed, verdict=verdict, best_spec=best_spec, baseline=baseline.metrics, best=best.metrics,
        changes=changes, summary=summary.to_dict(), trials=frame, output_dir=run.root, diagnosis=diagnosis,
        interrupted=interrupted, records=records, baseline_state=baseline_state.value,
        confirmed_seeds=summary.confirmed_seeds,
    )


RERUN_SUFFIX = "_full"


def loss_trend(record: TrialRecord) -> float:
    """How much a trial's training loss fell, relative to its first epoch (0 when unknown): its promise."""
    losses = [v for v in (record.history or {}).get("loss", []) if v is not None and np.isfinite(v)]
    if len(losses) < 2 or losses[0] <= 0:
        return 0.0
    return (losses[0] - losses[-1]) / losses[0]


def _rerun_pruned(runner: TrialRunner, records: list[TrialRecord], deadline: float | None, reporter) -> int:
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
            order=len(records) + position, epochs=None, prune=False, rerun_of=record.trial_id,
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
    seen = {f.id for f in _findings(diagnosis) if f.severity is Severity.ERROR}
    metrics = getattr(diagnosis, "metrics", None)
    if not metrics or getattr(diagnosis, "training_error", None) or not seen & {"collapsed_output", "nan_output"}:
        return None
    probe = getattr(diagnosis, "probe", None) or {}
    metrics = metrics.with_training(loss_diverged=probe.get("nonfinite_loss_step") is not None)
    steps, full = probe.get("steps") or 0, probe.get("full_training_steps") or 0
    brief = probe.get("seconds") or 0.0
    return TrialRecord.judged(
        BASELINE_ID, TrialStatus.PRUNED, metrics, judge(metrics, min_std_ratio),
        epochs_run=max(1, int(probe.get("epochs") or 1)),
        seconds=brief * full / steps if steps else None,
        message="judged on the diagnosis' brief training: the spec as written was not trained in full",
    )


def _findings(diagnosis) -> list:
    return list(getattr(diagnosis, "findings", []) or [])


__all__ = ["RERUN_SUFFIX", "collapse_seen", "loss_trend", "run_search"]
