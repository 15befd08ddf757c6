"""The notebook and CLI entry points that compose the library's parts.

``search`` runs the search (``tuning.driver.run_search``) and then writes the HTML report from the
files it left, so the search itself never depends on presentation.

``diagnose``, ``search`` and ``train`` take a spec, or a live, compiled ``keras.Model`` (a Sequential,
or a functional model that is a linear stack of supported layers) with its data as Keras' ``fit``
takes it: ``x``, ``y`` and ``validation_data=(x_val, y_val)`` or ``validation_split=``, or a
DataFrame with ``target=`` and ``window=``. The model becomes a spec (``Spec.from_model``); its own
weights are never touched. What they are given becomes a ``(Spec, Dataset, Options)`` once
(``inputs.resolve_inputs``); the CLI resolves its inputs the same way and runs ``search_resolved``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from autofix_lstm.data.dataset import Dataset
from autofix_lstm.errors import RunFolderError, SearchInterrupted
from autofix_lstm.inputs import Options, keep_in_memory_data, resolve_inputs
from autofix_lstm.modeling.train import TrainResult
from autofix_lstm.modeling.train import train as train_spec
from autofix_lstm.render.progress import progress_reporter
from autofix_lstm.render.report import write_report
from autofix_lstm.run_dir import RunDir, RunLock
from autofix_lstm.spec import Spec, load_spec
from autofix_lstm.spec._paths import expand_user
from autofix_lstm.tuning.driver import run_search
from autofix_lstm.tuning.interrupts import StopRequested, StopSignals
from autofix_lstm.tuning.result import SearchResult


def diagnose(
    spec: str | Path | dict | Spec | Any,
    *,
    data=None,
    x=None,
    y=None,
    validation_data=None,
    validation_split: float | None = None,
    save: bool = True,
    progress: bool = False,
    **model_options,
):
    """Find out why an LSTM's output collapses, from a brief instrumented training.

    Args:
        spec: a spec file path, a dict or a ``Spec``; or a compiled ``keras.Model`` (left unchanged).
        data: a pandas DataFrame to use instead of ``data.path`` (with a model: give ``target=`` and ``window=``).
        x, y: already windowed arrays to use instead of ``data.path``.
        validation_data: ``(x_val, y_val)``, as ``fit`` takes it; otherwise the last ``validation_split``
            of the samples is the validation part.
        save: write ``diagnosis.json`` to the spec's output folder.
        progress: show a progress bar over the brief training's steps.
        **model_options: with a model, ``Spec.from_model``'s settings (``epochs``, ``batch_size``,
            ``target``, ``window``, ``task``, ``output``, ...).

    Returns:
        A ``DiagnosisResult`` (see ``autofix_lstm.diagnosis.diagnose``).

    Raises:
        ModelSpecError: the model cannot be described as a spec (one line naming the layer).
        SpecError, DataError: bad input, with the field and the fix.
    """
    from autofix_lstm.diagnosis.runner import diagnose as diagnose_spec

    spec, dataset, options = resolve_inputs(
        spec, data=data, x=x, y=y, validation_data=validation_data, validation_split=validation_split,
        model_options=model_options, save=save, progress=progress,
    )
    return diagnose_spec(spec, dataset, save=options.save, progress=options.progress)


def train(
    spec: str | Path | dict | Spec | Any,
    *,
    data=None,
    x=None,
    y=None,
    validation_data=None,
    validation_split: float | None = None,
    save: bool = True,
    progress: bool = False,
    **model_options,
) -> TrainResult:
    """Train the spec (or a copy of the model, from its config) as written, and measure whether its output collapsed.

    Args: as ``diagnose``; ``save`` writes ``metrics.json`` and ``model.keras`` to the output folder.

    Returns:
        A ``TrainResult``; ``model`` is a new model (raw windows in, original units out), compiled.
    """
    spec, dataset, options = resolve_inputs(
        spec, data=data, x=x, y=y, validation_data=validation_data, validation_split=validation_split,
        model_options=model_options, save=save, progress=progress,
    )
    return train_spec(spec, dataset, save=options.save, progress=options.progress)


def search(
    spec: str | Path | dict | Spec | Any,
    *,
    data=None,
    x=None,
    y=None,
    validation_data=None,
    validation_split: float | None = None,
    fresh: bool = False,
    progress: bool = False,
    max_trials: int | None = None,
    minimize: bool = True,
    confirm: bool | None = None,
    workers=None,
    callbacks: list | None = None,
    strategies: str | list | None = None,
    **model_options,
) -> SearchResult:
    """Search for a configuration whose output no longer collapses, and write it out with its report.

    Args:
        spec: a spec file path, a dict or a ``Spec``; or a compiled ``keras.Model`` (left unchanged).
        data: a pandas DataFrame to use instead of ``data.path`` (with a model: give ``target=`` and ``window=``),
            or the ``Dataset`` already read from it (``resolve_inputs``).
        x, y: already windowed arrays to use instead of ``data.path``.
        validation_data: ``(x_val, y_val)``, as ``fit`` takes it; otherwise the last ``validation_split``
            of the samples is the validation part.
        fresh: discard an earlier search in the output folder instead of resuming it.
        progress: show the progress: a live display in a terminal or notebook, timestamped lines where
            stdout is a file or a pipe (a log).
        max_trials: override ``search.max_trials``.
        minimize: after a fix, retrain without each of its changes to find the ones it needed (the minimal
            fix: ``minimal_spec.yaml``, summary's ``necessary_changes``); False skips it, as does
            ``search.minimize: false``.
        confirm: override ``search.confirm`` (False: do not train the best fix again with two more seeds).
        workers: train the trials on this many worker processes (Keras Tuner's chief/worker mode on
            loopback, each with its share of the cores), or as a ``tuning.distributed.ScaleOut`` says
            (workers on other machines too). The spec must then be a file the workers read.
        callbacks: your own Keras callbacks (``CSVLogger``, ``TensorBoard``, your metrics), a fresh copy
            of each passed to every training the search runs (the trials, the spec as written, the
            confirmation and the minimal fix), after the search's own; not with ``workers``.
        strategies: override ``search.strategies``: ``"all"``, or a list of built-in names, strategy file
            paths and strategies as dicts (``{"name": ..., "fields": {...}}``, checked as a file is).
        **model_options: with a model, ``Spec.from_model``'s settings (``epochs``, ``batch_size``,
            ``search={...}``, ``output``, ...).

    Returns:
        A ``SearchResult``; ``fixed`` is True only when the spec as written collapsed or diverged
        (``baseline_state``) and the best candidate is not collapsed and beats the constant baseline
        on the validation part; ``confirmed_seeds`` says on how many seeds it held ("3/3");
        ``best_model`` is a new, compiled model.
        ``<output>/report.html`` is written too.

    Raises:
        ModelSpecError: the model cannot be described as a spec (one line naming the layer).
        SpecError, DataError: bad input, with the field and the fix.
        SearchInterrupted: SIGINT (Ctrl-C) or SIGTERM stopped it after the current epoch; the outputs
            and the report for the best so far are written (``err.result``) unless it stopped before
            any trial ended, or a second signal stopped it at once. The same call resumes it.
        RunFolderError: the output folder is not writable, is in use by another search, or holds a
            damaged earlier search (``fresh=True`` starts over).
    """
    spec, dataset, options = resolve_inputs(
        spec, data=data, x=x, y=y, validation_data=validation_data, validation_split=validation_split,
        model_options=model_options, fresh=fresh, progress=progress, max_trials=max_trials, minimize=minimize,
        confirm=confirm, workers=workers, callbacks=callbacks, strategies=strategies,
    )
    if spec.data.path is not None or workers is not None:  # the data is the spec's file (workers read it too)
        return search_resolved(spec, dataset, options)
    run = RunDir(spec.output_dir)
    with run.lock() as held:  # the data is saved where the search writes, under its lock
        spec = keep_in_memory_data(spec, data=data, x=x, y=y, validation_data=validation_data,
                                   overwrite=fresh or not run.state.is_file())
        return search_resolved(spec, dataset, options, lock=held)


def search_resolved(spec: Spec, dataset: Dataset, options: Options, *, lock: RunLock | None = None) -> SearchResult:
    """``search`` on inputs already resolved (``resolve_inputs``): the search, then its report. The CLI runs this.

    ``lock``: the output folder's lock, when the caller holds it already (``run_search``).

    Raises: as ``search``.
    """
    try:
        result = run_search(spec, dataset, options, reporter=progress_reporter() if options.progress else None,
                            lock=lock)
    except SearchInterrupted as stopped:
        if stopped.result is not None:
            # a second signal stops the report at once; the outputs it would show are written
            with contextlib.suppress(StopRequested), StopSignals(stopped.signal_name):
                write_report(stopped.result.output_dir)
        raise
    write_report(result.output_dir)
    return result


@dataclass
class CheckResult:
    """What ``check`` found usable: the task, the windows and the model's size."""

    spec: Spec
    task: str
    train_samples: int
    val_samples: int
    timesteps: int
    features: int
    parameters: int
    strategies: list[str]
    target_form: str = ""  # "a 6-step forecast", "2 targets", "rolled out 12 steps"; empty for one value

    def sentence(self) -> str:
        """One line for the terminal."""
        form = f" ({self.target_form})" if self.target_form else ""
        return (
            f"usable: {self.task}{form}, {self.train_samples} training and {self.val_samples} validation windows of "
            f"{self.timesteps} steps x {self.features} features; the model has {self.parameters:,} parameters; "
            f"{len(self.strategies)} search strategies. Nothing was trained or written"
        )


def check(spec: str | Path | dict | Spec, *, data=None, x=None, y=None) -> CheckResult:
    """Check a spec as ``train``, ``diagnose`` and ``search`` would before training: nothing trains or is written.

    The spec, its strategy files, the output folder, the data (read, cleaned, windowed), the
    preprocessing, the head and loss against the task, and the model's layers (built).

    Raises:
        SpecError, DataError: the input those commands would refuse, with the same message.
    """
    spec, dataset, _ = resolve_inputs(spec, data=data, x=x, y=y, save=False)
    return check_resolved(spec, dataset)


def check_resolved(spec: Spec, dataset: Dataset) -> CheckResult:
    """``check`` on inputs already resolved (``resolve_inputs``). The CLI runs this.

    Raises: as ``check``.
    """
    from autofix_lstm.modeling.train import check_trainable
    from autofix_lstm.remedies.strategies import check_candidates, resolve_strategies

    strategies = resolve_strategies(spec.search.strategies, spec.base_dir)
    check_candidates(strategies, spec, dataset)
    prepared, model = check_trainable(spec, dataset)
    ds = prepared.dataset
    return CheckResult(
        spec=spec, task=ds.task, train_samples=len(ds.x_train), val_samples=len(ds.x_val), timesteps=ds.window,
        features=ds.n_features, parameters=int(model.count_params()), strategies=[s.name for s in strategies],
        target_form=_target_form(ds),
    )


def _target_form(ds: Dataset) -> str:
    """What each sample's target is, when it is more than one value: a forecast, several targets, a roll-out."""
    if ds.multi_target:
        return f"{ds.n_outputs} targets: {ds.target_name}"
    if ds.multi_output:
        return f"a {ds.n_outputs}-step forecast"
    if ds.rollout is not None:
        return f"a one-step model judged rolled out {ds.rollout.steps} steps"
    return ""


def load_result(output_dir: str | Path) -> SearchResult:
    """The ``SearchResult`` of a finished search, read back from its output folder (Optuna's ``load_study``).

    ``output_dir``: the folder, or the spec file whose output it is. The result reads the files the
    search wrote (summary.json, trials.csv, best_spec.yaml, the trial records); nothing trains, and
    ``diagnosis`` is None (diagnosis.json holds it). ``best_spec`` is best_spec.yaml as written: the
    configuration the search returned, its paths relative to the folder.

    Raises:
        RunFolderError: no finished search there (no summary.json), or one of its files is damaged
            (``CorruptRunError``, naming it).
    """
    folder = expand_user(output_dir, "load_result's folder")  # ~user refused as the spec's paths are
    if folder.suffix in (".yaml", ".yml") and folder.is_file():
        folder = load_spec(folder, keras_checks=False).output_dir
    from autofix_lstm.tuning.records import load_records
    from autofix_lstm.tuning.search_summary import Summary

    run = RunDir(folder)
    if not run.summary.is_file() or not run.best_spec.is_file():
        raise RunFolderError(f"{folder} holds no finished search (no summary.json and best_spec.yaml); give the "
                             "output folder of a search that ended, or run the search")
    summary = Summary.load(run.summary)
    trials = pd.read_csv(run.trials_csv, dtype={"trial_id": str}) if run.trials_csv.is_file() else pd.DataFrame()
    state = summary.baseline_state
    return SearchResult(
        fixed=summary.fixed, verdict=summary.verdict, best_spec=load_spec(run.best_spec, keras_checks=False),
        baseline=summary.baseline, best=summary.best, changes=list(summary.changes), summary=summary.to_dict(),
        trials=trials, output_dir=run.root, interrupted=summary.interrupted, records=load_records(run),
        baseline_state=None if state is None else state.value, confirmed_seeds=summary.confirmed_seeds,
    )


__all__ = ["CheckResult", "check", "check_resolved", "diagnose", "load_result", "resolve_inputs", "search",
           "search_resolved", "train"]
