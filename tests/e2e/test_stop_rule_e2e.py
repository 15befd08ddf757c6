"""``search.stop`` on real (tiny) searches: ``confirmed`` ends the trials once a fix holds, ``budget`` spends it.

The collapsing spec (targets ~5,000 into a sigmoid head) is fixed by the diagnosis' first seeds; with
``stop: confirmed`` and a patience of 2 the trials end a few trials after the best fix, well before
``max_trials``. Each search trains 240 rows through a 4-unit LSTM for 2 epochs a trial.
"""

from __future__ import annotations

import json

import pytest
import yaml
from helpers import TRIALS_ONLY, collapsing_spec, write_spec
from typer.testing import CliRunner

from autofix_lstm.api import search
from autofix_lstm.cli import app
from autofix_lstm.run_dir import RunDir
from autofix_lstm.tuning.events import read_events

pytestmark = pytest.mark.slow

MAX_TRIALS = 10


def _spec(folder, **search_settings):
    path = collapsing_spec(folder, epochs=2)
    raw = yaml.safe_load(path.read_text())
    raw["search"] = search_settings
    return write_spec(folder, raw, path.name)


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    """A ``stop: confirmed`` search over the collapsing spec: (its spec, its result)."""
    path = _spec(tmp_path_factory.mktemp("confirmed"), max_trials=MAX_TRIALS, stop="confirmed", patience=2,
                 minimize=False)
    return path, search(path)


def test_a_confirmed_fix_ends_the_trials_before_the_budget(stopped):
    _, result = stopped
    summary = json.loads((result.output_dir / "summary.json").read_text())
    assert summary["fixed"] is True and summary["confirmed_seeds"] == "3/3"
    assert summary["stopped_early"] is True
    best = summary["best_trial"]
    assert summary["stop_reason"] == f"trial {best}'s fix held on 3/3 seeds and the 2 trials after it brought no gain"
    assert summary["trials_total"] < MAX_TRIALS
    assert f"The search stopped early, after {summary['trials_total']} of {MAX_TRIALS} trials (search.stop: " \
           f"confirmed): {summary['stop_reason']}." in summary["verdict"]
    # the best and the two trials after it, none better; its seed runs were trained once, between trials
    order = list(result.trials["trial_id"])
    assert order[-3] == best and len(order) == summary["trials_total"]
    assert [run["seed"] for run in summary["seed_runs"]] == [0, 1, 2]
    assert summary["confirmation"]["trial_id"] == best and summary["confirmation"]["seconds"] > 0
    events = read_events(RunDir(result.output_dir).events)
    confirming = [e["stage"] for e in events if e["event"] == "stage_started" and "confirming" in e["stage"]]
    assert confirming == [f"confirming trial {best} with seed {seed} ({seed} of 2) before stopping early"
                          for seed in (1, 2)]
    assert events[-1]["event"] == "search_ended" and events[-1]["stopped_early"] is True


def test_a_resumed_search_that_stopped_early_runs_no_more_trials(stopped):
    path, first = stopped
    before = json.loads((first.output_dir / "summary.json").read_text())
    result = search(path)
    summary = json.loads((result.output_dir / "summary.json").read_text())
    assert summary["trials_total"] == before["trials_total"] and summary["stopped_early"] is True
    assert summary["stop_reason"] == before["stop_reason"] and summary["seed_runs"] == before["seed_runs"]
    events = read_events(RunDir(result.output_dir).events)
    resumed = max(i for i, e in enumerate(events) if e["event"] == "resumed")
    again = [e for e in events[resumed:] if e["event"] == "trial_started"
             or (e["event"] == "stage_started" and "confirming" in e["stage"])]
    assert again == []  # no trial, and no seed trained again


def test_a_budget_search_spends_its_budget(tmp_path):
    path = _spec(tmp_path, max_trials=4, **TRIALS_ONLY)  # stop: budget is the default
    result = search(path)
    summary = json.loads((result.output_dir / "summary.json").read_text())
    assert summary["fixed"] is True and summary["trials_total"] == 4
    assert summary["stopped_early"] is False and summary["stop_reason"] is None
    assert "stopped early" not in summary["verdict"]


def test_the_cli_refuses_stopping_on_a_confirmation_it_was_told_to_skip(tmp_path):
    path = _spec(tmp_path, stop="confirmed")
    result = CliRunner().invoke(app, ["search", str(path), "--no-confirm"])
    assert result.exit_code == 2, result.output
    assert "search.stop: confirmed" in result.output and "search.confirm: true" in result.output
    assert not list((tmp_path / "runs").rglob("*.json"))  # nothing trained, nothing written
