"""The spec: defaults, paths relative to the spec file, YAML round trip and dotted updates."""

from __future__ import annotations

import pytest
import yaml
from helpers import spec_dict, write_spec

from autofix_lstm.errors import SpecError
from autofix_lstm.spec import Spec, load_spec, parse_duration


def test_defaults_describe_what_the_user_did(tmp_path):
    spec = load_spec(write_spec(tmp_path, {"data": {"path": "d.csv", "target": "y", "window": 5},
                                           "model": {"layers": [{"type": "lstm", "units": 4}]}}))
    assert spec.data.horizon == 1 and spec.data.validation_split == 0.2 and spec.data.missing == "error"
    assert spec.data.features is None and spec.data.task is None
    assert (spec.preprocessing.inputs, spec.preprocessing.target, spec.preprocessing.class_weight) == ("none", "none", None)
    assert (spec.model.optimizer.name, spec.model.optimizer.learning_rate, spec.model.loss) == ("adam", 0.001, "mse")
    assert (spec.train.epochs, spec.train.batch_size, spec.train.seed) == (20, 32, 0)
    assert spec.output == "runs/spec"  # named after the spec file when not given


def test_empty_sections_mean_the_defaults(tmp_path):
    text = "data: {path: d.csv, target: y, window: 5}\nmodel:\n  layers: [{type: lstm, units: 4}]\nsearch:\ntrain:\n"
    spec = load_spec(write_spec(tmp_path, text))
    assert spec.search.max_trials == 30 and spec.train.epochs == 20


def test_paths_are_relative_to_the_spec_file(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    spec = load_spec(write_spec(folder, spec_dict("data/series.csv", output="out/run")))
    assert spec.base_dir == folder.resolve()
    assert spec.resolve(spec.data.path) == folder.resolve() / "data" / "series.csv"
    assert spec.output_dir == folder.resolve() / "out" / "run"
    assert spec.resolve(tmp_path / "abs.csv") == tmp_path / "abs.csv"
    assert spec.source == str(folder / "spec.yaml")


def test_yaml_round_trip(tmp_path):
    raw = spec_dict("series.csv", preprocessing={"inputs": "window_relative", "target": "difference",
                                                  "class_weight": None},
                    model={"layers": [{"type": "lstm", "units": 4, "return_sequences": True, "dropout": 0.1},
                                      {"type": "gru", "units": 3}, {"type": "dense", "units": 1}]},
                    search={"max_time": "2m", "strategies": ["scaling"]})
    spec = load_spec(write_spec(tmp_path, raw))
    again = load_spec(write_spec(tmp_path, spec.to_yaml(), "again.yaml"))
    assert again.to_dict() == spec.to_dict()
    assert spec.to_dict()["model"]["layers"][0] == {"type": "lstm", "units": 4, "return_sequences": True, "dropout": 0.1}
    assert "path" not in spec.to_dict()["model"]
    assert yaml.safe_load(spec.to_yaml())["search"]["max_time"] == "2m"
    assert spec.search.max_seconds == 120.0


def test_npz_spec_round_trip_leaves_out_table_keys(tmp_path):
    spec = load_spec(write_spec(tmp_path, spec_dict("w.npz")))
    assert set(spec.to_dict()["data"]) == {"path", "task", "validation_split", "missing"}
    assert load_spec(spec.to_dict()).data.is_array_file


def test_updated_applies_dotted_changes_and_validates(tmp_path):
    spec = load_spec(write_spec(tmp_path, spec_dict("series.csv")))
    changed = spec.updated({"train.epochs": 7, "preprocessing.inputs": "standard", "model.optimizer.clipnorm": 1.0})
    assert (changed.train.epochs, changed.preprocessing.inputs, changed.model.optimizer.clipnorm) == (7, "standard", 1.0)
    assert spec.train.epochs == 1  # the original is untouched
    assert changed.base_dir == spec.base_dir and changed.source == spec.source
    with pytest.raises(SpecError, match=r"train.epochs must be >= 1, got 0"):
        spec.updated({"train.epochs": 0})


def test_load_spec_accepts_dict_and_spec():
    spec = load_spec(spec_dict("series.csv"))
    assert isinstance(spec, Spec) and load_spec(spec) is spec
    assert spec.model.layers[0].type == "lstm" and spec.model.layers[0].kwargs == {"units": 8}
    assert spec.model.optimizer.name == "adam"


def test_optimizer_name_is_case_insensitive():
    assert load_spec(spec_dict("s.csv", model={"optimizer": {"name": "RMSprop"}})).model.optimizer.name == "rmsprop"


def test_spec_error_lists_every_problem_with_its_source(tmp_path):
    path = write_spec(tmp_path, spec_dict("s.csv", data={"window": 0}, train={"batch_size": 0}))
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert caught.value.problems == ["data.window must be >= 1, got 0", "train.batch_size must be >= 1, got 0"]
    assert caught.value.source == str(path)
    assert str(caught.value).splitlines()[0] == f"{path}: data.window must be >= 1, got 0"


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("2h", 7200), ("1.5 min", 90), (45, 45)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


def test_parse_duration_rejects_nonsense():
    with pytest.raises(ValueError, match="must be a duration"):
        parse_duration("a while")


def test_bundled_example_spec_is_valid():
    from pathlib import Path

    from autofix_lstm.data.dataset import load_dataset

    example = Path(__file__).resolve().parents[1] / "examples" / "energy.yaml"
    spec = load_spec(example)
    if not spec.resolve(spec.data.path).is_file():
        pytest.skip("examples/energy.csv not generated (python examples/make_energy.py)")
    dataset = load_dataset(spec)
    assert dataset.task == "regression" and dataset.feature_names == ["temperature", "load"]
    assert dataset.window == 14 and len(dataset.x_val) > 100
