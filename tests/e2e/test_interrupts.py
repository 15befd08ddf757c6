"""SIGINT and SIGTERM stop a real search, as a terminal and a batch scheduler send them, and it resumes.

The child is started the way a terminal starts it: SIGINT at its default (background jobs of a
non-interactive shell and many CI runners start children with SIGINT ignored, and then Python never
sees it), in a session of its own so the signals reach it alone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from helpers import TRIALS_ONLY, collapsing_spec, write_spec
from typer.testing import CliRunner

from autofix_lstm.cli import app

pytestmark = pytest.mark.slow

TRIALS = 3


def _start(spec: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "autofix_lstm", "search", str(spec), "--json"]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _records(out: Path) -> dict[str, str]:
    """trial id -> the text of its record, for every record that parses."""
    found = {}
    for path in (out / "tuner" / "autofix").glob("trial_*/autofix_trial.json"):
        try:
            found[json.loads(path.read_text())["trial_id"]] = path.read_text()
        except (OSError, ValueError, KeyError):
            continue
    return found


def _wait_for(condition, process: subprocess.Popen, seconds: float = 400) -> None:
    deadline = time.time() + seconds
    while not condition() and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    if not condition():
        process.kill()
        out, err = process.communicate()
        raise AssertionError(f"the search never got there (exit {process.returncode}): {err[-2000:]}")


def _stop(process: subprocess.Popen, signum: int) -> tuple[int, str]:
    process.send_signal(signum)
    try:
        _, err = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return process.returncode, err


def _agree(out: Path) -> dict:
    """summary.json, best_trial.json and best_spec.yaml name one trial; the summary."""
    summary = json.loads((out / "summary.json").read_text())
    assert json.loads((out / "best_trial.json").read_text())["trial_id"] == summary["best_trial"]
    best_spec = yaml.safe_load((out / "best_spec.yaml").read_text())
    if summary["best_trial"] != "baseline":
        record = json.loads((out / "tuner/autofix" / f"trial_{summary['best_trial']}" / "autofix_trial.json").read_text())
        assert best_spec["model"] == record["spec"]["model"]
    assert (out / "best_model.keras").is_file() and not (out / "search.lock").exists()
    return summary


def test_sigint_and_sigterm_stop_after_the_epoch_write_the_best_so_far_and_resume(tmp_path):
    spec = collapsing_spec(tmp_path, epochs=3)
    raw = yaml.safe_load(spec.read_text())
    raw["search"] = {"max_trials": TRIALS, "tuner": "random", "rerun_pruned": 0, **TRIALS_ONLY}  # the stops come in trials
    write_spec(tmp_path, raw, spec.name)
    out = tmp_path / "runs/collapsing"

    # 1. Ctrl-C (SIGINT) once the first trial is recorded: exit 130, the outputs of the best so far.
    first = _start(spec)
    _wait_for(lambda: "0" in _records(out), first)
    second = CliRunner().invoke(app, ["search", str(spec), "--json"])  # the folder is held
    assert second.exit_code == 3 and f"pid {first.pid}" in second.output, second.output
    code, err = _stop(first, signal.SIGINT)
    assert code == 130, err[-2000:]
    assert "stopped by SIGINT" in err and "Traceback" not in err
    summary = _agree(out)
    assert summary["interrupted"] is True
    kept = _records(out)

    # 2. SIGTERM (a batch scheduler's notice) in the resumed search, once it recorded one more trial: exit 143.
    resumed = _start(spec)
    _wait_for(lambda: len(_records(out)) > len(kept), resumed)
    code, err = _stop(resumed, signal.SIGTERM)
    assert code == 143, err[-2000:]
    assert "stopped by SIGTERM" in err and "Traceback" not in err
    _agree(out)
    now = _records(out)
    assert {k: now[k] for k in kept} == kept  # nothing finished was run again
    kept = now

    # 3. A record cut short (a disk filled up, an editor) is run again by the next resume, which finishes.
    damaged = out / "tuner/autofix/trial_0/autofix_trial.json"
    damaged.write_text(damaged.read_text()[:40])
    done = subprocess.run([sys.executable, "-m", "autofix_lstm", "search", str(spec), "--json"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    summary = _agree(out)
    assert summary["trials_total"] == TRIALS and summary["interrupted"] is False
    final = _records(out)
    assert sorted(final) == [str(i) for i in range(TRIALS)]
    assert {k: final[k] for k in kept if k != "0"} == {k: v for k, v in kept.items() if k != "0"}
    assert json.loads(final["0"])["trial_id"] == "0"  # re-run, whole again
    assert os.path.getsize(damaged) > 40

    # events.jsonl tells the same story, a line per event: start, SIGINT, resume, SIGTERM, resume, end.
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    story = [(e["event"], e.get("signal")) for e in events if e["event"] in ("search_started", "resumed", "interrupted",
                                                                             "search_ended")]
    assert story == [("search_started", None), ("interrupted", "SIGINT"), ("resumed", None), ("interrupted", "SIGTERM"),
                     ("resumed", None), ("search_ended", None)]
    assert all(e["outputs_written"] for e in events if e["event"] == "interrupted")
    ended = [e["trial_id"] for e in events if e["event"] == "trial_ended"]
    assert set(ended) == {str(i) for i in range(TRIALS)}
