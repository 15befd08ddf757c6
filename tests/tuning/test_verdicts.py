"""Verdicts that say what happened, without training: the spec's own state, persistence, seeds.

Records are built by hand (as Keras Tuner's tests replay fixed histories), so every sentence and
summary.json field is checked against known numbers.
"""

from __future__ import annotations

import time

import pytest

from autofix_lstm.scoring.metrics import Metrics
from autofix_lstm.scoring.objective import ModelState, model_state, score, tier
from autofix_lstm.tuning.confirmation import NO_FIX, NO_TIME, TURNED_OFF, Confirmation, SeedRun, confirm_fixes
from autofix_lstm.tuning.records import BASELINE_ID, TrialRecord, TrialStatus, best_record
from autofix_lstm.tuning.search_summary import build_summary
from autofix_lstm.tuning.summary import state_line, verdict_text

FLOOR = 0.1


def _reg(std_ratio=0.9, r2=0.8, mse=0.2, persistence_mse=None, **extra):
    variance = mse / (1 - r2) if r2 is not None and r2 < 1 else 1.0
    return Metrics.from_dict({
        "task": "regression", "nan": False, "std_ratio": std_ratio, "r2": r2, "mse": mse,
        "constant_mse": variance * 1.02, "persistence_mse": persistence_mse, "collapsed": std_ratio < FLOOR,
        "loss_diverged": False, **extra})


def _binary(balanced, std_ratio=0.8, distinct=2):
    return Metrics(task="binary", nan=False, std_ratio=std_ratio, balanced_accuracy=balanced,
                   majority_balanced_accuracy=0.5, log_loss=0.4, prior_log_loss=0.69,
                   distinct_predictions=distinct, collapsed=distinct < 2, loss_diverged=False)


def _record(trial_id, metrics, seconds=1.0):
    return TrialRecord(trial_id=trial_id, status=TrialStatus.COMPLETED, metrics=metrics,
                       score=score(metrics, FLOOR), fix=tier(metrics, FLOOR) == 0, seconds=seconds, epochs_run=2)


def _summary(best, baseline, confirmation=None, fixed=None):
    fixed = fixed if fixed is not None else False
    verdict = verdict_text(fixed, best, baseline, [], None, False, None, min_std_ratio=FLOOR,
                           confirmation=confirmation)
    # summary.json's content, as the search writes it
    return build_summary(
        fixed=fixed, verdict=verdict, best=best, baseline=baseline, records=[best], changes=[], findings=[],
        elapsed=1.0, min_std_ratio=FLOOR, tuner="random", fields=[], cudnn=[], alternative=None, interrupted=False,
        confirmation=confirmation,
    ).to_dict()


# --- the spec's own state ---------------------------------------------------------------------------


def test_each_tier_has_its_state_and_a_diverged_loss_is_never_not_collapsed():
    assert model_state(_reg(), FLOOR) is ModelState.WORKING
    assert model_state(_reg(r2=0.01, mse=0.99), FLOOR) is ModelState.LIVE
    assert model_state(_reg(std_ratio=0.01), FLOOR) is ModelState.COLLAPSED
    # The case seen: outputs finite and varying (std_ratio 52), but the training loss went inf.
    diverged = _reg(std_ratio=52.0, r2=-1.85e4, mse=1.85e4, loss_diverged=True)
    assert model_state(diverged, FLOOR) is ModelState.DIVERGED
    state, line = state_line(diverged)
    assert state is ModelState.DIVERGED
    assert "not collapsed" not in line and line.startswith("the training loss went NaN or infinite")
    assert state_line(_reg(std_ratio=0.01))[1] == "the output barely varies (std_ratio 0.01)"


def test_a_working_classifier_is_not_fixed_it_is_improved():
    baseline = _record(BASELINE_ID, _binary(0.81))
    best = _record("10", _binary(0.96))
    summary = _summary(best, baseline)
    assert summary["baseline_state"] == "working" and summary["best_state"] == "working"
    assert summary["fixed"] is False
    assert summary["verdict"].startswith("The spec as written was not collapsed, and beat a constant predictor")
    assert "improves balanced accuracy from 0.81 to 0.96" in summary["verdict"]
    assert "Fixed" not in summary["verdict"] and "no longer collapses" not in summary["verdict"]


def test_a_working_spec_that_nothing_beat_says_so():
    baseline = _record(BASELINE_ID, _binary(0.81))
    text = verdict_text(False, baseline, baseline, [], None, False, min_std_ratio=FLOOR)
    assert text == ("The spec as written works: it is not collapsed and beats a constant predictor "
                    "(balanced accuracy 0.81); no configuration in the search beat it.")


def test_a_diverged_spec_that_gets_fixed_is_called_diverged_never_not_collapsed():
    baseline = _record(BASELINE_ID, _reg(std_ratio=52.0, r2=-1.85e4, mse=1.85e4, loss_diverged=True))
    best = _record("2", _reg(std_ratio=0.95, r2=0.9, mse=0.1))
    summary = _summary(best, baseline, fixed=True)
    assert summary["baseline_state"] == "diverged"
    assert summary["verdict"].startswith("Fixed: the spec as written diverged (its training loss went NaN or infinite)")
    assert "not collapsed" not in summary["verdict"]


def test_a_live_spec_that_stays_live_is_not_fixed():
    baseline = _record(BASELINE_ID, _reg(r2=0.01, mse=0.99))
    text = verdict_text(False, baseline, baseline, [], None, False, min_std_ratio=FLOOR)
    assert text.startswith("Not fixed: the spec as written was not collapsed, but no better than a constant "
                           "predictor (r2 0.01), and no configuration")


# --- persistence ------------------------------------------------------------------------------------


def test_the_verdict_says_whether_the_fix_beats_repeating_the_last_value():
    baseline = _record(BASELINE_ID, _reg(std_ratio=0.002, r2=-30.0, mse=31.0, persistence_mse=0.26))
    beats = _record("3", _reg(r2=0.83, mse=0.17, persistence_mse=0.26))
    loses = _record("4", _reg(r2=0.6, mse=0.4, persistence_mse=0.26))
    assert verdict_text(True, beats, baseline, [], None, False, min_std_ratio=FLOOR).startswith(
        "Fixed, and it beats repeating the last value: mse 0.17 vs 0.26. The spec as written collapsed (std_ratio 0.002)")
    assert verdict_text(True, loses, baseline, [], None, False, min_std_ratio=FLOOR).startswith(
        "Fixed, but it does not beat repeating the last value (mse 0.4 vs 0.26): not yet useful for forecasting.")
    classifier = verdict_text(True, _record("1", _binary(0.9)), _record(BASELINE_ID, _binary(0.5, distinct=1)), [],
                              None, False, min_std_ratio=FLOOR)
    assert "last value" not in classifier  # persistence does not apply


def test_a_fix_that_beats_persistence_ranks_above_one_that_does_not():
    beats = _reg(r2=0.3, mse=0.7, persistence_mse=0.8)
    loses = _reg(r2=0.9, mse=0.1, persistence_mse=0.05)  # far better r2, but "tomorrow = today" is better still
    live = _reg(r2=0.01, mse=0.99, persistence_mse=0.05)
    assert tier(beats, FLOOR) == tier(loses, FLOOR) == 0
    assert score(beats, FLOOR) < 0.5 <= score(loses, FLOOR) < 1.0 <= score(live, FLOOR)
    records = [_record("a", loses), _record("b", beats)]
    assert best_record(records).trial_id == "b"
    # where persistence does not apply, the loss decides as before
    assert score(_reg(r2=0.9, mse=0.1), FLOOR) == pytest.approx(0.1 / 1.1)


# --- confirmation across seeds ----------------------------------------------------------------------


def _trainer(outcomes: dict):
    """A stand-in trainer: (trial id, seed) -> metrics, counting its calls."""
    calls = []

    def train(record, seed):
        calls.append((record.trial_id, seed))
        return outcomes[(record.trial_id, seed)], 0.5

    return train, calls


def test_the_best_fix_is_retrained_with_two_more_seeds_and_confirmed():
    best = _record("3", _reg(r2=0.8))
    train, calls = _trainer({("3", 1): _reg(r2=0.78), ("3", 2): _reg(r2=0.81)})
    outcome = confirm_fixes([best], train, seed=0, min_std_ratio=FLOOR)
    assert calls == [("3", 1), ("3", 2)]
    assert outcome.trial_id == "3" and outcome.confirmed and outcome.confirmed_seeds == "3/3"
    assert [run.seed for run in outcome.runs] == [0, 1, 2]


def test_a_fix_that_fails_a_seed_gives_way_to_the_next_fix_that_holds():
    first, second = _record("3", _reg(r2=0.8)), _record("5", _reg(r2=0.7))
    train, calls = _trainer({
        ("3", 1): _reg(std_ratio=0.01, r2=0.0, mse=1.0), ("3", 2): _reg(r2=0.8),
        ("5", 1): _reg(r2=0.69), ("5", 2): _reg(r2=0.72),
    })
    outcome = confirm_fixes([first, second], train, seed=0, min_std_ratio=FLOOR)
    assert outcome.trial_id == "5" and outcome.confirmed_seeds == "3/3"
    assert outcome.tried == [{"trial_id": "3", "confirmed_seeds": "2/3"}, {"trial_id": "5", "confirmed_seeds": "3/3"}]


def test_when_no_fix_holds_the_best_is_reported_with_its_count_and_the_verdict_says_so():
    first, second = _record("3", _reg(r2=0.8)), _record("5", _reg(r2=0.7))
    lost = _reg(std_ratio=0.01, r2=0.0, mse=1.0)
    train, _ = _trainer({("3", 1): lost, ("3", 2): _reg(r2=0.8), ("5", 1): lost, ("5", 2): lost})
    outcome = confirm_fixes([first, second], train, seed=0, min_std_ratio=FLOOR)
    assert outcome.trial_id == "3" and not outcome.confirmed and outcome.confirmed_seeds == "2/3"
    baseline = _record(BASELINE_ID, _reg(std_ratio=0.002, r2=-3.0, mse=4.0))
    summary = _summary(first, baseline, confirmation=outcome, fixed=True)
    assert summary["verdict"].startswith("Fixed (on 2/3 seeds only): the spec as written collapsed")
    assert "the next best fixes (trial 5) did not hold on every seed either" in summary["verdict"]
    assert summary["confirmed_seeds"] == "2/3"
    assert [run["seed"] for run in summary["seed_runs"]] == [0, 1, 2]
    assert [run["fix"] for run in summary["seed_runs"]] == [True, False, True]
    assert summary["seed_runs"][1]["metrics"]["std_ratio"] == 0.01


def test_a_confirmed_fix_says_it_held_with_each_seeds_number():
    best = _record("3", _reg(r2=0.8))
    outcome = Confirmation(trial_id="3", runs=[SeedRun(0, True, _reg(r2=0.8)), SeedRun(1, True, _reg(r2=0.78)),
                                               SeedRun(2, True, _reg(r2=0.81))])
    baseline = _record(BASELINE_ID, _reg(std_ratio=0.002, r2=-3.0, mse=4.0))
    summary = _summary(best, baseline, confirmation=outcome, fixed=True)
    assert summary["confirmed_seeds"] == "3/3"
    assert summary["verdict"].endswith("It held on 3/3 seeds (r2 0.8, 0.78, 0.81).")


def test_confirmation_starts_no_run_past_the_deadline_and_is_skipped_without_a_fix():
    train, calls = _trainer({})
    outcome = confirm_fixes([_record("3", _reg())], train, seed=0, min_std_ratio=FLOOR, deadline=time.time() - 1)
    assert calls == [] and outcome.skipped == NO_TIME and outcome.confirmed_seeds is None
    assert confirm_fixes([], train, seed=0, min_std_ratio=FLOOR).skipped == NO_FIX
    best = _record("3", _reg())
    baseline = _record(BASELINE_ID, _reg(std_ratio=0.002, r2=-3.0, mse=4.0))
    assert "Not confirmed on other seeds: no time was left" in _summary(best, baseline, outcome, fixed=True)["verdict"]
    off = _summary(best, baseline, Confirmation(skipped=TURNED_OFF), fixed=True)
    assert off["confirmed_seeds"] is None and off["confirmation"]["skipped"] == TURNED_OFF
    assert "seeds" not in off["verdict"]


# --- far below a simple model on the same windows -----------------------------------------------------


def _probe(value, metric="balanced_accuracy", constant=0.11, beats=True):
    from autofix_lstm.scoring.signal import SignalProbe

    return SignalProbe(model="gradient_boosting", metric=metric, value=value, constant=constant, beats_constant=beats)


def test_a_fix_far_below_the_signal_probe_says_so_in_its_first_words():
    baseline = _record(BASELINE_ID, _binary(0.5, distinct=1))
    best = _record("4", Metrics(task="multiclass", nan=False, std_ratio=0.6, balanced_accuracy=0.23,
                                majority_balanced_accuracy=0.11, log_loss=1.9, prior_log_loss=2.1,
                                distinct_predictions=3, collapsed=False, loss_diverged=False))
    text = verdict_text(True, best, baseline, [], None, False, _probe(0.88), min_std_ratio=FLOOR)
    assert text.startswith("Fixed, but far below what a simple model reaches on the same windows: "
                           "balanced accuracy 0.23 vs 0.88; more trials or a wider space")
    summary = build_summary(fixed=True, verdict=text, best=best, baseline=baseline, records=[best], changes=[],
                            findings=[], elapsed=1.0, min_std_ratio=FLOOR, tuner="random", fields=[], cudnn=[],
                            alternative=None, interrupted=False, probe=_probe(0.88)).to_dict()
    assert summary["far_below_probe"] == {"metric": "balanced_accuracy", "kept": 0.23, "probe": 0.88}


@pytest.mark.parametrize("probe", [None, 0.95, "no signal", "roll-out"])
def test_a_fix_near_the_probe_or_without_a_comparable_probe_reads_as_before(probe):
    from autofix_lstm.scoring.signal import far_below

    metrics = _reg(r2=0.8) if probe != "roll-out" else _reg(r2=0.3, rollout_steps=12)
    given = {None: None, 0.95: _probe(0.95, "r2", 0.0), "no signal": _probe(0.99, "r2", 0.0, beats=False),
             "roll-out": _probe(0.95, "r2", 0.0)}[probe]
    if probe == "roll-out":  # the one-step probe does not judge a roll-out, nor several targets' mean r2
        assert far_below(given, metrics) is None
        assert far_below(given, _reg(r2=0.3, per_target=[{"name": "a"}, {"name": "b"}])) is None
        assert far_below(given, _reg(r2=0.3)) is not None
        return
    text = verdict_text(True, _record("3", metrics), _record(BASELINE_ID, _reg(std_ratio=0.01)), [], None, False,
                        given, min_std_ratio=FLOOR)
    assert text.startswith("Fixed") and "far below" not in text
