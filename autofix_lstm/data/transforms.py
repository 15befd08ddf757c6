"""Input scaling and target transforms, fit on the training part only, and their Keras layers.

Every transform is an affine map per feature (``(v - center) / scale``) fit with scikit-learn's
scalers, optionally after a fixed step: ``window_relative`` subtracts each window's last row,
``log`` takes ``log1p`` of the target, ``difference`` subtracts the last observed target value.
The same maps live in two serializable Keras layers so that the saved model takes RAW windows
and returns predictions in the target's ORIGINAL units.

Large training windows (over ``IN_ONE_GO_BYTES``) are never copied whole: the scalers are fit on
the rows the windows cover, weighted by how many windows cover each (the same statistics; the
robust scaler's quantiles count each row once), or on bounded chunks of windows. A map per row
scales the rows once (``apply_rows``); window-relative inputs of large windows are computed as they
are read (``RelativeWindows``), a batch at a time, never stored whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from keras import ops
from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

from autofix_lstm.errors import DataError

# Windows up to this size are scaled as one array (as they always were); larger ones in chunks.
IN_ONE_GO_BYTES = 64 * 2**20
CHUNK_SAMPLES = 4096  # windows transformed at a time
# Above IN_ONE_GO_BYTES without rows to fit on, the robust scaler's quantiles use this many windows at most.
ROBUST_SAMPLE = 20_000

# scaling name -> scikit-learn scaler factory
SCALERS = {
    "standard": StandardScaler,
    "minmax": MinMaxScaler,
    "robust": RobustScaler,
}


def _affine_from(scaler) -> tuple[np.ndarray, np.ndarray]:
    """(center, scale) such that ``scaler.transform(v) == (v - center) / scale``."""
    if isinstance(scaler, StandardScaler):
        center = scaler.mean_ if scaler.with_mean else np.zeros_like(scaler.scale_)
        return center, scaler.scale_
    if isinstance(scaler, MinMaxScaler):
        return scaler.data_min_, 1.0 / scaler.scale_
    if isinstance(scaler, RobustScaler):
        return scaler.center_, scaler.scale_
    raise TypeError(f"unsupported scaler {type(scaler).__name__}")


def _scaler(kind: str, **kwargs):
    try:
        factory = SCALERS[kind]
    except KeyError:
        raise ValueError(f"unknown scaling {kind!r}; expected one of {', '.join(SCALERS)}") from None
    return factory(**kwargs)


def _center_scale(scaler) -> tuple[np.ndarray, np.ndarray]:
    center, scale = _affine_from(scaler)
    scale = np.where(np.abs(scale) > 1e-12, scale, 1.0)
    return center.astype(np.float64), scale.astype(np.float64)


def fit_scaler(kind: str, values: np.ndarray, sample_weight: np.ndarray | None = None, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """Fit the named scikit-learn scaler on ``values`` (rows, columns) and return its (center, scale).

    ``sample_weight`` (per row) is honoured by the standard scaler; min/max ignore it (a weight never
    moves a minimum), and the robust scaler counts each row once.
    """
    scaler = _scaler(kind, **kwargs)
    if sample_weight is not None and kind == "standard":
        scaler.fit(values, sample_weight=sample_weight)
    else:
        scaler.fit(values)
    return _center_scale(scaler)


def _chunks(n: int):
    for start in range(0, n, CHUNK_SAMPLES):
        yield slice(start, min(n, start + CHUNK_SAMPLES))


def _fit_in_chunks(kind: str, x: np.ndarray, step=None, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """A standard/minmax scaler fit on every window's values, ``CHUNK_SAMPLES`` windows at a time."""
    scaler = _scaler(kind, **kwargs)
    n_features = x.shape[2]
    for part in _chunks(len(x)):
        chunk = np.asarray(x[part], dtype=np.float64)
        scaler.partial_fit((step(chunk) if step else chunk).reshape(-1, n_features))
    return _center_scale(scaler)


def _relative(x: np.ndarray) -> np.ndarray:
    return x - x[:, -1:, :]


@dataclass
class InputTransform:
    """How raw windows become model inputs."""

    kind: str = "none"
    center: np.ndarray | None = None  # per feature
    scale: np.ndarray | None = None

    @classmethod
    def fit(cls, kind: str, x_train: np.ndarray, covered_rows: tuple[np.ndarray, np.ndarray] | None = None) -> InputTransform:
        """Fit on the training windows (samples, timesteps, features).

        Args:
            covered_rows: (rows, counts), the rows the windows cover and how many windows cover each
                (``Dataset.training_rows``): large windows are fit on them instead, without a copy.
        """
        if kind == "none":
            return cls()
        n_features = x_train.shape[2]
        small = x_train.size * 8 <= IN_ONE_GO_BYTES
        if kind == "window_relative":
            if small:
                center, scale = fit_scaler("standard", _relative(x_train).reshape(-1, n_features), with_mean=False)
            else:
                center, scale = _fit_in_chunks("standard", x_train, _relative, with_mean=False)
            return cls(kind, center, scale)
        if small:
            center, scale = fit_scaler(kind, x_train.reshape(-1, n_features))
        elif covered_rows is not None:
            rows, counts = covered_rows
            center, scale = fit_scaler(kind, np.asarray(rows, np.float64), sample_weight=counts)
        elif kind == "robust":
            sample = x_train[:: max(1, -(-len(x_train) // ROBUST_SAMPLE))]
            center, scale = fit_scaler(kind, np.asarray(sample, np.float64).reshape(-1, n_features))
        else:
            center, scale = _fit_in_chunks(kind, x_train)
        return cls(kind, center, scale)

    @property
    def per_row(self) -> bool:
        """True when the map acts on each row alone (so scaled windows can be views over scaled rows)."""
        return self.kind != "window_relative"

    def apply_rows(self, rows: np.ndarray) -> np.ndarray:
        """Raw rows (rows, features) to model-input rows, for a map that acts on each row alone."""
        if not self.per_row:
            raise ValueError(f"input scaling {self.kind!r} depends on the whole window, not on each row")
        if self.kind == "none":
            return np.asarray(rows, dtype=np.float32)
        return ((rows - self.center) / self.scale).astype(np.float32)

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Raw windows to model inputs (numpy); large windows are written chunk by chunk into one array."""
        if self.kind == "none":
            return x.astype(np.float32)
        if x.size * 8 <= IN_ONE_GO_BYTES:
            return self._apply(x)
        out = np.empty(x.shape, np.float32)
        for part in _chunks(len(x)):
            out[part] = self._apply(x[part])
        return out

    def _apply(self, x: np.ndarray) -> np.ndarray:
        if self.kind == "window_relative":
            x = _relative(x)
        return ((x - self.center) / self.scale).astype(np.float32)

    def lazy(self, x: np.ndarray) -> np.ndarray | RelativeWindows:
        """Model inputs for the raw windows ``x``: ``apply(x)`` when small, ``RelativeWindows`` (computed
        as read) when a copy would be large; only for maps that depend on the whole window."""
        if self.per_row:
            raise ValueError(f"input scaling {self.kind!r} acts on each row: scale the rows once (apply_rows)")
        return self.apply(x) if x.size * 8 <= IN_ONE_GO_BYTES else RelativeWindows(x, self)

    def layer(self) -> keras.layers.Layer | None:
        """The same map as a Keras layer (None for ``none``)."""
        if self.kind == "none":
            return None
        return ScaleInputs(self.kind, self.center.tolist(), self.scale.tolist(), name="scale_inputs")


class RelativeWindows:
    """Window-relative model inputs of the raw windows ``windows``, computed when read, never stored whole.

    Reads like the float32 array ``transform.apply(windows)`` for what training and the checks do
    with model inputs: ``len``, ``shape``, ``size``, ``dtype``, ``ndim``; indexing the windows by an
    int or an index array (then any further axes) gives a numpy array; a slice gives another
    ``RelativeWindows`` (a view); ``numpy.asarray`` computes every window (only for small ones).
    """

    def __init__(self, windows: np.ndarray, transform: InputTransform):
        self.windows = windows
        self.transform = transform

    @property
    def shape(self) -> tuple[int, ...]:
        """The windows' shape."""
        return tuple(self.windows.shape)

    @property
    def ndim(self) -> int:
        """3: (windows, timesteps, features)."""
        return self.windows.ndim

    @property
    def size(self) -> int:
        """Values in all the windows."""
        return int(self.windows.size)

    @property
    def dtype(self) -> np.dtype:
        """float32, the model inputs' type."""
        return np.dtype(np.float32)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, key):
        first, rest = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
        if isinstance(first, slice) and not rest:
            return RelativeWindows(self.windows[first], self.transform)
        chosen = self.windows[first]
        if chosen.ndim == 2:  # one window
            return self.transform._apply(chosen[None])[0][rest]
        return self.transform._apply(chosen)[(slice(None), *rest)]

    def __array__(self, dtype=None, copy=None):
        out = self.transform.apply(self.windows)
        return out if dtype is None else out.astype(dtype, copy=False)


def _last_observed(x: np.ndarray, target_index: int | list[int], ndim: int) -> np.ndarray:
    """The target's last value in each window, shaped to broadcast over targets of ``ndim`` dimensions
    (several targets' indices: one column each, as the targets have)."""
    last = np.asarray(x[:, -1, target_index], dtype=np.float64)
    return last if isinstance(target_index, list) else last.reshape(last.shape + (1,) * (ndim - 1))


@dataclass
class TargetTransform:
    """How original targets become training targets, and back.

    One scale for every step of a multi-step forecast (they are one quantity); one per column for
    several targets (``per_column``: each its own quantity and units). ``difference`` predicts each
    step's change from the last observed value (not the change from the step before), so its inverse
    adds the last observed value to every step: no running sum whose errors accumulate.
    """

    kind: str = "none"
    center: float | list[float] = 0.0
    scale: float | list[float] = 1.0
    target_index: int | list[int] | None = None  # for ``difference``: the target's column(s) in the raw window

    @classmethod
    def fit(cls, kind: str, y_train: np.ndarray, x_train: np.ndarray, target_index: int | list[int] | None,
            *, per_column: bool = False) -> TargetTransform:
        """Fit on the training targets (and windows, for ``difference``); ``per_column``: a scale per target
        column, ``target_index`` then one index per column (or None)."""
        if kind == "none":
            return cls()
        y = np.asarray(y_train, dtype=np.float64)
        if kind == "log":
            if (y <= -1).any():
                raise DataError(
                    f"preprocessing.target 'log' takes log1p of the target, which needs values > -1; "
                    f"the training target's minimum is {y.min():.6g}. Use standard or robust instead"
                )
            y = np.log1p(y)
            kind_for_scaler = "standard"
        elif kind == "difference":
            if target_index is None:
                raise DataError(
                    "preprocessing.target 'difference' predicts the change from the last observed target value, "
                    "so the target column must be among data.features"
                )
            y = y - _last_observed(x_train, target_index, y.ndim)
            kind_for_scaler = "standard"
        else:
            kind_for_scaler = kind
        if per_column:
            center, scale = fit_scaler(kind_for_scaler, y.reshape(len(y), -1))
            return cls(kind, [float(v) for v in center], [float(v) for v in scale], target_index)
        center, scale = fit_scaler(kind_for_scaler, y.reshape(-1, 1))
        return cls(kind, float(center[0]), float(scale[0]), target_index)

    def apply(self, y: np.ndarray, x_raw: np.ndarray) -> np.ndarray:
        """Original targets to training targets (numpy)."""
        y = np.asarray(y, dtype=np.float64)
        if self.kind == "none":
            return y.astype(np.float32)
        if self.kind == "log":
            y = np.log1p(y)
        elif self.kind == "difference":
            y = y - _last_observed(x_raw, self.target_index, y.ndim)
        return ((y - np.asarray(self.center)) / np.asarray(self.scale)).astype(np.float32)

    def invert(self, pred: np.ndarray, x_raw: np.ndarray) -> np.ndarray:
        """Model outputs back to original units (numpy)."""
        out = np.asarray(pred, dtype=np.float64)
        if isinstance(self.scale, list):  # a column per target: the model's (samples, targets) output
            out = out.reshape(len(out), -1)
        out = out * np.asarray(self.scale) + np.asarray(self.center)
        if self.kind == "log":
            out = np.expm1(out)
        elif self.kind == "difference":
            out = out + _last_observed(x_raw, self.target_index, out.ndim)
        return out

    def layer(self) -> keras.layers.Layer | None:
        """The inverse map as a Keras layer taking ``[prediction, raw_window]`` (None for ``none``)."""
        if self.kind == "none":
            return None
        return InvertTarget(self.kind, self.center, self.scale, self.target_index, name="invert_target")


@keras.saving.register_keras_serializable(package="autofix_lstm")
class ScaleInputs(keras.layers.Layer):
    """Raw windows to model inputs: optional window-relative step, then ``(x - center) / scale``."""

    def __init__(self, kind, center, scale, **kwargs):
        super().__init__(**kwargs)
        self.kind = kind
        self.center = [float(v) for v in center]
        self.scale = [float(v) for v in scale]

    def call(self, x):
        if self.kind == "window_relative":
            x = x - x[:, -1:, :]
        center = ops.convert_to_tensor(self.center, dtype=x.dtype)
        scale = ops.convert_to_tensor(self.scale, dtype=x.dtype)
        return (x - center) / scale

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "center": self.center, "scale": self.scale}


@keras.saving.register_keras_serializable(package="autofix_lstm")
class InvertTarget(keras.layers.Layer):
    """Model outputs back to original target units; takes ``[prediction, raw_window]``."""

    def __init__(self, kind, center, scale, target_index=None, **kwargs):
        super().__init__(**kwargs)
        self.kind = kind
        self.center = [float(v) for v in center] if isinstance(center, (list, tuple)) else float(center)
        self.scale = [float(v) for v in scale] if isinstance(scale, (list, tuple)) else float(scale)
        self.target_index = list(target_index) if isinstance(target_index, (list, tuple)) else target_index

    def call(self, inputs):
        pred, raw = inputs
        out = pred * ops.convert_to_tensor(self.scale, pred.dtype) + ops.convert_to_tensor(self.center, pred.dtype)
        if self.kind == "log":
            out = ops.expm1(out)
        elif self.kind == "difference" and isinstance(self.target_index, list):  # one column per target
            out = out + ops.cast(ops.take(raw[:, -1, :], self.target_index, axis=1), out.dtype)
        elif self.kind == "difference":
            out = out + ops.cast(raw[:, -1, self.target_index : self.target_index + 1], out.dtype)
        return out

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]

    def get_config(self):
        return {
            **super().get_config(),
            "kind": self.kind,
            "center": self.center,
            "scale": self.scale,
            "target_index": self.target_index,
        }
