"""A user's strategy file is refused, naming the file and the key, when it cannot be read or offers nothing to try."""

from __future__ import annotations

import pytest

from autofix_lstm.errors import SpecError
from autofix_lstm.remedies.strategies import resolve_strategies


def _refused(tmp_path, content: str | bytes) -> list[str]:
    path = tmp_path / "mine.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(SpecError) as caught:
        resolve_strategies(["mine.yaml"], tmp_path)
    assert all(str(path) in problem for problem in caught.value.problems), caught.value.problems
    return caught.value.problems


def test_a_strategy_file_that_is_not_utf8_is_refused_like_the_spec(tmp_path):
    (problem,) = _refused(tmp_path, b"name: mine\nfields:\n  dropout.rate: {values: [0.1]}\n\xff\xfe\x81\n")
    assert problem.startswith(f"search.strategies names 'mine.yaml', but the strategy file {tmp_path / 'mine.yaml'} "
                              "cannot be read: 'utf-8' codec can't decode byte 0xff")
    assert problem.endswith("; save it as UTF-8 text")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "is empty; it needs at least 'name' and 'fields' (the fields it changes)"),
        ("name: mine\nfields: {}\n", ": fields must name at least one field to change, got {}; known fields are ["),
        ("name: mine\nfields:\n  dropout.rate: {values: []}\n",
         ": fields.dropout.rate values must list at least one candidate, got []; add the values to try, or remove "
         "the field"),
    ],
)
def test_a_strategy_file_with_nothing_to_try_is_refused_naming_the_key(tmp_path, text, problem):
    (line,) = _refused(tmp_path, text)
    assert problem in line


def test_a_strategy_file_with_fields_and_values_loads(tmp_path):
    (tmp_path / "mine.yaml").write_text("name: mine\nfields:\n  dropout.rate: {values: [0.0, 0.1]}\n")
    (strategy,) = resolve_strategies(["mine.yaml"], tmp_path)
    assert strategy.fields["dropout.rate"].values == [0.0, 0.1]


def test_all_combines_with_your_own_file_and_a_file_named_like_a_builtin_replaces_it(tmp_path):
    # Issue 25 (4): [all, mine.yaml] was refused as "unknown strategy 'all'".
    from autofix_lstm.remedies.strategies import builtin_strategies

    (tmp_path / "mine.yaml").write_text("name: mine\nfields:\n  dropout.rate: {values: [0.0, 0.1]}\n")
    (tmp_path / "dropout.yaml").write_text("name: dropout\nfields:\n  dropout.rate: {values: [0.05]}\n")
    builtins = list(builtin_strategies())
    names = [s.name for s in resolve_strategies(["all", "mine.yaml"], tmp_path)]
    assert names == [*builtins, "mine"]
    mixed = resolve_strategies(["all", "dropout.yaml"], tmp_path)
    assert [s.name for s in mixed] == builtins
    assert next(s for s in mixed if s.name == "dropout").fields["dropout.rate"].values == [0.05]
    assert [s.name for s in resolve_strategies(["scaling", "all"], tmp_path)] == ["scaling"] + [
        name for name in builtins if name != "scaling"]


@pytest.mark.parametrize(
    ("values", "lines", "why"),
    [
        ("[lol]", 1, "cannot be applied (ValueError"),
        ("[[a, b], {k: 1}]", 2, "cannot be applied (TypeError"),
        ("[1000000000]", 1, "makes no valid spec: model.layers[0] units must be <= 8192, got 1000000000"),
    ],
)
def test_a_strategy_value_that_makes_no_valid_spec_is_refused_before_anything_trains(tmp_path, values, lines, why):
    # Found by the fuzz benchmark: `architecture.units: {values: [lol]}` passed check (each trial would fail).
    from helpers import make_series_csv, spec_dict, write_spec
    from typer.testing import CliRunner

    from autofix_lstm.cli import app

    make_series_csv(tmp_path, n=100)
    (tmp_path / "mine.yaml").write_text(f"name: mine\nfields:\n  architecture.units: {{values: {values}}}\n")
    spec = write_spec(tmp_path, spec_dict("series.csv", search={"strategies": ["all", "mine.yaml"]}))
    result = CliRunner().invoke(app, ["check", str(spec)])
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == lines  # a line per bad value
    assert f"strategy file {tmp_path / 'mine.yaml'}: fields.architecture.units value" in result.stderr and why in result.stderr


def test_a_strategy_written_inline_is_checked_as_a_file_is_and_can_search_batch_size_and_epochs(tmp_path):
    # Issue 25 (10): strategies as Python dicts as well as files; train.batch_size and train.epochs
    # were refused in a strategy file.
    from helpers import make_series_csv, series_frame, spec_dict

    from autofix_lstm.data.dataset import load_dataset
    from autofix_lstm.inputs import resolve_inputs
    from autofix_lstm.remedies.strategies import check_candidates
    from autofix_lstm.tuning.space import build_space

    mine = {"name": "steps", "fields": {"train.batch_size": {"values": [1, 8, 64]}, "train.epochs": {"values": [1, 5]}}}
    make_series_csv(tmp_path, n=100)
    spec, dataset, _ = resolve_inputs(spec_dict(None, data={"path": None, "window": 4}), data=series_frame(100),
                                      strategies=["all", mine], save=False)
    assert spec.search.strategies[1] == mine
    strategies = resolve_strategies(spec.search.strategies, tmp_path)
    assert strategies[-1].name == "steps" and strategies[-1]._file == "search.strategies[1]"
    check_candidates(strategies, spec, dataset)  # every value makes a valid spec: nothing raised
    space = build_space(spec, load_dataset(spec, frame=series_frame(100)), strategies)
    # the spec's own 32 too; 76 windows in batches of 32 for one epoch are few steps, so the built-in training
    # strategy's 16 is there as well: a field two strategies name joins their values
    assert set(space.choices["train.batch_size"].values()) == {1, 8, 16, 32, 64}
    assert space.spec_for(spec, space.encode({"train.batch_size": 8, "train.epochs": 5})).train.batch_size == 8
    bad = {"name": "bad", "fields": {"train.epochs": {"values": [0]}}}
    with pytest.raises(SpecError, match=r"search.strategies\[1\]: fields.train.epochs value 0 makes no valid spec"):
        check_candidates(resolve_strategies(["all", bad], tmp_path), spec, dataset)
    with pytest.raises(SpecError, match=r"search.strategies\[0\]: fields must name at least one field"):
        resolve_strategies([{"name": "empty", "fields": {}}], tmp_path)


def test_a_trial_trains_for_its_candidates_epochs_not_the_users(tmp_path):
    # A strategy value for train.epochs was written into the candidate but every trial trained for the
    # user's epochs (the runner passed spec.train.epochs); now the candidate's own count is used.
    from helpers import series_frame, spec_dict

    from autofix_lstm.data.dataset import load_dataset
    from autofix_lstm.spec import load_spec
    from autofix_lstm.tuning.trials import train_candidate

    spec = load_spec(spec_dict(None, data={"path": None, "window": 4}, train={"epochs": 1, "batch_size": 32}))
    dataset = load_dataset(spec, frame=series_frame(80))
    outcome, _, _ = train_candidate(spec, spec.updated({"train.epochs": 3}), dataset, prune=False)
    assert outcome.epochs_run == 3 and len(outcome.history["loss"]) == 3


@pytest.mark.parametrize(
    ("values", "why"),
    [
        ([0], "fields.data.window value 0 makes no valid spec: data.window must be >= 1, got 0"),
        (["four"], "fields.data.window value 'four' makes no valid spec: data.window must be a whole number, got 'four'"),
    ],
)
def test_a_strategy_naming_data_window_is_checked_and_a_bad_window_says_what_a_window_must_be(tmp_path, values, why):
    # Issue 25 (10): data.window in a strategy written inline, as a dict; a bad value is refused before anything trains.
    from helpers import series_frame, spec_dict

    from autofix_lstm.inputs import resolve_inputs
    from autofix_lstm.remedies.strategies import check_candidates

    mine = {"name": "windows", "fields": {"data.window": {"values": [2, 16]}}}
    spec, dataset, _ = resolve_inputs(spec_dict(None, data={"path": None, "window": 4}), data=series_frame(100),
                                      strategies=[mine], save=False)
    strategies = resolve_strategies(spec.search.strategies, tmp_path)
    check_candidates(strategies, spec, dataset)  # both windows make a valid spec the data can take: nothing raised
    bad = {"name": "windows", "fields": {"data.window": {"values": values}}}
    with pytest.raises(SpecError) as refused:
        check_candidates(resolve_strategies([bad], tmp_path), spec, dataset)
    assert refused.value.problems == [f"search.strategies[0]: {why}"]


def test_a_strategy_searching_the_window_of_windowed_arrays_is_refused_saying_why(tmp_path):
    from helpers import make_windows_npz, spec_dict

    from autofix_lstm.inputs import resolve_inputs
    from autofix_lstm.remedies.strategies import check_candidates

    path = make_windows_npz(tmp_path, n=80)
    mine = {"name": "windows", "fields": {"data.window": {"values": [4]}}}
    spec, dataset, _ = resolve_inputs(spec_dict(path), strategies=[mine], save=False)
    with pytest.raises(SpecError, match=r"search.strategies\[0\]: fields.data.window value 4 makes no valid spec: "
                                        r"data.window cannot be searched: the data are already windowed arrays"):
        check_candidates(resolve_strategies(spec.search.strategies, tmp_path), spec, dataset)
