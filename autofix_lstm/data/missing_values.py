"""A table's missing and out-of-range values: which rows may lie in a window and which may be a target.

``data.missing`` says how: ``error`` names every column with a missing value, ``drop`` keeps the rows
with every value present, ``ffill``/``interpolate`` fill the features and never the target.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from autofix_lstm.data.array_checks import FLOAT32_MAX
from autofix_lstm.errors import DataError


def _describe_rows(rows: np.ndarray, index: pd.Index | None = None) -> str:
    """``3 rows (file lines 5, 12, 13)``; with a DataFrame's ``index``, its labels instead of file lines."""
    if index is None:
        where, shown = "file lines", [str(int(r) + 2) for r in rows[:5]]  # +2: header line, 1-based lines
    else:
        where, shown = "index", [str(index[r]) for r in rows[:5]]
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    return f"{len(rows)} row{'s' if len(rows) != 1 else ''} ({where} {', '.join(shown)}{more})"


def handle_missing(
    frame: pd.DataFrame, features: list[str], target: str | list[str], how: str, source: str, in_file: bool = True
) -> tuple[pd.DataFrame, pd.Series | pd.DataFrame, np.ndarray, np.ndarray]:
    """The feature columns (filled for ffill/interpolate), the target as observed, and which rows may be
    a window's row and a sample's target.

    Returns ``(features, target, feature_ok, target_ok)``: the target is never filled;
    ``feature_ok[r]`` says row ``r`` may lie in a window, ``target_ok[r]`` that it may be a sample's
    target. ``drop`` keeps only rows with every value present (for both); ``ffill`` and ``interpolate``
    fill the features (the target too, where it is one of them) and keep a row as a target only where
    the target was observed. Several targets (a list) come back as a DataFrame; a row is a target row
    only where every one of them was observed.
    """
    targets = list(target) if isinstance(target, list) else [target]
    columns = list(dict.fromkeys(features + targets))
    frame = frame[columns].copy()
    index = None if in_file else frame.index
    numeric_cols = [c for c in columns if pd.api.types.is_numeric_dtype(frame[c])]
    for column in numeric_cols:
        if pd.api.types.is_complex_dtype(frame[column]):
            raise DataError(
                f"{source}: column {column!r} has complex dtype {frame[column].dtype}; the model takes real numbers: "
                "keep the real part, or the real and imaginary parts as two columns"
            )
    for column in numeric_cols:  # finite here, infinite once the model reads it in float32
        values = frame[column].to_numpy(dtype=np.float64)
        rows = np.flatnonzero(np.isfinite(values) & (np.abs(values) > FLOAT32_MAX))
        if len(rows):
            raise DataError(
                f"{source}: column {column!r} holds values beyond float32's range (|value| > 3.4e38) in "
                f"{_describe_rows(rows, index)}; the model computes in float32: rescale the column or fix those values"
            )
    frame[numeric_cols] = frame[numeric_cols].replace([np.inf, -np.inf], np.nan)
    present = frame.notna()
    labels = frame[target]
    empty = [c for c in columns if not present[c].any()]
    if empty and how != "error":  # ("error" names every column with a missing value already)
        one = len(empty) == 1
        raise DataError(
            f"{source}: column{'' if one else 's'} {', '.join(map(repr, empty))} "
            f"{'has' if one else 'have'} no value in any of {'its' if one else 'their'} {len(frame)} rows "
            f"(every one is missing, NaN or infinite), so data.missing: {how} leaves no sample; fill "
            f"{'it' if one else 'them'} or leave {'it' if one else 'them'} out of data.features"
            + (", and set data.target to a column with values" if set(targets) & set(empty) else "")
        )
    if how == "error":
        problems = []
        for column in columns:
            rows = np.flatnonzero(~present[column].to_numpy())
            if len(rows):
                problems.append(f"column {column!r} has NaN or infinite values in {_describe_rows(rows, index)}")
        if problems:
            raise DataError(
                f"{source}: " + "; ".join(problems)
                + ". Clean the data, or set data.missing to drop, ffill or interpolate"
            )
        everywhere = np.ones(len(frame), bool)
        return frame[features], labels, everywhere, everywhere
    if how == "drop":
        kept = present.all(axis=1).to_numpy()
        return frame[features], labels, kept, kept
    filled = frame[features].copy()
    if how == "interpolate":
        numeric_features = [c for c in features if c in numeric_cols]
        filled[numeric_features] = filled[numeric_features].interpolate(limit_direction="both")
    filled = filled.ffill().bfill()
    return filled, labels, filled.notna().all(axis=1).to_numpy(), present[targets].all(axis=1).to_numpy()
