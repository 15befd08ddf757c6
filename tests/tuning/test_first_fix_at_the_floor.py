"""A first fix at the floor: when the diagnosis already saw the spec collapse, trials start first.

``collapse_seen`` judges the spec as written on the diagnosis' brief training; the full baseline is
then trained after the first trials, for the before/after. Tested without training, on hand-made
diagnosis results; the search-level order is checked in tests/e2e/test_search_e2e.py.
"""

from __future__ import annotations

import math
import time
from types import SimpleNamespace

from helpers import spec_dict

from autofix_lstm.diagnosis.findings import Finding
from autofix_lstm.scoring.metrics import Metrics
from autofix_lstm.spec import load_spec
from autofix_lstm.tuning.driver import _room_after_search, collapse_seen
from autofix_lstm.tuning.records import TrialRecord

COLLAPSED = Metrics(task="regression", nan=False, std_ratio=0.001, r2=-30.0, mse=31.0, constant_mse=1.0,
                    persistence_mse=0.3, collapsed=True)
PROBE = {"steps": 30, "full_training_steps": 300, "seconds": 2.0, "epochs": 3, "nonfinite_loss_step": None}


def _diagnosis(severity="error", finding="collapsed_output", metrics=COLLAPSED, probe=PROBE, training_error=None):
    findings = [Finding(finding, severity, "seen", {})] if finding else []
    return SimpleNamespace(findings=findings, metrics=metrics, probe=probe, training_error=training_error)


def test_a_collapse_the_brief_training_saw_stands_in_for_the_baseline():
    seen = collapse_seen(_diagnosis(), 0.1)
    assert seen is not None and seen.is_baseline and not seen.fix
    assert 2.0 <= seen.score < 3.0  # tier 2: collapsed
    assert seen.seconds == 20.0  # 2 s for 30 steps, scaled to the full 300
    assert seen.metrics.loss_diverged is False
    diverged = collapse_seen(_diagnosis(finding="nan_output", probe={**PROBE, "nonfinite_loss_step": 4}), 0.1)
    assert diverged.metrics.loss_diverged is True and diverged.score == 3.0


def test_a_collapse_still_moving_or_no_collapse_trains_the_baseline_first():
    assert collapse_seen(_diagnosis(severity="warning"), 0.1) is None  # "collapsed during the first N steps"
    assert collapse_seen(_diagnosis(finding="unscaled_target"), 0.1) is None
    assert collapse_seen(_diagnosis(training_error="boom"), 0.1) is None
    assert collapse_seen(_diagnosis(metrics=None), 0.1) is None


def test_max_time_keeps_room_for_the_baseline_and_the_seeds():
    spec = load_spec(spec_dict("s.csv", train={"epochs": 10}, search={"max_time": "1h"}))
    reference = TrialRecord(trial_id="baseline", status="pruned", seconds=2.0, epochs_run=2)  # 1 s an epoch
    deadline = time.time() + 3600
    assert _room_after_search(spec, deadline, reference, baseline_pending=True) == deadline - 30  # 3 trainings
    assert _room_after_search(spec, deadline, reference, baseline_pending=False) == deadline - 20
    off = spec.updated({"search.confirm": False})
    assert _room_after_search(off, deadline, reference, baseline_pending=False) == deadline
    assert _room_after_search(spec, None, reference, baseline_pending=True) is None
    # never more than half of what is left
    assert math.isclose(_room_after_search(spec, time.time() + 40, reference, True), time.time() + 20, abs_tol=0.5)
