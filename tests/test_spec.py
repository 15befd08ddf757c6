"""The spec: defaults, paths relative to the spec file, YAML round trip and dotted updates."""

from __future__ import annotations

import pytest
import yaml
from helpers import spec_dict, write_spec

from autofix_lstm.errors import SpecError
from autofix_lstm.spec import (
    MAX_BATCH_SIZE,
    MAX_EPOCHS,
    MAX_HORIZON,
    MAX_LAYERS,
    MAX_SEARCH_SECONDS,
    MAX_TRIALS,
    MAX_UNITS,
    MAX_WINDOW,
    Spec,
    load_spec,
    parse_duration,
    safe_load_unique,
)


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


# --- a key given twice (issue 12, point 8) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("data: {path: d.csv, target: y, window: 5}\nmodel: {layers: [{type: lstm, units: 4}]}\ndata: {path: e.csv}\n",
         "data is given twice, at lines 1 and 3"),
        ("data:\n  path: d.csv\n  target: y\n  window: 0\n  window: 5\nmodel: {layers: [{type: lstm, units: 4}]}\n",
         "data.window is given twice, at lines 4 and 5"),
        ("data: {path: d.csv, target: y, window: 5}\nmodel:\n  layers:\n    - {type: lstm, units: 4}\n"
         "    - type: dense\n      units: 1\n      units: 3\n", "model.layers[1].units is given twice, at lines 6 and 7"),
        ("data: {path: d.csv, target: y, window: 5, window: 6}\nmodel: {layers: [{type: lstm, units: 4}]}\n",
         "data.window is given twice, on line 1"),
    ],
)
def test_a_key_given_twice_is_refused_with_both_lines(tmp_path, text, message):
    path = write_spec(tmp_path, text)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert caught.value.problems == [f"{message}; YAML would silently keep only the second: remove one of them"]
    assert caught.value.source == str(path)


def test_a_merge_key_may_be_overridden(tmp_path):
    text = ("defaults: &lstm {type: lstm, units: 4, return_sequences: true}\n"
            "data: {path: d.csv, target: y, window: 5}\n"
            "model:\n  layers:\n    - {<<: *lstm, units: 8}\n    - {type: dense, units: 1}\n")
    raw = safe_load_unique(text)
    assert raw["model"]["layers"][0] == {"type": "lstm", "units": 8, "return_sequences": True}


def test_a_strategy_file_with_a_key_given_twice_is_refused(tmp_path):
    from autofix_lstm.remedies.strategies import resolve_strategies

    (tmp_path / "mine.yaml").write_text(
        "name: mine\ndescription: d\ntasks: [regression]\nfields:\n"
        "  architecture.units: {values: [16, 32]}\n  architecture.units: {values: [64]}\n"
    )
    with pytest.raises(SpecError, match=r"mine.yaml is not valid YAML: fields.architecture.units is given twice, at lines 5 and 6"):
        resolve_strategies(["mine.yaml"], tmp_path)


# --- upper bounds (issue 12, point 9) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "key", "limit"),
    [("train", "epochs", MAX_EPOCHS), ("train", "batch_size", MAX_BATCH_SIZE), ("search", "max_trials", MAX_TRIALS),
     ("search", "prune_after", MAX_EPOCHS), ("data", "window", MAX_WINDOW), ("data", "horizon", MAX_HORIZON),
     ("search", "patience", MAX_TRIALS)],
)
def test_counts_have_an_upper_bound_named_in_the_message(section, key, limit):
    assert getattr(getattr(load_spec(spec_dict("s.csv", **{section: {key: limit}})), section), key) == limit
    for too_many in (limit + 1, 10**12):
        with pytest.raises(SpecError) as caught:
            load_spec(spec_dict("s.csv", **{section: {key: too_many}}))
        assert caught.value.problems == [f"{section}.{key} must be <= {limit}, got {too_many}"]


# --- search.stop (issue 28, point 3) ---------------------------------------------------------------------


def test_the_search_spends_its_budget_unless_told_otherwise():
    search = load_spec(spec_dict("s.csv")).search
    assert search.stop == "budget" and search.patience == 3
    confirmed = load_spec(spec_dict("s.csv", search={"stop": "confirmed", "patience": 1})).search
    assert confirmed.stop == "confirmed" and confirmed.patience == 1


@pytest.mark.parametrize(
    ("search", "problem"),
    [({"stop": "early"}, "search.stop must be 'budget' or 'confirmed', got 'early'"),
     ({"stop": None}, "search.stop must be 'budget' or 'confirmed', got None"),
     ({"patience": 0}, "search.patience must be >= 1, got 0"),
     ({"patience": 2.5}, "search.patience must be a whole number, got 2.5")],
)
def test_a_bad_stop_rule_is_refused_naming_what_is_allowed(search, problem):
    with pytest.raises(SpecError) as caught:
        load_spec(spec_dict("s.csv", search=search))
    assert caught.value.problems == [problem]


def test_stopping_once_confirmed_needs_the_confirmation():
    with pytest.raises(SpecError) as caught:
        load_spec(spec_dict("s.csv", search={"stop": "confirmed", "confirm": False}))
    assert "search.stop: confirmed" in str(caught.value) and "search.confirm: true" in str(caught.value)
    spec = load_spec(spec_dict("s.csv", search={"stop": "confirmed"}))
    with pytest.raises(SpecError, match="--no-confirm"):  # the CLI's and search()'s override are refused too
        spec.updated({"search.confirm": False})


def test_the_stop_rule_is_not_part_of_a_search_s_fingerprint():
    # a resumed search may change it, as it may its budget: it decides which trials run, not their results
    plain = load_spec(spec_dict("s.csv"))
    assert plain.updated({"search.stop": "confirmed", "search.patience": 7}).results_dict() == plain.results_dict()


def test_layer_units_have_an_upper_bound_and_must_be_whole():
    layers = [{"type": "lstm", "units": MAX_UNITS, "return_sequences": True}, {"type": "gru", "units": 4},
              {"type": "dense", "units": 1}]
    assert load_spec(spec_dict("s.csv", model={"layers": layers})).model.layers[0].kwargs["units"] == MAX_UNITS
    layers = [{"type": "lstm", "units": 10**9, "return_sequences": True}, {"type": "gru", "units": 2.5},
              {"type": "dense", "units": float("inf")}]
    with pytest.raises(SpecError) as caught:
        load_spec(spec_dict("s.csv", model={"layers": layers}))
    assert caught.value.problems == [
        f"model.layers[0] units must be <= {MAX_UNITS}, got 1000000000; lower it (no time-series model needs more)",
        f"model.layers[1] units must be a whole number from 1 to {MAX_UNITS}, got 2.5",
        f"model.layers[2] units must be a whole number from 1 to {MAX_UNITS}, got inf",
    ]


def test_layer_count_and_search_time_have_upper_bounds():
    layers = [{"type": "dense", "units": 4}] * MAX_LAYERS + [{"type": "dense", "units": 1}]
    with pytest.raises(SpecError, match=rf"model.layers must hold at most {MAX_LAYERS} layers, got {MAX_LAYERS + 1}"):
        load_spec(spec_dict("s.csv", model={"layers": layers}))
    assert load_spec(spec_dict("s.csv", search={"max_time": "30d"})).search.max_seconds == MAX_SEARCH_SECONDS
    with pytest.raises(SpecError, match=r"search.max_time must be at most 30d \(2592000 seconds\), got '31d'"):
        load_spec(spec_dict("s.csv", search={"max_time": "31d"}))


@pytest.mark.parametrize(("seed", "problem"), [(-1, "train.seed must be >= 0, got -1"),
                                               (2**32, "train.seed must be < 4294967296, got 4294967296"),
                                               (2**40, "train.seed must be < 4294967296, got 1099511627776")])
def test_the_seed_is_a_32_bit_number(seed, problem):
    assert load_spec(spec_dict("s.csv", train={"seed": 2**32 - 1})).train.seed == 2**32 - 1
    with pytest.raises(SpecError) as caught:
        load_spec(spec_dict("s.csv", train={"seed": seed}))
    assert caught.value.problems == [problem]


@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_numbers_must_be_finite(value):
    with pytest.raises(SpecError) as caught:
        load_spec(spec_dict("s.csv", model={"optimizer": {"learning_rate": value}},
                            preprocessing={"class_weight": {0: value}}))
    assert caught.value.problems == [f"model.optimizer.learning_rate must be a finite number, got {value}",
                                     "preprocessing.class_weight must be 'balanced' or a mapping of whole numbers to "
                                     f"finite numbers, got {{0: {value}}}"]


# --- a loss or head that does not fit a regression target: a cause to fix, not a refusal (issue 24, point 2) ---

_SOFTMAX_ONE = {"layers": [{"type": "lstm", "units": 4}, {"type": "dense", "units": 1, "activation": "softmax"}]}
_THREE_UNITS = {"layers": [{"type": "lstm", "units": 4}, {"type": "dropout", "rate": 0.1}, {"type": "dense", "units": 3}]}
_REGRESSION_MISTAKES = [
    {"loss": "binary_crossentropy"}, {"loss": "hinge"}, {"loss": "BinaryCrossentropy"},
    {"loss": "sparse_categorical_crossentropy"}, _SOFTMAX_ONE, _THREE_UNITS, {"layers": [{"type": "lstm", "units": 4}]},
]


@pytest.mark.parametrize("model", _REGRESSION_MISTAKES)
def test_a_declared_regression_takes_a_loss_or_head_that_does_not_fit_it(model):
    # Once refused ("no training can fix them"); now the diagnosis names them and the search fixes them.
    spec = load_spec(spec_dict("s.csv", data={"task": "regression"}, model=model))
    assert spec.data.task == "regression"
    assert spec.model.loss == model.get("loss", "mse")


@pytest.mark.parametrize(
    ("task", "model"),
    [("binary", {**_SOFTMAX_ONE, "loss": "binary_crossentropy"}),  # a collapse cause the diagnosis finds and the search fixes
     ("multiclass", {**_SOFTMAX_ONE, "loss": "sparse_categorical_crossentropy"}),
     ("binary", {"layers": [{"type": "lstm", "units": 4}, {"type": "dense", "units": 1}], "loss": "hinge"}),
     ("regression", {"layers": [{"type": "lstm", "units": 4}, {"type": "dense", "units": 1, "activation": "sigmoid"}]}),
     ("regression", {"layers": [{"type": "lstm", "units": 4}, {"type": "dense", "units": 1}], "loss": "huber"})],
)
def test_heads_the_diagnosis_explains_are_not_refused(task, model):
    assert load_spec(spec_dict("s.csv", data={"task": task}, model=model)).data.task == task


# --- YAML past its bounds, and a spec path that loops (issue 26, points 1-3) ------------------------


def _refusal(path) -> SpecError:
    with pytest.raises(SpecError) as caught:
        load_spec(path, keras_checks=False)
    assert caught.value.source == str(path)
    return caught.value


def test_a_spec_nested_past_the_depth_limit_is_refused(tmp_path):
    from autofix_lstm.spec._loading import MAX_YAML_DEPTH

    for text in ("data: " + "[" * 2000 + "]" * 2000 + "\n", "data: " + "{a: " * 2000 + "1" + "}" * 2000 + "\n"):
        err = _refusal(write_spec(tmp_path, text))
        assert err.problems == [f"the spec nests deeper than {MAX_YAML_DEPTH} levels (at line 1); a spec needs a few "
                                "levels: flatten the lists and mappings"]


def test_an_alias_bomb_is_refused_before_it_is_built(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]  # nine levels of nine aliases: 9**10 values once expanded
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    err = _refusal(write_spec(tmp_path, "\n".join(lines) + "\n"))
    assert len(err.problems) == 1 and "expands to more than 1,000,000 values once its aliases" in err.problems[0]


def test_aliases_that_nest_past_the_depth_limit_or_contain_themselves_are_refused(tmp_path):
    nest, close = "[" * 20, "]" * 20  # 20 levels each, 60 once the aliases are expanded
    text = f"a: &a {nest}1{close}\nb: &b {nest}*a{close}\nc: {nest}*b{close}\n"
    assert "expands to deeper than 50 levels" in _refusal(write_spec(tmp_path, text)).problems[0]
    text = "data: {path: d.csv, target: y, window: 3}\nmodel: {layers: [{type: lstm, units: 4, x: &a [*a]}]}\n"
    assert "holds an alias inside the very node it refers to (line 2)" in _refusal(write_spec(tmp_path, text)).problems[0]


def test_a_few_aliases_within_the_bounds_still_load(tmp_path):
    text = ("lstm: &lstm {type: lstm, units: 4, return_sequences: true}\nf: &f [x, y]\n"
            "data: {path: d.csv, target: y, window: 5, features: *f}\n"
            "model: {layers: [*lstm, {<<: *lstm, return_sequences: false}, {type: dense, units: 1}]}\n")
    raw = safe_load_unique(text)
    assert raw["data"]["features"] == ["x", "y"] and raw["model"]["layers"][1]["return_sequences"] is False


def test_a_spec_path_that_is_a_symlink_loop_is_refused(tmp_path):
    path = tmp_path / "loop.yaml"
    path.symlink_to(path)
    assert _refusal(path).problems == ["the spec path is a symlink loop (its links lead back to themselves); "
                                       "point it at a YAML file"]


# --- numbers in a layer's arguments (issue 26, point 8) --------------------------------------------


_RATE = "must be a number >= 0 and < 1 (the fraction of inputs dropped), got"


@pytest.mark.parametrize(
    ("layer", "problem"),
    [
        ({"type": "lstm", "units": 4, "dropout": float("nan")}, f"dropout {_RATE} nan"),
        ({"type": "lstm", "units": 4, "recurrent_dropout": float("inf")}, f"recurrent_dropout {_RATE} inf"),
        ({"type": "lstm", "units": 4, "dropout": -1}, f"dropout {_RATE} -1"),
        ({"type": "lstm", "units": 4, "dropout": 1e12}, f"dropout {_RATE} 1000000000000.0"),
        ({"type": "lstm", "units": 4, "dropout": "1e12"}, f"dropout {_RATE} '1e12'"),  # YAML 1.1 reads 1e12 as text
        ({"type": "dropout", "rate": 1}, f"rate {_RATE} 1"),
        ({"type": "bidirectional", "layer": {"type": "gru", "units": 4, "dropout": True}}, f"layer.dropout {_RATE} True"),
        ({"type": "time_distributed", "layer": {"type": "dropout", "rate": -0.5}}, f"layer.rate {_RATE} -0.5"),
        ({"type": "lstm", "units": 4, "kernel_regularizer": {"class_name": "L2", "config": {"l2": float("nan")}}},
         "kernel_regularizer.config.l2 must be a finite number, got nan"),
        ({"type": "lstm", "units": 4, "foo": [1.0, float("-inf")]}, "foo[1] must be a finite number, got -inf"),
    ],
)
def test_layer_arguments_must_be_finite_and_rates_in_zero_to_one(layer, problem):
    layers = [{"type": "lstm", "units": 4, "return_sequences": True}, layer, {"type": "dense", "units": 1}]
    for keras_checks in (False, True):  # refused before TensorFlow loads, and with it
        with pytest.raises(SpecError) as caught:
            load_spec(spec_dict("s.csv", model={"layers": layers}), keras_checks=keras_checks)
        assert caught.value.problems == [f"model.layers[1] {problem}"]


def test_rates_from_zero_up_to_one_are_accepted():
    layers = [{"type": "lstm", "units": 4, "dropout": 0, "recurrent_dropout": 0.99, "return_sequences": True},
              {"type": "dropout", "rate": 0.5}, {"type": "dense", "units": 1}]
    assert load_spec(spec_dict("s.csv", model={"layers": layers})).model.layers[1].kwargs == {"rate": 0.5}


def test_a_path_under_an_unknown_users_home_is_refused_not_a_crash(tmp_path):
    # Found by the fuzz benchmark: Path.expanduser raised RuntimeError (exit 4) for ~nosuchuser.
    with pytest.raises(SpecError, match=r"the spec path '~fuzz_no_such_user/s.yaml' starts with '~fuzz_no_such_user', "
                                        r"but this system has no home folder for that user; write the path out in full"):
        load_spec("~fuzz_no_such_user/s.yaml")
    spec = load_spec(spec_dict("~fuzz_no_such_user/d.csv"), keras_checks=False)
    with pytest.raises(SpecError, match="no home folder for that user"):
        spec.resolve(spec.data.path)


# --- search.seed (issue 27: the spread of a search's result over its own draws) ------------------------


def test_the_search_seed_is_the_oracles_and_absent_from_a_spec_that_does_not_set_it(tmp_path):
    from helpers import make_series_csv, write_spec

    from autofix_lstm.data.dataset import load_dataset
    from autofix_lstm.remedies.strategies import builtin_strategies
    from autofix_lstm.tuning.oracles import make_oracle
    from autofix_lstm.tuning.space import build_space

    make_series_csv(tmp_path, n=120)
    plain = load_spec(write_spec(tmp_path, spec_dict("series.csv")))
    assert plain.search.seed is None and "seed" not in plain.to_dict()["search"]
    seeded = plain.updated({"search.seed": 7})
    assert seeded.search.seed == 7 and seeded.to_dict()["search"]["seed"] == 7 and seeded.train.seed == 0
    assert plain.search_seed == 0 and seeded.search_seed == 7  # what the driver hands the oracle
    assert plain.updated({"train.seed": 3}).search_seed == 3
    with pytest.raises(SpecError):
        load_spec(spec_dict("s.csv", search={"seed": -1}))
    # another oracle seed, other draws
    space = build_space(plain, load_dataset(plain), list(builtin_strategies().values()))

    def first_draws(seed):
        oracle = make_oracle("random", space.hyperparameters, max_trials=5, epochs=1, seeds=[], deadline=None, seed=seed)
        return [oracle.populate_space(str(i))["values"] for i in range(3)]

    assert first_draws(0) == first_draws(0) and first_draws(0) != first_draws(7)
