"""A one-step model's recursive roll-out: the validation windows it is rolled out from and the truth.

``data.rollout: H`` evaluates a one-step forecaster (``horizon: 1``, the target among the features)
the way it is used: fed its own predictions H times. From each validation sample starting at row
``s`` the roll-out reads rows ``s .. s + window + H - 2`` (the window and the rows it slides over);
step ``k`` (1-based) predicts row ``s + window - 1 + k`` from the window ``k - 1`` rows later, whose
target column holds the predictions of the steps before it where it would hold the truth. The other
features keep their observed values (known covariates such as the hour). Only validation samples
with every one of those rows usable, and every step's target observed, are rolled out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Rollout:
    """What a roll-out of ``steps`` steps is evaluated on: raw row segments and each step's truth."""

    steps: int
    segments: np.ndarray  # (samples, window + steps - 1, features), float32, original units
    targets: np.ndarray  # (samples, steps): the observed target of each step, original units
    target_index: int  # the target's column among the features: where each prediction is fed back
    starts: np.ndarray  # each rolled-out sample's first row in the table

    def __len__(self) -> int:
        return len(self.targets)

    def sample(self, limit: int) -> Rollout:
        """At most ``limit`` of the rolled-out samples, evenly spaced (itself when there are no more)."""
        if len(self) <= limit:
            return self
        part = slice(0, len(self), max(1, -(-len(self) // max(1, limit))))
        return replace(self, segments=self.segments[part], targets=self.targets[part], starts=self.starts[part])

    def last_observed(self, window: int) -> np.ndarray:
        """The target's last observed value in each sample's own window (persistence's forecast)."""
        return self.segments[:, window - 1, self.target_index].astype(np.float64)


def rollout_from_rows(rows: np.ndarray, starts: np.ndarray, feature_ok: np.ndarray, target_ok: np.ndarray,
                      targets: np.ndarray, window: int, steps: int, target_index: int) -> Rollout:
    """The roll-out of the samples starting at ``starts`` (the validation part's) over a table's ``rows``.

    ``targets`` holds the target of every row (meaningful where ``target_ok``); ``feature_ok`` and
    ``target_ok`` say which rows may lie in a window and be a target (``data.missing``).
    """
    starts = np.asarray(starts, dtype=np.int64)
    span = window + steps - 1
    starts = starts[starts + span < len(rows)]  # room for the last step's target row
    bad = np.concatenate([[0], np.cumsum(~np.asarray(feature_ok, bool))])
    clean = bad[starts + span] - bad[starts] == 0
    truth_rows = starts[:, None] + window - 1 + np.arange(1, steps + 1)
    seen = np.asarray(target_ok, bool)[truth_rows].all(axis=1)
    starts, truth_rows = starts[clean & seen], truth_rows[clean & seen]
    segments = (np.stack([rows[s : s + span] for s in starts]) if len(starts)
                else np.empty((0, span, rows.shape[1]), rows.dtype))
    return Rollout(steps, segments.astype(np.float32), np.asarray(targets, np.float64)[truth_rows], target_index,
                   starts)
