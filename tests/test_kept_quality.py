"""The benchmark's regression guard: a case whose kept model got worse since the last full run is named."""

from __future__ import annotations

import json

from benchmarks import kept_quality


def _result(case: str, r2: float, trials: int = 12, epochs: int = 15) -> dict:
    return {"case": case, "trials_budget": trials, "epochs": epochs,
            "run": {"command": "python -m benchmarks.run", "started": "2026-12-07 16:09:25"},
            "methods": {"autofix": {"best_metrics": {"task": "regression", "r2": r2}}}}


def test_a_case_that_lost_more_than_the_margin_is_named_and_one_within_it_is_not(tmp_path):
    (tmp_path / "oversized.json").write_text(json.dumps(_result("oversized", 0.606)))
    (tmp_path / "sine.json").write_text(json.dumps(_result("sine", 0.965)))
    (tmp_path / "fuzz.json").write_text(json.dumps({"summary": {}}))  # another benchmark's output: skipped
    stored = kept_quality.rebuild([tmp_path], tmp_path / "kept.json")
    assert set(stored) == {"oversized", "sine"} and stored["oversized"]["quality"] == 0.606
    drop = kept_quality.worse("oversized", _result("oversized", 0.157), stored)
    assert drop["before"] == 0.606 and drop["now"] == 0.157 and round(drop["change"], 3) == -0.449
    assert drop["since"] == "2026-12-07 16:09:25"
    assert kept_quality.worse("sine", _result("sine", 0.950), stored) is None  # within 0.02
    assert kept_quality.worse("sine", _result("sine", 0.5, trials=2, epochs=1), stored) is None  # a quick run
    assert kept_quality.worse("new_case", _result("new_case", 0.1), stored) is None  # nothing to compare
