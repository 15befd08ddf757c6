"""The minimal fix: which of the best trial's changes were needed (delta debugging over its fields)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from helpers import make_series_csv, spec_dict, write_spec

from autofix_lstm.data.dataset import load_dataset
from autofix_lstm.remedies.strategies import builtin_strategies
from autofix_lstm.scoring.metrics import Metrics
from autofix_lstm.scoring.objective import is_fix, score
from autofix_lstm.spec import load_spec
from autofix_lstm.tuning.minimal import TOLERANCE, best_changes, find_minimal_fix, minimal_stage
from autofix_lstm.tuning.records import BASELINE_ID, TrialRecord, TrialStatus
from autofix_lstm.tuning.space import build_space
from autofix_lstm.tuning.trials import train_candidate

# A best trial with two changes that matter (the target scaled, the head made linear) and two that do not.
BEST_VALUES = {
    "preprocessing.target": "standard",
    "activations.head": "task",
    "model.optimizer.clipnorm": 1.0,
    "preprocessing.inputs": "standard",
}


def _setup(tmp_path, epochs: int = 1):
    """The sigmoid-head spec on a target in the hundreds, its windows and its search space."""
    data = make_series_csv(tmp_path, n=260, kind="sine", scale=100.0, offset=500.0, name="hundreds.csv")
    raw = spec_dict(data.name, data={"features": ["x"]},
                    model={"layers": [{"type": "lstm", "units": 8}, {"type": "dense", "units": 1, "activation": "sigmoid"}]},
                    train={"epochs": epochs, "batch_size": 16}, output="runs/minimal")
    spec = load_spec(write_spec(tmp_path, raw))
    dataset = load_dataset(spec)
    return spec, dataset, build_space(spec, dataset, list(builtin_strategies().values()))


def _record(trial_id: str, metrics: Metrics, values: dict, epochs: int = 1) -> TrialRecord:
    return TrialRecord(trial_id=trial_id, status=TrialStatus.COMPLETED, values=values, metrics=metrics,
                       score=score(metrics, 0.1), fix=is_fix(metrics, 0.1), epochs_run=epochs)


def _metrics(r2: float, std_ratio: float = 0.9) -> Metrics:
    return Metrics(task="regression", nan=False, std_ratio=std_ratio, r2=r2, mse=1 - r2, constant_mse=1.0,
                   persistence_mse=None)


def test_the_changes_are_the_best_trials_fields_off_the_specs_own_value_in_words(tmp_path):
    spec, _, space = _setup(tmp_path)
    changes = best_changes(spec, space, _record("t", _metrics(0.9), {**BEST_VALUES, "dropout.rate": 0.0}))
    assert [c.field for c in changes] == ["preprocessing.inputs", "preprocessing.target", "model.optimizer.clipnorm",
                                          "activations.head"]  # dropout 0 is the spec's own: no change
    head = changes[-1]
    assert head.description == "make the head linear"  # the loss (mse) already fits a linear head
    assert head.lines == ["model.layers[1].activation: sigmoid -> linear"]


def test_keeps_what_fixes_drops_the_rest_and_keeps_one_of_two_substitutes(tmp_path):
    spec, _, space = _setup(tmp_path)
    trained = []

    def train(candidate, epochs):
        # A fake training: the head must be linear and the target scaled (or the inputs scaled instead of the
        # target: two substitutes); clipping costs a little, within the tolerance.
        raw = candidate.to_dict()
        linear = raw["model"]["layers"][-1].get("activation") == "linear"
        scaled = raw["preprocessing"]["target"] == "standard" or raw["preprocessing"]["inputs"] == "standard"
        trained.append(candidate)
        r2 = 0.9 - (0.004 if raw["model"]["optimizer"]["clipnorm"] is None else 0.0)
        return _metrics(r2) if linear and scaled else _metrics(0.0, std_ratio=0.01)

    best = _record("best", _metrics(0.9), BEST_VALUES)
    baseline = _record(BASELINE_ID, _metrics(0.0, std_ratio=0.0), {})
    stages = []
    result = find_minimal_fix(spec, space, best, baseline, train=train, epochs=1, stage=stages.append)
    necessary = [c.field for c in result.necessary]
    assert len(stages) == len(trained) and stages[0] == "minimal fix: without 'preprocessing.inputs' (1 of 4)"
    assert "activations.head" in necessary and "model.optimizer.clipnorm" not in necessary
    # one of the two substitutes stays: removing both would break the fix
    assert len({"preprocessing.target", "preprocessing.inputs"} & set(necessary)) == 1
    assert result.fixed and result.objective <= best.score * (1 + TOLERANCE)
    head = next(c for c in result.changes if c.field == "activations.head")
    assert head.fix_without is False and head.objective_without > 2  # collapsed without it
    # one ablation per change; then, of the 3 removable ones, the first removal is the ablation already
    # trained and the other two are new combinations
    assert len(trained) == result.trainings == 4 + 2
    assert result.verdict().startswith("The fix: ")
    verdict = result.verdict()
    assert "; the other 2 changes did not matter. Without 'make the head linear" in verdict
    # why each kept change is kept: the head un-fixes when left out; the kept substitute only together
    assert " it is no fix. " in verdict and verdict.endswith("alone could go, but not together with a change "
                                                             "left out: it stands in for it.")
    effects, ablation = result.necessary_effects(), result.ablation()
    assert [c.field for c in effects] == necessary
    assert effects[0].objective_with == best.score
    assert ablation.changes_full == 4 and ablation.changes_minimal == 2
    assert set(effects[0].to_dict()) == {"change", "field", "from", "to", "description", "objective_with",
                                         "objective_without", "fix_without"}


def test_a_subset_a_trial_already_trained_is_read_from_its_record_not_trained_again(tmp_path):
    spec, _, space = _setup(tmp_path)
    trained = []

    def train(candidate, epochs):
        raw = candidate.to_dict()
        trained.append(raw)
        linear = raw["model"]["layers"][-1].get("activation") == "linear"
        return _metrics(0.9) if linear and raw["preprocessing"]["target"] == "standard" else _metrics(0.0, 0.01)

    def searched(trial_id, values, metrics, status=TrialStatus.COMPLETED, epochs=1, **extra):
        candidate = space.spec_for(spec, space.encode(values))
        return TrialRecord(trial_id=trial_id, status=status, values=space.decode(space.encode(values)),
                           metrics=metrics, score=score(metrics, 0.1), fix=is_fix(metrics, 0.1), epochs_run=epochs,
                           spec=candidate.to_dict(), **extra)

    best = searched("best", BEST_VALUES, _metrics(0.9))
    baseline = _record(BASELINE_ID, _metrics(0.0, std_ratio=0.0), {})
    without_clip = {**BEST_VALUES, "model.optimizer.clipnorm": space.own["model.optimizer.clipnorm"]}
    without_head = {k: v for k, v in BEST_VALUES.items() if k != "activations.head"}
    records = [
        searched("3", without_clip, _metrics(0.9)),  # a refinement put clipping back to the spec's own
        searched("4", without_head, _metrics(0.0, 0.01), status=TrialStatus.PRUNED, epochs=0),  # pruned the same way
        searched("5", without_head, _metrics(0.8), rerun_of="4"),  # a re-run in full: not how the ablation trains
        searched("6", {**BEST_VALUES, "dropout.rate": 0.5}, _metrics(0.7)),  # another field moved: not a subset
        searched("7", {k: v for k, v in BEST_VALUES.items() if k != "preprocessing.inputs"}, _metrics(0.9), epochs=2),
    ]
    result = find_minimal_fix(spec, space, best, baseline, train=train, epochs=1, records=records)
    assert result.reused == 2 and result.ablation().reused_trials == 2
    retrained = {frozenset(c.field for c in result.changes if _kept(raw, c)) for raw in trained}
    assert frozenset(f for f in BEST_VALUES if f != "model.optimizer.clipnorm") not in retrained
    assert frozenset(f for f in BEST_VALUES if f != "activations.head") not in retrained
    # trial 7 trained 2 epochs where the ablation trains 1: its subset was trained again
    assert frozenset(f for f in BEST_VALUES if f != "preprocessing.inputs") in retrained
    head = next(c for c in result.changes if c.field == "activations.head")
    assert head.fix_without is False  # read from the pruned trial 4, not from its full re-run 5
    # the same answer as without the records, with fewer trainings
    alone = find_minimal_fix(spec, space, best, baseline, train=train, epochs=1)
    assert [c.field for c in alone.necessary] == [c.field for c in result.necessary]
    assert result.trainings == alone.trainings - 2


def _kept(raw: dict, change) -> bool:
    """Whether a trained spec dict holds ``change`` (the fields ``BEST_VALUES`` changes)."""
    if change.field == "activations.head":
        return raw["model"]["layers"][-1].get("activation") == "linear"
    if change.field == "model.optimizer.clipnorm":
        return raw["model"]["optimizer"]["clipnorm"] is not None
    section, key = change.field.split(".")
    return raw[section][key] == change.new


def test_max_time_keeps_the_untested_changes_and_says_so(tmp_path):
    spec, _, space = _setup(tmp_path)
    best = _record("best", _metrics(0.9), BEST_VALUES)
    baseline = _record(BASELINE_ID, _metrics(0.0, std_ratio=0.0), {})
    result = find_minimal_fix(spec, space, best, baseline, train=lambda c, e: _metrics(0.9), epochs=1,
                              deadline=time.time() - 1)
    assert not result.complete and result.trainings == 0
    assert len(result.necessary) == 4 and "max_time reached" in result.verdict()


def test_the_stage_writes_minimal_spec_or_removes_a_stale_one(tmp_path):
    spec, _, space = _setup(tmp_path)
    best = _record("best", _metrics(0.9), BEST_VALUES)
    baseline = _record(BASELINE_ID, _metrics(0.0, std_ratio=0.0), {})
    # Any one change fixes: removals go in field order until only the last one (the head) is left, since
    # the empty set is the spec as written (the baseline, no fix).
    fake = lambda candidate, epochs: _metrics(0.9)  # noqa: E731
    result = minimal_stage(spec, space, baseline, [best], tmp_path, enabled=True, train=fake)
    path = tmp_path / "minimal_spec.yaml"
    assert result.ran and path.is_file() and [c.field for c in result.necessary] == ["activations.head"]
    minimal = load_spec(path)
    assert minimal.model.layers[-1].kwargs["activation"] == "linear" and minimal.preprocessing.target == "none"
    off = minimal_stage(spec, space, baseline, [best], tmp_path, enabled=False, train=fake)
    assert not off.ran and not path.exists() and off.necessary_effects() is None


@pytest.mark.slow
def test_a_sigmoid_head_on_a_target_in_the_hundreds_keeps_its_cause_and_drops_the_incidental(tmp_path):
    # 6 trainings of a tiny LSTM, 2 epochs each: the best trial, the spec as written, one ablation per change
    spec, dataset, space = _setup(tmp_path, epochs=2)

    def train(candidate, epochs):
        return train_candidate(spec, candidate, dataset, epochs=epochs)[0].metrics

    full = space.spec_for(spec, space.encode(BEST_VALUES))
    best = _record("best", train(full, 2), BEST_VALUES, epochs=2)
    baseline = _record(BASELINE_ID, train(spec, 2), {}, epochs=2)
    assert best.fix and not baseline.fix
    result = find_minimal_fix(spec, space, best, baseline, train=train, epochs=2)
    by_field = {c.field: c for c in result.changes}
    assert by_field["activations.head"].necessary and by_field["preprocessing.target"].necessary
    assert not by_field["model.optimizer.clipnorm"].necessary
    # without the scaled target the sigmoid head pins at 1 (collapsed); without the linear head it saturates on
    # the scaled target's upper half: a fix, but far from the best
    assert not by_field["preprocessing.target"].fix_without and by_field["preprocessing.target"].objective_without > 2
    assert by_field["activations.head"].objective_without > best.score * (1 + TOLERANCE)
    assert result.fixed and result.objective <= best.score * (1 + TOLERANCE)
    assert np.isfinite(result.seconds) and result.trainings == len(result.changes)


def test_the_verdict_says_why_each_kept_change_is_kept():
    from autofix_lstm.tuning.minimal import Change, MinimalFix

    def change(name, fix_without, objective_without, necessary=True):
        return Change(name, None, None, [f"{name}: x"], name.replace("_", " "), objective_without=objective_without,
                      fix_without=fix_without, necessary=necessary)

    both = MinimalFix(ran=True, best_objective=0.2, changes=[
        change("scale_the_target", False, 1.4), change("raise_the_learning_rate", True, 0.26),
        change("clip", True, 0.201, necessary=False)])
    assert both.verdict() == (
        "The fix: scale the target and raise the learning rate; the other change did not matter. "
        "Without 'scale the target' it is no fix. Kept for quality, the objective more than 10% worse without "
        "each: 'raise the learning rate' (30% worse without it).")
    each = MinimalFix(ran=True, best_objective=0.2, changes=[change("a", False, 1.0), change("b", False, 1.2)])
    assert each.verdict() == "The fix: a and b. Without any one of them it is no fix."
    two_of_three = MinimalFix(ran=True, best_objective=0.2, changes=[
        change("a", False, 1.0), change("b", False, 1.2), change("c", True, 0.3)])
    assert two_of_three.verdict() == ("The fix: a, b and c. Without any one of 'a' and 'b' it is no fix. Kept for "
                                      "quality, the objective more than 10% worse without each: 'c' (50% worse "
                                      "without it).")
    one = MinimalFix(ran=True, best_objective=0.2, changes=[change("a", False, 1.0)])
    assert one.verdict() == "The fix: a."
