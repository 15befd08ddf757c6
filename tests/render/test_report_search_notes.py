"""The report says what the search measured about itself: the signal probe, pruning and refinement."""

from __future__ import annotations

import json

from fake_outputs import write_fake_outputs

from autofix_lstm.render.report import report_html
from autofix_lstm.run_dir import RunDir


def _with(folder, **keys):
    path = RunDir(folder).summary
    summary = json.loads(path.read_text())
    summary.update(keys)
    path.write_text(json.dumps(summary))
    return folder


def test_the_probe_pruning_and_refinement_are_reported(tmp_path):
    folder = _with(
        write_fake_outputs(tmp_path, fixed=False),
        signal_probe={"model": "gradient_boosting", "metric": "balanced_accuracy", "value": 0.97, "constant": 0.5,
                      "beats_constant": True, "seconds": 0.4},
        pruning={"trials_pruned": 5, "epochs_saved": 31, "reruns": [{"trial_id": "3_full"}], "fixes_lost_to_pruning": 1},
        refinement={"budget": 4, "trials": 3, "fixes": 2, "best_from_refinement": True},
    )
    page = report_html(folder)
    assert "A gradient-boosted model on the same windows reaches balanced accuracy 0.97 and beats a constant" in page
    assert "Pruning stopped 5 trials early, saving 31 epochs; 1 of them was re-run in full" in page
    assert "and 1 turned out to be a fix." in page
    assert "Refinement: 3 trials varied one field of the best fix" in page
    assert "the best configuration came from one of them" in page


def test_an_older_summary_without_them_still_renders(tmp_path):
    page = report_html(write_fake_outputs(tmp_path))
    assert "Signal probe" not in page and "Refinement:" not in page and "Time:" not in page


def test_where_the_time_went_is_reported_largest_stage_first(tmp_path):
    time_block = {"diagnosis": 10.0, "baseline": 8.0, "oracle": 1.2, "training": 60.0, "evaluation": 3.0,
                  "writing": 1.0, "other": 5.0, "wall": 88.2, "trained": 67.0, "oracle_share": 0.0179}
    folder = _with(write_fake_outputs(tmp_path), time=time_block, overhead_share=0.3164)
    page = report_html(folder)
    assert ("Time: 88 s in all: training the trials 60.0 s, diagnosis 10.0 s, the spec as written 8.0 s, "
            "the rest 5.0 s, evaluating 3.0 s, the oracle choosing trials 1.2 s, writing files 1.0 s. "
            "Search overhead 32% of its 67 s training (oracle 2%).") in page


def test_the_device_the_trials_trained_on_is_reported(tmp_path):
    gpu = _with(write_fake_outputs(tmp_path / "gpu"), device="NVIDIA H200",
                distribution={"device": "NVIDIA H200", "distribution": "default", "replicas": 1, "devices": ["NVIDIA H200"]})
    assert "trained on NVIDIA H200" in report_html(gpu)
    mirrored = _with(write_fake_outputs(tmp_path / "mirrored"), device="NVIDIA H200",
                     distribution={"device": "NVIDIA H200", "distribution": "mirrored", "replicas": 2,
                                   "devices": ["NVIDIA H200", "NVIDIA H200"]})
    assert "trained on 2 replica(s), mirrored (NVIDIA H200, NVIDIA H200)" in report_html(mirrored)
    assert "trained on" not in report_html(write_fake_outputs(tmp_path / "older"))


def test_counts_of_one_read_in_the_singular_and_a_collapsed_best_claims_no_comparison(tmp_path):
    # Issue 25 (5): "after 1 trials", "1 trials varied ... 1 were fixes", and "beats persistence: yes"
    # under a red "Not fixed" banner while the best found was collapsed.
    from autofix_lstm.render.verdict import search_notes, stats_line
    from autofix_lstm.tuning.search_summary import Summary

    folder = _with(
        write_fake_outputs(tmp_path, fixed=False), trials_total=1, trials_to_first_fix=1,
        pruning={"trials_pruned": 1, "epochs_saved": 1, "reruns": [], "fixes_lost_to_pruning": 0},
        refinement={"budget": 2, "trials": 1, "fixes": 1, "best_from_refinement": False},
    )
    summary = Summary.from_dict(json.loads(RunDir(folder).summary.read_text()))
    line = stats_line(summary)
    assert line.startswith("1 trial: ") and "first fix after 1 trial / " in line
    notes = " ".join(search_notes(summary))
    assert "Pruning stopped 1 trial early, saving 1 epoch." in notes
    assert "Refinement: 1 trial varied one field of the best fix at a time; 1 was a fix." in notes
    collapsed = Summary.from_dict({**json.loads(RunDir(folder).summary.read_text()), "best_state": "collapsed",
                                   "beats_constant": True, "beats_persistence": True})
    line = stats_line(collapsed)
    assert "the best found collapsed" in line and "beats" not in line
