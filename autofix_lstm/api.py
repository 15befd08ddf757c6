"""The notebook and CLI entry points that compose the library's parts.

``search`` runs the search (``tuning.driver.run_search``) and then writes the HTML report from the
files it left, so the search itself never depends on presentation.

``diagnose``, ``search`` and ``train`` take a spec, or a live, compiled ``keras.Model`` (a Sequential,
or a functional model that is a linear stack of supported layers) with its data as Keras' ``fit``
takes it: ``x``, ``y`` and ``validation_data=(x_val, y_val)`` or ``validation_split=``, or a
DataFrame with ``target=`` and ``window=``. The model becomes a spec (``Spec.from_model``); its own
weights are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from autofix_lstm.data.dataset import Dataset, dataset_from_arrays, load_dataset, split_index
from autofix_lstm.errors import SearchInterrupted, SpecError
from autofix_lstm.modeling.train import TrainResult
from autofix_lstm.modeling.train import train as train_spec
from autofix_lstm.render.progress import progress_reporter
from autofix_lstm.render.report import write_report
from autofix_lstm.spec import Spec, load_spec
from autofix_lstm.tuning.driver import SearchResult, run_search

DEFAULT_VALIDATION_SPLIT = 0.2  # the spec's default, and what a live model's arrays are split by


def _is_model(value: Any) -> bool:
    import keras

    return isinstance(value, keras.Model)


def _resolve(spec_or_model, data, x, y, validation_data, validation_split,
             model_options: dict) -> tuple[Spec, Dataset | None, Any, Any]:
    """(spec, dataset or None, DataFrame or None, x): the spec to run and the data to run it on.

    The dataset is None when the pipeline reads the data itself (the spec's file, or ``data``/``x``,
    ``y`` given with a spec, as before live models).
    """
    if isinstance(x, pd.DataFrame) and y is None and data is None:
        data, x = x, None  # fit(frame) style: the table is the data
    if _is_model(spec_or_model):
        if validation_split is not None:
            model_options = {**model_options, "validation_split": validation_split}
        spec = Spec.from_model(spec_or_model, **model_options)
    else:
        if model_options:
            raise SpecError(
                f"{', '.join(sorted(model_options))} apply to a keras.Model; with a spec, set them in the spec instead"
            )
        spec = load_spec(spec_or_model)
        if validation_split is not None:
            spec = spec.updated({"data.validation_split": validation_split})
    if validation_data is not None:
        if data is not None or x is None or y is None:
            raise SpecError("validation_data=(x_val, y_val) goes with windowed arrays x and y; for a DataFrame use validation_split")
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise SpecError(f"validation_data must be a tuple (x_val, y_val); got {type(validation_data).__name__}")
        return spec, dataset_from_arrays(x, y, *validation_data, task=spec.data.task), None, None
    if _is_model(spec_or_model):
        if x is not None or y is not None:
            if x is None or y is None:
                raise SpecError("give both x and y (already windowed arrays), or a DataFrame with target= and window=")
            split = split_index(len(x), spec.data.validation_split)
            return spec, dataset_from_arrays(x[:split], y[:split], x[split:], y[split:], task=spec.data.task), None, None
        if data is None:
            raise SpecError("a keras.Model needs its data: x= and y= (windowed arrays), or a DataFrame with target= and window=")
        if spec.data.target is None or spec.data.window is None:
            raise SpecError("a DataFrame needs target= (the column to predict) and window= (rows in each input sequence)")
        return spec, load_dataset(spec, frame=data), None, None
    return spec, None, data, x


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
    from autofix_lstm.diagnosis.runner import diagnose_dataset
    from autofix_lstm.tuning.strategies import resolve_strategies

    spec, dataset, data, x = _resolve(spec, data, x, y, validation_data, validation_split, model_options)
    if dataset is None:
        return diagnose_spec(spec, data=data, x=x, y=y, save=save, progress=progress)
    selected = resolve_strategies(spec.search.strategies, spec.base_dir)
    return diagnose_dataset(spec, dataset, selected, save=save, progress=progress)


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
    spec, dataset, data, x = _resolve(spec, data, x, y, validation_data, validation_split, model_options)
    if dataset is None:
        return train_spec(spec, data=data, x=x, y=y, save=save, progress=progress)
    return train_spec(spec, dataset=dataset, save=save, progress=progress)


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
    **model_options,
) -> SearchResult:
    """Search for a configuration whose output no longer collapses, and write it out with its report.

    Args:
        spec: a spec file path, a dict or a ``Spec``; or a compiled ``keras.Model`` (left unchanged).
        data: a pandas DataFrame to use instead of ``data.path`` (with a model: give ``target=`` and ``window=``),
            or the ``Dataset`` already read from it (``preflight``).
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
            the spec as written was trained. The same call resumes it.
        RunFolderError: the output folder is not writable, is in use by another search, or holds a
            damaged earlier search (``fresh=True`` starts over).
    """
    spec, dataset, data, x = _resolve(spec, data, x, y, validation_data, validation_split, model_options)
    try:
        result = run_search(
            spec, data=data, x=x, y=None if dataset is not None else y, dataset=dataset, fresh=fresh,
            max_trials=max_trials, minimize=minimize, confirm=confirm, reporter=progress_reporter() if progress else None,
            workers=workers,
        )
    except SearchInterrupted as stopped:
        if stopped.result is not None:
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

    def sentence(self) -> str:
        """One line for the terminal."""
        return (
            f"usable: {self.task}, {self.train_samples} training and {self.val_samples} validation windows of "
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
    from autofix_lstm.modeling.train import check_trainable
    from autofix_lstm.spec import load_spec
    from autofix_lstm.tuning.strategies import resolve_strategies

    spec = load_spec(spec)
    strategies = resolve_strategies(spec.search.strategies, spec.base_dir)
    prepared, model = check_trainable(spec, data=data, x=x, y=y)
    ds = prepared.dataset
    return CheckResult(
        spec=spec, task=ds.task, train_samples=len(ds.x_train), val_samples=len(ds.x_val), timesteps=ds.window,
        features=ds.n_features, parameters=int(model.count_params()), strategies=[s.name for s in strategies],
    )


__all__ = ["CheckResult", "check", "diagnose", "search", "train"]
