"""summary.json through its typed record: what is read is what was written, key for key and in order."""

from __future__ import annotations

import json

import pytest
from fake_outputs import write_fake_outputs

from autofix_lstm.errors import CorruptRunError
from autofix_lstm.run_dir import RunDir
from autofix_lstm.scoring.metrics import Metrics
from autofix_lstm.scoring.objective import ModelState
from autofix_lstm.scoring.signal import SignalProbe
from autofix_lstm.tuning.search_summary import Summary
from autofix_lstm.tuning.summary_blocks import Ablation, ChangeEffect, Pruning, Refinement

CHANGE = {"change": "preprocessing.target: none -> standard", "field": "preprocessing.target", "from": "none",
          "to": "standard", "description": "scale the target (standard)", "objective_with": 0.1,
          "objective_without": 2.4, "fix_without": False}
PROBE = {"model": "linear", "metric": "r2", "value": 0.5, "constant": 0.0, "beats_constant": True, "seconds": 0.2,
         "rows": 100, "models": [{"model": "linear", "metric": "r2", "value": 0.5, "beats_constant": True}],
         "validation_rows": 40}


@pytest.mark.parametrize("fixed", [True, False])
def test_a_summary_file_reads_back_to_the_same_content_in_the_same_order(tmp_path, fixed):
    folder = write_fake_outputs(tmp_path, fixed=fixed)
    # every key this version writes (the fake folder's summary holds fewer: an earlier version's file)
    raw = Summary.from_dict(json.loads(RunDir(folder).summary.read_text())).to_dict()
    raw.update(signal_probe=PROBE, necessary_changes=[CHANGE], incidental_changes=[],
               pruning={"trials_pruned": 2, "epochs_saved": 6, "reruns": [], "fixes_lost_to_pruning": 0},
               refinement={"budget": 3, "trials": 2, "fixes": 1, "best_from_refinement": True},
               minimal_fix={"ran": True, "reason": None, "complete": True, "verdict": "The fix: x.",
                            "changes_full": 1, "changes_minimal": 1, "objective_full": 0.1, "objective_minimal": 0.1,
                            "fixed": True, "beats_persistence": None, "tolerance": 0.1, "trainings": 1,
                            "seconds": 1.5, "reused_trials": 1})
    summary = Summary.from_dict(raw)
    assert isinstance(summary.best, Metrics) and isinstance(summary.best_state, ModelState)
    assert isinstance(summary.signal_probe, SignalProbe) and summary.signal_probe.models[0].value == 0.5
    assert isinstance(summary.pruning, Pruning) and summary.pruning.trials_pruned == 2
    assert isinstance(summary.refinement, Refinement) and summary.refinement.best_from_refinement
    assert isinstance(summary.minimal_fix, Ablation) and summary.minimal_verdict == "The fix: x."
    assert summary.necessary_changes == [ChangeEffect.from_dict(CHANGE)]
    assert summary.necessary_changes[0].old == "none" and summary.necessary_changes[0].label.startswith("scale")
    out = summary.to_dict()
    assert out == raw and list(out) == list(raw)
    assert list(out["necessary_changes"][0]) == list(CHANGE)


def test_a_summary_an_earlier_version_wrote_reads_with_defaults():
    summary = Summary.from_dict({"fixed": False, "verdict": "Not fixed.", "best": None, "baseline": None})
    assert summary.best is None and summary.best_state is None and not summary.best_works
    assert summary.pruning == Pruning() and summary.minimal_fix is None and summary.minimal_verdict is None
    assert Summary.from_dict({"fixed": False, "verdict": "x", "beats_constant": True}).best_works  # no state: the comparison


def test_a_damaged_summary_is_named(tmp_path):
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(["not", "a", "summary"]))
    with pytest.raises(CorruptRunError, match="summary.json"):
        Summary.load(path)
