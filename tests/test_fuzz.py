"""The fast subset of the input fuzzing campaign (``benchmarks/fuzz.py``): 30 generated bad inputs.

Each example is a valid spec and data file with ONE fault drawn by hypothesis (a wrong type, an
out-of-range value, a missing, unknown or doubled key, a junk or truncated file, NaN/inf in the data
under each ``data.missing`` mode). ``autofix-lstm check`` runs on it in-process, and ``train`` or
``diagnose`` too where ``check`` refused it: each must succeed or exit 2/3 with only error lines on
stderr (one per problem), never a traceback. Nothing trains here; the full campaign also runs accepted inputs.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from benchmarks.fuzz import FuzzCase, duplicate_a_key, fuzz_cases, run_case, spec_text


@settings(max_examples=30, phases=[Phase.explicit, Phase.generate], deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(case=fuzz_cases())
def test_a_bad_input_is_refused_in_one_line_or_runs(tmp_path_factory, case):
    outcome = run_case(case, tmp_path_factory.mktemp("fuzz"))
    for run in outcome.runs:
        assert run.violation is None, (
            f"{run.command} on [{outcome.case}]: {run.violation}\nstderr: {run.stderr}\n{run.traceback or ''}"
            f"\nspec.yaml:\n{outcome.spec}"
        )


def test_the_harness_flags_a_traceback_and_a_silent_acceptance(tmp_path, monkeypatch):
    # A harness that cannot fail proves nothing: a crash inside check is a traceback violation...
    import autofix_lstm.api

    def crash(spec, dataset):
        raise RuntimeError("a bug")

    monkeypatch.setattr(autofix_lstm.api, "check_resolved", crash)  # what the CLI's check runs
    outcome = run_case(FuzzCase("regression_csv", "none", "nothing"), tmp_path / "a")
    assert outcome.runs[0].violation == "traceback: RuntimeError: a bug" and "RuntimeError" in outcome.runs[0].traceback
    monkeypatch.undo()
    # ...and a valid input marked as one that must be refused is a violation when it runs.
    outcome = run_case(FuzzCase("regression_csv", "none", "nothing", must_refuse=True), tmp_path / "b")
    assert [(r.command, r.exit_code, r.violation) for r in outcome.runs] == [
        ("check", 0, "ran, but this input must be refused")]


@pytest.mark.parametrize(("pick", "expected"), [(1, "  path: data.csv\n  path: 5\n"), (9, "  - type: lstm\n    type: 5\n"),
                                               (12, "    units: 1\n    units: 5\n")])
def test_a_doubled_key_lands_in_the_same_mapping(pick, expected):
    text = spec_text(FuzzCase("regression_csv", "x", "x"))
    doubled = duplicate_a_key(text, pick, 5)
    assert expected in doubled and len(doubled.splitlines()) == len(text.splitlines()) + 1


def test_bad_cells_reach_the_file_under_each_missing_mode(tmp_path):
    import pandas as pd

    case = FuzzCase("regression_csv", "data values", "x", missing="drop",
                    cell_edits=[(3, "y", math.nan), (4, "x", math.inf), (5, "y", "abc")])
    outcome = run_case(case, tmp_path)
    frame = pd.read_csv(tmp_path / "data.csv")
    assert math.isnan(float(frame.loc[3, "y"])) and frame.loc[4, "x"] == math.inf and frame.loc[5, "y"] == "abc"
    assert "missing: drop" in outcome.spec
