"""Windows, the time-ordered split, reading csv/parquet/npz, missing values and task inference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import make_series_csv, make_windows_npz, series_frame, spec_dict, write_spec

from autofix_lstm.data.dataset import (
    MIN_VAL_SAMPLES,
    dataset_from_arrays,
    infer_task,
    load_dataset,
    split_index,
    window_table,
)
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


def test_missing_drop_removes_the_rows_and_every_window_over_them(tmp_path):
    ds = _load(tmp_path, "drop")
    # rows 5, 6 (y) and 10 (x) are dropped; a window of 2 (target its last row) may touch none of them
    assert len(ds.x_train) + len(ds.x_val) == 39 - 5  # starts 4, 5, 6, 9 and 10 are left out
    assert np.isfinite(ds.x_train).all() and np.isfinite(ds.x_val).all()
    frame = series_frame(40)
    np.testing.assert_allclose(ds.x_train[:, :, 1], np.stack([frame["y"][s : s + 2] for s in ds.starts[: len(ds.x_train)]]),
                               rtol=1e-6)


def _issue_table(missing: str, horizon: int = 1) -> tuple:
    """Issue 12's example: a column t = 0..29, the target NaN in rows 10-12, window 4."""
    t = np.arange(30, dtype=np.float64)
    target = np.sin(t)
    target[10:13] = np.nan
    spec = load_spec(spec_dict(None, data={"path": None, "target": "y", "features": ["t", "y"], "window": 4,
                                           "horizon": horizon, "missing": missing, "validation_split": 0.25}))
    ds = load_dataset(spec, frame=pd.DataFrame({"t": t, "y": target}))
    return ds, np.concatenate([ds.x_train, ds.x_val]), np.concatenate([ds.y_train, ds.y_val])


@pytest.mark.parametrize("horizon", [0, 1, 3])
def test_missing_drop_windows_lie_inside_runs_of_kept_rows(horizon):
    ds, x, y = _issue_table("drop", horizon)
    rows = x[:, :, 0].astype(int)
    assert not any(list(w) == [7, 8, 9, 13] for w in rows.tolist())  # the window the bug built
    np.testing.assert_array_equal(np.diff(rows, axis=1), 1)  # consecutive FILE rows only
    assert not np.isin(rows, [10, 11, 12]).any()
    target_rows = rows[:, -1] + horizon  # the horizon counts real rows
    assert not np.isin(target_rows, [10, 11, 12]).any()
    np.testing.assert_allclose(y, np.sin(target_rows.astype(np.float64)))
    # every usable sample is kept: starts whose window and target rows avoid 10-12
    expected = [s for s in range(30 - 4 - horizon + 1)
                if not {*range(s, s + 4), s + 3 + horizon} & {10, 11, 12}]
    np.testing.assert_array_equal(rows[:, 0], expected)


@pytest.mark.parametrize("missing", ["ffill", "interpolate"])
def test_missing_fill_fills_features_only_and_drops_samples_without_a_target(missing):
    ds, x, y = _issue_table(missing, horizon=1)
    target_rows = x[:, -1, 0].astype(int) + 1
    assert not np.isin(target_rows, [10, 11, 12]).any()  # no label was ever made up
    np.testing.assert_allclose(y, np.sin(target_rows.astype(np.float64)))
    assert len(np.unique(np.round(y, 6))) == len(y)  # (the bug gave three samples the same label 0.1411)
    assert len(y) == 26 - 3  # starts 6, 7 and 8 predicted rows 10-12
    # the target as an INPUT is filled: windows may run through rows 10-12
    window = x[x[:, 0, 0] == 9][0]
    np.testing.assert_array_equal(window[:, 0], [9, 10, 11, 12])
    assert np.isfinite(window).all()
    if missing == "ffill":
        np.testing.assert_allclose(window[1:, 1], np.sin(9.0), rtol=1e-6)  # rows 10-12 repeat row 9
    else:
        step = (np.sin(13.0) - np.sin(9.0)) / 4
        np.testing.assert_allclose(window[1:, 1], np.sin(9.0) + step * np.arange(1, 4), rtol=1e-5)


def test_missing_ffill_fills_an_input_column(tmp_path):
    ds = _load(tmp_path, "ffill")
    frame = series_frame(40)
    x = np.concatenate([ds.x_train, ds.x_val])
    tenth = x[ds.starts == 9][0]  # rows 9 and 10: row 10's x was inf, so it repeats row 9's
    np.testing.assert_allclose(tenth[:, 0], [frame["x"][9], frame["x"][9]], rtol=1e-6)
    assert len(x) == 39 - 2  # the samples whose target rows 5 and 6 were missing are left out


def test_a_text_target_with_missing_labels_keeps_only_observed_labels():
    frame = series_frame(40).assign(label=lambda f: np.where(f["y"] > 0, "up", "down").astype(object))
    frame.loc[[3, 20], "label"] = None
    spec = load_spec(spec_dict(None, data={"path": None, "target": "label", "features": ["x", "y"], "window": 2,
                                           "horizon": 1, "missing": "ffill"}))
    ds = load_dataset(spec, frame=frame)
    assert ds.classes == ["down", "up"] and ds.task == "binary"
    assert len(ds.y_train) + len(ds.y_val) == 38 - 2


@pytest.mark.parametrize("missing", ["error", "drop", "ffill"])
def test_a_value_beyond_float32_is_refused_naming_the_column(missing):
    # Found by the fuzz campaign (benchmarks/fuzz.py): -1e308 passed the data checks and became -inf in
    # float32, and the scaler failed with a traceback (exit 1).
    frame = series_frame(40)
    frame.loc[7, "x"] = -1e308
    spec = load_spec(spec_dict(None, data={"path": None, "target": "y", "features": ["x", "y"], "window": 2,
                                           "horizon": 1, "missing": missing}))
    with pytest.raises(DataError, match=r"column 'x' holds values beyond float32's range .*index 7"):
        load_dataset(spec, frame=frame)


def test_windows_are_views_that_do_not_grow_with_the_window():
    frame = pd.DataFrame({"a": np.arange(5000.0), "b": np.cos(np.arange(5000.0))})
    sizes = []
    for window in (10, 200):
        spec = load_spec(spec_dict(None, data={"path": None, "target": "b", "features": ["a", "b"], "window": window}))
        ds = load_dataset(spec, frame=frame)
        assert np.shares_memory(ds.x_train, ds.rows) and np.shares_memory(ds.x_val, ds.rows)
        assert not ds.x_train.flags.writeable  # a view over the rows, never written through
        np.testing.assert_array_equal(ds.x_train[7, :, 0], np.arange(7, 7 + window))
        sizes.append(ds.rows.nbytes)
    assert sizes[0] == sizes[1] == 5000 * 2 * 4  # one float32 copy of the rows, whatever the window


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


# --- degenerate files (issue 26) --------------------------------------------------------------------


def _npz_spec(tmp_path, x: np.ndarray, y: np.ndarray, **data):
    np.savez(tmp_path / "w.npz", x=x, y=y)
    return load_spec(write_spec(tmp_path, spec_dict("w.npz", data=data)))


@pytest.mark.parametrize(("shape", "what"), [((30, 0, 2), "0 timesteps"), ((30, 4, 0), "0 features")])
def test_npz_without_timesteps_or_features_is_refused(tmp_path, shape, what):
    # Issue 26 (5): 0 timesteps passed and failed inside LSTM.call; 0 features trained on no input.
    y = np.arange(30, dtype=np.float64)
    with pytest.raises(DataError, match=rf"array 'x' has shape \({shape[0]}, {shape[1]}, {shape[2]}\): {what}"):
        load_dataset(_npz_spec(tmp_path, np.zeros(shape), y))
    with pytest.raises(DataError, match=what):
        load_dataset(load_spec({"data": {}, "model": spec_dict()["model"]}), x=np.zeros(shape), y=y)
    with pytest.raises(DataError, match=what):
        dataset_from_arrays(np.zeros(shape), y, np.zeros(shape), y)


@pytest.mark.parametrize("array", ["x", "y"])
def test_npz_values_beyond_float32_are_refused_like_a_csv(tmp_path, array):
    # Issue 26 (9): 1e308 in float64 became inf in float32 and was trained on (loss_diverged).
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 4, 2)), rng.normal(size=30)
    (x if array == "x" else y).flat[[3, 5]] = [1e308, -1e300]
    for missing in ("error", "drop"):
        with pytest.raises(DataError, match=rf"array '{array}' holds 2 values beyond float32's range"):
            load_dataset(_npz_spec(tmp_path, x, y, missing=missing))
    with pytest.raises(DataError, match="2 values beyond float32's range"):
        dataset_from_arrays(x, y, x, y)


@pytest.mark.parametrize("array", ["x", "y"])
def test_complex_npz_is_refused_naming_the_dtype(tmp_path, array):
    rng = np.random.default_rng(0)
    arrays = {"x": rng.normal(size=(30, 4, 2)), "y": rng.normal(size=30)}
    arrays[array] = arrays[array] + 1j
    with pytest.raises(DataError, match=rf"array '{array}' has complex dtype complex128"):
        load_dataset(_npz_spec(tmp_path, arrays["x"], arrays["y"]))


def test_duplicate_csv_column_names_are_refused_naming_the_column(tmp_path):
    # Issue 26 (10): pandas renamed the second 'x' to 'x.1' and features: [x] picked one of the two.
    frame = series_frame(40)
    path = tmp_path / "dup.csv"
    path.write_text("x,x,y\n" + "\n".join(f"{a},{b},{c}" for a, b, c in frame[["t", "x", "y"]].to_numpy()) + "\n")
    spec = load_spec(write_spec(tmp_path, spec_dict("dup.csv", data={"features": ["x"], "window": 2})))
    with pytest.raises(DataError, match=r"dup.csv: column name 'x' appears 2 times \(columns 1, 2\) in the header"):
        load_dataset(spec)
    path.write_text('"x","x.1",y\n' + "\n".join(f"{a},{b},{c}" for a, b, c in frame[["t", "x", "y"]].to_numpy()))
    assert load_dataset(spec).feature_names == ["x"]  # 'x.1' written as such is a name of its own


def test_duplicate_columns_in_a_frame_are_refused():
    frame = pd.concat([series_frame(40)[["x"]], series_frame(40)[["x", "y"]]], axis=1)
    spec = load_spec(spec_dict(None, data={"path": None, "features": ["x"], "window": 2}))
    with pytest.raises(DataError, match="column name 'x' appears 2 times"):
        load_dataset(spec, frame=frame)


@pytest.mark.parametrize("missing", ["drop", "ffill", "interpolate"])
@pytest.mark.parametrize("column", ["x", "y"])
def test_an_all_nan_column_is_named(missing, column):
    # Issue 26 (14): this said "0 samples are too few" without naming the column.
    frame = series_frame(40)
    frame[column] = np.nan
    spec = load_spec(spec_dict(None, data={"path": None, "missing": missing, "window": 2}))
    with pytest.raises(DataError, match=rf"column '{column}' has no value in any of its 40 rows"):
        load_dataset(spec, frame=frame)


@pytest.mark.parametrize("rows", [1, 3])
def test_a_table_too_short_for_the_window_says_how_many_rows_it_needs(tmp_path, rows):
    # Issue 26 (14): a one-row CSV was refused as "the target is constant".
    series_frame(rows).to_csv(tmp_path / "short.csv", index=False)
    spec = load_spec(write_spec(tmp_path, spec_dict("short.csv", data={"window": 8, "horizon": 1})))
    with pytest.raises(DataError) as caught:
        load_dataset(spec)
    message = str(caught.value)
    assert f"the table has {rows} row{'s' if rows > 1 else ''}" in message
    assert "window 8 and horizon 1 need at least 14 rows" in message  # 6 samples + 8 - 1
    assert "constant" not in message


def test_a_complex_column_in_a_frame_is_refused_naming_the_dtype():
    frame = series_frame(40).assign(x=lambda f: f["x"] + 1j)
    spec = load_spec(spec_dict(None, data={"path": None, "window": 2}))
    with pytest.raises(DataError, match="column 'x' has complex dtype complex128"):
        load_dataset(spec, frame=frame)


def test_duplicate_parquet_column_names_are_refused_in_one_line(tmp_path):
    # Found by the fuzz benchmark: pyarrow's refusal printed its whole schema over 8 lines.
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = series_frame(40)
    table = pa.Table.from_arrays([pa.array(frame["t"]), pa.array(frame["x"]), pa.array(frame["y"])], names=["x", "x", "y"])
    pq.write_table(table, tmp_path / "dup.parquet")
    spec = load_spec(write_spec(tmp_path, spec_dict("dup.parquet", data={"features": ["x"], "window": 2})))
    with pytest.raises(DataError) as caught:
        load_dataset(spec)
    assert "\n" not in str(caught.value)
    assert "dup.parquet: column name 'x' appears 2 times (columns 1, 2); give each column a name of its own" in str(caught.value)
