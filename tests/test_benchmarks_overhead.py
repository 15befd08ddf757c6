"""The overhead and oracle-quality benchmarks' tables, from hand-made results (no searching)."""

from __future__ import annotations

from benchmarks import oracle_quality, overhead


def _method(objectives, fixed, seconds):
    return {"trials": [{"objective": o} for o in objectives], "fixed": fixed, "total_seconds": seconds,
            "trials_run": len(objectives)}


def test_oracle_quality_compares_the_best_objective_of_both_steps():
    rows = {
        "a": {"keras_tuner": _method([1.5, 0.30, None], True, 100.0), "batched": _method([0.31, 0.9], True, 60.0)},
        "b": {"keras_tuner": _method([0.20], True, 80.0), "batched": _method([0.40], True, 50.0)},
        "c": {"keras_tuner": _method([2.5], False, 90.0), "batched": _method([2.4], False, 40.0)},
    }
    comparison = oracle_quality.compare(rows)
    assert [c["batched_no_worse"] for c in comparison["cases"]] == [False, False, True]  # 0.31 > 0.30 + 0.005
    overall = comparison["overall"]
    assert overall["keras_tuner"]["median_best_objective"] == 0.30
    assert overall["batched"]["median_best_objective"] == 0.40
    assert overall["batched"]["fixed"] == 2 and overall["batched_no_worse_cases"] == "1/3"
    page = oracle_quality.markdown(comparison, "python -m benchmarks.oracle_quality", "now")
    assert "| median best objective | 0.3000 | 0.4000 |" in page


def test_the_overhead_page_lists_every_search_and_the_medians():
    block = {"diagnosis": 5.0, "other": 2.0}
    row = {"case": "demo", "proposal": "batched", "trials": 4, "wall": 44.0, "trained": 40.0, "ratio": 1.1,
           "oracle": 0.4, "oracle_share": 0.01, "seconds_per_oracle_proposal": 0.2, "oracle_proposals": 2,
           "time": block, "objective": 0.12, "fixed": True}
    report = {"command": "python -m benchmarks.overhead", "started": "now", "machine": {"machine": "x"},
              "load_start": 1.0, "load_end": 1.0, "searches": [row, {**row, "proposal": "keras_tuner", "ratio": 1.5,
                                                                      "oracle_share": 0.3}]}
    page = overhead.markdown(report)
    assert "| demo | batched | 4 | 44.0 | 40.0 | 1.10 | 0.40 | 1.0% | 0.20 (2) | 5.0 | 2.0 | 0.1200 | True |" in page
    assert "**keras_tuner**: median wall / trained 1.50, median oracle share 30.0%" in page
