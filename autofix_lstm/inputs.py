"""The one input boundary: what a user passes becomes a ``(Spec, Dataset, Options)``, once.

A user passes a spec (a YAML path, a dict or a ``Spec``) or a live, compiled ``keras.Model``; data
(the spec's file, a DataFrame, windowed arrays, ``validation_data``, a ``Dataset`` already read);
and run-time overrides (``max_trials``, ``confirm``, ``fresh``, ``workers`` ...). ``resolve_inputs``
turns them into the validated spec with every override that changes it applied, the windowed data,
and the ``Options`` that say how to run. ``api``, the CLI and nothing below them call it; training,
diagnosis and the search take its three results and never re-read a spec or an override
(spaCy's config, validated at the boundary and passed inward).

Nothing here imports TensorFlow, Keras or pandas at module level: the CLI resolves its inputs before
they load, so a bad spec, output folder or data file is refused at once (``tests/test_cli_fast.py``);
the spec's Keras-backed checks (layer arguments, loss names, ``model.path``) come last.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from autofix_lstm.errors import SpecError
from autofix_lstm.preflight import check_output_folder
from autofix_lstm.spec import Spec, load_spec

if TYPE_CHECKING:
    from autofix_lstm.data.dataset import Dataset
    from autofix_lstm.tuning.distributed import ScaleOut


@dataclass(frozen=True)
class Options:
    """Every run-time override a command takes, in one place.

    The first five change the spec (None: as the spec says); ``resolve_inputs`` applies them once
    (``spec_changes``), and inner code reads the spec, never these fields. The rest say how to run.

    Attributes:
        max_trials: ``search.max_trials``.
        confirm: ``search.confirm`` (False: do not train the best fix again with two more seeds).
        max_time: ``search.max_time`` (a duration such as ``"8h"``).
        tensorboard: ``search.tensorboard`` (log each trial for TensorBoard).
        validation_split: ``data.validation_split``.
        fresh: discard an earlier search in the output folder instead of resuming it.
        minimize: after a fix, find which of its changes were needed; False skips it (as does
            ``search.minimize: false``).
        workers: train the search's trials on this many local worker processes, or as a
            ``tuning.distributed.ScaleOut`` says.
        save: write the command's outputs (and check, first, that the output folder can take them).
        progress: show the progress.
        callbacks: the user's own Keras callbacks, passed (a fresh copy each) to every training the
            search runs: the trials, the spec as written, the confirmation and the minimal fix.
        strategies: ``search.strategies`` (names, file paths and inline mappings).
    """

    max_trials: int | None = None
    confirm: bool | None = None
    max_time: str | None = None
    tensorboard: bool | None = None
    validation_split: float | None = None
    fresh: bool = False
    minimize: bool = True
    workers: ScaleOut | int | None = None
    save: bool = True
    progress: bool = False
    callbacks: list | None = None
    strategies: str | list | None = None

    def spec_changes(self) -> dict[str, Any]:
        """The spec fields these options override, as dotted paths (``Spec.updated`` takes them)."""
        changes = {
            "search.max_trials": self.max_trials,
            "search.confirm": self.confirm,
            "search.max_time": self.max_time,
            "search.tensorboard": self.tensorboard,
            "data.validation_split": self.validation_split,
            "search.strategies": self.strategies,
        }
        return {path: value for path, value in changes.items() if value is not None}


def _is_model(value: Any) -> bool:
    if isinstance(value, (str, os.PathLike, dict, Spec)):
        return False  # a spec: answered without importing Keras (the CLI's fast refusals)
    import keras

    return isinstance(value, keras.Model)


def _with_overrides(spec: Spec, options: Options) -> Spec:
    """``spec`` with the options that change it applied: the one place an override enters a spec."""
    changes = options.spec_changes()
    return spec.updated(changes) if changes else spec


DEFAULT_OUTPUT = "runs/autofix"  # Spec's own default, for a spec given as a dict or a Spec


def in_memory_output(spec: Spec, dataset: Dataset, name: str) -> str:
    """The default output folder of a search on data given in memory: ``runs/<name>-<8 hex digits>``.

    The digits hash the spec as its trials' results depend on it (``Spec.results_dict``: a larger
    budget resumes the same search) and the data's samples, so two models, or one model on two
    datasets, in one notebook get folders of their own, and running the same cell again resumes.
    """
    import hashlib
    import json
    import re

    digest = hashlib.sha256(json.dumps(spec.results_dict(), sort_keys=True, default=str).encode())
    dataset.update_digest(digest)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "model"
    return f"runs/{slug[:40]}-{digest.hexdigest()[:8]}"


def _default_output(spec: Spec, dataset: Dataset, spec_or_model, model_options: dict | None, in_memory: bool) -> Spec:
    """``spec`` with its own folder when the data came in memory and no output was given (``in_memory_output``)."""
    if not in_memory:
        return spec
    if _is_model(spec_or_model):
        if "output" in (model_options or {}):
            return spec
        name = getattr(spec_or_model, "name", None) or "model"
    elif isinstance(spec_or_model, dict):
        if "output" in spec_or_model:
            return spec
        name = "autofix"
    elif isinstance(spec_or_model, Spec) and spec_or_model.source is None and spec.output == DEFAULT_OUTPUT:
        name = "autofix"
    else:
        return spec  # a spec file: its output (or runs/<its name>) is the user's
    return spec.updated({"output": in_memory_output(spec, dataset, name)})


def keep_in_memory_data(spec: Spec, data=None, x=None, y=None, validation_data=None, *, overwrite: bool = True) -> Spec:
    """Save data given in memory into the output folder and point ``spec`` at it, so the specs a search
    writes (best_spec.yaml, minimal_spec.yaml) reproduce it from the command line.

    A DataFrame becomes ``data.parquet`` (the table as given: the windows are cut from it again);
    ``x``/``y`` arrays become ``data.npz``, ``validation_data`` appended after them with the
    ``data.validation_split`` that splits it off again. A spec with a ``data.path`` is left as it is;
    so is data that cannot be saved that way (a ``Dataset``, a table Parquet cannot hold). Without
    ``overwrite`` (the folder holds an earlier search, being resumed) a file already there is kept: the
    same search's data, or another's, which the search then refuses as a different spec.
    """
    import numpy as np
    import pandas as pd

    from autofix_lstm.data.dataset import split_index
    from autofix_lstm.run_dir import RunDir, write_arrays, write_table

    if spec.data.path is not None:
        return spec
    run = RunDir(spec.output_dir)
    if isinstance(x, pd.DataFrame) and y is None and data is None:
        data, x = x, None  # fit(frame) style, as _dataset reads it
    if isinstance(data, pd.DataFrame):
        try:
            path = write_table(data, run.data_table) if overwrite or not run.data_table.is_file() else run.data_table
        except (ValueError, TypeError, ImportError):  # column names or types Parquet cannot hold
            return spec
        return spec.updated({"data.path": str(path)})
    if x is None or y is None:
        return spec
    x, y = np.asarray(x), np.asarray(y)
    raw = spec.to_dict()
    if validation_data is not None:
        x_val, y_val = (np.asarray(part) for part in validation_data)
        share = len(x_val) / (len(x) + len(x_val))
        if split_index(len(x) + len(x_val), share) != len(x):
            return spec  # no split the spec can say gives these parts back
        x, y = np.concatenate([x, x_val]), np.concatenate([y.reshape(len(y), *y_val.shape[1:]), y_val])
        raw["data"]["validation_split"] = share
    for key in ("features", "window", "horizon", "rollout"):  # an .npz is windowed already: they do not apply
        raw["data"].pop(key, None)
    if not spec.data.multi_target:  # several targets' names stay: they say y's columns are targets, not steps
        raw["data"].pop("target", None)
    keep = not overwrite and run.data_arrays.is_file()
    raw["data"]["path"] = str(run.data_arrays if keep else write_arrays(run.data_arrays, x=x, y=y))
    raw["output"] = str(spec.output_dir)  # anchored where it was, whatever folder the dict is read in
    return load_spec(raw)


def _dataset(spec: Spec, data, x, y, validation_data, *, from_model: bool) -> Dataset:
    """The data the user gave, or the spec's file, read, windowed and split as the spec says."""
    import pandas as pd  # not needed to refuse a bad spec

    from autofix_lstm.data.arrays import refuse_rollout
    from autofix_lstm.data.dataset import dataset_from_arrays, load_dataset, split_index

    if isinstance(x, pd.DataFrame) and y is None and data is None:
        data, x = x, None  # fit(frame) style: the table is the data
    if data is None and (x is not None or y is not None):
        refuse_rollout(spec)
    if validation_data is not None:
        if data is not None or x is None or y is None:
            raise SpecError("validation_data=(x_val, y_val) goes with windowed arrays x and y; for a DataFrame use validation_split")
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise SpecError(f"validation_data must be a tuple (x_val, y_val); got {type(validation_data).__name__}")
        return dataset_from_arrays(x, y, *validation_data, task=spec.data.task, loss=spec.model.loss,
                                   targets=spec.data.targets)
    if from_model:
        if x is not None or y is not None:
            if x is None or y is None:
                raise SpecError("give both x and y (already windowed arrays), or a DataFrame with target= and window=")
            split = split_index(len(x), spec.data.validation_split)
            return dataset_from_arrays(x[:split], y[:split], x[split:], y[split:], task=spec.data.task,
                                       loss=spec.model.loss, targets=spec.data.targets)
        if data is None:
            raise SpecError("a keras.Model needs its data: x= and y= (windowed arrays), or a DataFrame with target= and window=")
        if spec.data.target is None or spec.data.window is None:
            raise SpecError("a DataFrame needs target= (the column to predict) and window= (rows in each input sequence)")
    return load_dataset(spec, frame=data, x=x, y=y)


def _column_names(y, validation_data) -> tuple[Any, Any, tuple[str, ...] | None]:
    """``y`` (and ``validation_data``'s) as arrays, and the targets a DataFrame ``y`` of two or more named
    columns names (None for any other ``y``: a numpy ``(samples, k)`` stays a k-step forecast).

    Raises:
        SpecError: the columns are not distinct strings, or ``y_val``'s are not ``y``'s.
    """
    if y is None:
        return y, validation_data, None
    import pandas as pd  # not needed to refuse a bad spec

    if not isinstance(y, pd.DataFrame):
        return y, validation_data, None
    columns = list(y.columns)
    if len(columns) < 2:
        return y.to_numpy(), validation_data, None
    if not all(isinstance(name, str) and name for name in columns) or len(set(columns)) < len(columns):
        raise SpecError(f"a DataFrame y of several columns names the targets by its columns, which must be distinct "
                        f"strings; got {columns}. Name them (y.columns = ['a', 'b']), or pass y.to_numpy() for a "
                        f"{len(columns)}-step forecast")
    if validation_data is not None and isinstance(validation_data, (tuple, list)) and len(validation_data) == 2:
        x_val, y_val = validation_data
        if isinstance(y_val, pd.DataFrame):
            if list(y_val.columns) != columns:
                raise SpecError(f"validation_data's y_val has columns {list(y_val.columns)} and y has {columns}; "
                                "give them the same targets in the same order")
            validation_data = (x_val, y_val.to_numpy())
    return y.to_numpy(), validation_data, tuple(columns)


def _with_target_names(spec: Spec, names: tuple[str, ...] | None, *, keras_checks: bool = True) -> Spec:
    """``spec`` with ``data.target`` naming y's columns (``_column_names``).

    Raises:
        SpecError: the spec (or ``target=``) names other targets.
    """
    if names is None or spec.data.targets == names:
        return spec
    if spec.data.target is not None:
        raise SpecError(f"y's columns name the targets {list(names)}, and the target given is {spec.data.target!r}; "
                        "make them agree, or leave target out (y's columns name them)")
    return spec.updated({"data.target": list(names)}, keras_checks=keras_checks)


def resolve_inputs(
    spec_or_model: Any,
    *,
    data=None,
    x=None,
    y=None,
    validation_data=None,
    validation_split: float | None = None,
    model_options: dict[str, Any] | None = None,
    **overrides: Any,
) -> tuple[Spec, Dataset, Options]:
    """What a user passes, as the validated spec, its data and the run's options.

    For a spec, the steps that need no TensorFlow run first (the schema, the output folder, the
    data), so a refusal is instant; the Keras-backed checks and the overrides come last.

    Args:
        spec_or_model: a spec file path, a dict or a ``Spec``; or a compiled ``keras.Model`` (read,
            never changed: ``Spec.from_model``).
        data: a pandas DataFrame to use instead of ``data.path`` (with a model: give ``target=`` and
            ``window=`` in ``model_options``), or a ``Dataset`` already read.
        x, y: already windowed arrays to use instead of ``data.path``; ``x`` alone may be a DataFrame. A
            ``y`` of shape (samples, k) is a k-step forecast, unless ``data.target`` (``target=``) names
            k targets; a DataFrame ``y`` of two or more columns names them by its columns.
        validation_data: ``(x_val, y_val)``, as Keras' ``fit`` takes it; otherwise the last
            ``validation_split`` of the samples is the validation part.
        validation_split: override ``data.validation_split``.
        model_options: with a model, ``Spec.from_model``'s settings (``epochs``, ``target``, ``window``,
            ``search={...}``, ``output`` ...); with a spec, none.
        **overrides: ``Options``' fields.

    Returns:
        ``(spec, dataset, options)``: the spec with the overrides applied, its data windowed and split.

    Raises:
        SpecError, DataError: bad input, with the field or file and the fix.
        ModelSpecError: the model cannot be described as a spec (one line naming the layer).
        RunFolderError: the output folder is not writable (when ``save``).
        TypeError: an override that is not an ``Options`` field.
    """
    options = Options(validation_split=validation_split, **overrides)
    in_memory = data is not None or x is not None or y is not None
    y, validation_data, names = _column_names(y, validation_data)
    if _is_model(spec_or_model):
        spec = _with_target_names(Spec.from_model(spec_or_model, **(model_options or {})), names)
        spec = _with_overrides(spec, options)
        if options.save:
            check_output_folder(spec)
        dataset = _dataset(spec, data, x, y, validation_data, from_model=True)
        spec = _default_output(spec, dataset, spec_or_model, model_options, in_memory)
        if options.save:
            check_output_folder(spec)
        return spec, dataset, options
    if model_options:
        raise SpecError(
            f"{', '.join(sorted(model_options))} apply to a keras.Model; with a spec, set them in the spec instead"
        )
    light = _with_target_names(load_spec(spec_or_model, keras_checks=False), names, keras_checks=False)  # no TF yet
    if options.save:
        check_output_folder(light)
    if options.validation_split is not None:  # the data is split as the override says: read it after
        spec = _with_overrides(light, options)
        dataset = _dataset(spec, data, x, y, validation_data, from_model=False)
    else:
        # The data depends on the spec's data section alone, which no other override changes: read it
        # before the checks that import TensorFlow, so a missing or bad data file is refused at once.
        dataset = _dataset(light, data, x, y, validation_data, from_model=False)
        spec = _with_overrides(light, options) if options.spec_changes() else _with_target_names(
            load_spec(spec_or_model), names)
    own = _default_output(spec, dataset, spec_or_model, None, in_memory)
    if own is not spec and options.save:
        check_output_folder(own)
    return own, dataset, options


__all__ = ["Options", "in_memory_output", "keep_in_memory_data", "resolve_inputs"]
