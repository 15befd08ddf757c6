"""What a target asks for: the task (regression, binary, multiclass) inferred from its values and the loss."""

from __future__ import annotations

import numpy as np
import pandas as pd

# Whole-number labels a categorical loss may read as classes (more are a count or a measurement).
MAX_LOSS_IMPLIED_CLASSES = 100


def infer_task(target: pd.Series | np.ndarray, loss: str | None = None) -> str:
    """Regression unless the target is boolean/text/categorical or has exactly two distinct values.

    A numeric target of whole numbers 0..K-1 (K at most ``MAX_LOSS_IMPLIED_CLASSES``) under a
    categorical cross-entropy ``loss`` is multiclass; any other numeric multiclass target must be
    declared with ``data.task: multiclass``. A real-valued target stays regression whatever the loss:
    a classification loss on it is the user's mistake, which the diagnosis names
    (``loss_target_mismatch``) and the search fixes.
    """
    series = pd.Series(np.asarray(target)) if not isinstance(target, pd.Series) else target
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return "binary" if series.nunique() == 2 else "multiclass"
    if series.nunique() == 2:
        return "binary"
    if loss is not None and "categorical" in loss.lower():
        values = np.unique(series.to_numpy(dtype=np.float64))
        whole = np.all(np.isfinite(values)) and np.all(values == np.round(values))
        if whole and len(values) <= MAX_LOSS_IMPLIED_CLASSES and values.min() >= 0 and values.max() < len(values) + 1:
            return "multiclass"
    return "regression"
