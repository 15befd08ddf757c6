"""summary.json's time block: where a search's wall time went, and its overhead over training."""

from __future__ import annotations

import pytest

from autofix_lstm.tuning.records import TrialRecord, TrialStatus
from autofix_lstm.tuning.search_summary import TIME_STAGES, Summary, overhead_text, time_summary


def _record(trial_id, oracle, train, evaluate, write, status=TrialStatus.COMPLETED):
    return TrialRecord(trial_id=trial_id, status=status, score=0.5, seconds=train + evaluate,
                       oracle_seconds=oracle, train_seconds=train, eval_seconds=evaluate, write_seconds=write)


def test_the_stages_add_up_to_the_wall_time_and_the_overhead_is_over_all_training():
    baseline = TrialRecord(trial_id="baseline", status=TrialStatus.COMPLETED, score=2.5, seconds=9.0,
                           train_seconds=8.0, eval_seconds=0.5, write_seconds=0.5)
    records = [
        _record("0", oracle=None, train=10.0, evaluate=1.0, write=0.5),  # a seed: no proposal
        _record("1", oracle=0.25, train=20.0, evaluate=1.0, write=0.0),
        _record("2", oracle=0.25, train=2.0, evaluate=0.0, write=0.0, status=TrialStatus.FAILED),
        TrialRecord(trial_id="3", status=TrialStatus.COMPLETED, score=1.0, seconds=4.0),  # an older record
    ]
    out = time_summary(records, baseline, elapsed=60.0, diagnosis_seconds=6.0)
    block = out["time"]
    assert {k: block[k] for k in TIME_STAGES} == {
        "diagnosis": 6.0, "baseline": 9.0, "oracle": 0.5, "training": 32.0, "evaluation": 2.0, "writing": 0.5,
        "confirmation": 0.0, "minimal_fix": 0.0, "other": 10.0,
    }
    assert block["wall"] == 60.0 and block["trained"] == 40.0  # the trials' 32 s and the baseline's 8 s
    assert block["oracle_share"] == pytest.approx(0.5 / 40)
    assert out["overhead_share"] == pytest.approx((60.0 - 40.0) / 40.0)
    assert overhead_text(_summary(out)) == "overhead 50% of its 40 s training (oracle 1%)"


def test_the_confirmation_and_the_minimal_fix_are_training_not_overhead():
    # Both stages only train candidates again (more seeds; the fix without each change): counting them
    # as overhead made a search that confirms and minimises look 40% slower than it is.
    baseline = TrialRecord(trial_id="baseline", status=TrialStatus.COMPLETED, score=2.5, seconds=9.0,
                           train_seconds=8.0, eval_seconds=0.5, write_seconds=0.5)
    records = [_record("0", oracle=None, train=10.0, evaluate=1.0, write=0.5)]
    out = time_summary(records, baseline, elapsed=60.0, diagnosis_seconds=6.0, confirmation_seconds=16.0,
                       minimal_seconds=12.0)
    block = out["time"]
    assert block["confirmation"] == 16.0 and block["minimal_fix"] == 12.0
    assert block["other"] == pytest.approx(60.0 - 6.0 - 9.0 - 10.0 - 1.0 - 0.5 - 16.0 - 12.0)
    assert sum(block[k] for k in TIME_STAGES) == pytest.approx(block["wall"])
    assert block["trained"] == 8.0 + 10.0 + 16.0 + 12.0
    assert out["overhead_share"] == pytest.approx((60.0 - 46.0) / 46.0, abs=1e-4)  # rounded to 4 places


def test_without_timings_there_is_no_share_and_no_text():
    baseline = TrialRecord(trial_id="baseline", status=TrialStatus.COMPLETED, score=2.5, seconds=9.0)
    out = time_summary([], baseline, elapsed=12.0, diagnosis_seconds=None)
    assert out["overhead_share"] is None and out["time"]["oracle_share"] is None
    assert out["time"]["other"] == 3.0
    assert overhead_text(_summary(out)) is None and overhead_text(_summary({})) is None


def _summary(time_block: dict) -> Summary:
    """A summary holding ``time_summary``'s keys, as summary.json does."""
    return Summary.from_dict({"fixed": False, "verdict": "", **time_block})
