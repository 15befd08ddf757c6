"""Reading the user's data and cutting it into windows, split in time order.

A sample ``i`` of a table with rows ``0..N-1`` is ``x = rows[i : i + window]`` (features) and
``y = target[i + window - 1 + horizon]``: horizon 0 is the window's last row, horizon 1 the next one.
The LAST ``validation_split`` fraction of samples is the validation part; it is never shuffled
into training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from autofix_lstm.errors import DataError, SpecError
from autofix_lstm.spec import Spec

MIN_TRAIN_SAMPLES = 4
MIN_VAL_SAMPLES = 2


@dataclass
class Dataset:
    """Windowed samples in the ORIGINAL units, split into training and validation parts."""

    x_train: np.ndarray  # (samples, timesteps, features), float32
    y_train: np.ndarray  # (samples,): float targets, or class indices for classification
    x_val: np.ndarray
    y_val: np.ndarray
    task: str
    feature_names: list[str]
    target_name: str
    target_index: int | None = None  # the target's column among the features, if it is one
    horizon: int | None = None  # None for already windowed .npz data
    classes: list = field(default_factory=list)  # original labels, index = class id

    @property
    def window(self) -> int:
        """Timesteps per sample."""
        return int(self.x_train.shape[1])

    @property
    def n_features(self) -> int:
        """Features per timestep."""
        return int(self.x_train.shape[2])

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


def _read_table(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except Exception as err:  # pandas raises many types for a bad file
        raise DataError(f"cannot read {path}: {type(err).__name__}: {err}") from None


def _bad_rows(values: pd.Series) -> np.ndarray:
    numeric = pd.to_numeric(values, errors="coerce")
    return np.flatnonzero(~np.isfinite(numeric.to_numpy(dtype=np.float64)))


def _describe_rows(rows: np.ndarray, index: pd.Index | None = None) -> str:
    """``3 rows (file lines 5, 12, 13)``; with a DataFrame's ``index``, its labels instead of file lines."""
    if index is None:
        where, shown = "file lines", [str(int(r) + 2) for r in rows[:5]]  # +2: header line, 1-based lines
    else:
        where, shown = "index", [str(index[r]) for r in rows[:5]]
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    return f"{len(rows)} row{'s' if len(rows) != 1 else ''} ({where} {', '.join(shown)}{more})"


def _handle_missing(frame: pd.DataFrame, columns: list[str], how: str, source: str, in_file: bool = True) -> pd.DataFrame:
    frame = frame[columns].copy()
    index = None if in_file else frame.index
    numeric_cols = [c for c in columns if pd.api.types.is_numeric_dtype(frame[c])]
    frame[numeric_cols] = frame[numeric_cols].replace([np.inf, -np.inf], np.nan)
    if how == "error":
        problems = []
        for column in columns:
            rows = np.flatnonzero(frame[column].isna().to_numpy())
            if len(rows):
                problems.append(f"column {column!r} has NaN or infinite values in {_describe_rows(rows, index)}")
        if problems:
            raise DataError(
                f"{source}: " + "; ".join(problems)
                + ". Clean the data, or set data.missing to drop, ffill or interpolate"
            )
        return frame
    if how == "drop":
        return frame.dropna().reset_index(drop=True)
    if how == "ffill":
        return frame.ffill().bfill()
    frame[numeric_cols] = frame[numeric_cols].interpolate(limit_direction="both")
    return frame.ffill().bfill()


def infer_task(target: pd.Series | np.ndarray) -> str:
    """Regression unless the target is boolean/text/categorical or has exactly two distinct values.

    Numeric multiclass targets must be declared with ``data.task: multiclass``.
    """
    series = pd.Series(np.asarray(target)) if not isinstance(target, pd.Series) else target
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return "binary" if series.nunique() == 2 else "multiclass"
    return "binary" if series.nunique() == 2 else "regression"


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
    """Cut rows into samples: ``x[i] = features[i:i+window]``, ``y[i] = target[i+window-1+horizon]``."""
    n = len(features) - window - horizon + 1
    if n <= 0:
        return np.empty((0, window, features.shape[1]), np.float32), np.empty((0,), target.dtype)
    index = np.arange(window)[None, :] + np.arange(n)[:, None]
    return features[index].astype(np.float32), target[window - 1 + horizon : window - 1 + horizon + n]


def split_index(n_samples: int, validation_split: float) -> int:
    """Index of the first validation sample: the last ``validation_split`` fraction, at least ``MIN_VAL_SAMPLES``."""
    n_val = max(MIN_VAL_SAMPLES, int(round(n_samples * validation_split)))
    return n_samples - n_val


def _check_sizes(n_samples: int, split: int, source: str, needed: str) -> None:
    if split < MIN_TRAIN_SAMPLES or n_samples - split < MIN_VAL_SAMPLES:
        raise DataError(
            f"{source}: {n_samples} samples are too few: training needs at least {MIN_TRAIN_SAMPLES} "
            f"and validation at least {MIN_VAL_SAMPLES} after the split{needed}; "
            "provide more data or lower data.window / data.validation_split"
        )


def _check_target_varies(y: np.ndarray, source: str) -> None:
    if len(y) and len(pd.unique(np.asarray(y))) < 2:
        value = y[0].item() if hasattr(y[0], "item") else y[0]
        raise DataError(
            f"{source}: the target is constant ({value!r} everywhere); there is nothing to learn. "
            "Check data.target names the column you mean to predict"
        )


def _from_table(spec: Spec, frame: pd.DataFrame, source: str, in_file: bool = True) -> Dataset:
    d = spec.data
    if len(frame) == 0:
        raise DataError(f"{source}: the table has no data rows (columns {list(frame.columns)}); provide the data")
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
    columns = list(dict.fromkeys(features + [d.target]))
    frame = _handle_missing(frame, columns, d.missing, source, in_file)
    _check_target_varies(frame[d.target].to_numpy(), source)
    task = d.task or infer_task(frame[d.target])
    y_all, classes = _encode_target(frame[d.target].to_numpy(), task, source)
    x, y = window_table(frame[features].to_numpy(dtype=np.float64), y_all, d.window, d.horizon)
    split = split_index(len(x), d.validation_split)
    _check_sizes(len(x), split, source, f" (rows {len(frame)} - window {d.window} - horizon {d.horizon} + 1)")
    _check_target_varies(y, source)
    return Dataset(
        x_train=x[:split], y_train=y[:split], x_val=x[split:], y_val=y[split:], task=task,
        feature_names=features, target_name=d.target,
        target_index=features.index(d.target) if d.target in features else None,
        horizon=d.horizon, classes=classes,
    )


def _from_arrays(spec: Spec, x: np.ndarray, y: np.ndarray, source: str) -> Dataset:
    x = np.asarray(x)
    y = np.asarray(y).reshape(-1) if np.asarray(y).ndim == 2 and np.asarray(y).shape[1] == 1 else np.asarray(y)
    if x.ndim != 3:
        raise DataError(f"{source}: x must have shape (samples, timesteps, features), got shape {x.shape}")
    if y.ndim != 1:
        raise DataError(f"{source}: y must have shape (samples,), got shape {y.shape}")
    if len(x) != len(y):
        raise DataError(f"{source}: x has {len(x)} samples but y has {len(y)}; they must match")
    if not np.issubdtype(x.dtype, np.number):
        raise DataError(f"{source}: x must be numeric, got dtype {x.dtype}")
    bad = ~np.isfinite(x.astype(np.float64)).all(axis=(1, 2))
    if np.issubdtype(y.dtype, np.number):
        bad |= ~np.isfinite(y.astype(np.float64))
    if bad.any():
        if spec.data.missing == "error":
            raise DataError(
                f"{source}: {int(bad.sum())} samples hold NaN or infinite values (first: {np.flatnonzero(bad)[:5].tolist()}); "
                "clean them or set data.missing: drop"
            )
        x, y = x[~bad], y[~bad]
    _check_target_varies(y, source)
    task = spec.data.task or infer_task(y)
    y, classes = _encode_target(y, task, source)
    split = split_index(len(x), spec.data.validation_split)
    _check_sizes(len(x), split, source, "")
    _check_target_varies(y, source)
    return Dataset(
        x_train=x[:split].astype(np.float32), y_train=y[:split], x_val=x[split:].astype(np.float32),
        y_val=y[split:], task=task, feature_names=[f"f{i}" for i in range(x.shape[2])],
        target_name="y", classes=classes,
    )


def load_dataset(spec: Spec, *, frame: pd.DataFrame | Dataset | None = None, x=None, y=None) -> Dataset:
    """Read, clean, window and split the spec's data, or the in-memory ``frame`` / ``x``, ``y`` given instead.

    A ``frame`` that is already a ``Dataset`` is returned as it is.

    Raises:
        DataError: the data cannot be used as described (named file/column, and how to fix it).
        SpecError: no data was given at all, or the spec's fields do not fit the in-memory data.
    """
    if isinstance(frame, Dataset):  # already read and windowed from this spec (``preflight``)
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
    return _from_table(spec, _read_table(path), str(path))


def _labels(y, source: str) -> np.ndarray:
    """Targets as one value per sample: ``(n, 1)`` flattened, a one-hot ``(n, k)`` as class indices."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        return y.reshape(-1)
    if y.ndim == 2 and np.issubdtype(y.dtype, np.number) and np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1):
        return np.argmax(y, axis=1)  # one-hot, as categorical_crossentropy takes it
    if y.ndim != 1:
        raise DataError(f"{source}: y must have shape (samples,), (samples, 1) or one-hot (samples, classes); got {y.shape}")
    return y


def _windows(x, y, source: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x), _labels(y, source)
    if x.ndim != 3:
        raise DataError(f"{source}: x must have shape (samples, timesteps, features), got shape {x.shape}")
    if len(x) != len(y):
        raise DataError(f"{source}: x has {len(x)} samples but y has {len(y)}; they must match")
    if not np.issubdtype(x.dtype, np.number):
        raise DataError(f"{source}: x must be numeric, got dtype {x.dtype}")
    bad = ~np.isfinite(x.astype(np.float64)).all(axis=(1, 2))
    if np.issubdtype(y.dtype, np.number):
        bad |= ~np.isfinite(y.astype(np.float64))
    if bad.any():
        raise DataError(
            f"{source}: {int(bad.sum())} samples hold NaN or infinite values (first: {np.flatnonzero(bad)[:5].tolist()}); "
            "clean them first"
        )
    return x.astype(np.float32), y


def dataset_from_arrays(x_train, y_train, x_val, y_val, *, task: str | None = None) -> Dataset:
    """A ``Dataset`` from windowed arrays already split in two, as ``fit(x, y, validation_data=(x_val, y_val))`` takes them.

    ``x``: (samples, timesteps, features); ``y``: (samples,), (samples, 1) or one-hot. The task is
    inferred from both targets together unless given, and class labels are encoded over both, so a
    class seen only in validation keeps its index.

    Raises:
        DataError: shapes that do not fit, NaN/infinite values, a constant target, too few samples.
    """
    x_train, y_train = _windows(x_train, y_train, "the training arrays (x, y)")
    x_val, y_val = _windows(x_val, y_val, "validation_data")
    if x_train.shape[1:] != x_val.shape[1:]:
        raise DataError(
            f"validation_data: x_val has windows of shape {x_val.shape[1:]} but x has {x_train.shape[1:]}; they must match"
        )
    source = "the x/y arrays"
    y_all = np.concatenate([y_train, y_val])
    _check_target_varies(y_all, source)
    task = task or infer_task(y_all)
    encoded, classes = _encode_target(y_all, task, source)
    _check_sizes(len(y_all), len(y_train), source, "")
    _check_target_varies(encoded[: len(y_train)], "the training arrays (x, y)")
    return Dataset(
        x_train=x_train, y_train=encoded[: len(y_train)], x_val=x_val, y_val=encoded[len(y_train) :], task=task,
        feature_names=[f"f{i}" for i in range(x_train.shape[2])], target_name="y", classes=classes,
    )
