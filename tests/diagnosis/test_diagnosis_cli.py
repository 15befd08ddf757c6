"""``autofix-lstm diagnose spec.yaml [--json]`` through typer's CliRunner (the installed console script
itself is exercised by the end-to-end tests)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from helpers import make_series_csv, spec_dict, tiny_layers, write_spec
from typer.testing import CliRunner

from autofix_lstm.cli import app


@pytest.fixture(scope="module")
def unscaled_spec(tmp_path_factory) -> Path:
    """Targets around 5,000 into an LSTM with nothing scaled: several error-level findings."""
    folder = tmp_path_factory.mktemp("diagnose_cli")
    data = make_series_csv(folder, n=200, kind="sine", scale=1000.0, offset=5000.0)
    spec = spec_dict(data.name, model={"layers": tiny_layers(units=4)}, train={"epochs": 2}, output="runs/cli")
    return write_spec(folder, spec)


@pytest.fixture(scope="module")
def json_run(unscaled_spec):
    return CliRunner().invoke(app, ["diagnose", str(unscaled_spec), "--json"])


def _schema() -> dict:
    return json.loads(resources.files("autofix_lstm").joinpath("schemas/diagnosis.schema.json").read_text())


def test_json_output_validates_against_the_schema(json_run):
    assert json_run.exit_code == 0, json_run.output
    payload = json.loads(json_run.stdout)
    jsonschema.validate(payload, _schema())
    ids = [f["id"] for f in payload["findings"]]
    assert {"unscaled_inputs", "unscaled_target"} <= set(ids)
    assert payload["findings"][0]["severity"] == "error"


def test_json_output_is_also_written_to_the_output_folder(json_run, unscaled_spec):
    written = json.loads((unscaled_spec.parent / "runs" / "cli" / "diagnosis.json").read_text())
    assert [f["id"] for f in written["findings"]] == [f["id"] for f in json.loads(json_run.stdout)["findings"]]


def test_the_table_lists_errors_first_with_evidence_and_strategies(unscaled_spec):
    result = CliRunner().invoke(app, ["diagnose", str(unscaled_spec)], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "unscaled_inputs" in out and "unscaled_target" in out
    assert "feature_magnitude_p99" in out  # evidence
    assert "scaling" in out  # strategies
    if "warning" in out:
        assert out.index("error") < out.index("warning")
    assert "brief training" in out and "diagnosis.json" in out
    assert "signal probe: the data holds signal: " in out  # a sine, even in the thousands


@pytest.mark.parametrize(
    "spec_text, expected",
    [
        (None, "spec file not found"),
        ("data: {path: x.csv, target: y, window: 0}\nmodel: {layers: [{type: lstm, units: 4}]}\n", "data.window must be >= 1"),
        ("data: {path: missing.csv, target: y, window: 4}\nmodel: {layers: [{type: lstm, units: 4}]}\n", "not found"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, spec_text, expected):
    path = tmp_path / "spec.yaml"
    if spec_text is not None:
        path.write_text(spec_text)
    result = CliRunner().invoke(app, ["diagnose", str(path)])
    assert result.exit_code == 2
    assert expected in result.output
    assert "Traceback" not in result.output
