"""The benchmark runner never rots: ``--quick`` (2 cases, 2 trials, 1 epoch) runs in the suite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import report, run
from benchmarks.cases import list_cases

pytestmark = pytest.mark.slow


def test_the_suite_has_the_cases_issue_5_asks_for():
    cases = list_cases()
    categories = {c.category for c in cases}
    assert len(cases) >= 12
    assert {"unscaled_inputs", "unscaled_target", "output_activation", "vanishing_gradients", "excess_dropout",
            "learning_rate_too_low", "model_size", "class_imbalance", "trend", "healthy_control",
            "negative_control"} <= categories
    assert sum(c.real_data for c in cases) >= 4
    assert any(c.task == "multiclass" for c in cases) and any(c.multivariate for c in cases)


def test_quick_run_writes_results_and_the_report(tmp_path):
    # The stages after the trials (confirmation, minimal fix) have their own tests; off here, to keep it short.
    assert run.main(["--quick", "--results", str(tmp_path), "--work", str(tmp_path / "runs"),
                     "--set", "search.confirm=false", "--set", "search.minimize=false"]) == 0
    results = report.load(tmp_path)
    assert {r["case"] for r in results} == set(run.QUICK_CASES)
    for result in results:
        assert set(result["methods"]) == {"autofix", "keras_tuner", "optuna"}
        assert result["trials_budget"] == 2 and result["epochs"] == 1
        assert result["diagnosis_timing"]["ratio"] > 0
        for method in result["methods"].values():
            assert 1 <= method["trials_run"] <= 3  # autofix may count the spec as written as trial 0
            assert method["total_seconds"] > 0
            assert isinstance(method["fixed"], bool)
            assert all("score" in trial for trial in method["trials"])  # one scale for the anytime curves
            assert all(isinstance(trial["metrics"], dict) for trial in method["trials"])  # Metrics.to_dict()
    noise = json.loads((tmp_path / "negative_white_noise.json").read_text())
    assert not any(m["fixed"] for m in noise["methods"].values())
    assert "reference" not in noise  # a control has no reference fix
    sunspots = json.loads((tmp_path / "unscaled_target_sunspots.json").read_text())
    assert sunspots["reference"]["metrics"]["task"] == "regression" and sunspots["reference"]["seconds"] > 0
    assert sunspots["baseline"]["task"] == "regression"  # the spec as written's metrics, as JSON data
    assert sunspots["methods"]["autofix"]["best_metrics"]["task"] == "regression"
    path = report.write(results, tmp_path / "RESULTS.md", plot_path=tmp_path / "time_to_fix.png")
    text = path.read_text()
    assert "## Targets" in text and "negative_white_noise" in text
    assert "## The kept model against the hand-written reference fix" in text and "## Anytime" in text
    assert (tmp_path / "time_to_fix.png").stat().st_size > 1000
    assert (tmp_path / "anytime.png").stat().st_size > 1000


def _result(case: str, scores: dict[str, list], reference_beats_persistence=None, ours=None, ref=None) -> dict:
    methods = {m: {"trials": [{"score": v} for v in values], "best_metrics": ours if m == "autofix" else None,
                   "beats_persistence": True} for m, values in scores.items()}
    out = {"case": case, "trials_budget": 3, "methods": methods}
    if ref is not None:
        out["reference"] = {"metrics": ref, "beats_persistence": reference_beats_persistence}
    return out


def test_the_anytime_curve_is_the_median_best_so_far_and_ignores_the_spec_as_written():
    first = _result("a", {"autofix": [2.5, 0.4, 0.6]})
    first["methods"]["autofix"]["trials"].insert(0, {"score": 0.1, "baseline": True})  # not a search trial
    second = _result("b", {"autofix": [0.8, None]})  # a failed trial, then the search stopped
    third = _result("c", {"autofix": [0.2, 0.3, 0.1]})
    assert report.anytime([first, second, third], "autofix", 3) == [0.8, 0.4, 0.4]


def test_the_kept_model_is_judged_against_the_reference_fix():
    good = {"task": "regression", "r2": 0.90, "collapsed": False}
    ref = {"task": "regression", "r2": 0.905, "collapsed": False}
    worse = {"task": "regression", "r2": 0.70, "collapsed": False}
    rows = report.against_reference([_result("a", {"autofix": []}, True, good, ref),
                                      _result("b", {"autofix": []}, False, worse, ref),
                                      _result("control", {"autofix": []}, ours=good)])
    assert [(r["case"], r["at_least"], r["persistence_due"]) for r in rows] == [("a", True, True), ("b", False, False)]


def test_the_common_score_is_the_objective_on_a_trials_metrics_as_stored():
    from helpers import spec_dict

    from autofix_lstm.scoring.metrics import Metrics
    from autofix_lstm.scoring.objective import score
    from autofix_lstm.spec import load_spec
    from benchmarks import methods

    spec = load_spec(spec_dict("s.csv"))
    fix = Metrics(task="regression", nan=False, std_ratio=0.9, r2=0.8, mse=0.2, constant_mse=1.0, collapsed=False)
    expected = score(fix, spec.search.min_std_ratio)
    assert methods.common_score(fix.to_dict(), spec) == expected  # a trial's metrics as the results hold them
    assert methods.common_score(fix, spec) == expected
    assert methods.common_score({}, spec) is None  # a failed trial
    assert methods.common_score(Metrics.failed("regression", "NaN loss").to_dict(), spec) == 3.0  # the worst tier


@pytest.mark.parametrize("data, head_units, part", [
    ({"horizon": {"steps": 3}}, 3, "per_step"),
    ({"rollout": 4}, 1, "per_step"),
    ({"target": ["x", "y"]}, 2, "per_target"),
], ids=["steps", "rollout", "targets"])
def test_the_runner_judges_a_kept_model_as_its_trial_was(tmp_path, data, head_units, part):
    """The runner's verdict on a method's saved model is the trial's own: every step or target, and a
    roll-out rolled out (a first-column reading once judged a forecast by its first step)."""
    from helpers import make_series_csv, spec_dict, tiny_layers

    from autofix_lstm.data.dataset import load_dataset
    from autofix_lstm.modeling.train import export_model, fit_prepared, prepare
    from autofix_lstm.run_dir import save_model
    from autofix_lstm.spec import load_spec
    from benchmarks import methods

    raw = spec_dict(make_series_csv(tmp_path, scale=50.0, offset=200.0), data=data,
                    model={"layers": tiny_layers(head_units=head_units)},
                    preprocessing={"inputs": "standard", "target": "standard"})
    spec = load_spec(raw)
    prepared = prepare(spec, load_dataset(spec))
    outcome = fit_prepared(spec, prepared)
    save_model(export_model(outcome.core, prepared), tmp_path / "best_model.keras")
    verdict = methods.verify(methods.MethodRun("peer", best_model_path=tmp_path / "best_model.keras"), spec)
    expected = outcome.metrics.to_dict()
    assert len(verdict["metrics"][part]) == len(expected[part]) > 1
    for key in ("std_ratio", "r2", "mse"):
        assert verdict["metrics"][key] == pytest.approx(expected[key], rel=1e-4), key


def test_the_minimal_fix_benchmark_says_when_its_page_is_partial():
    from benchmarks import minimal

    row = {"case": "a", "fixed": True, "beats_persistence": True, "changes_lines": 4, "minimal_ran": True,
           "changes_full": 4, "changes_minimal": 2, "minimal_retrained_fixed": True,
           "minimal_retrained_beats_persistence": False, "ablation_over_search": 0.25, "verdict": "The fix: x"}
    summary = minimal.aggregate([row, {**row, "case": "b", "minimal_ran": False}])
    assert summary["minimal_ran"] == 1 and summary["median_changes_minimal"] == 2
    assert summary["minimal_still_fixes"] == "1/1" and summary["minimal_still_beats_persistence"] == "0/1"
    report = {"command": "python -m benchmarks.minimal", "date": "now", "summary": summary, "cases": [row],
              "cases_planned": 18, "complete": False}
    assert "Partial: 2 of the 18 planned cases" in minimal.markdown(report)
    assert "Partial" not in minimal.markdown({**report, "complete": True})


@pytest.mark.parametrize("marks, baseline_first", [
    ({"diagnosis": 6.1, "record 0": 7.5, "record 1": 8.9, "record 2": 11.8, "baseline": 13.1}, False),
    ({"diagnosis": 6.1, "baseline": 9.0, "record 0": 10.5, "record 1": 12.0, "record 2": 13.8}, True),
])
def test_the_kill9_plan_aims_inside_each_stage_of_the_reference_timeline(marks, baseline_first):
    """Each timed kill waits a share of its stage's reference length after the stage starts in the killed
    run; the spec as written trains before the trials, or after them when the diagnosis saw the collapse."""
    import random
    import sys

    sys.path.insert(0, str(Path(run.__file__).parent))
    import kill9

    plan = kill9.kill_plan(marks, 10, random.Random(0))
    assert len(plan) == 10 and sum(p["aim"] == "while writing" for p in plan) == 2
    lengths = {"diagnosis": 6.1, "baseline": 9.0 - 6.1 if baseline_first else 13.1 - 11.8,
               "mid-trial": (13.8 - 9.0) / 3 if baseline_first else (11.8 - 6.1) / 3}
    for kill in plan:
        if "after" in kill:
            assert 0.1 * max(lengths[kill["aim"]], 0.5) <= kill["after"] <= 0.7 * max(lengths[kill["aim"]], 0.5), kill
            assert (kill["aim"] == "mid-trial") == (kill.get("trial") in {"0", "1", "2"})
    assert {p["aim"] for p in plan} == {"diagnosis", "baseline", "mid-trial", "while writing"}


def test_kill9_anchors_a_kill_to_its_stage_in_events_jsonl(tmp_path):
    import sys

    sys.path.insert(0, str(Path(run.__file__).parent))
    import kill9

    events = tmp_path / "events.jsonl"
    events.write_text('{"event": "trial_started", "trial_id": "0"}\n{"event": "stage_started", "sta')  # mid-write
    assert kill9._anchored(tmp_path, {"aim": "diagnosis"})
    assert kill9._anchored(tmp_path, {"aim": "mid-trial", "trial": "0"})
    assert not kill9._anchored(tmp_path, {"aim": "mid-trial", "trial": "1"})
    assert not kill9._anchored(tmp_path, {"aim": "baseline"})
    events.write_text(events.read_text() + 'ge": "training the spec as written (for the before/after)"}\n')
    assert kill9._anchored(tmp_path, {"aim": "baseline"})


def test_suite_time_counts_an_old_summarys_confirmation_and_minimal_fix_as_training():
    from benchmarks.suite_time import case_time

    old = {"time": {"diagnosis": 3.0, "baseline": 2.0, "oracle": 0.2, "training": 100.0, "evaluation": 2.0,
                    "writing": 0.1, "other": 60.0, "wall": 167.3, "trained": 101.5},
           "confirmation": {"seconds": 20.0}, "minimal_fix": {"seconds": 39.5}}
    row = case_time(old)
    assert row["trained"] == 161.0 and row["stages"]["other"] == 0.5
    assert row["ratio"] == 167.3 / 161.0 and row["oracle_share"] == 0.2 / 161.0


def test_first_fix_splits_the_time_to_the_first_fix(tmp_path):
    from benchmarks.first_fix import case_row

    folder = tmp_path / "case" / "autofix"
    folder.mkdir(parents=True)
    (folder / "events.jsonl").write_text(json.dumps({"event": "stage_ended", "stage": "diagnosing", "seconds": 3.0}) + "\n")
    header = "trial_id,architecture.depth,architecture.units,fix,seconds,train_seconds,pruned_at_epoch,epochs_run\n"
    (folder / "trials.csv").write_text(header + "00,1,32,False,5.0,4.5,,10\n01,1,32,True,19.5,19.0,,10\n"
                                       "02,1,32,True,10.0,9.5,,10\n03,1,32,False,2.0,1.5,2,2\n04,1,32,True,10.5,10.5,,10\n")
    result = {"case": "case", "methods": {"autofix": {"trials_to_first_fix": 2, "seconds_to_first_fix": 28.0,
                                                      "floor_seconds": 8.0}}}
    row = case_row(result, tmp_path)
    assert row["first_fix_trial"] == "01" and row["diagnosis"] == 3.0 and row["trials_before"] == 5.0
    assert row["first_fix_over_floor"] == 3.5
    assert row["same_architecture_later_median"] == 10.0 and row["first_training_over_later"] == 1.9  # pruned 03 left out


def test_the_cases_table_shows_each_forecast_steps_error_against_persistence():
    from benchmarks.cases_table import cases_rows, step_ratios, step_rows

    steps = [{"mse": 2.0, "persistence_mse": 4.0}, {"mse": 6.0, "persistence_mse": 3.0}]
    kept = {"task": "regression", "r2": 0.81, "std_ratio": 0.9, "collapsed": False, "per_step": steps}
    result = {"case": "fan", "_folder": "part", "meta": {"task": "regression"},
              "reference": {"metrics": {"task": "regression", "r2": 0.75, "collapsed": False}},
              "methods": {"autofix": {"best_metrics": kept, "meets_good_fix": True, "beats_persistence": True},
                          "keras_tuner": {"best_metrics": {"task": "regression", "collapsed": True},
                                          "meets_good_fix": False, "beats_persistence": False}}}
    assert step_ratios(kept) == [0.5, 2.0]
    assert step_ratios({"per_step": [{"mse": 1.0, "persistence_mse": None}]}) is None
    row = cases_rows([result])[2]
    assert "| fan | part | r2 | 0.750 | 0.810 (good, beats persistence) | collapsed (not good, not above persistence) | - |" == row
    assert step_rows([result])[2] == "| fan | autofix-lstm | 2 | 0.50, 2.00 | 1/2 |"
