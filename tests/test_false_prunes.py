"""benchmarks.false_prunes: the pruned trials of a finished search, trained in full and counted."""

from __future__ import annotations

import json

import yaml
from helpers import deep_merge, healthy_spec

from autofix_lstm.run_dir import RunDir, write_json
from autofix_lstm.tuning.records import BASELINE_ID, TrialRecord, TrialStatus
from benchmarks import false_prunes


def _search_folder(tmp_path):
    """A finished search's folder written by hand: trial 00 pruned (a spec that learns in full), 01 kept
    (live, score 1.5), 02 pruned (a sigmoid head on an unscaled target), which the search's safety net re-ran."""
    case = tmp_path / "cases" / "sine_case"
    case.mkdir(parents=True)
    base = yaml.safe_load(healthy_spec(case).read_text())  # data.path "healthy.csv", relative to the case folder
    collapsing = deep_merge(base, {"model": {"layers": [{"type": "lstm", "units": 4},
                                                        {"type": "dense", "units": 1, "activation": "sigmoid"}]},
                                   "preprocessing": {"target": "none"}})
    run = RunDir(tmp_path / "work" / "sine_case" / "autofix")
    run.project.mkdir(parents=True)
    TrialRecord(BASELINE_ID, TrialStatus.PRUNED, score=2.9, pruned_at=2, spec=base).save(run.baseline)
    records = [
        TrialRecord("00", TrialStatus.PRUNED, score=2.8, pruned_at=2, order=0, spec=base,
                    history={"loss": [1.0, 0.9]}),
        TrialRecord("01", TrialStatus.COMPLETED, score=1.5, order=1, spec=base),
        TrialRecord("02", TrialStatus.PRUNED, score=2.7, pruned_at=2, order=2, spec=collapsing),
        TrialRecord("02_rerun", TrialStatus.COMPLETED, score=2.6, fix=False, state="collapsed", order=3,
                    spec=collapsing, rerun_of="02"),
    ]
    for record in records:
        record.save(run.trial_record(record.trial_id))
    write_json({"trial_id": "01"}, run.best_trial)
    write_json({}, run.summary)
    unfinished = RunDir(tmp_path / "work" / "unfinished" / "autofix")  # no summary.json: still searching
    unfinished.project.mkdir(parents=True)
    return tmp_path / "cases", run


def test_pruned_trials_are_trained_in_full_and_counted(tmp_path):
    cases, run = _search_folder(tmp_path)
    results = tmp_path / "results"

    assert false_prunes.main([str(tmp_path / "work"), "--results", str(results), "--cases", str(cases)]) == 0

    payload = json.loads((results / "false_prunes.json").read_text())
    (search,) = payload["searches"]  # the unfinished search is left out
    assert search["case"] == "sine_case"
    assert (search["trials"], search["pruned"]) == (3, 2)  # the re-run is not one of the budget's trials
    assert search["kept"]["trial_id"] == "01" and search["kept"]["score"] == 1.5
    first, second = search["pruned_trials"]
    assert first["trial_id"] == "00" and first["full"]["from"] == "retrained"
    # the spec that learns, trained its 3 epochs in full: a fix (tier 0), so it beats the kept live model
    assert first["full"]["epochs_run"] == 3 and first["full"]["state"] == "working"
    assert first["full"]["quality_label"] == "r2" and first["full"]["quality"] > 0.5
    assert first["full"]["steps_per_epoch"] == first["steps_per_epoch"] == 16  # the training windows in batches of 16
    assert first["would_fix"] and first["beats_kept"] and first["full"]["score"] < 1.0
    # its pruning looks, watched without stopping: one look (epoch 2; never in the last epoch), no prune
    assert [look["epoch"] for look in first["full"]["looks"]] == [2]
    assert first["full"]["would_prune_at"] is None and set(first["full"]["rules"].values()) == {None}
    assert first["same_start"] is False  # the hand-written record's losses are not this training's
    assert second["same_start"] is None  # the re-run's record keeps no history here
    assert (second["trial_id"], second["pruned_before"], second["trials_before"]) == ("02", 1, 2)
    assert second["full"]["from"] == "retrained" and second["full"]["state"] == "collapsed"
    assert second["search_rerun"]["score"] == 2.6  # the safety net's re-run, kept beside it
    assert not second["would_fix"] and not second["beats_kept"]
    totals = payload["totals"]
    assert (totals["pruned"], totals["would_fix"], totals["beats_kept"]) == (2, 1, 1)
    assert totals["fix_rate"] == 0.5 and totals["beat_kept_rate"] == 0.5
    current = next(rule for rule in payload["rules"] if rule["rule"] == "current")
    # both watched; the first look (epoch 2 of 3) spares both: a first look with a spread always does
    assert (current["watched"], current["pruned"], current["spared_fixes"]) == (2, 0, 1)
    text = (results / "false_prunes.md").read_text()
    assert "python -m benchmarks.false_prunes" in text and "| sine_case | 3 | 2 |" in text
