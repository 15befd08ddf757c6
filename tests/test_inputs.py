"""``inputs.resolve_inputs``: what a user passes becomes one ``(Spec, Dataset, Options)``.

Every kind of spec (a path, a dict, a ``Spec``, a live model) and of data (the spec's file, a
DataFrame, arrays, ``validation_data``, a ``Dataset``) comes out as the same three objects; the
overrides that change the spec are applied once, there; bad input is refused with the messages
the entry points have always given. Nothing here trains.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pandas as pd
import pytest
from helpers import series_frame, spec_dict, write_spec

from autofix_lstm.data.dataset import Dataset
from autofix_lstm.errors import DataError, SpecError
from autofix_lstm.inputs import Options, resolve_inputs
from autofix_lstm.spec import Spec, load_spec


def _same_data(a: Dataset, b: Dataset) -> bool:
    return all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ("x_train", "y_train", "x_val", "y_val"))


def _windows(n: int = 160, window: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, window, 2)).astype(np.float32)
    return x, x[:, -1, 0] * 2.0 + 0.1 * rng.normal(size=n)


def _memory_spec(tmp_path, **data) -> dict:
    """A tiny spec dict with no data.path (the data comes in memory) writing into ``tmp_path/out``."""
    raw = spec_dict("unused.csv", output=str(tmp_path / "out"))
    raw["data"] = {k: v for k, v in raw["data"].items() if k != "path"} | data
    return raw


def _model() -> keras.Model:
    model = keras.Sequential([keras.Input((6, 2)), keras.layers.LSTM(4), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def test_a_path_a_dict_and_a_spec_resolve_to_the_same_spec_data_and_options(tmp_path, series_csv):
    path = write_spec(tmp_path, spec_dict(series_csv.name, output=str(tmp_path / "out")))
    by_path = resolve_inputs(path)
    by_spec = resolve_inputs(load_spec(path))
    raw = spec_dict(str(series_csv), output=str(tmp_path / "out"))
    by_dict = resolve_inputs(raw)
    for spec, dataset, options in (by_path, by_spec, by_dict):
        assert isinstance(spec, Spec) and isinstance(dataset, Dataset) and options == Options()
        assert spec.model == by_path[0].model and spec.output_dir == by_path[0].output_dir
        assert _same_data(dataset, by_path[1])
    assert by_path[0].source == str(path) and by_dict[0].source is None


def test_a_dataframe_arrays_validation_data_and_a_dataset_resolve_with_a_spec(tmp_path):
    frame = series_frame(200)
    spec, from_data, _ = resolve_inputs(_memory_spec(tmp_path), data=frame)
    _, from_x, _ = resolve_inputs(_memory_spec(tmp_path), x=frame)  # fit(frame) style
    assert _same_data(from_data, from_x) and from_data.task == "regression"
    _, again, _ = resolve_inputs(spec, data=from_data)  # a Dataset already read is used as it is
    assert again is from_data

    x, y = _windows()
    _, arrays, _ = resolve_inputs({"data": {}, "model": spec_dict()["model"]}, x=x, y=y, save=False)
    assert len(arrays.x_val) == 32  # the spec's validation_split (0.2) of 160
    _, given, _ = resolve_inputs({"data": {}, "model": spec_dict()["model"]}, x=x[:100], y=y[:100],
                                 validation_data=(x[100:], y[100:]), save=False)
    assert len(given.x_train) == 100 and len(given.x_val) == 60


def test_a_live_model_becomes_its_spec_and_its_arrays_are_split_as_fit_splits_them():
    x, y = _windows()
    spec, dataset, options = resolve_inputs(_model(), x=x, y=y, validation_split=0.25, save=False,
                                            model_options={"epochs": 2})
    assert [layer.type for layer in spec.model.layers] == ["lstm", "dense"] and spec.train.epochs == 2
    assert spec.data.validation_split == 0.25 and options.validation_split == 0.25
    assert len(dataset.x_val) == 40 and len(dataset.x_train) == 120


def test_a_dataframe_y_of_named_columns_or_target_names_make_arrays_several_targets():
    x, y = _windows()
    two = np.stack([y, 100.0 + y[::-1]], axis=1)
    frame = pd.DataFrame(two, columns=["load", "temp"])
    spec, named, _ = resolve_inputs(_model(), x=x, y=frame, save=False)
    assert spec.data.target == ["load", "temp"] and named.target_names == ("load", "temp") and named.multi_target
    np.testing.assert_array_equal(np.concatenate([named.y_train, named.y_val]), two)
    _, given, _ = resolve_inputs(_model(), x=x, y=two, save=False, model_options={"target": ["load", "temp"]})
    assert given.target_names == ("load", "temp") and given.y_val.shape == (32, 2)
    _, with_val, _ = resolve_inputs(_model(), x=x[:100], y=frame[:100], validation_data=(x[100:], frame[100:]),
                                    save=False)
    assert with_val.target_names == ("load", "temp") and with_val.y_val.shape == (60, 2)
    spec, forecast, _ = resolve_inputs(_model(), x=x, y=two, save=False)  # plain numbers: a 2-step forecast
    assert spec.data.target is None and forecast.target_names == () and forecast.n_outputs == 2
    _, from_spec, _ = resolve_inputs({"data": {}, "model": spec_dict()["model"]}, x=x, y=frame, save=False)
    assert from_spec.target_names == ("load", "temp")


def test_several_targets_from_arrays_are_refused_when_the_names_do_not_fit_y():
    x, y = _windows()
    frame = pd.DataFrame({"load": y, "temp": y[::-1]})
    with pytest.raises(SpecError, match=r"y's columns name the targets \['load', 'temp'\], and the target given is"):
        resolve_inputs(_model(), x=x, y=frame, save=False, model_options={"target": ["a", "b"]})
    with pytest.raises(SpecError, match=r"must be distinct strings; got \[0, 1\].*y.to_numpy\(\) for a 2-step"):
        resolve_inputs(_model(), x=x, y=pd.DataFrame(frame.to_numpy()), save=False)
    with pytest.raises(SpecError, match="y_val has columns"):
        resolve_inputs(_model(), x=x[:100], y=frame[:100], validation_data=(x[100:], frame[100:][["temp", "load"]]),
                       save=False)
    with pytest.raises(DataError, match=r"names 3 targets \(a, b, c\), so y must have shape \(samples, 3\).*got 2 columns"):
        resolve_inputs(_model(), x=x, y=frame.to_numpy(), save=False, model_options={"target": ["a", "b", "c"]})


def test_a_roll_out_is_refused_on_arrays_and_taken_from_a_table_with_a_model():
    x, y = _windows()
    says = r"data.rollout \(4\) feeds .* windowed arrays \(x=/y=, an .npz\) have no rows to slide over; pass the table"
    with pytest.raises(SpecError, match=says):
        resolve_inputs(_model(), x=x, y=y, save=False, model_options={"rollout": 4})
    with pytest.raises(SpecError, match=says):
        resolve_inputs({"data": {"rollout": 4}, "model": spec_dict()["model"]}, x=x, y=y, save=False)
    frame = series_frame(200)
    spec, dataset, _ = resolve_inputs(_model(), data=frame, save=False, model_options={
        "target": "y", "features": ["x", "y"], "window": 6, "rollout": 4})
    assert spec.data.rollout == 4 and dataset.rollout.steps == 4 and dataset.rollout.target_index == 1
    # each rolled-out sample's truth: the target's next 4 rows after its window
    start = int(dataset.rollout.starts[0])
    np.testing.assert_allclose(dataset.rollout.targets[0], frame["y"].to_numpy()[start + 6 : start + 10])


def test_the_overrides_are_applied_once_at_the_boundary(tmp_path, series_csv, monkeypatch):
    path = write_spec(tmp_path, spec_dict(series_csv.name, output=str(tmp_path / "out")))
    calls = []
    real = Spec.updated

    def counted(self, changes):
        calls.append(dict(changes))
        return real(self, changes)

    monkeypatch.setattr(Spec, "updated", counted)
    spec, dataset, options = resolve_inputs(path, max_trials=3, confirm=False, max_time="1h", tensorboard=True,
                                            fresh=True, minimize=False, workers=2, progress=True)
    assert calls == [{"search.max_trials": 3, "search.confirm": False, "search.max_time": "1h",
                      "search.tensorboard": True}]
    assert (spec.search.max_trials, spec.search.confirm, spec.search.max_time, spec.search.tensorboard) == (
        3, False, "1h", True)
    assert spec.source == str(path) and spec.base_dir == path.parent  # still anchored in the spec's folder
    assert (options.fresh, options.minimize, options.workers, options.progress, options.save) == (
        True, False, 2, True, True)
    assert options.spec_changes() == calls[0]

    calls.clear()
    resolve_inputs(path)  # nothing to override: the spec as written
    assert calls == []
    _, split, _ = resolve_inputs(path, validation_split=0.5)
    assert calls == [{"data.validation_split": 0.5}] and len(split.x_val) == len(split.x_train)


def test_a_bad_override_is_refused_as_the_spec_field_it_sets(tmp_path, series_csv):
    path = write_spec(tmp_path, spec_dict(series_csv.name))
    with pytest.raises(SpecError, match=r"search.max_trials must be >= 1, got 0"):
        resolve_inputs(path, max_trials=0)
    with pytest.raises(SpecError, match=r"search.max_time must be a duration like '90s', '30m' or '2h', got 'soon'"):
        resolve_inputs(path, max_time="soon")
    with pytest.raises(TypeError, match="epochs"):
        resolve_inputs(path, epochs=3)  # not an option: a model's setting goes in model_options


def test_the_errors_are_the_entry_points_own(tmp_path):
    x, y = _windows(60)
    model_spec = {"data": {}, "model": {"layers": [{"type": "dense", "units": 1}]}}
    with pytest.raises(SpecError, match="epochs apply to a keras.Model; with a spec, set them in the spec instead"):
        resolve_inputs(model_spec, x=x, y=y, model_options={"epochs": 3})
    with pytest.raises(SpecError, match=r"validation_data=\(x_val, y_val\) goes with windowed arrays x and y"):
        resolve_inputs(model_spec, data=series_frame(60), validation_data=(x, y), save=False)
    with pytest.raises(SpecError, match="validation_data must be a tuple"):
        resolve_inputs(model_spec, x=x, y=y, validation_data=x, save=False)
    with pytest.raises(SpecError, match="give both x and y"):
        resolve_inputs(_memory_spec(tmp_path), x=x, save=False)
    with pytest.raises(SpecError, match="data.path is required"):
        resolve_inputs(_memory_spec(tmp_path), save=False)
    with pytest.raises(SpecError, match="a DataFrame needs target= .* and window="):
        resolve_inputs(_model(), data=series_frame(60), save=False)
    with pytest.raises(SpecError, match="a keras.Model needs its data"):
        resolve_inputs(_model(), save=False)
    with pytest.raises(SpecError, match=r"give both x and y \(already windowed arrays\), or a DataFrame"):
        resolve_inputs(_model(), y=y, save=False)
    with pytest.raises(DataError, match="x_val has windows of shape"):
        resolve_inputs(_model(), x=x, y=y, validation_data=(x[:, :4], y), save=False)
    with pytest.raises(SpecError, match="spec file not found"):
        resolve_inputs(tmp_path / "absent.yaml")


def test_the_output_folder_is_checked_before_the_data_is_read_unless_nothing_is_saved(tmp_path):
    (tmp_path / "taken").write_text("a file where the output folder should be")
    path = write_spec(tmp_path, spec_dict("nowhere.csv", output="taken/run"))
    with pytest.raises(SpecError, match="is a file, not a folder"):
        resolve_inputs(path)
    with pytest.raises(DataError, match="data file not found"):
        resolve_inputs(path, save=False)


def test_a_refused_spec_or_data_file_imports_no_tensorflow(tmp_path, series_csv):
    """The boundary answers before TensorFlow loads (the CLI's instant refusals rest on it)."""
    bad_spec = write_spec(tmp_path, spec_dict(series_csv.name, data={"window": 0}), name="bad.yaml")
    no_data = write_spec(tmp_path, spec_dict("nowhere.csv"), name="no_data.yaml")
    code = textwrap.dedent(f"""
        import json, sys
        from autofix_lstm.errors import AutofixError
        from autofix_lstm.inputs import resolve_inputs
        said = []
        for path in ({str(bad_spec)!r}, {str(no_data)!r}):
            try:
                resolve_inputs(path, max_trials=2)
            except AutofixError as err:
                said.append(str(err))
        print(json.dumps({{"said": said, "heavy": [m for m in ("tensorflow", "keras") if m in sys.modules]}}))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["heavy"] == []
    assert "data.window must be >= 1, got 0" in report["said"][0] and "data file not found" in report["said"][1]


def test_api_exposes_the_boundary():
    from autofix_lstm import api

    assert api.resolve_inputs is resolve_inputs


def _named_model(name: str, units: int = 4) -> keras.Model:
    model = keras.Sequential([keras.Input((6, 2)), keras.layers.LSTM(units), keras.layers.Dense(1)], name=name)
    model.compile(optimizer="adam", loss="mse")
    return model


def test_each_in_memory_search_gets_a_folder_of_its_own(tmp_path, monkeypatch):
    # Issue 25 (2): every in-memory search shared runs/autofix, so a second model's search in the same
    # notebook was refused ("holds a search for a different spec ... run with --fresh").
    monkeypatch.chdir(tmp_path)
    x, y = _windows()
    first = resolve_inputs(_named_model("sales_lstm"), x=x, y=y, save=False)[0]
    again = resolve_inputs(_named_model("sales_lstm"), x=x, y=y, save=False)[0]
    other_model = resolve_inputs(_named_model("sales_lstm", units=8), x=x, y=y, save=False)[0]
    other_data = resolve_inputs(_named_model("sales_lstm"), x=x * 2, y=y, save=False)[0]
    assert first.output.startswith("runs/sales_lstm-") and len(first.output) == len("runs/sales_lstm-") + 8
    assert again.output == first.output  # the same cell run again resumes its search
    assert len({first.output, other_model.output, other_data.output}) == 3
    # a dict spec without output, on data in memory: the same rule, named "autofix"
    raw = spec_dict("unused.csv")
    raw["data"] = {k: v for k, v in raw["data"].items() if k != "path"}
    raw.pop("output")
    assert resolve_inputs(raw, x=x, y=y, save=False)[0].output.startswith("runs/autofix-")
    # an output given is kept, and a spec file keeps its own (runs/<its name>)
    assert resolve_inputs(_named_model("m"), x=x, y=y, save=False, model_options={"output": "mine"})[0].output == "mine"
    assert resolve_inputs({**raw, "output": "there"}, x=x, y=y, save=False)[0].output == "there"
