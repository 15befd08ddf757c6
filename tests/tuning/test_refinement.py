"""Refinement (issue 27, points 2, 4 and 5): capacity reductions first on little data, the spec's own
neighbourhood first when it already works, and narrower learning-rate steps once x3 and /3 bring nothing."""

from __future__ import annotations

import pytest
from helpers import make_series_csv, spec_dict, write_spec

from autofix_lstm.data.dataset import load_dataset
from autofix_lstm.remedies.strategies import builtin_strategies
from autofix_lstm.scoring.metrics import Metrics
from autofix_lstm.scoring.signal import SignalProbe
from autofix_lstm.spec import load_spec
from autofix_lstm.tuning.oracles import AutofixTuner, make_oracle
from autofix_lstm.tuning.records import TrialRecord
from autofix_lstm.tuning.refinement import (
    CAPACITY_FIELDS,
    NEAR_WORKING_FIELDS,
    Refinement,
    neighbours,
    refinement_for,
)
from autofix_lstm.tuning.space import build_space, capacity_units, seed_values
from autofix_lstm.tuning.trials import TrialRunner

RATE = "model.optimizer.learning_rate"


class _Finding:
    def __init__(self, id, severity="warning"):
        self.id, self.severity = id, severity


def _stack_spec(tmp_path, n=200):
    """Three stacked 64-unit LSTMs on about 150 windows: far more weights than windows."""
    make_series_csv(tmp_path, n=n, kind="sine", scale=100.0)
    layers = [{"type": "lstm", "units": 64, "return_sequences": True}, {"type": "lstm", "units": 64,
              "return_sequences": True}, {"type": "lstm", "units": 64}, {"type": "dense", "units": 1}]
    return load_spec(write_spec(tmp_path, spec_dict("series.csv", model={"layers": layers})))


@pytest.fixture
def stack(tmp_path):
    spec = _stack_spec(tmp_path)
    strategies = list(builtin_strategies().values())
    return spec, build_space(spec, load_dataset(spec), strategies), strategies


def test_on_little_data_depth_and_width_come_right_after_the_learning_rate_smaller_first(stack):
    _, space, _ = stack
    assert space.own["architecture.depth"] == 3 and space.own["architecture.units"] == 64
    plain = [space.decode(v) for v in neighbours(space, {})]
    focused = [space.decode(v) for v in refinement_for([_Finding("too_little_data")], False).around(space, {})]
    changed = [next(k for k in v if v[k] != space.own[k]) for v in focused]
    assert changed[:2] == [RATE, RATE]
    assert set(changed[2:4]) == set(CAPACITY_FIELDS)  # next: one step down in depth and in width
    assert {v["architecture.depth"] for v in focused[2:4]} == {3, 2} and {v["architecture.units"] for v in focused[2:4]} == {64, 32}
    assert set(changed[4:6]) == set(CAPACITY_FIELDS)  # then the second step down: one layer, 16 units
    assert {v["architecture.depth"] for v in focused[4:6]} == {3, 1} and {v["architecture.units"] for v in focused[4:6]} == {64, 16}
    # Without the finding, width goes up before it goes down, and the second depth step waits behind
    # every other field's nearest alternative.
    plain_changed = [next(k for k in v if v[k] != space.own[k]) for v in plain]
    assert plain[plain_changed.index("architecture.units")]["architecture.units"] == 128
    assert [v["architecture.depth"] for v in plain].index(1) > 6


def test_the_capacity_seed_is_one_layer_as_wide_as_the_windows_carry(stack):
    _, space, strategies = stack
    n_train = space.context["n_train"]
    width = capacity_units(space)
    # 4u(u + f + 1) + (u + 1) weights, at most 20 a window: 16 units fit ~150 windows of 2 features, 32 do not
    assert width == 16 and 4 * 32 * (32 + 2 + 1) + 33 > 20 * n_train >= 4 * 16 * (16 + 2 + 1) + 17
    seeds = [space.decode(v) for v in seed_values(space, strategies, [_Finding("too_little_data")], limit=4)]
    assert seeds[0]["architecture.depth"] == 1 and seeds[0]["architecture.units"] == 32  # the strategy's default
    assert seeds[1]["architecture.depth"] == 1 and seeds[1]["architecture.units"] == 16  # scaled to the data
    others = [space.decode(v) for v in seed_values(space, strategies, [_Finding("learning_rate_too_high")], limit=4)]
    assert all(s.get("architecture.units", 64) == 64 for s in others)  # no capacity seed without the finding


def test_a_working_spec_refines_its_rate_width_and_regularisation_first(tmp_path):
    make_series_csv(tmp_path, n=200, kind="sine", scale=100.0)
    layers = [{"type": "lstm", "units": 8, "dropout": 0.2}, {"type": "dense", "units": 1}]
    spec = load_spec(write_spec(tmp_path, spec_dict("series.csv", model={"layers": layers})))
    space = build_space(spec, load_dataset(spec), list(builtin_strategies().values()))
    refinement = refinement_for([], baseline_works=True)
    assert refinement.first == NEAR_WORKING_FIELDS
    changed = [next(k for k in v if v[k] != space.own[k]) for v in map(space.decode, refinement.around(space, {}))]
    near = [name for name in NEAR_WORKING_FIELDS if name in space.fields]
    assert len(near) >= 3
    assert set(changed[:len(changed)]) >= set(near)
    first_other = min(i for i, name in enumerate(changed) if name not in near)
    assert all(name in near for name in changed[:first_other]) and first_other >= len(near)
    assert refinement_for([_Finding("too_little_data")], True).first == CAPACITY_FIELDS  # little data decides


def test_a_step_that_gained_nothing_both_ways_is_narrowed_once(stack):
    _, space, _ = stack
    centre = {RATE: 0.01}
    refinement = Refinement()
    wide = refinement.around(space, centre)[:2]
    assert sorted(space.decode(v)[RATE] for v in wide) == pytest.approx([0.01 / 3, 0.03])
    assert refinement.narrow(space, centre, finished=wide[:1], tried=wide) == []  # one way only: not yet
    narrower = refinement.narrow(space, centre, finished=wide, tried=wide)
    rates = sorted(space.decode(v)[RATE] for v in narrower)
    assert rates == pytest.approx([0.01 / 3 ** 0.5, 0.01 * 3 ** 0.5])
    assert refinement.narrow(space, centre, finished=wide + narrower, tried=wide + narrower) == []  # once
    # from the narrower step (1.73) the next would be 1.32, below NARROWEST_STEP: never offered
    assert Refinement(step=3 ** 0.5).narrow(space, centre, finished=wide, tried=wide) == []


class _WorkingSpecRunner:
    """Scores a trial by how far its learning rate is from 0.004: every trial works, the spec (0.01) too."""

    def __init__(self, space):
        self.space, self.ran = space, []

    def run(self, trial):
        values = dict(trial.hyperparameters.values)
        self.ran.append(values)
        return {"score": abs(self.space.decode(values)[RATE] - 0.004)}

    def trial_ended(self, trial):
        pass


def test_the_oracle_hands_out_the_first_seed_then_the_working_specs_neighbourhood(stack, tmp_path):
    _, space, _ = stack
    seeds = [space.encode({"preprocessing.inputs": "robust"}), space.encode({"preprocessing.target": "minmax"})]
    oracle = make_oracle("random", space.hyperparameters, max_trials=7, epochs=2, seeds=seeds, deadline=None, seed=0)
    oracle.seeds_first = 1
    oracle.queue_refinements(Refinement(first=NEAR_WORKING_FIELDS).around(space, {}), budget=3)
    runner = _WorkingSpecRunner(space)
    AutofixTuner(oracle, runner, directory=str(tmp_path / "t"), project_name="p").search(verbose=0)
    sources = [oracle.sources[t] for t in oracle.start_order]
    assert sources[:5] == ["seed", "refine", "refine", "refine", "seed"]
    assert runner.ran[0] == seeds[0] and runner.ran[4] == seeds[1]
    assert sorted(space.decode(v)[RATE] for v in runner.ran[1:3]) == pytest.approx([0.01 / 3, 0.03])


class _LineSearchRunner:
    """The search's own narrowing (``TrialRunner._narrow_refinement``) after each trial, around a fix at
    learning rate 0.01 whose x3 and /3 neighbours are both worse."""

    _narrow_refinement = TrialRunner._narrow_refinement
    _refines = TrialRunner._refines

    def __init__(self, spec, space):
        self.spec, self.space, self.ran = spec, space, []
        self.refinement = Refinement()
        self.best = self.refine_centre = TrialRecord("0", "completed", values={RATE: 0.01}, score=0.0)

    def run(self, trial):
        values = dict(trial.hyperparameters.values)
        self.ran.append(self.space.decode(values)[RATE])
        return {"score": 1.0}

    def trial_ended(self, trial):
        self._narrow_refinement()


def test_the_narrower_steps_wait_until_every_other_field_had_its_nearest_neighbour(stack, tmp_path):
    spec, space, _ = stack
    queued = Refinement().around(space, {RATE: 0.01})
    others = len(space.fields) - 1  # each other field's nearest neighbour (every field here has one)
    budget = 2 + others + 2
    oracle = make_oracle("random", space.hyperparameters, max_trials=budget + 1, epochs=2, seeds=[], deadline=None,
                         seed=0)
    runner = _LineSearchRunner(spec, space)
    runner.oracle = oracle
    oracle.queue_refinements(runner.refinement.around(space, {RATE: 0.01}), budget=budget)
    AutofixTuner(oracle, runner, directory=str(tmp_path / "t"), project_name="p").search(verbose=0)
    assert [oracle.sources[t] for t in oracle.start_order][:budget] == ["refine"] * budget
    assert sorted(runner.ran[:2]) == pytest.approx([0.01 / 3, 0.03])
    assert runner.ran[2:2 + others] == pytest.approx([0.01] * others)  # the other fields' first tries, at the fix's rate
    changed = {next(k for k, v in space.decode(c).items() if v != space.decode(space.encode({RATE: 0.01}))[k])
               for c in queued[2:2 + others]}
    assert len(changed) == others  # one per field
    rates = sorted(runner.ran[2 + others:budget])
    assert rates == pytest.approx([0.01 / 3 ** 0.5, 0.01 * 3 ** 0.5])  # then the narrower steps, before second tries


class _QueueingOracle:
    def __init__(self):
        self.queued = None

    def queue_refinements(self, candidates, budget):
        self.queued = candidates


def test_a_fix_far_below_the_signal_probe_refines_its_capacity_first_larger_first(stack):
    spec, space, _ = stack
    probe = SignalProbe(model="ridge", metric="r2", value=0.9, constant=0.0, beats_constant=True)

    class _Runner:
        _refine_around, _refines, started_count = (TrialRunner._refine_around, TrialRunner._refines,
                                                   TrialRunner.started_count)

        def __init__(self):
            self.spec, self.space, self.oracle, self.probe = spec, space, _QueueingOracle(), probe
            self.refinement = Refinement()

    def first_changes(quality):
        runner = _Runner()
        metrics = Metrics(task="regression", std_ratio=0.8, distinct_predictions=50, nan=False, collapsed=False,
                          r2=quality)
        runner._refine_around(TrialRecord("3", "completed", values={}, score=0.1, fix=True, metrics=metrics))
        return [{k: v for k, v in space.decode(c).items() if v != space.own[k]} for c in runner.oracle.queued[:7]]

    far = first_changes(0.5)  # 0.4 below the probe: widen
    assert [list(c) for c in far[:2]] == [[RATE], [RATE]]
    assert {"architecture.units": 128} in far[2:4]  # wider before narrower
    assert all(set(c) <= set(CAPACITY_FIELDS) for c in far[2:7])  # every capacity step before any other field
    near = first_changes(0.85)  # within the margin: the usual neighbourhood, other fields after the first step
    assert not all(set(c) <= set(CAPACITY_FIELDS) for c in near[2:7])


@pytest.mark.slow
def test_the_oversized_stack_case_is_seeded_with_one_layer_as_wide_as_its_windows_carry():
    """benchmarks/cases/oversized_stack_sunspots (three LSTMs of 256 on 137 windows, Adam at 0.1): the
    diagnosis says too_little_data, so the seeds include one layer of 16 units (not only the strategy's 32),
    and around a one-layer fix the narrower width comes right after the learning rate (3d45677 had neither)."""
    from autofix_lstm.diagnosis import diagnose
    from benchmarks.cases import get_case

    spec = load_spec(get_case("oversized_stack_sunspots").spec)
    dataset = load_dataset(spec)
    findings = diagnose(spec, dataset, save=False).findings
    assert "too_little_data" in {f.id for f in findings}
    strategies = list(builtin_strategies().values())
    space = build_space(spec, dataset, strategies)
    assert space.own["architecture.depth"] == 3 and space.own["architecture.units"] == 256
    seeds = [space.decode(v) for v in seed_values(space, strategies, findings, limit=6)]
    shapes = [(s["architecture.depth"], s["architecture.units"]) for s in seeds]
    assert shapes[:2] == [(1, 32), (1, 16)]
    around = [space.decode(v) for v in refinement_for(findings, False).around(space, seeds[0])]
    changed = [next(k for k in v if v[k] != seeds[0][k]) for v in around]
    assert changed[:2] == [RATE, RATE] and around[2]["architecture.units"] == 16
