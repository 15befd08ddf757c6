"""Another window length over the same samples (``data.window`` searched, issue 25 point 10).

A trial with another window must predict the very targets the spec's window predicts, so that every
window length is scored on the same validation targets: these tests pin the rows each window reads,
which samples a longer window loses, and what it refuses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import make_windows_npz, series_frame, spec_dict

from autofix_lstm.data.dataset import load_dataset
from autofix_lstm.data.samples import MIN_TRAIN_SAMPLES
from autofix_lstm.data.window_length import fits, refusal, with_window
from autofix_lstm.errors import DataError
from autofix_lstm.spec import load_spec


def _dataset(n: int = 100, window: int = 8, frame: pd.DataFrame | None = None, **data):
    spec = load_spec(spec_dict(None, data={"path": None, "window": window, **data}))
    return load_dataset(spec, frame=series_frame(n) if frame is None else frame)


@pytest.mark.parametrize("window", [3, 8, 20])
def test_every_window_predicts_the_same_validation_targets_from_windows_ending_on_the_same_row(window):
    own = _dataset()  # 100 rows, window 8, horizon 1: 92 samples, 74 to train on, 18 to validate
    other = with_window(own, window)
    assert (len(own.y_train), len(own.y_val)) == (74, 18)
    np.testing.assert_array_equal(other.y_val, own.y_val)
    assert other.x_val.shape == (18, window, 2)
    np.testing.assert_array_equal(other.x_val[:, -1], own.x_val[:, -1])  # each window ends on its own's last row
    first_row = own.starts[len(own.y_train)] + 8 - window  # the first validation window's first row
    np.testing.assert_array_equal(other.x_val[0], own.rows[first_row : first_row + window])
    # a longer window loses the first training samples (it would start before row 0); a shorter one gains none
    assert len(other.y_train) == 74 - max(0, window - 8)
    np.testing.assert_array_equal(other.y_train, own.y_train[max(0, window - 8):])
    assert other.starts[0] == max(0, 8 - window)


def test_each_window_length_is_built_once_and_its_own_is_the_dataset_itself():
    own = _dataset()
    assert with_window(own, 8) is own and with_window(own, None) is own
    shorter = with_window(own, 4)
    assert with_window(own, 4) is shorter and own.other_windows == {4: shorter}
    assert shorter.x_train.base is not None  # a view over the rows, not a copy


def test_a_window_that_cannot_reach_every_validation_target_or_leaves_too_few_to_train_is_refused():
    own = _dataset(n=30, window=4)  # 26 samples: 21 to train on, 5 to validate
    assert (len(own.y_train), len(own.y_val)) == (21, 5)
    assert fits(own, 1) and fits(own, 4 + 21 - MIN_TRAIN_SAMPLES)  # 21: the first 17 training samples lost
    assert refusal(own, 22) == "a window of 22 rows leaves 3 training samples; training needs at least 4"
    with pytest.raises(DataError, match="data.window 22 does not fit the data: a window of 22 rows leaves 3"):
        with_window(own, 22)
    assert own.other_windows == {}
    # longer than the table: no validation sample is reached (an index past the rows was an IndexError)
    assert refusal(own, 500).startswith("a window of 500 rows cannot reach back from 5 of the 5 validation samples")


def test_a_longer_window_never_reaches_over_a_missing_value():
    frame = series_frame(60)
    frame.loc[10, "x"] = np.nan  # with missing: drop, row 10 never lies in a window
    own = _dataset(frame=frame, window=4, missing="drop")
    longer = with_window(own, 6)
    rows_read = longer.starts[:, None] + np.arange(6)
    assert not (rows_read == 10).any()
    np.testing.assert_array_equal(longer.y_val, own.y_val)
    # the samples whose 6-row window would take in row 10 are gone from training, the others kept
    ends = own.starts[: len(own.y_train)] + 4  # one past each window's last row
    assert len(longer.y_train) == int(np.sum(~((ends - 6 <= 10) & (ends > 10)) & (ends - 6 >= 0)))
    # a missing value among the validation windows' reach refuses the window outright
    frame.loc[48, "x"] = np.nan
    near_end = _dataset(frame=frame, window=2, missing="drop")
    assert "cannot reach back from" in refusal(near_end, 12)


def test_a_rolled_out_dataset_rolls_out_the_same_samples_with_the_other_window():
    t = np.arange(200)
    frame = pd.DataFrame({"y": 100 + 20 * np.sin(2 * np.pi * t / 24), "hour": (t % 24).astype(float)})
    own = _dataset(frame=frame, window=5, features=["y", "hour"], rollout=6)
    longer = with_window(own, 9)
    assert longer.rollout.segments.shape == (len(own.rollout), 9 + 6 - 1, 2)
    np.testing.assert_array_equal(longer.rollout.targets, own.rollout.targets)
    np.testing.assert_array_equal(longer.rollout.segments[:, 4:], own.rollout.segments)  # the same rows, 4 more before
    np.testing.assert_array_equal(longer.rollout.last_observed(9), own.rollout.last_observed(5))


def test_already_windowed_arrays_cannot_take_another_window(tmp_path):
    path = make_windows_npz(tmp_path, n=60)
    own = load_dataset(load_spec(spec_dict(path)))
    assert refusal(own, 4).startswith("the data are already windowed arrays (.npz or x/y)")
    with pytest.raises(DataError, match="search data.window on a table"):
        with_window(own, 4)
