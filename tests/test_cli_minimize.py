"""``--no-minimize`` and ``search.minimize``: turning the minimal-fix stage off, and what the CLI shows of it."""

from __future__ import annotations

import json

from fake_outputs import fake_result, write_fake_outputs
from helpers import spec_dict, write_spec
from typer.testing import CliRunner

import autofix_lstm.api
from autofix_lstm import inputs
from autofix_lstm.cli import app
from autofix_lstm.spec import load_spec
from autofix_lstm.tuning.resume import spec_fingerprint


def _fake_search(tmp_path, monkeypatch, verdict: str | None):
    folder = write_fake_outputs(tmp_path / "out")
    summary = json.loads((folder / "summary.json").read_text())
    summary["minimal_fix"] = {"ran": verdict is not None, "verdict": verdict}
    (folder / "summary.json").write_text(json.dumps(summary))
    calls = []

    def search(spec, dataset, options, **kwargs):
        calls.append(options)
        return fake_result(folder)

    monkeypatch.setattr(autofix_lstm.api, "search_resolved", search)
    # the CLI checks the spec and reads its data first (resolve_inputs); these tests give it neither
    monkeypatch.setattr(inputs, "resolve_inputs", lambda spec, **overrides: (spec, None, inputs.Options(**overrides)))
    return calls


def test_no_minimize_reaches_the_search(tmp_path, monkeypatch):
    calls = _fake_search(tmp_path, monkeypatch, None)
    spec = write_spec(tmp_path, spec_dict())
    result = CliRunner().invoke(app, ["search", str(spec), "--no-minimize"])
    assert result.exit_code == 0, result.output
    assert calls[0].minimize is False
    CliRunner().invoke(app, ["search", str(spec)])
    assert calls[1].minimize is True


def test_the_cli_prints_the_minimal_verdict(tmp_path, monkeypatch):
    _fake_search(tmp_path, monkeypatch, "The fix: scale the target (standard); the other 2 changes did not matter.")
    result = CliRunner().invoke(app, ["search", str(write_spec(tmp_path, spec_dict()))])
    assert "The fix: scale the target (standard); the other 2 changes did not matter." in result.output


def test_search_minimize_is_a_spec_key_that_does_not_change_the_search(tmp_path):
    spec = load_spec(write_spec(tmp_path, spec_dict(search={"minimize": False})))
    assert spec.search.minimize is False and load_spec(write_spec(tmp_path, spec_dict())).search.minimize is True
    # turning it off or on resumes the same search (like max_trials and max_time)
    assert spec_fingerprint(spec) == spec_fingerprint(spec.updated({"search.minimize": True}))
