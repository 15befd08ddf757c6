"""Windows, the time-ordered split, reading csv/parquet/npz, missing values and task inference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import make_series_csv, make_windows_npz, series_frame, spec_dict, write_spec

from autofix_lstm.data.dataset import MIN_VAL_SAMPLES, infer_task, load_dataset, split_index, window_table
from autofix_lstm.errors import DataError, SpecError
from autofix_lstm.spec import load_spec

# --- window_table: exact indices ------------------------------------------------------------------


def _rows(n: int = 10) -> tuple[np.ndarray, np.ndarray]:
    features = np.stack([np.arange(n), 100 + np.arange(n)], axis=1).astype(np.float64)  # row i holds i, 100+i
    target = 1000.0 + np.arange(n)
    return features, target


def test_window_horizon_0_targets_the_windows_last_row():
    features, target = _rows(10)
    x, y = window_table(features, target, window=3, horizon=0)
    assert x.shape == (8, 3, 2) and y.shape == (8,)
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x[0, :, 0], [0, 1, 2])
    np.testing.assert_array_equal(x[0, :, 1], [100, 101, 102])
    np.testing.assert_array_equal(x[-1, :, 0], [7, 8, 9])
    np.testing.assert_array_equal(y, 1000 + np.arange(2, 10))  # y[i] = target[i + window - 1]
    np.testing.assert_array_equal(y - 1000, x[:, -1, 0])


def test_window_horizon_1_targets_the_next_row():
    features, target = _rows(10)
    x, y = window_table(features, target, window=3, horizon=1)
    assert x.shape == (7, 3, 2)
    np.testing.assert_array_equal(x[-1, :, 0], [6, 7, 8])  # the last row can only be a target
    np.testing.assert_array_equal(y, 1000 + np.arange(3, 10))  # y[i] = target[i + window]
    np.testing.assert_array_equal(y - 1000, x[:, -1, 0] + 1)


@pytest.mark.parametrize(("window", "horizon"), [(1, 0), (1, 5), (4, 2), (10, 0)])
def test_window_count_and_every_index(window, horizon):
    features, target = _rows(10)
    x, y = window_table(features, target, window, horizon)
    assert len(x) == len(y) == 10 - window - horizon + 1
    for i in range(len(x)):
        np.testing.assert_array_equal(x[i, :, 0], np.arange(i, i + window))
        assert y[i] == target[i + window - 1 + horizon]


def test_window_longer_than_the_data_gives_no_samples():
    features, target = _rows(5)
    x, y = window_table(features, target, window=5, horizon=1)
    assert x.shape == (0, 5, 2) and y.shape == (0,)


# --- the split ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "fraction", "expected"), [(100, 0.2, 80), (10, 0.25, 8), (10, 0.01, 8), (7, 0.5, 3)])
def test_split_index_keeps_the_last_fraction(n, fraction, expected):
    assert split_index(n, fraction) == expected
    assert n - split_index(n, fraction) >= MIN_VAL_SAMPLES


def test_validation_is_the_last_fraction_in_time_order(tmp_path):
    path = make_series_csv(tmp_path, n=110)
    spec = load_spec(write_spec(tmp_path, spec_dict(path.name, data={"features": ["t", "y"], "window": 5})))
    ds = load_dataset(spec)
    # 110 rows, window 5, horizon 1 -> 105 samples; 21 (20 %) validate, the last ones.
    assert (len(ds.x_train), len(ds.x_val)) == (84, 21)
    t_train, t_val = ds.x_train[:, 0, 0], ds.x_val[:, 0, 0]
    np.testing.assert_array_equal(t_train, np.arange(84))  # never shuffled
    np.testing.assert_array_equal(t_val, np.arange(84, 105))
    assert ds.x_val[-1, -1, 0] == 108  # the last window ends on the second last row ...
    frame = pd.read_csv(path)
    assert ds.y_val[-1] == pytest.approx(frame["y"].iloc[-1])  # ... whose next row is the last target
    assert ds.y_train[0] == pytest.approx(frame["y"].iloc[5])
    assert ds.target_index == 1 and ds.horizon == 1 and ds.persistence_applies
    np.testing.assert_allclose(ds.last_observed(ds.x_val), frame["y"].iloc[88:109].to_numpy(), rtol=1e-6)


# --- file kinds -----------------------------------------------------------------------------------


def test_csv_and_parquet_give_the_same_dataset(tmp_path):
    csv = make_series_csv(tmp_path, n=120)
    series_frame(120).to_parquet(tmp_path / "series.parquet", index=False)
    a = load_dataset(load_spec(write_spec(tmp_path, spec_dict(csv.name), "a.yaml")))
    b = load_dataset(load_spec(write_spec(tmp_path, spec_dict("series.parquet"), "b.yaml")))
    np.testing.assert_allclose(a.x_train, b.x_train, rtol=1e-6)
    np.testing.assert_allclose(a.y_val, b.y_val, rtol=1e-12)
    assert a.feature_names == b.feature_names == ["x", "y"]
    assert a.task == "regression" and a.window == 8 and a.n_features == 2


def test_default_features_are_every_numeric_column(tmp_path):
    frame = series_frame(60)
    frame["name"] = "a"
    frame["flag"] = frame["t"] % 2 == 0
    frame.to_csv(tmp_path / "data.csv", index=False)
    spec = load_spec(write_spec(tmp_path, spec_dict("data.csv", data={"features": None})))
    ds = load_dataset(spec)
    assert ds.feature_names == ["t", "x", "y"]  # text and boolean columns are left out
    assert ds.target_index == 2


def test_target_outside_the_features(tmp_path, series_csv):
    ds = load_dataset(load_spec(write_spec(tmp_path, spec_dict(series_csv.name, data={"features": ["x"]}))))
    assert ds.n_features == 1 and ds.target_index is None and not ds.persistence_applies
    with pytest.raises(DataError, match="not among the features"):
        ds.last_observed(ds.x_val)


def test_npz_is_used_as_windowed(tmp_path):
    path = make_windows_npz(tmp_path, n=50, window=6, features=3)
    ds = load_dataset(load_spec(write_spec(tmp_path, spec_dict(path.name))))
    assert ds.x_train.shape == (40, 6, 3) and ds.x_val.shape == (10, 6, 3)
    assert ds.horizon is None and ds.target_index is None and ds.feature_names == ["f0", "f1", "f2"]
    with np.load(path) as arrays:
        np.testing.assert_array_equal(ds.x_val, arrays["x"][40:])
        np.testing.assert_array_equal(ds.y_val, arrays["y"][40:])


def test_npz_classes_and_column_vector_y(tmp_path):
    path = make_windows_npz(tmp_path, n=60, classes=3)
    with np.load(path) as arrays:
        x, y = arrays["x"], arrays["y"]
    np.savez(path, x=x, y=y.reshape(-1, 1))
    ds = load_dataset(load_spec(write_spec(tmp_path, spec_dict(path.name, data={"task": "multiclass"}))))
    assert ds.task == "multiclass" and ds.classes == [0, 1, 2] and ds.n_classes == 3
    np.testing.assert_array_equal(np.concatenate([ds.y_train, ds.y_val]), y)


def test_npz_nan_samples_dropped_when_asked(tmp_path):
    path = make_windows_npz(tmp_path, n=50)
    with np.load(path) as arrays:
        x, y = arrays["x"].copy(), arrays["y"].copy()
    x[[3, 7], 0, 0] = np.nan
    y[9] = np.inf
    np.savez(path, x=x, y=y)
    with pytest.raises(DataError, match=r"3 samples hold NaN or infinite values \(first: \[3, 7, 9\]\)"):
        load_dataset(load_spec(write_spec(tmp_path, spec_dict(path.name), "a.yaml")))
    ds = load_dataset(load_spec(write_spec(tmp_path, spec_dict(path.name, data={"missing": "drop"}), "b.yaml")))
    assert len(ds.x_train) + len(ds.x_val) == 47
    assert np.isfinite(ds.x_train).all() and np.isfinite(ds.y_val).all()


# --- in-memory data -------------------------------------------------------------------------------


def test_in_memory_frame_and_arrays():
    spec = load_spec(spec_dict(None, data={"path": None}))
    ds = load_dataset(spec, frame=series_frame(50))
    assert ds.x_train.shape[1:] == (8, 2) and len(ds.x_train) + len(ds.x_val) == 42
    x = np.random.default_rng(0).normal(size=(30, 4, 1))
    ds = load_dataset(load_spec({"data": {}, "model": spec_dict()["model"]}), x=x, y=x[:, -1, 0])
    assert (len(ds.x_train), len(ds.x_val)) == (24, 6)
    with pytest.raises(SpecError, match="give both x and y"):
        load_dataset(spec, x=x)
    with pytest.raises(SpecError, match="data.path is required"):
        load_dataset(load_spec({"data": {}, "model": spec_dict()["model"]}))


# --- missing values -------------------------------------------------------------------------------


def _frame_with_gaps() -> pd.DataFrame:
    frame = series_frame(40)
    frame.loc[[5, 6], "y"] = np.nan
    frame.loc[10, "x"] = np.inf
    return frame


def _load(tmp_path, missing: str):
    return load_dataset(load_spec(spec_dict(None, data={"path": None, "missing": missing, "window": 2, "horizon": 0})),
                        frame=_frame_with_gaps())


def test_missing_drop_removes_the_rows(tmp_path):
    ds = _load(tmp_path, "drop")
    assert len(ds.x_train) + len(ds.x_val) == 37 - 2 + 1  # 3 rows dropped, then windows of 2
    assert np.isfinite(ds.x_train).all()


def test_missing_ffill_repeats_the_last_value(tmp_path):
    ds = _load(tmp_path, "ffill")
    y = np.concatenate([ds.y_train, ds.y_val])  # horizon 0, window 2: y[i] = row i + 1
    frame = series_frame(40)
    assert y[4] == y[5] == pytest.approx(frame["y"][4])  # rows 5 and 6 take row 4's value
    assert ds.x_train[9, 1, 0] == pytest.approx(frame["x"][9])  # inf is missing too


def test_missing_interpolate_is_linear(tmp_path):
    ds = _load(tmp_path, "interpolate")
    y = np.concatenate([ds.y_train, ds.y_val])
    frame = series_frame(40)
    step = (frame["y"][7] - frame["y"][4]) / 3
    assert y[4] == pytest.approx(frame["y"][4] + step)
    assert y[5] == pytest.approx(frame["y"][4] + 2 * step)


def test_missing_error_raises_with_column_and_count(tmp_path):
    with pytest.raises(DataError) as caught:
        _load(tmp_path, "error")
    message = str(caught.value)
    assert "column 'x' has NaN or infinite values in 1 row (index 10)" in message
    assert "column 'y' has NaN or infinite values in 2 rows (index 5, 6)" in message


# --- the task -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "task"),
    [
        ([0.5, 1.5, 2.5], "regression"),
        ([0, 1, 0, 1], "binary"),
        ([3, 7, 3], "binary"),
        ([True, False, True], "binary"),
        (["up", "down", "up"], "binary"),
        (["a", "b", "c"], "multiclass"),
        ([0, 1, 2, 1], "regression"),  # numeric multiclass must be declared
    ],
)
def test_infer_task(values, task):
    assert infer_task(np.array(values)) == task


def test_text_labels_become_class_indices(tmp_path):
    frame = series_frame(60)
    frame["label"] = np.where(frame["y"] > 0, "up", "down")
    ds = load_dataset(load_spec(spec_dict(None, data={"path": None, "target": "label", "features": ["x", "y"]})),
                      frame=frame)
    assert ds.task == "binary" and ds.classes == ["down", "up"]
    expected = (frame["y"].to_numpy() > 0).astype(int)[8:]
    np.testing.assert_array_equal(np.concatenate([ds.y_train, ds.y_val]), expected)
    assert ds.y_train.dtype == np.int64


def test_declared_binary_with_three_values_is_refused():
    frame = series_frame(60)
    frame["label"] = np.arange(60) % 3
    spec = load_spec(spec_dict(None, data={"path": None, "target": "label", "features": ["x"], "task": "binary"}))
    with pytest.raises(DataError, match="data.task is binary but the target has 3 distinct values"):
        load_dataset(spec, frame=frame)
