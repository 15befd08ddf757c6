"""Checks on windowed arrays (an ``.npz``, or ``x``/``y`` given in memory): their shape, that they are
real numbers float32 can hold, and which samples hold NaN or infinite values."""

from __future__ import annotations

import numpy as np

from autofix_lstm.errors import DataError

FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_shape(x: np.ndarray, source: str, name: str = "x") -> None:
    """Refuse windows of 0 timesteps or 0 features (an LSTM cannot read them)."""
    if x.ndim != 3:
        raise DataError(f"{source}: {name} must have shape (samples, timesteps, features), got shape {x.shape}")
    empty = [f"0 {what}" for what, size in (("timesteps", x.shape[1]), ("features", x.shape[2])) if size == 0]
    if empty:
        raise DataError(
            f"{source}: array {name!r} has shape {x.shape}: {' and '.join(empty)}; each sample needs at least "
            "1 timestep of at least 1 feature, shape (samples, timesteps >= 1, features >= 1). Save windows "
            "that hold values"
        )


def check_real_and_in_range(array: np.ndarray, source: str, name: str) -> None:
    """Refuse complex arrays, and finite values that float32 (what the model computes in) makes infinite."""
    if np.iscomplexobj(array):
        raise DataError(
            f"{source}: array {name!r} has complex dtype {array.dtype}; the model takes real numbers: save "
            "the real part, or the real and imaginary parts as separate features"
        )
    if not np.issubdtype(array.dtype, np.floating):
        return  # integers fit float32's range; text labels are encoded
    with np.errstate(invalid="ignore"):
        beyond = np.isfinite(array) & (np.abs(array) > FLOAT32_MAX)
    count = int(beyond.sum())
    if count:
        samples = np.flatnonzero(beyond.reshape(len(array), -1).any(axis=1))
        raise DataError(
            f"{source}: array {name!r} holds {count} values beyond float32's range (|value| > 3.4e38) in "
            f"{len(samples)} sample{'' if len(samples) == 1 else 's'} (first: {samples[:5].tolist()}); the model "
            "computes in float32: rescale the array or fix those values"
        )


def nonfinite_samples(x: np.ndarray, y: np.ndarray, source: str, names: tuple[str, str] = ("x", "y")) -> np.ndarray:
    """Which windowed samples hold NaN or infinite values, once ``x`` and ``y`` are checked to match, to
    be real, and to fit float32."""
    if len(x) != len(y):
        raise DataError(f"{source}: x has {len(x)} samples but y has {len(y)}; they must match")
    for array, name in zip((x, y), names):
        check_real_and_in_range(array, source, name)
    if not np.issubdtype(x.dtype, np.number):
        raise DataError(f"{source}: x must be numeric, got dtype {x.dtype}")
    bad = ~np.isfinite(x.astype(np.float64)).all(axis=(1, 2))
    if np.issubdtype(y.dtype, np.number):
        finite = np.isfinite(y.astype(np.float64))
        bad |= ~(finite.reshape(len(y), -1).all(axis=1) if y.ndim > 1 else finite)  # a forecast's steps
    return bad


def nonfinite_line(bad: np.ndarray) -> str:
    """One line counting the samples ``bad`` marks, naming the first five."""
    return f"{int(bad.sum())} samples hold NaN or infinite values (first: {np.flatnonzero(bad)[:5].tolist()})"
