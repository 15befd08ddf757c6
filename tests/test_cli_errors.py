"""Every bad input of the foundation issue exits with code 2 and one line naming the file/field and the fix.

Each case goes through ``autofix-lstm train`` with typer's CliRunner and fails before anything trains.
"""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest
from helpers import invoke_train, make_series_csv, make_windows_npz, series_frame, spec_dict, write_spec


def assert_one_line_error(result, *fragments: str) -> str:
    """Exit code 2, no traceback, exactly one line of output holding every fragment; return that line."""
    output = result.output.strip()
    assert result.exit_code == 2, f"exit code {result.exit_code}, output: {output!r}, exception: {result.exception!r}"
    assert "Traceback" not in output
    lines = output.splitlines()
    assert len(lines) == 1, f"expected one line, got {len(lines)}: {output!r}"
    line = lines[0]
    assert line.startswith("error ("), line
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    return line


def _spec_with_frame(tmp_path, frame: pd.DataFrame, **sections) -> str:
    frame.to_csv(tmp_path / "data.csv", index=False)
    return write_spec(tmp_path, spec_dict("data.csv", **sections))


# --- the spec file itself -------------------------------------------------------------------------


def test_missing_spec_file(tmp_path):
    line = assert_one_line_error(invoke_train(tmp_path / "nope.yaml"), "spec file not found", "nope.yaml")
    assert "expected a YAML file" in line


def test_unreadable_spec_file(tmp_path):
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00\x81 not text")
    assert_one_line_error(invoke_train(path), "binary.yaml", "cannot read the spec file")


def test_malformed_yaml(tmp_path):
    path = write_spec(tmp_path, "data:\n  path: series.csv\n  target: [y\nmodel: {}\n")
    assert_one_line_error(invoke_train(path), "spec.yaml", "malformed YAML at line", "fix the syntax")


def test_empty_spec(tmp_path):
    assert_one_line_error(invoke_train(write_spec(tmp_path, "")), "spec.yaml", "empty", "'data' and 'model'")


def test_spec_not_a_mapping(tmp_path):
    assert_one_line_error(invoke_train(write_spec(tmp_path, "- data\n- model\n")), "must be a mapping")


@pytest.mark.parametrize(
    ("sections", "fragments"),
    [
        ({"epochz": 3}, ("epochz is not a known key", "remove it or check its spelling")),
        ({"data": {"windw": 8}}, ("data.windw is not a known key",)),
        ({"train": {"epoch": 3}}, ("train.epoch is not a known key",)),
        ({"model": {"optimizer": {"lr": 0.1}}}, ("model.optimizer.lr is not a known key",)),
        ({"preprocessing": {"scaling": "standard"}}, ("preprocessing.scaling is not a known key",)),
    ],
)
def test_unknown_key(tmp_path, series_csv, sections, fragments):
    path = write_spec(tmp_path, spec_dict(series_csv.name, **sections))
    assert_one_line_error(invoke_train(path), "spec.yaml", *fragments)


@pytest.mark.parametrize(
    ("sections", "fragments"),
    [
        ({"data": {"window": 0}}, ("data.window must be >= 1, got 0",)),
        ({"data": {"window": "abc"}}, ("data.window must be a whole number, got 'abc'",)),
        ({"data": {"window": 2.5}}, ("data.window must be a whole number, got 2.5",)),
        ({"data": {"horizon": -1}}, ("data.horizon must be >= 0, got -1",)),
        ({"data": {"validation_split": 1.5}}, ("data.validation_split must be < 1.0, got 1.5",)),
        ({"data": {"validation_split": "lots"}}, ("data.validation_split must be a number, got 'lots'",)),
        ({"data": {"features": []}}, ("data.features", "at least 1")),
        ({"data": {"features": "x"}}, ("data.features must be a list, got 'x'",)),
        ({"data": {"task": "forecast"}}, ("data.task must be 'regression', 'binary' or 'multiclass', got 'forecast'",)),
        ({"data": {"missing": "zero"}}, ("data.missing must be", "got 'zero'")),
        ({"data": {"path": "series.xlsx"}}, ("data.path must end in one of .csv, .parquet, .npz",)),
        ({"data": {"target": None}}, ("data.target is required for .csv/.parquet data",)),
        ({"train": {"epochs": 0}}, ("train.epochs must be >= 1, got 0",)),
        ({"train": {"epochs": True}}, ("train.epochs must be a number, got True",)),
        ({"train": {"batch_size": "big"}}, ("train.batch_size must be a whole number, got 'big'",)),
        ({"train": {"seed": -1}}, ("train.seed must be >= 0, got -1",)),
        ({"train": {"seed": 2**40}}, ("train.seed must be < 4294967296, got 1099511627776",)),
        ({"model": {"optimizer": {"learning_rate": -0.1}}}, ("model.optimizer.learning_rate must be > 0",)),
        ({"model": {"optimizer": {"clipnorm": 1.0, "clipvalue": 0.5}}}, ("model.optimizer sets both clipnorm and clipvalue",)),
        ({"model": {"loss": "squared_wrongness"}}, ("model.loss must be a Keras loss name", "squared_wrongness")),
        ({"model": {"optimizer": "adam"}}, ("model.optimizer must be a mapping",)),
        ({"preprocessing": {"inputs": "zscore"}}, ("preprocessing.inputs must be", "got 'zscore'")),
        ({"preprocessing": {"target": "sqrt"}}, ("preprocessing.target must be", "got 'sqrt'")),
        ({"preprocessing": {"class_weight": {0: -1.0}}}, ("preprocessing.class_weight", "must be > 0")),
        ({"search": {"strategies": 5}}, ("search.strategies must be 'all' or a list of strings and mappings, got 5",)),
        ({"search": {"max_time": "soon"}}, ("search.max_time must be a duration",)),
    ],
)
def test_wrong_type_or_impossible_value(tmp_path, series_csv, sections, fragments):
    path = write_spec(tmp_path, spec_dict(series_csv.name, **sections))
    assert_one_line_error(invoke_train(path), "spec.yaml", *fragments)


def test_several_problems_give_one_line_each(tmp_path, series_csv):
    spec = spec_dict(series_csv.name, data={"window": 0, "windw": 3}, train={"epochs": 0})
    result = invoke_train(write_spec(tmp_path, spec))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 3
    assert any("data.window must be >= 1, got 0" in line for line in lines)
    assert any("data.windw is not a known key" in line for line in lines)
    assert any("train.epochs must be >= 1, got 0" in line for line in lines)


def test_missing_sections(tmp_path):
    result = invoke_train(write_spec(tmp_path, "output: runs/x\n"))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert [line.split("spec.yaml: ")[1] for line in lines] == ["data is required", "model is required"]


# --- the model description ------------------------------------------------------------------------


def test_unknown_layer_type(tmp_path, series_csv):
    layers = [{"type": "lstm", "units": 4}, {"type": "transformer", "heads": 2}]
    path = write_spec(tmp_path, spec_dict(series_csv.name, model={"layers": layers}))
    line = assert_one_line_error(invoke_train(path), "spec.yaml", "model.layers[1]", "unknown layer type 'transformer'")
    assert "lstm" in line and "dense" in line  # names the valid ones


def test_two_unknown_layer_types_give_two_lines(tmp_path, series_csv):
    layers = [{"type": "transformer"}, {"type": "lstm", "units": 4}, {"type": "attention"}]
    result = invoke_train(write_spec(tmp_path, spec_dict(series_csv.name, model={"layers": layers})))
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 2
    assert "model.layers[0] unknown layer type 'transformer'" in lines[0]
    assert "model.layers[2] unknown layer type 'attention'" in lines[1]


def test_unknown_layer_argument(tmp_path, series_csv):
    layers = [{"type": "lstm", "unitz": 4}, {"type": "dense", "units": 1}]
    path = write_spec(tmp_path, spec_dict(series_csv.name, model={"layers": layers}))
    assert_one_line_error(invoke_train(path), "model.layers[0]", "lstm has no argument 'unitz'")


def test_impossible_layer_argument(tmp_path, series_csv):
    layers = [{"type": "lstm", "units": 0}, {"type": "dense", "units": 1}]
    path = write_spec(tmp_path, spec_dict(series_csv.name, model={"layers": layers}))
    assert_one_line_error(invoke_train(path), "model.layers[0]", "lstm rejected its arguments")


def test_layer_without_type(tmp_path, series_csv):
    layers = [{"units": 4}, {"type": "dense", "units": 1}]
    path = write_spec(tmp_path, spec_dict(series_csv.name, model={"layers": layers}))
    assert_one_line_error(invoke_train(path), "model.layers[0].type is required")


def test_unknown_optimizer(tmp_path, series_csv):
    path = write_spec(tmp_path, spec_dict(series_csv.name, model={"optimizer": {"name": "lion9000"}}))
    line = assert_one_line_error(invoke_train(path), "spec.yaml", "model.optimizer.name must be one of", "'lion9000'")
    assert "adam" in line and "sgd" in line


def test_layers_and_path_together(tmp_path, series_csv):
    path = write_spec(tmp_path, spec_dict(series_csv.name, model={"path": "m.keras"}))
    assert_one_line_error(invoke_train(path), "model needs exactly one of 'layers'")


def test_sequence_output_is_rejected(tmp_path, series_csv):
    layers = [{"type": "lstm", "units": 4, "return_sequences": True}]
    path = write_spec(tmp_path, spec_dict(series_csv.name, model={"layers": layers}))
    assert_one_line_error(invoke_train(path), "spec.yaml", "return_sequences: false")


def test_model_path_missing(tmp_path, series_csv):
    spec = spec_dict(series_csv.name, model={"layers": None, "path": "missing.keras"})
    assert_one_line_error(invoke_train(write_spec(tmp_path, spec)), "model.path", "missing.keras", "not found")


def test_model_path_functional_with_a_branch(tmp_path, series_csv):
    # A linear functional stack is read like a Sequential (issue 13); a branch cannot be a spec.
    inputs = keras.Input(shape=(8, 2))
    hidden = keras.layers.LSTM(4)(inputs)
    outputs = keras.layers.Add()([keras.layers.Dense(1)(hidden), keras.layers.Dense(1)(hidden)])
    keras.Model(inputs, outputs).save(tmp_path / "functional.keras")
    spec = spec_dict(series_csv.name, model={"layers": None, "path": "functional.keras"})
    assert_one_line_error(invoke_train(write_spec(tmp_path, spec)), "model.path", "branch")


def test_model_path_with_unsupported_layer(tmp_path, series_csv):
    model = keras.Sequential([keras.Input(shape=(8, 2)), keras.layers.LSTM(4), keras.layers.Reshape((4, 1)),
                              keras.layers.Flatten(), keras.layers.Dense(1)])
    model.save(tmp_path / "reshape.keras")
    spec = spec_dict(series_csv.name, model={"layers": None, "path": "reshape.keras"})
    line = assert_one_line_error(invoke_train(write_spec(tmp_path, spec)), "model.path", "Reshape", "supported layers are")
    assert "LSTM" in line


def test_model_path_not_a_keras_file(tmp_path, series_csv):
    # Keras itself says "File not found" for a file that is there.
    (tmp_path / "broken.keras").write_bytes(b"this is not a zip archive")
    spec = spec_dict(series_csv.name, model={"layers": None, "path": "broken.keras"})
    line = assert_one_line_error(invoke_train(write_spec(tmp_path, spec)), "model.path", "broken.keras",
                                 "is not a Keras model file", "model.save(")
    assert "not found" not in line.lower()


class _Doubling(keras.layers.Layer):
    """A user's own layer, unknown to autofix-lstm and not registered with Keras."""

    def call(self, inputs):
        return inputs * 2.0


def test_model_path_with_a_custom_layer(tmp_path, series_csv):
    # Keras' own message is a dump of the whole model config (about 4 KB).
    model = keras.Sequential([keras.Input(shape=(8, 2)), keras.layers.LSTM(4), _Doubling(), keras.layers.Dense(1)])
    model.save(tmp_path / "custom.keras")
    spec = spec_dict(series_csv.name, model={"layers": None, "path": "custom.keras"})
    line = assert_one_line_error(invoke_train(write_spec(tmp_path, spec)), "model.path", "custom.keras",
                                 "custom class '_Doubling'", "custom layers and objects are not supported",
                                 "model.layers")
    assert len(line) < 500 and "config" not in line


# --- the data -------------------------------------------------------------------------------------


def test_missing_data_file(tmp_path):
    path = write_spec(tmp_path, spec_dict("nowhere.csv"))
    assert_one_line_error(invoke_train(path), "data file not found", "nowhere.csv", "relative to the spec file")


def test_data_path_is_a_folder(tmp_path):
    (tmp_path / "prices.csv").mkdir()  # a folder named like a file: it exists, so "not found" would mislead
    line = assert_one_line_error(invoke_train(write_spec(tmp_path, spec_dict("prices.csv"))), "prices.csv",
                                 "is a folder, not a file", "set data.path to the .csv, .parquet or .npz file")
    assert "not found" not in line


@pytest.mark.parametrize("name", ["garbage.parquet", "garbage.npz"])
def test_unreadable_data_file(tmp_path, name):
    (tmp_path / name).write_bytes(b"\x00\x01 definitely not a table")
    assert_one_line_error(invoke_train(write_spec(tmp_path, spec_dict(name))), name, "cannot read")


def test_empty_csv(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    assert_one_line_error(invoke_train(write_spec(tmp_path, spec_dict("empty.csv"))), "empty.csv", "cannot read")


def test_header_only_csv(tmp_path):
    (tmp_path / "header.csv").write_text("t,x,y\n")
    assert_one_line_error(invoke_train(write_spec(tmp_path, spec_dict("header.csv"))), "header.csv",
                          "the table has no data rows")


def test_target_column_not_in_data(tmp_path, series_csv):
    path = write_spec(tmp_path, spec_dict(series_csv.name, data={"target": "price", "features": ["x"]}))
    assert_one_line_error(invoke_train(path), "series.csv", "target column 'price' is not in the data", "'x', 'y'")


def test_feature_column_not_in_data(tmp_path, series_csv):
    path = write_spec(tmp_path, spec_dict(series_csv.name, data={"features": ["x", "volume"]}))
    assert_one_line_error(invoke_train(path), "series.csv", "data.features names ['volume']", "columns are")


def test_column_names_are_printed_verbatim(tmp_path, series_csv):
    """Rich must not swallow bracketed text in a message as markup."""
    path = write_spec(tmp_path, spec_dict(series_csv.name, data={"target": "[bold]", "features": ["x"]}))
    assert_one_line_error(invoke_train(path), "target column '[bold]' is not in the data")


def test_non_numeric_feature(tmp_path):
    frame = series_frame(100)
    frame["x"] = ["a", "b"] * 50
    line = assert_one_line_error(invoke_train(_spec_with_frame(tmp_path, frame)), "data.csv", "'x' is not numeric")
    assert "encode it as numbers or leave it out of data.features" in line


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_with_missing_error(tmp_path, bad):
    frame = series_frame(100)
    frame.loc[[3, 10, 11], "y"] = bad
    line = assert_one_line_error(invoke_train(_spec_with_frame(tmp_path, frame)), "data.csv", "column 'y'", "3 rows")
    assert "file lines 5, 12, 13" in line
    assert "set data.missing to drop, ffill or interpolate" in line


def test_nan_names_every_bad_column(tmp_path):
    frame = series_frame(100)
    frame.loc[[3], "y"] = np.nan
    frame.loc[[4, 5], "x"] = np.nan
    line = assert_one_line_error(invoke_train(_spec_with_frame(tmp_path, frame)), "column 'x'", "2 rows", "column 'y'")
    assert "1 row " in line


def test_too_few_rows(tmp_path):
    path = make_series_csv(tmp_path, n=12)
    line = assert_one_line_error(invoke_train(write_spec(tmp_path, spec_dict(path.name))), "series.csv", "too few")
    assert "rows 12 - window 8 - horizon 1" in line and "provide more data" in line


def test_constant_target(tmp_path):
    frame = series_frame(100)
    frame["y"] = 5.0
    line = assert_one_line_error(invoke_train(_spec_with_frame(tmp_path, frame)), "data.csv", "the target is constant")
    assert "(5.0 everywhere)" in line


def test_constant_text_target(tmp_path):
    frame = series_frame(100)
    frame["label"] = "up"
    spec = _spec_with_frame(tmp_path, frame, data={"target": "label", "features": ["x"]})
    assert_one_line_error(invoke_train(spec), "data.csv", "the target is constant")


@pytest.mark.parametrize("left_out", ["x", "y"])
def test_npz_without_array(tmp_path, left_out):
    path = make_windows_npz(tmp_path, **{left_out: None, "extra": np.zeros(3)})
    line = assert_one_line_error(invoke_train(write_spec(tmp_path, spec_dict(path.name))), "windows.npz",
                                 f"has no array '{left_out}'")
    assert "np.savez(path, x=..., y=...)" in line


def test_npz_mismatched_lengths(tmp_path):
    path = make_windows_npz(tmp_path, y=np.arange(150, dtype=np.float64))
    line = assert_one_line_error(invoke_train(write_spec(tmp_path, spec_dict(path.name))), "windows.npz")
    assert "x has 200 samples but y has 150" in line


def test_npz_wrong_shape(tmp_path):
    path = make_windows_npz(tmp_path, x=np.zeros((200, 8)))
    assert_one_line_error(invoke_train(write_spec(tmp_path, spec_dict(path.name))), "x must have shape")


def test_npz_with_pickled_objects_is_refused(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, x=np.zeros((20, 4, 1)), y=np.array([{"a": 1}] * 20, dtype=object))
    assert_one_line_error(invoke_train(write_spec(tmp_path, spec_dict(path.name))), "objects.npz", "without pickle")


def test_npz_with_table_keys(tmp_path, windows_npz):
    spec = spec_dict(windows_npz.name, data={"window": 8})
    assert_one_line_error(invoke_train(write_spec(tmp_path, spec)), "data.window does not apply to .npz files")


def test_difference_target_needs_the_target_among_features(tmp_path, series_csv):
    spec = spec_dict(series_csv.name, data={"features": ["x"]}, preprocessing={"target": "difference"})
    assert_one_line_error(invoke_train(write_spec(tmp_path, spec)), "preprocessing.target 'difference'",
                          "must be among data.features")


def test_log_target_needs_values_above_minus_one(tmp_path, series_csv):
    spec = spec_dict(series_csv.name, preprocessing={"target": "log"})
    assert_one_line_error(invoke_train(write_spec(tmp_path, spec)), "preprocessing.target 'log'", "Use standard or robust")


@pytest.mark.parametrize("output", ["taken", "taken/run"])
def test_output_folder_blocked_by_a_file(tmp_path, series_csv, output):
    (tmp_path / "taken").write_text("a file where a folder should go")
    path = write_spec(tmp_path, spec_dict(series_csv.name, output=output))
    assert_one_line_error(invoke_train(path), "spec.yaml", f"output {tmp_path / output} cannot be made",
                          "taken is a file, not a folder; set output to a folder")


def test_classifier_head_does_not_fit_the_classes(tmp_path):
    path = make_windows_npz(tmp_path, n=60, classes=3)
    layers = [{"type": "lstm", "units": 4}, {"type": "dense", "units": 2, "activation": "softmax"}]
    spec = spec_dict(path.name, data={"task": "multiclass"}, model={"layers": layers,
                                                                   "loss": "sparse_categorical_crossentropy"})
    assert_one_line_error(invoke_train(write_spec(tmp_path, spec)), "spec.yaml",
                          "the last dense layer has 2 units but the target has 3 classes [0, 1, 2]", "give it 3 units")


def test_a_loss_keras_cannot_train_names_the_state_and_the_search(tmp_path, series_csv):
    # A class-index loss on a real-valued target is no longer refused as input; `train` trains the spec as
    # written, and when Keras cannot train it at all, says so as its state and points at the search.
    path = write_spec(tmp_path, spec_dict(series_csv.name, model={"loss": "sparse_categorical_crossentropy"}))
    assert_one_line_error(invoke_train(path), "spec.yaml", "cannot train: model.layers[1] (dense, 1 units",
                          "model.loss 'sparse_categorical_crossentropy' do not fit the regression target",
                          "outside the valid range", "`autofix-lstm search` fixes it for you")


