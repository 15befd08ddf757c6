"""What ``autofix-lstm search`` prints and returns for each outcome, without training.

``autofix_lstm.api.search_resolved`` is replaced by a stand-in returning a finished ``SearchResult``, so the
change list, the state row, the last line and the exit code are checked on known summaries.
"""

from __future__ import annotations

import pandas as pd
import pytest
from helpers import spec_dict, write_spec
from typer.testing import CliRunner

from autofix_lstm import api, inputs
from autofix_lstm.cli import app
from autofix_lstm.spec import load_spec
from autofix_lstm.tuning.result import SearchResult
from autofix_lstm.tuning.resume import spec_fingerprint

LAYERS_CHANGE = ("model.layers: [lstm(units=8), dense(units=1, activation=sigmoid)] -> "
                 "[lstm(units=8, return_sequences=True), lstm(units=8), dense(units=1, activation=linear)]")


def _metrics(std_ratio, balanced, distinct=2):
    return {"task": "binary", "nan": False, "std_ratio": std_ratio, "accuracy": balanced,
            "balanced_accuracy": balanced, "macro_f1": balanced, "distinct_predictions": distinct,
            "majority_balanced_accuracy": 0.5, "log_loss": 0.4, "prior_log_loss": 0.69, "collapsed": distinct < 2,
            "loss_diverged": False}


def _result(tmp_path, *, fixed, baseline_state, best_state, verdict, baseline, best, changes=()):
    summary = {"fixed": fixed, "verdict": verdict, "baseline_state": baseline_state, "best_state": best_state,
               "min_std_ratio": 0.1, "trials_total": 2, "trials_completed": 2, "trials_pruned": 0,
               "trials_failed": 0, "elapsed_seconds": 3.0, "trials_to_first_fix": 0 if fixed else None,
               "seconds_to_first_fix": 1.0 if fixed else None}
    return SearchResult(fixed=fixed, verdict=verdict, best_spec=None, baseline=baseline, best=best,
                        changes=list(changes), summary=summary, trials=pd.DataFrame(), output_dir=tmp_path,
                        baseline_state=baseline_state)


@pytest.fixture
def run_cli(tmp_path, monkeypatch):
    """Invoke ``search`` on a dummy path with ``api.search_resolved`` returning ``result``; keeps the call's options."""
    calls = []

    def invoke(result, *args):
        def fake_search(spec, dataset, options, **kwargs):
            calls.append(options)
            return result

        monkeypatch.setattr(api, "search_resolved", fake_search)
        # the CLI checks the spec and reads its data first (resolve_inputs); these tests give it neither
        monkeypatch.setattr(inputs, "resolve_inputs",
                            lambda spec, **overrides: (spec, None, inputs.Options(**overrides)))
        write_spec(tmp_path, spec_dict(), "spec.yaml")  # the CLI reads its output folder first, to lock it
        return CliRunner().invoke(app, ["search", str(tmp_path / "spec.yaml"), *args], terminal_width=400)

    invoke.calls = calls
    return invoke


def test_a_working_spec_exits_0_not_fixed_and_the_verdict_is_the_last_line(tmp_path, run_cli):
    verdict = ("The spec as written was not collapsed, and beat a constant predictor (balanced accuracy 0.81); "
               "the best configuration (trial 10) improves balanced accuracy from 0.81 to 0.96.")
    result = run_cli(_result(tmp_path, fixed=False, baseline_state="working", best_state="working", verdict=verdict,
                             baseline=_metrics(0.7, 0.81), best=_metrics(0.9, 0.96), changes=[LAYERS_CHANGE]))
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.output.strip().splitlines()]
    assert lines[-1] == verdict
    # every change in plain text, the bracketed layer lists included (rich used to eat them as markup)
    assert LAYERS_CHANGE in result.output
    state_row = next(line for line in lines if line.startswith("│ state"))
    assert [cell.strip() for cell in state_row.split("│")[1:4]] == ["state", "working", "working"]


def test_a_collapsed_spec_with_no_fix_exits_1_and_its_state_reads_collapsed(tmp_path, run_cli):
    verdict = "Not fixed: the spec as written collapsed (std_ratio 0), and no configuration in the search ..."
    result = run_cli(_result(tmp_path, fixed=False, baseline_state="collapsed", best_state="collapsed",
                             verdict=verdict, baseline=_metrics(0.0, 0.5, distinct=1),
                             best=_metrics(0.0, 0.5, distinct=1)))
    assert result.exit_code == 1
    state_row = next(line for line in result.output.splitlines() if line.startswith("│ state"))
    assert [cell.strip() for cell in state_row.split("│")[1:4]] == ["state", "collapsed", "collapsed"]
    assert "No changes" not in result.output and result.output.strip().splitlines()[-1].strip() == verdict
    # Issue 25 (5): this read "first fix after - trials / -s"
    assert "2 completed, 0 pruned, 0 failed) in 3s; no fix" in result.output and "- trials" not in result.output


def test_no_confirm_reaches_the_search_as_confirm_false(tmp_path, run_cli):
    result = _result(tmp_path, fixed=True, baseline_state="collapsed", best_state="working", verdict="Fixed: ...",
                     baseline=_metrics(0.0, 0.5, distinct=1), best=_metrics(0.9, 0.9))
    assert run_cli(result, "--no-confirm").exit_code == 0
    assert run_cli(result).exit_code == 0
    assert [call.confirm for call in run_cli.calls] == [False, None]


def test_search_confirm_is_in_the_spec_and_does_not_change_the_fingerprint():
    on = load_spec(spec_dict("s.csv"))
    off = on.updated({"search.confirm": False})
    assert on.search.confirm is True and off.search.confirm is False
    assert spec_fingerprint(on) == spec_fingerprint(off)  # a resumed search may turn it off
