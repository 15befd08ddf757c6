"""Reading the user's data and cutting it into windows, split in time order.

A sample starting at row ``i`` of a table with rows ``0..N-1`` is ``x = rows[i : i + window]``
(features) and ``y = target[i + window - 1 + horizon]``: horizon 0 is the window's last row, horizon 1
the next one. A multi-step forecast (``horizon: [1, 2, 3]`` or ``{steps: 3}``) has one target per
offset, ``y`` of shape (samples, steps); several targets (``target: [a, b]``) one per column. A
sample needs every one of its target rows observed. Rows are the file's rows: with missing values a
window never spans a dropped row and the horizon counts real rows (a sample whose window or target
row is missing is left out), and a target that was never observed is never filled in. The LAST
``validation_split`` fraction of samples is the validation part; it is never shuffled into training
(with ``data.rollout`` the dataset also holds the rows its validation samples are rolled out over:
``data/rollout.py``).

The windows are read-only views over one float32 array of rows (``sliding_window_view``): a window
costs no memory of its own, whatever its length. Only where missing rows cut the samples into
several runs are the windows of a part gathered into one float32 array.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from autofix_lstm.data.arrays import dataset_from_arrays, from_arrays
from autofix_lstm.data.missing_values import handle_missing
from autofix_lstm.data.rollout import rollout_from_rows
from autofix_lstm.data.samples import (  # noqa: F401  (re-exported: the names every reader imports from here)
    MIN_TRAIN_SAMPLES,
    MIN_VAL_SAMPLES,
    Dataset,
    _check_sizes,
    _check_target_varies,
    _encode_target,
    array_feature_names,
    bounded_windows,
    evenly_spaced,
    min_samples,
    split_index,
    window_view,
)
from autofix_lstm.data.table_reading import read_table, refuse_duplicate_names
from autofix_lstm.data.task import MAX_LOSS_IMPLIED_CLASSES, infer_task  # noqa: F401  (re-exported)
from autofix_lstm.errors import DataError, SpecError
from autofix_lstm.spec import Spec


def sample_starts(feature_ok: np.ndarray, target_ok: np.ndarray, window: int, horizon: int | tuple[int, ...]) -> np.ndarray:
    """First rows of the usable samples: every row of the window may lie in one, and each target row
    ``start + window - 1 + h`` (``h`` in ``horizon``, one offset or a forecast's several) may be a target
    (file rows: the horizon counts real rows)."""
    steps = (horizon,) if isinstance(horizon, int) else tuple(horizon)
    n = len(feature_ok) - window - max(steps) + 1
    if n <= 0:
        return np.empty(0, np.int64)
    bad = np.concatenate([[0], np.cumsum(~np.asarray(feature_ok, bool))])
    usable = bad[window : window + n] - bad[:n] == 0
    for h in steps:
        usable &= np.asarray(target_ok, bool)[window - 1 + h : window - 1 + h + n]
    return np.flatnonzero(usable)


def window_table(features: np.ndarray, target: np.ndarray, window: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut rows into samples: ``x[i] = features[i:i+window]`` (a float32 view), ``y[i] = target[i+window-1+horizon]``."""
    rows = np.ascontiguousarray(features, dtype=np.float32)
    n = max(0, len(features) - window - horizon + 1)
    x = window_view(rows, np.arange(n), window)
    return x, target[window - 1 + horizon : window - 1 + horizon + n]


def _check_table_sizes(n_samples: int, rows: int, data, source: str, gaps: str = "") -> None:
    """``_check_sizes`` for a table of ``rows`` rows; without ``gaps``, say how many rows the window needs."""
    window, horizon = data.window, data.furthest
    needed = f" (rows {rows} - window {window} - horizon {horizon} + 1{gaps})"
    if not gaps:
        least = min_samples(data.validation_split) + window + horizon - 1
        needed += (f": the table has {rows} row{'' if rows == 1 else 's'}, and window {window} and horizon "
                   f"{horizon} need at least {least} rows")
    _check_sizes(n_samples, split_index(n_samples, data.validation_split), source, needed)


def _from_table(spec: Spec, frame: pd.DataFrame, source: str, in_file: bool = True) -> Dataset:
    d = spec.data
    if len(frame) == 0:
        raise DataError(f"{source}: the table has no data rows (columns {list(frame.columns)}); provide the data")
    refuse_duplicate_names(list(frame.columns), source)
    absent = [name for name in d.targets if name not in frame.columns]
    if absent:
        raise DataError(f"{source}: target column {', '.join(map(repr, absent))} is not in the data; "
                        f"columns are {list(frame.columns)}")
    if d.features is None:
        features = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]
        if not features:
            raise DataError(f"{source}: no numeric columns to use as features; list them in data.features")
    else:
        features = list(d.features)
        missing = [c for c in features if c not in frame.columns]
        if missing:
            raise DataError(
                f"{source}: data.features names {missing}, not in the data; columns are {list(frame.columns)}"
            )
        for column in features:
            if not pd.api.types.is_numeric_dtype(frame[column]) or pd.api.types.is_bool_dtype(frame[column]):
                raise DataError(
                    f"{source}: feature column {column!r} is not numeric (dtype {frame[column].dtype}); "
                    "encode it as numbers or leave it out of data.features"
                )
    full = max(0, len(frame) - d.window - d.furthest + 1)
    _check_table_sizes(full, len(frame), d, source)  # before any other check on the values: too few rows says so
    target = list(d.targets) if d.multi_target else d.target
    table, labels, feature_ok, target_ok = handle_missing(frame, features, target, d.missing, source, in_file)
    observed = labels[target_ok]
    if d.multi_target:
        return _several_targets(spec, table, observed, feature_ok, target_ok, features, source, full)
    _check_target_varies(observed.to_numpy(), source)
    task = d.task or infer_task(observed, spec.model.loss)
    if d.multi_step and task != "regression":
        raise DataError(
            f"{source}: data.horizon asks for a {len(d.steps)}-step forecast, but the target {d.target!r} is "
            f"{'read as ' if d.task is None else ''}{task}: a multi-step forecast predicts numbers. Give one "
            "horizon for a classifier, or a numeric target (data.task: regression)"
        )
    encoded, classes = _encode_target(observed.to_numpy(), task, source)
    y_all = np.zeros(len(frame), encoded.dtype)
    y_all[target_ok] = encoded  # rows never observed are never a sample's target (sample_starts)
    rows = np.ascontiguousarray(table.to_numpy(dtype=np.float64), dtype=np.float32)
    starts = sample_starts(feature_ok, target_ok, d.window, d.steps)
    offsets = np.asarray(d.steps) if d.multi_step else d.steps[0]
    y = y_all[starts[:, None] + d.window - 1 + offsets] if d.multi_step else y_all[starts + d.window - 1 + offsets]
    split = split_index(len(starts), d.validation_split)
    if len(starts) < full:
        _check_table_sizes(len(starts), len(frame), d, source,
                           f", less {full - len(starts)} windows over missing values")
    _check_target_varies(y, source)
    target_index = features.index(d.target) if d.target in features else None
    rollout = None
    if d.rollout is not None:
        if task != "regression":
            raise DataError(f"{source}: data.rollout feeds a forecaster's predictions back as inputs; the target "
                            f"{d.target!r} is {task}. Remove data.rollout")
        if target_index is None:
            raise DataError(f"{source}: data.rollout feeds the model's predictions back as the target column, "
                            f"so the target {d.target!r} must be among data.features")
        rollout = rollout_from_rows(rows, starts[split:], feature_ok, target_ok, y_all, d.window, d.rollout,
                                    target_index)
        if len(rollout) < MIN_VAL_SAMPLES:
            raise DataError(f"{source}: data.rollout {d.rollout} leaves {len(rollout)} validation samples with "
                            f"{d.rollout} observed rows after their window; lower data.rollout or data.window, or "
                            "raise data.validation_split")
    return Dataset(
        x_train=window_view(rows, starts[:split], d.window), y_train=y[:split],
        x_val=window_view(rows, starts[split:], d.window), y_val=y[split:], task=task,
        feature_names=features, target_name=d.target,
        target_index=target_index, horizon=d.steps[0], steps=d.steps if d.multi_step else None,
        classes=classes, rows=rows, starts=starts, row_ok=feature_ok, rollout=rollout,
    )


def _several_targets(spec: Spec, table: pd.DataFrame, observed: pd.DataFrame, feature_ok: np.ndarray,
                     target_ok: np.ndarray, features: list[str], source: str, full: int) -> Dataset:
    """``target: [a, b]``: each sample's targets are those columns' values at the horizon's row, a
    regression with one output per column (each column its own quantity: scaled and measured apart)."""
    d = spec.data
    words = [name for name in d.targets if not pd.api.types.is_numeric_dtype(observed[name])
             or pd.api.types.is_bool_dtype(observed[name])]
    if (d.task not in (None, "regression")) or words:
        got = f"data.task {d.task}" if d.task not in (None, "regression") else f"column {words[0]!r} is not numeric"
        raise DataError(f"{source}: data.target names {len(d.targets)} columns, which are predicted together as "
                        f"numbers (a regression); {got}. Predict class labels one column at a time")
    for name in d.targets:
        _check_target_varies(observed[name].to_numpy(), f"{source}: target column {name!r}")
    y_all = np.zeros((len(table), len(d.targets)))
    y_all[target_ok] = observed.to_numpy(dtype=np.float64)
    rows = np.ascontiguousarray(table.to_numpy(dtype=np.float64), dtype=np.float32)
    starts = sample_starts(feature_ok, target_ok, d.window, d.steps)
    y = y_all[starts + d.window - 1 + d.steps[0]]
    if len(starts) < full:
        _check_table_sizes(len(starts), len(table), d, source, f", less {full - len(starts)} windows over missing values")
    split = split_index(len(starts), d.validation_split)
    indices = tuple(features.index(name) for name in d.targets) if set(d.targets) <= set(features) else None
    return Dataset(
        x_train=window_view(rows, starts[:split], d.window), y_train=y[:split],
        x_val=window_view(rows, starts[split:], d.window), y_val=y[split:], task="regression",
        feature_names=features, target_name=", ".join(d.targets), target_indices=indices,
        target_names=tuple(d.targets), horizon=d.steps[0], rows=rows, starts=starts, row_ok=feature_ok,
    )


def load_dataset(spec: Spec, *, frame: pd.DataFrame | Dataset | None = None, x=None, y=None) -> Dataset:
    """Read, clean, window and split the spec's data, or the in-memory ``frame`` / ``x``, ``y`` given instead.

    A ``frame`` that is already a ``Dataset`` is returned as it is.

    Raises:
        DataError: the data cannot be used as described (named file/column, and how to fix it).
        SpecError: no data was given at all, or the spec's fields do not fit the in-memory data.
    """
    if isinstance(frame, Dataset):  # already read and windowed from this spec (``inputs.resolve_inputs``)
        return frame
    if frame is not None:
        if spec.data.target is None or spec.data.window is None:
            raise SpecError("data.target and data.window are required with an in-memory DataFrame", spec.source)
        return _from_table(spec, frame, "the DataFrame", in_file=False)
    if x is not None or y is not None:
        if x is None or y is None:
            raise SpecError("give both x and y (already windowed arrays), or neither", spec.source)
        return from_arrays(spec, x, y, "the x/y arrays")
    if spec.data.path is None:
        raise SpecError("data.path is required (or pass data=/x=,y= in memory)", spec.source)
    path = spec.resolve(spec.data.path)
    if path.is_dir():
        raise DataError(f"data.path {path} is a folder, not a file; set data.path to the .csv, .parquet or .npz file in it")
    if not path.is_file():
        raise DataError(f"data file not found: {path} (data.path is relative to the spec file's folder)")
    if spec.data.is_array_file:
        try:
            with np.load(path, allow_pickle=False) as archive:
                names = set(archive.files)
                missing = [k for k in ("x", "y") if k not in names]
                if missing:
                    raise DataError(
                        f"{path}: the .npz file has no array {' or '.join(map(repr, missing))}; "
                        f"it holds {sorted(names)}. Save it with np.savez(path, x=..., y=...)"
                    )
                arr_x, arr_y = archive["x"], archive["y"]
        except DataError:
            raise
        except ValueError as err:
            raise DataError(f"{path}: cannot read the .npz file without pickle ({err}); save plain numeric arrays") from None
        except Exception as err:
            raise DataError(f"{path}: cannot read the .npz file: {type(err).__name__}: {err}") from None
        return from_arrays(spec, arr_x, arr_y, str(path))
    return _from_table(spec, read_table(path), str(path))


__all__ = ["Dataset", "dataset_from_arrays", "load_dataset", "sample_starts", "split_index", "window_table"]
