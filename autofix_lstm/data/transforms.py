"""Input scaling and target transforms, fit on the training part only, and their Keras layers.

Every transform is an affine map per feature (``(v - center) / scale``) fit with scikit-learn's
scalers, optionally after a fixed step: ``window_relative`` subtracts each window's last row,
``log`` takes ``log1p`` of the target, ``difference`` subtracts the last observed target value.
The same maps live in two serializable Keras layers so that the saved model takes RAW windows
and returns predictions in the target's ORIGINAL units.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from keras import ops
from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

from autofix_lstm.errors import DataError

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


def fit_scaler(kind: str, values: np.ndarray, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """Fit the named scikit-learn scaler on ``values`` (rows, columns) and return its (center, scale)."""
    try:
        factory = SCALERS[kind]
    except KeyError:
        raise ValueError(f"unknown scaling {kind!r}; expected one of {', '.join(SCALERS)}") from None
    center, scale = _affine_from(factory(**kwargs).fit(values))
    scale = np.where(np.abs(scale) > 1e-12, scale, 1.0)
    return center.astype(np.float64), scale.astype(np.float64)


@dataclass
class InputTransform:
    """How raw windows become model inputs."""

    kind: str = "none"
    center: np.ndarray | None = None  # per feature
    scale: np.ndarray | None = None

    @classmethod
    def fit(cls, kind: str, x_train: np.ndarray) -> InputTransform:
        """Fit on the training windows (samples, timesteps, features)."""
        if kind == "none":
            return cls()
        n_features = x_train.shape[2]
        if kind == "window_relative":
            relative = (x_train - x_train[:, -1:, :]).reshape(-1, n_features)
            center, scale = fit_scaler("standard", relative, with_mean=False)
            return cls(kind, center, scale)
        center, scale = fit_scaler(kind, x_train.reshape(-1, n_features))
        return cls(kind, center, scale)

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Raw windows to model inputs (numpy)."""
        if self.kind == "none":
            return x.astype(np.float32)
        if self.kind == "window_relative":
            x = x - x[:, -1:, :]
        return ((x - self.center) / self.scale).astype(np.float32)

    def layer(self) -> keras.layers.Layer | None:
        """The same map as a Keras layer (None for ``none``)."""
        if self.kind == "none":
            return None
        return ScaleInputs(self.kind, self.center.tolist(), self.scale.tolist(), name="scale_inputs")


@dataclass
class TargetTransform:
    """How original targets become training targets, and back."""

    kind: str = "none"
    center: float = 0.0
    scale: float = 1.0
    target_index: int | None = None  # for ``difference``: the target's column in the raw window

    @classmethod
    def fit(cls, kind: str, y_train: np.ndarray, x_train: np.ndarray, target_index: int | None) -> TargetTransform:
        """Fit on the training targets (and windows, for ``difference``)."""
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
            y = y - x_train[:, -1, target_index]
            kind_for_scaler = "standard"
        else:
            kind_for_scaler = kind
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
            y = y - x_raw[:, -1, self.target_index]
        return ((y - self.center) / self.scale).astype(np.float32)

    def invert(self, pred: np.ndarray, x_raw: np.ndarray) -> np.ndarray:
        """Model outputs back to original units (numpy)."""
        out = np.asarray(pred, dtype=np.float64) * self.scale + self.center
        if self.kind == "log":
            out = np.expm1(out)
        elif self.kind == "difference":
            out = out + x_raw[:, -1, self.target_index].reshape(out.shape[:1] + (1,) * (out.ndim - 1))
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
        self.center = float(center)
        self.scale = float(scale)
        self.target_index = target_index

    def call(self, inputs):
        pred, raw = inputs
        out = pred * self.scale + self.center
        if self.kind == "log":
            out = ops.expm1(out)
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
