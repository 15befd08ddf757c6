"""``autofix-lstm demo``: the bundled collapsed example, copied out of the package and fixed in one command.

The package's copy (``autofix_lstm/demo_data``) is the repository's ``examples/energy.*``, kept equal
here. Copying refuses to overwrite an edited spec before anything trains; one slow test runs the
command for real, with a one-trial budget, and finds the collapse ``make demo`` shows. That the files
are inside a built wheel is checked by ``tests/test_packaging.py``'s wheel test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from autofix_lstm import cli
from autofix_lstm.demo import copy_example
from autofix_lstm.errors import SpecError
from autofix_lstm.resources import DEMO_FILES, demo_texts
from autofix_lstm.run_dir import RunDir

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_the_bundled_example_is_the_examples_folders():
    texts = demo_texts()
    assert list(texts) == list(DEMO_FILES) == ["energy.yaml", "energy.csv"]
    assert texts["energy.csv"] == (EXAMPLES / "energy.csv").read_text(encoding="utf-8"), (
        "autofix_lstm/demo_data/energy.csv is not examples/energy.csv: run python examples/make_energy.py")
    packaged = yaml.safe_load(texts["energy.yaml"])
    assert packaged == yaml.safe_load((EXAMPLES / "energy.yaml").read_text(encoding="utf-8"))
    assert packaged["data"]["path"] == "energy.csv" and packaged["output"] == "runs/energy"


def test_copy_example_writes_the_spec_and_data_then_leaves_them(tmp_path):
    folder = tmp_path / "nested" / "demo"
    spec = copy_example(folder)
    assert spec == folder / "energy.yaml"
    assert {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir()} == demo_texts()
    (folder / "energy.csv").unlink()  # a file gone is written again; the one still there is left as it is
    assert copy_example(folder) == spec
    assert sorted(p.name for p in folder.iterdir()) == ["energy.csv", "energy.yaml"]

    from autofix_lstm.spec import load_spec

    light = load_spec(spec, keras_checks=False)
    assert light.output_dir == (folder / "runs" / "energy").resolve()


def test_copy_example_never_overwrites_an_edited_spec_or_a_file_in_the_way(tmp_path):
    spec = copy_example(tmp_path)
    spec.write_text(spec.read_text().replace("units: 32", "units: 64"))
    with pytest.raises(SpecError, match=r"energy\.yaml is not the bundled example's energy\.yaml"):
        copy_example(tmp_path)
    assert "units: 64" in spec.read_text()
    a_file = tmp_path / "a_file"
    a_file.write_text("mine")
    with pytest.raises(SpecError, match="is a file, not a folder"):
        copy_example(a_file)
    assert a_file.read_text() == "mine"


def test_the_demo_command_refuses_an_edited_example_as_bad_input(tmp_path):
    (tmp_path / "energy.csv").write_text("date,load\n")
    result = CliRunner().invoke(cli.app, ["demo", "--output", str(tmp_path)])
    assert result.exit_code == cli.EXIT_BAD_INPUT, result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error (spec):") and "energy.csv is not the bundled example's" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["energy.csv"]  # nothing else written


@pytest.mark.slow
def test_the_demo_command_copies_the_example_and_searches_it(tmp_path):
    folder = tmp_path / "demo"
    result = CliRunner().invoke(cli.app, ["demo", "--output", str(folder), "--max-trials", "1", "--no-confirm",
                                          "--no-minimize"])
    assert result.exit_code == cli.EXIT_RAN, result.output
    assert f"the bundled example, copied to {folder / 'energy.yaml'}" in result.output.replace("\n", "")
    run = RunDir(folder / "runs" / "energy")
    summary = json.loads(run.summary.read_text())
    assert summary["baseline_state"] == "collapsed"  # the example does what it is bundled for
    # the one trial is the diagnosis' seed (the unscaled table scaled), which fixes it: what `make demo` shows
    assert summary["trials_total"] == 1 and summary["fixed"] and summary["trials_to_first_fix"] == 1
    assert result.output.rstrip().splitlines()[-1].startswith("Fixed")
    assert run.best_spec.is_file() and run.report.is_file()
