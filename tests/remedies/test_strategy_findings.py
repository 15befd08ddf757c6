"""The strategy files' ``findings:`` key decides which strategies a finding makes a priority, for
the built-in files and a user's own alike (it used to be parsed and never read)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from helpers import make_series_csv, spec_dict, write_spec

from autofix_lstm.data.dataset import load_dataset
from autofix_lstm.errors import SpecError
from autofix_lstm.remedies.strategies import builtin_strategies, resolve_strategies, strategies_for
from autofix_lstm.spec import load_spec
from autofix_lstm.tuning.space import build_space, seed_values


@dataclass
class _Finding:
    id: str
    severity: str
    strategies: list = field(default_factory=list)  # what a detector once declared: no longer read


USER_STRATEGY = """
name: wide_and_slow
description: a user's own remedy for an unscaled target
findings: [unscaled_target]
fields:
  architecture.units: {values: [64]}
  model.optimizer.learning_rate: {values: [0.0005]}
seed:
  default: {architecture.units: 64, model.optimizer.learning_rate: 0.0005}
"""


@pytest.fixture
def spec_with_user_strategy(tmp_path):
    make_series_csv(tmp_path, n=200, kind="sine", scale=100.0)
    (tmp_path / "mine.yaml").write_text(USER_STRATEGY)
    raw = spec_dict("series.csv", model={"layers": [{"type": "lstm", "units": 8}, {"type": "dense", "units": 1}]},
                    search={"strategies": ["mine.yaml", "gradient_clipping"]})
    return load_spec(write_spec(tmp_path, raw))


def test_a_users_strategy_file_is_seeded_first_by_the_finding_it_names(spec_with_user_strategy):
    spec = spec_with_user_strategy
    strategies = resolve_strategies(spec.search.strategies, spec.base_dir)
    space = build_space(spec, load_dataset(spec), strategies)
    # The finding carries no strategy names at all: the files alone link it to its remedies.
    seeds = seed_values(space, strategies, [_Finding("unscaled_target", "error")], limit=3)
    assert [space.decode(s)["architecture.units"] for s in seeds] == [64]
    assert space.decode(seeds[0])["model.optimizer.learning_rate"] == pytest.approx(0.0005)
    assert seed_values(space, strategies, [_Finding("short_window", "error")], limit=3) == []


def test_a_findings_strategies_are_derived_from_the_files():
    builtin = list(builtin_strategies().values())
    assert strategies_for("unscaled_target", builtin) == ["scaling"]
    assert set(strategies_for("exploding_gradients", builtin)) == {"gradient_clipping", "learning_rate", "scaling"}
    assert strategies_for("target_leakage", builtin) == []  # a data problem: nothing the search changes fixes it


def test_a_strategy_file_naming_an_unknown_finding_is_refused(tmp_path):
    (tmp_path / "typo.yaml").write_text(USER_STRATEGY.replace("[unscaled_target]", "[unscaled_targets]"))
    with pytest.raises(SpecError, match="unscaled_targets.*not finding ids"):
        resolve_strategies(["typo.yaml"], tmp_path)


def test_the_diagnosis_names_the_users_strategy_for_its_finding(spec_with_user_strategy):
    from autofix_lstm.diagnosis import diagnose
    from autofix_lstm.inputs import resolve_inputs

    spec, dataset, _ = resolve_inputs(spec_with_user_strategy, save=False)
    result = diagnose(spec, dataset, save=False)
    finding = result.finding("unscaled_target")
    assert finding is not None and finding.strategies == ["wide_and_slow"]
