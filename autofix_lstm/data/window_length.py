"""The same samples with windows of another length: what a trial that searches ``data.window`` trains on.

Every window length predicts the SAME target rows. A sample whose target row is ``t`` keeps that
target; only how far back its window looks changes (its window still ends at row ``t - horizon``).
A shorter window is the last rows of each sample's window; a longer one reaches further back. A
training sample whose longer window would start before the table's first row, or take in a row
``data.missing`` left out, is dropped from training; a longer window is allowed only when every
validation sample keeps its window (``fits``). So the objective of every window length is computed
on exactly the spec's own validation targets, the same ones the spec as written is scored on: a
window that left out validation samples would be judged on another (easier or harder) stretch of
the data. A shorter window gains no new samples either: the training targets stay the spec's (less
those a longer window cannot reach), so a trial measures the window, not more data.

The scalers are fitted on the training part of each window length's own samples (``train.prepare``,
as for the spec's window). The windows are views over the same rows (no copy, whatever their
length); each length is built once per dataset and kept (``Dataset.other_windows``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from autofix_lstm.data.rollout import Rollout
from autofix_lstm.data.samples import MIN_TRAIN_SAMPLES, Dataset, window_view
from autofix_lstm.errors import DataError


def _reachable(dataset: Dataset, window: int) -> np.ndarray:
    """For each sample, whether a window of ``window`` rows ending where its own ends lies in usable rows."""
    starts = dataset.starts + (dataset.window - window)
    ok = starts >= 0
    if dataset.row_ok is not None:
        bad = np.concatenate([[0], np.cumsum(~np.asarray(dataset.row_ok, bool))])
        first = np.clip(starts, 0, None)  # a window starting before row 0 is refused already
        ok &= bad[np.minimum(first + window, len(dataset.row_ok))] - bad[first] == 0
    return ok


def refusal(dataset: Dataset, window: int) -> str | None:
    """Why ``dataset``'s samples cannot take windows of ``window`` rows (None: they can).

    A longer window must reach back from every validation sample (the same validation targets for
    every window), and leave at least ``MIN_TRAIN_SAMPLES`` training samples.
    """
    if dataset.rows is None or dataset.starts is None:
        return ("the data are already windowed arrays (.npz or x/y), which carry no rows to cut windows of "
                "another length from; search data.window on a table (.csv, .parquet or a DataFrame)")
    window = int(window)
    if window < 1:
        return f"a window needs at least 1 row, got {window}"
    ok = _reachable(dataset, window)
    split = len(dataset.y_train)
    if not ok[split:].all():
        lost = int((~ok[split:]).sum())
        return (f"a window of {window} rows cannot reach back from {lost} of the {len(ok) - split} validation "
                "samples (before the first row, or over a missing value), and every window length is scored on "
                "the same validation targets")
    if int(ok[:split].sum()) < MIN_TRAIN_SAMPLES:
        return (f"a window of {window} rows leaves {int(ok[:split].sum())} training samples; training needs at "
                f"least {MIN_TRAIN_SAMPLES}")
    return None


def fits(dataset: Dataset, window: int) -> bool:
    """True when ``dataset``'s samples can take windows of ``window`` rows (``refusal`` says why not)."""
    return refusal(dataset, window) is None


def with_window(dataset: Dataset, window: int | None) -> Dataset:
    """``dataset``'s samples with windows of ``window`` rows, over the same target rows (see the module).

    ``dataset`` itself for its own window length (or None); another length is built once and kept.

    Raises:
        DataError: the samples cannot take that window (``refusal``).
    """
    if window is None or int(window) == dataset.window:
        return dataset
    window = int(window)
    if window not in dataset.other_windows:
        why = refusal(dataset, window)
        if why is not None:
            raise DataError(f"data.window {window} does not fit the data: {why}")
        dataset.other_windows[window] = _rewindowed(dataset, window)
    return dataset.other_windows[window]


def _rewindowed(dataset: Dataset, window: int) -> Dataset:
    shift = dataset.window - window
    split = len(dataset.y_train)
    keep = _reachable(dataset, window)
    keep[split:] = True  # every validation sample (``refusal`` checked)
    starts = dataset.starts[keep] + shift
    train = int(keep[:split].sum())
    return replace(
        dataset,
        x_train=window_view(dataset.rows, starts[:train], window), y_train=dataset.y_train[keep[:split]],
        x_val=window_view(dataset.rows, starts[train:], window), starts=starts,
        rollout=None if dataset.rollout is None else _rolled_out(dataset.rollout, dataset.rows, shift, window),
    )


def _rolled_out(rollout: Rollout, rows: np.ndarray, shift: int, window: int) -> Rollout:
    """The roll-out from the same validation samples with windows of ``window`` rows (the same truth)."""
    starts = rollout.starts + shift
    span = window + rollout.steps - 1
    segments = (np.stack([rows[s : s + span] for s in starts]) if len(starts)
                else np.empty((0, span, rows.shape[1]), rows.dtype))
    return replace(rollout, segments=segments.astype(np.float32), starts=starts)


__all__ = ["fits", "refusal", "with_window"]
