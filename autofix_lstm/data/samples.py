"""The windowed samples every part reads (``Dataset``), and the rules that size and label them.

A ``Dataset`` holds windows ``(samples, timesteps, features)`` and targets in the ORIGINAL units, split
in time order into a training part and the LAST ``validation_split`` fraction for validation. How a
table or windowed arrays become one is ``data.dataset`` and ``data.arrays``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from autofix_lstm.data.rollout import Rollout
from autofix_lstm.errors import DataError

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
    target_indices: tuple[int, ...] | None = None  # several targets: each one's column, if all are features
    target_names: tuple[str, ...] = ()  # several targets (``target: [a, b]``): their columns, in y's order
    horizon: int | None = None  # None for already windowed .npz data; a multi-step forecast: its nearest step
    steps: tuple[int, ...] | None = None  # a multi-step forecast's offsets (None: one step, or not known)
    rollout: Rollout | None = None  # ``data.rollout``: the validation samples a one-step model is rolled out from
    classes: list = field(default_factory=list)  # original labels, index = class id
    rows: np.ndarray | None = None  # tables: the (filled) feature rows, float32, that the windows view
    starts: np.ndarray | None = None  # tables: each sample's first row in ``rows``, in sample order
    row_ok: np.ndarray | None = None  # tables: which of ``rows`` may lie in a window (False: a missing value)
    # window length -> this dataset's samples with windows of that length (``data.window_length``)
    other_windows: dict = field(default_factory=dict, init=False, repr=False, compare=False)

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
        observed = self.target_index is not None or self.target_indices is not None
        return self.task == "regression" and observed and bool(self.horizon)

    @property
    def multi_target(self) -> bool:
        """True when several target columns are predicted together."""
        return len(self.target_names) > 1

    @property
    def target_columns(self) -> int | list[int] | None:
        """Where the target is in a window's features: one index, one per target column, or None."""
        return list(self.target_indices) if self.target_indices is not None else self.target_index

    def last_observed(self, x: np.ndarray) -> np.ndarray:
        """The target's last value inside each window of ``x`` ((samples, targets) for several targets)."""
        if self.target_columns is None:
            raise DataError("the target is not among the features, so windows carry no last observed target")
        return x[:, -1, self.target_columns].astype(np.float64)


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


