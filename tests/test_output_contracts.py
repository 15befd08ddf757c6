"""The output files' shapes users' scripts read: summary.json's keys and trials.csv's columns, pinned.

Extending them is allowed (append a key, and add it here); changing or reordering one is a break of
the public contract this test exists to catch.
"""

from __future__ import annotations

from autofix_lstm.scoring.metrics import Metrics
from autofix_lstm.tuning.records import TrialRecord, TrialSource, TrialStatus
from autofix_lstm.tuning.search_summary import Summary
from autofix_lstm.tuning.summary import trials_frame

SUMMARY_KEYS = [
    "fixed", "verdict", "baseline", "best", "beats_constant", "beats_persistence", "changes", "trials_total",
    "trials_completed", "trials_failed", "trials_pruned", "trials_to_first_fix", "seconds_to_first_fix",
    "elapsed_seconds", "diagnosis", "baseline_state", "best_state", "confirmed_seeds", "seed_runs", "confirmation",
    "best_trial", "objective", "baseline_objective", "baseline_pruned_at_epoch", "min_std_ratio", "tuner",
    "searched_fields", "cudnn_compatible", "cudnn_problems", "cudnn_alternative", "interrupted", "signal_probe",
    "pruning", "refinement", "necessary_changes", "incidental_changes", "minimal_fix", "time", "overhead_share",
    "device", "distribution", "stopped_early", "stop_reason", "far_below_probe",
]
TRIAL_COLUMNS = [
    "trial_id", "status", "preprocessing.target", "objective", "std_ratio", "mse", "mae", "r2", "collapsed", "fix",
    "epochs_run", "pruned_at_epoch", "seconds", "elapsed_seconds", "source", "rerun_of", "message", "oracle_seconds",
    "train_seconds", "eval_seconds", "write_seconds", "worker",
]


def test_summary_json_keeps_its_keys_in_their_order():
    summary = Summary(fixed=True, verdict="Fixed.", baseline=None, best=None, device="CPU", distribution={})
    assert list(summary.to_dict()) == SUMMARY_KEYS
    # without a recorded device (an earlier version's file, or a search that did not record one) the two are left out
    without_device = [key for key in SUMMARY_KEYS if key not in ("device", "distribution")]
    assert list(Summary(fixed=True, verdict="Fixed.", baseline=None, best=None).to_dict()) == without_device


def test_trials_csv_keeps_its_columns_in_their_order():
    metrics = Metrics(task="regression", n_val=4, std_ratio=0.9, collapsed=False, mse=0.1, mae=0.2, r2=0.8,
                      constant_mse=1.0)
    record = TrialRecord(trial_id="1", status=TrialStatus.COMPLETED, values={"preprocessing.target": "standard"},
                         metrics=metrics, score=0.1, fix=True, source=TrialSource.SEED)
    frame = trials_frame([record], ["preprocessing.target"])
    assert list(frame.columns) == TRIAL_COLUMNS
    assert frame.loc[0, "source"] == "seed" and frame.loc[0, "r2"] == 0.8
