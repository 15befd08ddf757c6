"""The fast subset of the input fuzzing campaign (``benchmarks/fuzz.py``): 30 generated bad inputs of the first
campaign's families, and fixed examples of each robustness family.

Each example is a valid spec and data file with ONE fault, drawn by hypothesis (a wrong type, an
out-of-range value, a missing, unknown or doubled key, a junk or truncated file, NaN/inf in the data
under each ``data.missing`` mode) or fixed (deep YAML, alias bombs, symlink loops, other encodings,
degenerate ``.npz`` arrays, special paths, repeated columns, non-finite spec numbers). ``autofix-lstm
check`` runs on it in-process (YAML bombs in a subprocess), and ``train`` or ``diagnose`` too where
``check`` refused it: each must succeed or exit 2/3 with only error lines on stderr (one per problem),
never a traceback or a hang, and a bad input that must be refused is. Nothing trains here; the full
campaign also runs accepted inputs, output-folder faults and damaged run folders (it trains a tiny search).
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from benchmarks import fuzz
from benchmarks.fuzz import CLASSIC_FAMILIES, MARKER, FuzzCase, duplicate_a_key, fuzz_cases, run_case, spec_text


@settings(max_examples=30, phases=[Phase.explicit, Phase.generate], deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(case=fuzz_cases(CLASSIC_FAMILIES))
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


# --- the robustness families: a few fixed examples of each (the campaign draws them; a damaged run folder --
# --- trains a search, so it is left to the campaign, as are faults in the output folder) -----------------

def _nested(place: str, text: str, **kwargs) -> FuzzCase:
    return FuzzCase("regression_csv", "yaml", place, **fuzz._placed_yaml(place, text, None), must_refuse=True,
                    isolated=True, one_line=True, refuse_codes=(2,), **kwargs)


ROBUSTNESS_EXAMPLES = {
    "a list nested 5,000 deep as the whole spec": _nested("whole spec", fuzz.nested_yaml("flow list", 5_000)),
    "a mapping nested 3,000 deep in data.features": _nested("data.features", fuzz.nested_yaml("flow mapping", 3_000)),
    "a billion laughs in model.layers": _nested("model.layers", fuzz.alias_bomb(9, 9, False, True)[0]),
    "an alias inside itself (a merge key)": _nested("model.layers[0].units", "&s {<<: *s}"),
    "the spec path is a symlink loop": FuzzCase("regression_csv", "links", "spec loop", spec_arg="loop.yaml",
                                                files=[("symlink", "loop.yaml", "loop.yaml")], must_refuse=True),
    "the data file is a symlink to nothing": FuzzCase("windows_npz", "links", "dangling data",
                                                      files=[("symlink", "data.npz", "nothing")], must_refuse=True),
    "a NUL byte in data.path": FuzzCase("regression_csv", "paths", "NUL", spec_edits=[("set", "data.path", "d\x00.csv")],
                                        must_refuse=True),
    "a data.path longer than PATH_MAX": FuzzCase("binary_csv", "paths", "long", must_refuse=True,
                                                 spec_edits=[("set", "data.path", "a/" * 2100 + "data.csv")]),
    "a spec in UTF-16": FuzzCase("regression_csv", "encodings", "utf-16", spec_encoding="utf-16",
                                 spec_text_op=("insert", 0, "# température\n")),
    "random bytes in a spec": FuzzCase("regression_csv", "encodings", "bytes", spec_bytes_insert=(0.4, b"\x80\xff"),
                                       must_refuse=True),
    "random bytes in the CSV's feature column": FuzzCase(
        "multiclass_csv", "encodings", "bytes", cell_edits=[(7, "x", "ZZBYTESZZ")], must_refuse=True,
        files=[("replace_bytes", "data.csv", b"ZZBYTESZZ", b"\xff\xfe")]),
    "a strategy file in latin-1": FuzzCase("regression_csv", "encodings", "latin-1", refused_by=("check",),
                                           spec_edits=[("set", "search.strategies", ["mine.yaml"])],
                                           strategy=fuzz.STRATEGY_TEXT.replace("d\n", "é\n", 1).encode("latin-1")),
    "a complex .npz": FuzzCase("windows_npz", "npz", "complex", must_refuse=True,
                               data_op=("arrays", fuzz._NPZ_DEGENERATE["complex64 x"][0])),
    "an .npz of 0 features": FuzzCase("windows_npz", "npz", "0 features", must_refuse=True,
                                      data_op=("arrays", fuzz._NPZ_DEGENERATE["0 features"][0])),
    "an .npz holding 1e308": FuzzCase("windows_npz", "npz", "1e308", must_refuse=True,
                                      data_op=("arrays", fuzz._NPZ_DEGENERATE["float64 x holding 1e308"][0])),
    "a used CSV column named twice": FuzzCase("regression_csv", "columns", "x,x,y", must_refuse=True,
                                              data_op=("table", ["x", "x", "y"], ["t", "x", "y"])),
    "dropout: .nan": FuzzCase("binary_csv", "numbers", "dropout", must_refuse=True,
                              spec_edits=[("set", "model.layers[0].dropout", MARKER)],
                              spec_text_op=("substitute", ".nan")),
    "a dropout layer's rate of 1.0": FuzzCase("regression_csv", "numbers", "rate", must_refuse=True,
                                              spec_edits=[("insert", "model.layers[1]", {"type": "dropout", "rate": 1.0})]),
    "an L2 regularizer of .inf": FuzzCase("regression_csv", "numbers", "l2", must_refuse=True, spec_edits=[
        ("set", "model.layers[0].kernel_regularizer", {"class_name": "L2", "config": {"l2": math.inf}})]),
    "search.min_std_ratio: -.inf": FuzzCase("windows_npz", "numbers", "ratio", must_refuse=True,
                                            spec_edits=[("set", "search.min_std_ratio", -math.inf)]),
}


@pytest.mark.parametrize("name", sorted(ROBUSTNESS_EXAMPLES))
def test_each_robustness_family_is_refused_cleanly(tmp_path, name):
    outcome = run_case(ROBUSTNESS_EXAMPLES[name], tmp_path)
    assert outcome.runs[0].exit_code in (2, 3) or not ROBUSTNESS_EXAMPLES[name].must_refuse
    for run in outcome.runs:
        assert run.violation is None, f"{run.command}: {run.violation}\nstderr: {run.stderr}\n{run.traceback or ''}"


def test_the_harness_counts_a_hang_and_a_refusal_in_several_lines(tmp_path, monkeypatch):
    import time

    import autofix_lstm.api

    woke = []

    def hang(spec, dataset):
        time.sleep(30)
        woke.append(True)

    monkeypatch.setattr(autofix_lstm.api, "check_resolved", hang)
    monkeypatch.setitem(fuzz.IN_PROCESS_TIMEOUT, "check", 0.5)
    outcome = run_case(FuzzCase("regression_csv", "none", "nothing"), tmp_path / "a")
    assert woke == []  # the harness gave up on the hang, not waited it out (a clock bound failed on a busy machine)
    assert (outcome.runs[0].exit_code, outcome.runs[0].violation) == (-1, "hang: no exit within 0 s")
    monkeypatch.undo()
    # a YAML fault that must be refused in one line is a violation in two (two unknown keys here)
    case = FuzzCase("regression_csv", "yaml", "two unknown keys", spec_edits=[("set", "colour", 1), ("set", "size", 2)],
                    one_line=True)
    assert run_case(case, tmp_path / "b").runs[0].violation == "refused in 2 lines; one line was expected"


def test_a_damaged_run_folder_is_judged_by_what_it_leaves(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "events.jsonl").write_bytes(b'{"event": "start"}\n{"event": "end"}\n')
    fuzz.damage_file(out / "events.jsonl", "partial last line", None)
    assert (out / "events.jsonl").read_bytes() == b'{"event": "start"}\n{"event"'
    (out / "summary.json").write_text(json.dumps({"verdict": "fixed"}))
    (out / "search_state.json").write_text("{")  # left damaged by a resume that said exit 0
    problems = fuzz.run_folder_problems(out, out / "search_state.json", "json", b"{", b"")
    assert "search_state.json was left damaged" in problems and "summary.json is missing or unreadable" not in problems
    assert "best_model.keras is missing or unreadable" in problems
