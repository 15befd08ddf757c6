"""Reading the user's data and cutting it into windows, split in time order.

A sample starting at row ``i`` of a table with rows ``0..N-1`` is ``x = rows[i : i + window]``
(features) and ``y = target[i + window - 1 + horizon]``: horizon 0 is the window's last row, horizon 1
the next one. A multi-step forecast (``horizon: [1, 2, 3]`` or ``{steps: 3}``) has one target per
offset: ``y`` is (samples, steps), and a sample needs every one of its target rows observed. Rows are the file's rows: with missing values a window never spans a dropped row and
the horizon counts real rows (a sample whose window or target row is missing is left out), and a
target that was never observed is never filled in. The LAST ``validation_split`` fraction of samples
is the validation part; it is never shuffled into training.

The windows are read-only views over one float32 array of rows (``sliding_window_view``): a window
costs no memory of its own, whatever its length. Only where missing rows cut the samples into
several runs are the windows of a part gathered into one float32 array.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from autofix_lstm.data.array_checks import check_shape, nonfinite_line, nonfinite_samples
from autofix_lstm.data.missing_values import handle_missing
from autofix_lstm.data.rollout import Rollout, rollout_from_rows
from autofix_lstm.data.table_reading import read_table, refuse_duplicate_names
from autofix_lstm.data.task import MAX_LOSS_IMPLIED_CLASSES, infer_task  # noqa: F401  (re-exported)
from autofix_lstm.errors import DataError, SpecError
from autofix_lstm.spec import Spec, is_class_label_loss

MIN_TRAIN_SAMPLES = 4
MIN_VAL_SAMPLES = 2
_DIGEST_CHUNK = 4096  # samples hashed at a time


def array_feature_names(count: int) -> list[str]:
    """The names of the features of windowed arrays, which carry none: ``f0``, ``f1``, ..."""
    return [f"f{i}" for i in range(count)]


def window_view(rows: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """The windows ``rows[s : s + window]`` for each ``s`` in ``starts``, shape (samples, window, features).

    A read-only view over ``rows`` when ``starts`` are consecutive (no copy, whatever the window);
    otherwise one gathered array.
    """
    starts = np.asarray(starts, dtype=np.int64)
    if len(starts) == 0 or len(rows) < window:
        return np.empty((0, window, rows.shape[1]), rows.dtype)
    every = np.lib.stride_tricks.sliding_window_view(rows, window, axis=0).transpose(0, 2, 1)
    if starts[-1] - starts[0] + 1 == len(starts) and np.all(np.diff(starts) == 1):
        return every[starts[0] : starts[-1] + 1]
    return every[starts]


def evenly_spaced(n: int, limit: int) -> slice:
    """At most ``limit`` of ``n`` samples, evenly spaced from the first, as a slice (a view, never a copy)."""
    return slice(0, n, max(1, -(-n // max(1, limit))))


def bounded_windows(x: np.ndarray, max_values: int) -> np.ndarray:
    """``x`` itself when it holds at most ``max_values`` values, else evenly spaced windows (a view)
    that do: statistics over every value of a large window array without copying it."""
    per_window = max(1, int(np.prod(x.shape[1:])))
    return x[evenly_spaced(len(x), max(1, max_values // per_window))] if x.size > max_values else x


@dataclass
class Dataset:
    """Windowed samples in the ORIGINAL units, split into training and validation parts."""

    x_train: np.ndarray  # (samples, timesteps, features), float32; read-only views over ``rows`` (tables)
    y_train: np.ndarray  # (samples,): float targets, or class indices; (samples, steps): a multi-step forecast
    x_val: np.ndarray
    y_val: np.ndarray
    task: str
    feature_names: list[str]
    target_name: str
    target_index: int | None = None  # the target's column among the features, if it is one
    horizon: int | None = None  # None for already windowed .npz data; a multi-step forecast: its nearest step
    steps: tuple[int, ...] | None = None  # a multi-step forecast's offsets (None: one step, or not known)
    rollout: Rollout | None = None  # ``data.rollout``: the validation samples a one-step model is rolled out from
    classes: list = field(default_factory=list)  # original labels, index = class id
    rows: np.ndarray | None = None  # tables: the (filled) feature rows, float32, that the windows view
    starts: np.ndarray | None = None  # tables: each sample's first row in ``rows``, in sample order

    def rewindow(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The same samples' windows over another array of rows shaped like ``rows`` (e.g. scaled rows).

        Raises:
            DataError: the dataset was given already windowed (.npz or x/y arrays), so it has no rows.
        """
        if self.rows is None or self.starts is None:
            raise DataError("already windowed data has no rows to cut windows from")
        split = len(self.x_train)
        return (window_view(rows, self.starts[:split], self.window),
                window_view(rows, self.starts[split:], self.window))

    def training_rows(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The rows the training windows cover and how many training windows cover each (None without rows).

        Statistics of every training window's values equal the statistics of these rows weighted by
        the counts, at a fraction of the memory.
        """
        if self.rows is None or self.starts is None:
            return None
        counts = np.zeros(len(self.rows) + 1, np.int64)
        starts = self.starts[: len(self.x_train)]
        np.add.at(counts, starts, 1)
        np.add.at(counts, starts + self.window, -1)
        counts = np.cumsum(counts)[:-1]
        covered = counts > 0
        return self.rows[covered], counts[covered]

    def update_digest(self, digest) -> None:
        """Feed the samples' bytes to a hashlib ``digest``, a bounded chunk at a time (the same digest
        as hashing ``x_train``, ``y_train``, ``x_val``, ``y_val`` made contiguous)."""
        for array in (self.x_train, self.y_train, self.x_val, self.y_val):
            for start in range(0, len(array), _DIGEST_CHUNK):
                digest.update(np.ascontiguousarray(array[start : start + _DIGEST_CHUNK]).tobytes())

    def validation_sample(self, limit: int) -> Dataset:
        """This dataset with at most ``limit`` validation samples, evenly spaced (views; the same
        dataset when the validation part is no larger)."""
        if len(self.y_val) <= limit:
            return self
        part = evenly_spaced(len(self.y_val), limit)
        rollout = None if self.rollout is None else self.rollout.sample(limit)
        return replace(self, x_val=self.x_val[part], y_val=self.y_val[part], rows=None, starts=None, rollout=rollout)

    @property
    def validation_targets(self) -> np.ndarray:
        """What the validation predictions are judged against: ``y_val``, or each rolled-out sample's
        truth at every step (``data.rollout``)."""
        return self.y_val if self.rollout is None else self.rollout.targets

    @property
    def window(self) -> int:
        """Timesteps per sample."""
        return int(self.x_train.shape[1])

    @property
    def n_features(self) -> int:
        """Features per timestep."""
        return int(self.x_train.shape[2])

    @property
    def n_outputs(self) -> int:
        """Target values per sample: 1, or a multi-step forecast's steps."""
        return 1 if self.y_train.ndim == 1 else int(self.y_train.shape[1])

    @property
    def multi_output(self) -> bool:
        """True when each sample's target is several values (a multi-step forecast, several targets)."""
        return self.n_outputs > 1

    @property
    def n_classes(self) -> int:
        """Number of classes (0 for regression)."""
        return len(self.classes)

    @property
    def persistence_applies(self) -> bool:
        """True when 'predict the last observed value' is a meaningful baseline."""
        return self.task == "regression" and self.target_index is not None and bool(self.horizon)

    def last_observed(self, x: np.ndarray) -> np.ndarray:
        """The target's last value inside each window of ``x`` (requires ``target_index``)."""
        if self.target_index is None:
            raise DataError("the target is not among the features, so windows carry no last observed target")
        return x[:, -1, self.target_index].astype(np.float64)


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


def _encode_target(y: np.ndarray, task: str, source: str) -> tuple[np.ndarray, list]:
    """Float targets for regression; class indices 0..K-1 (and the original labels) for classification."""
    if task == "regression":
        try:
            return y.astype(np.float64), []
        except (TypeError, ValueError):
            raise DataError(f"{source}: a regression target must be numeric; set data.task for class labels") from None
    classes, encoded = np.unique(y, return_inverse=True)
    if task == "binary" and len(classes) != 2:
        raise DataError(
            f"{source}: data.task is binary but the target has {len(classes)} distinct values "
            f"({list(classes[:10])}); use multiclass or regression"
        )
    if task == "multiclass" and len(classes) < 2:
        raise DataError(f"{source}: a multiclass target needs at least 2 classes, got {list(classes)}")
    return encoded.astype(np.int64), [c.item() if hasattr(c, "item") else c for c in classes]


def window_table(features: np.ndarray, target: np.ndarray, window: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut rows into samples: ``x[i] = features[i:i+window]`` (a float32 view), ``y[i] = target[i+window-1+horizon]``."""
    rows = np.ascontiguousarray(features, dtype=np.float32)
    n = max(0, len(features) - window - horizon + 1)
    x = window_view(rows, np.arange(n), window)
    return x, target[window - 1 + horizon : window - 1 + horizon + n]


def split_index(n_samples: int, validation_split: float) -> int:
    """Index of the first validation sample: the last ``validation_split`` fraction, at least ``MIN_VAL_SAMPLES``."""
    n_val = max(MIN_VAL_SAMPLES, int(round(n_samples * validation_split)))
    return n_samples - n_val


def min_samples(validation_split: float) -> int:
    """The fewest samples that leave ``MIN_TRAIN_SAMPLES`` to train on after ``split_index``."""
    def enough(n: int) -> bool:
        return split_index(n, validation_split) >= MIN_TRAIN_SAMPLES

    low, high = MIN_TRAIN_SAMPLES + MIN_VAL_SAMPLES, 1  # enough() grows with n: a binary search
    while not enough(low * high):
        high *= 2
    low, high = max(low, low * high // 2), low * high
    while low < high:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle + 1, high)
    return low


def _check_table_sizes(n_samples: int, rows: int, data, source: str, gaps: str = "") -> None:
    """``_check_sizes`` for a table of ``rows`` rows; without ``gaps``, say how many rows the window needs."""
    window, horizon = data.window, data.furthest
    needed = f" (rows {rows} - window {window} - horizon {horizon} + 1{gaps})"
    if not gaps:
        least = min_samples(data.validation_split) + window + horizon - 1
        needed += (f": the table has {rows} row{'' if rows == 1 else 's'}, and window {window} and horizon "
                   f"{horizon} need at least {least} rows")
    _check_sizes(n_samples, split_index(n_samples, data.validation_split), source, needed)


def _check_sizes(n_samples: int, split: int, source: str, needed: str) -> None:
    if split < MIN_TRAIN_SAMPLES or n_samples - split < MIN_VAL_SAMPLES:
        raise DataError(
            f"{source}: {n_samples} samples are too few: training needs at least {MIN_TRAIN_SAMPLES} "
            f"and validation at least {MIN_VAL_SAMPLES} after the split{needed}; "
            "provide more data or lower data.window / data.validation_split"
        )


def _check_target_varies(y: np.ndarray, source: str) -> None:
    y = np.asarray(y)
    y = y.reshape(-1) if y.ndim > 1 else y  # a multi-step forecast's targets
    if len(y) and len(pd.unique(y)) < 2:
        value = y[0].item() if hasattr(y[0], "item") else y[0]
        raise DataError(
            f"{source}: the target is constant ({value!r} everywhere); there is nothing to learn. "
            "Check data.target names the column you mean to predict"
        )


def _from_table(spec: Spec, frame: pd.DataFrame, source: str, in_file: bool = True) -> Dataset:
    d = spec.data
    if len(frame) == 0:
        raise DataError(f"{source}: the table has no data rows (columns {list(frame.columns)}); provide the data")
    refuse_duplicate_names(list(frame.columns), source)
    if d.target not in frame.columns:
        raise DataError(f"{source}: target column {d.target!r} is not in the data; columns are {list(frame.columns)}")
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
    table, labels, feature_ok, target_ok = handle_missing(frame, features, d.target, d.missing, source, in_file)
    observed = labels[target_ok]
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
        classes=classes, rows=rows, starts=starts, rollout=rollout,
    )


def _from_arrays(spec: Spec, x: np.ndarray, y: np.ndarray, source: str) -> Dataset:
    x = np.asarray(x)
    y = np.asarray(y).reshape(-1) if np.asarray(y).ndim == 2 and np.asarray(y).shape[1] == 1 else np.asarray(y)
    check_shape(x, source)
    if y.ndim not in (1, 2):
        raise DataError(f"{source}: y must have shape (samples,), or (samples, steps) for a multi-step forecast; "
                        f"got shape {y.shape}")
    bad = nonfinite_samples(x, y, source)
    if bad.any():
        if spec.data.missing == "error":
            raise DataError(f"{source}: {nonfinite_line(bad)}; clean them or set data.missing: drop")
        x, y = x[~bad], y[~bad]
    _check_target_varies(y, source)
    task = _forecast_task(y, spec.data.task, source) if y.ndim == 2 else spec.data.task or infer_task(y, spec.model.loss)
    y, classes = _encode_target(y, task, source)
    split = split_index(len(x), spec.data.validation_split)
    _check_sizes(len(x), split, source, "")
    _check_target_varies(y, source)
    return Dataset(
        x_train=x[:split].astype(np.float32), y_train=y[:split], x_val=x[split:].astype(np.float32),
        y_val=y[split:], task=task, feature_names=array_feature_names(x.shape[2]),
        target_name="y", classes=classes,
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
        return _from_arrays(spec, x, y, "the x/y arrays")
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
        return _from_arrays(spec, arr_x, arr_y, str(path))
    return _from_table(spec, read_table(path), str(path))


def _forecast_task(y: np.ndarray, task: str | None, source: str) -> str:
    """The task of a (samples, steps) target: a multi-step forecast is a regression.

    Raises:
        DataError: ``task`` names a classification, or the values are not numbers.
    """
    if task not in (None, "regression") or not np.issubdtype(y.dtype, np.number):
        raise DataError(
            f"{source}: y of shape {y.shape} is a {y.shape[1]}-step forecast, which predicts numbers; "
            f"got {'data.task ' + task if task else 'dtype ' + str(y.dtype)}. Give class labels as (samples,) or one-hot"
        )
    return "regression"


def _one_hot(y: np.ndarray) -> bool:
    """True for (samples, classes) rows of 0/1 with a single 1 each, as categorical cross-entropy takes labels."""
    return bool(np.issubdtype(y.dtype, np.number) and np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1))


def _labels(y, source: str, loss: str | None = None) -> np.ndarray:
    """Targets as the dataset holds them: ``(n, 1)`` flattened, a one-hot ``(n, k)`` as class indices, any
    other ``(n, steps)`` of numbers kept as a multi-step forecast's targets (one-hot-looking rows too,
    under a regression ``loss``)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        return y.reshape(-1)
    regression_loss = loss is not None and not is_class_label_loss(loss) and "crossentropy" not in loss.lower()
    if y.ndim == 2 and _one_hot(y) and not regression_loss:
        return np.argmax(y, axis=1)  # one-hot, as categorical_crossentropy takes it
    if y.ndim not in (1, 2):
        raise DataError(f"{source}: y must have shape (samples,), (samples, 1), one-hot (samples, classes), or "
                        f"(samples, steps) for a multi-step forecast; got {y.shape}")
    return y


def _windows(x, y, source: str, names: tuple[str, str] = ("x", "y"), loss: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x), _labels(y, source, loss)
    check_shape(x, source, names[0])
    bad = nonfinite_samples(x, y, source, names)
    if bad.any():
        raise DataError(f"{source}: {nonfinite_line(bad)}; clean them first")
    return x.astype(np.float32), y


def dataset_from_arrays(x_train, y_train, x_val, y_val, *, task: str | None = None, loss: str | None = None) -> Dataset:
    """A ``Dataset`` from windowed arrays already split in two, as ``fit(x, y, validation_data=(x_val, y_val))`` takes them.

    ``x``: (samples, timesteps, features); ``y``: (samples,), (samples, 1) or one-hot. The task is
    inferred from both targets together unless given (``loss``: the model's, see ``infer_task``), and class labels are encoded over both, so a
    class seen only in validation keeps its index.

    Raises:
        DataError: shapes that do not fit, NaN/infinite values, a constant target, too few samples.
    """
    x_train, y_train = _windows(x_train, y_train, "the training arrays (x, y)", loss=loss)
    x_val, y_val = _windows(x_val, y_val, "validation_data", ("x_val", "y_val"), loss=loss)
    if x_train.shape[1:] != x_val.shape[1:]:
        raise DataError(
            f"validation_data: x_val has windows of shape {x_val.shape[1:]} but x has {x_train.shape[1:]}; they must match"
        )
    if y_train.shape[1:] != y_val.shape[1:]:
        raise DataError(
            f"validation_data: y_val has targets of shape {y_val.shape[1:]} per sample but y has {y_train.shape[1:]}; "
            "they must match"
        )
    source = "the x/y arrays"
    y_all = np.concatenate([y_train, y_val])
    _check_target_varies(y_all, source)
    task = _forecast_task(y_all, task, source) if y_all.ndim == 2 else task or infer_task(y_all, loss)
    encoded, classes = _encode_target(y_all, task, source)
    _check_sizes(len(y_all), len(y_train), source, "")
    _check_target_varies(encoded[: len(y_train)], "the training arrays (x, y)")
    return Dataset(
        x_train=x_train, y_train=encoded[: len(y_train)], x_val=x_val, y_val=encoded[len(y_train) :], task=task,
        feature_names=array_feature_names(x_train.shape[2]), target_name="y", classes=classes,
    )
