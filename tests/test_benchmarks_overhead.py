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
    assert "Both steps searched each case here" in page


def test_both_arms_search_without_the_stages_that_never_ask_the_oracle(monkeypatch, tmp_path):
    calls = []

    def fake_run_case(case, methods, trials, epochs, work, settings=None, timing=True, reference=True):
        calls.append({"settings": settings, "timing": timing, "reference": reference, "work": work})
        return {"methods": {"autofix": _method([0.1], True, 1.0)}}

    monkeypatch.setattr(oracle_quality, "run_case", fake_run_case)
    out = oracle_quality.search_case(object(), 12, None, tmp_path)
    assert sorted(out) == sorted(oracle_quality.PROPOSALS)
    assert [c["settings"]["search.oracle_proposal"] for c in calls] == list(oracle_quality.PROPOSALS)
    for call in calls:
        assert call["settings"]["search.confirm"] is False and call["settings"]["search.minimize"] is False
        assert call["reference"] is False and call["timing"] is False
    assert calls[0]["work"] != calls[1]["work"]  # each arm searches fresh, in its own folder


def test_the_batched_arm_can_come_from_a_finished_benchmark_pass(tmp_path):
    import json

    time_block = {"diagnosis": 2.0, "baseline": 1.0, "oracle": 0.2, "training": 90.0, "evaluation": 1.0,
                  "writing": 0.1, "other": 20.7, "wall": 115.0, "trained": 91.0}
    method = {**_method([0.5, 0.2], True, 115.0), "confirmation": {"seconds": 15.0},
              "minimal_fix": {"seconds": 5.0}}
    (tmp_path / "a.json").write_text(json.dumps({"trials_budget": 12, "methods": {"autofix": method}}))
    (tmp_path / "runs" / "a" / "autofix").mkdir(parents=True)
    (tmp_path / "runs" / "a" / "autofix" / "summary.json").write_text(json.dumps({"time": time_block}))
    batched = oracle_quality.batched_from(tmp_path, tmp_path / "runs", "a", 12)
    assert batched["time"] == time_block and batched["source"] == str(tmp_path / "a.json")
    kt_block = {**time_block, "oracle": 20.2, "wall": 135.0}
    rows = {"a": {"keras_tuner": {**_method([0.25], True, 135.0), "time": kt_block,
                                  "confirmation": {"seconds": 15.0}, "minimal_fix": {"seconds": 5.0}},
                  "batched": batched}}
    comparison = oracle_quality.compare(rows)
    line = comparison["cases"][0]
    assert line["batched"]["wall_over_trained"] == 115.0 / 111.0  # the confirmation and minimal fix are training
    assert line["keras_tuner"]["oracle_share"] == 20.2 / 111.0 and line["batched_no_worse"] is True
    page = oracle_quality.markdown(comparison, "python -m benchmarks.oracle_quality", "now")
    assert f"benchmark pass in {tmp_path}" in page and "| median oracle share of training | 18.20% | 0.18% |" in page
    try:
        oracle_quality.batched_from(tmp_path, tmp_path / "runs", "a", 4)
    except SystemExit as err:
        assert "12 trials, not 4" in str(err)
    else:
        raise AssertionError("a pass with another budget was accepted")


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
