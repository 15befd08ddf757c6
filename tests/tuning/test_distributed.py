"""Distributed searches on loopback: Keras Tuner's chief/worker mode, real worker processes, tiny data.

A chief and two workers finish a 6-trial search with the files a serial search writes; a worker
killed mid-trial (kill -9) still leaves a finished search with every trial recorded; a chief
killed mid-search resumes with the finished trials kept. Each search trains a 4-unit LSTM on 240
rows; the workers are separate Python processes (``python -m autofix_lstm worker``).
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

from autofix_lstm.cli import EXIT_CANNOT_RUN, app
from autofix_lstm.errors import SpecError
from autofix_lstm.run_dir import RunDir
from autofix_lstm.spec import load_spec
from autofix_lstm.tuning.distributed import ScaleOut, threads_per_worker
from autofix_lstm.tuning.records import load_records

TRIALS = 6
WORKERS = {"worker-0", "worker-1"}


def _spec(folder: Path, *, epochs: int = 1, output: str = "runs/dist") -> Path:
    """The collapsing spec (targets ~5,000 into a sigmoid head), 6 random trials, no stage after them."""
    path = collapsing_spec(folder, epochs=epochs)
    raw = yaml.safe_load(path.read_text())
    raw["output"] = output
    raw["search"] = {"max_trials": TRIALS, "tuner": "random", "rerun_pruned": 0, **TRIALS_ONLY}
    return write_spec(folder, raw, path.name)


def _files(root: Path) -> set[str]:
    """The files under ``root``, the one trial model (the best's, whichever trial that is) as trial_*/model.keras."""
    out = set()
    for path in root.rglob("*"):
        if path.is_file():
            name = str(path.relative_to(root))
            out.add("tuner/autofix/trial_*/model.keras" if path.name == "model.keras" and "trial_" in name else name)
    return out


def _search_command(spec: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "autofix_lstm", "search", str(spec), "--json", *args]


def test_a_number_of_workers_is_a_local_scale_out_and_each_gets_its_share_of_the_cores():
    assert ScaleOut.of(None) is None
    assert ScaleOut.of(2) == ScaleOut(workers=2)
    with pytest.raises(ValueError):
        ScaleOut.of(0)
    assert [threads_per_worker(n, cores=8) for n in (1, 2, 3, 16)] == [8, 4, 2, 1]
    assert ScaleOut(workers=2).bind == "127.0.0.1" and ScaleOut(listen_all=True).bind == "0.0.0.0"


def test_workers_need_the_spec_as_a_file(tmp_path):
    spec = load_spec(_spec(tmp_path)).to_dict()  # a dict: the workers would have nothing to read
    with pytest.raises(Exception, match="give the spec as a file"):
        ScaleOut(workers=2).check(load_spec(spec))


def test_a_worker_takes_the_chiefs_tensorboard_override_from_chief_json(tmp_path):
    from autofix_lstm.tuning.distributed import chief_spec_changes
    from autofix_lstm.tuning.distributed_worker import _as_the_chief_says

    spec = load_spec(_spec(tmp_path))  # as a worker reads it: search.tensorboard off
    chief = {"spec_changes": chief_spec_changes(spec.updated({"search.tensorboard": True}))}
    assert chief == {"spec_changes": {"search.tensorboard": True}}
    taken = _as_the_chief_says(spec, json.loads(json.dumps(chief)))
    assert taken.search.tensorboard and taken.output_dir == spec.output_dir
    assert _as_the_chief_says(spec, {}) is spec  # a chief.json without it: the spec as written
    ignored = _as_the_chief_says(spec, {"spec_changes": {"search.max_trials": 1}})  # only the fields it names
    assert ignored.search.max_trials == TRIALS


def test_a_worker_without_a_chief_gives_up_with_exit_code_3(tmp_path):
    path = _spec(tmp_path)
    result = CliRunner().invoke(app, ["worker", str(path), "--chief-address", "127.0.0.1:1", "--connect-timeout", "1"])
    assert result.exit_code == EXIT_CANNOT_RUN, result.output
    assert "no chief answered at 127.0.0.1:1" in result.output


def test_stopping_once_a_fix_is_confirmed_is_refused_with_workers(tmp_path):
    # the stop rule confirms a fix between trials, in this process; the chief serving workers does not pause for it
    from autofix_lstm.inputs import resolve_inputs
    from autofix_lstm.tuning.driver import run_search

    path = _spec(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["search"].update(stop="confirmed", confirm=True)
    write_spec(tmp_path, raw, path.name)
    with pytest.raises(SpecError, match="search.stop: budget with workers"):
        run_search(*resolve_inputs(path, workers=2))
    assert not (tmp_path / "runs" / "dist").exists()


@pytest.mark.slow
def test_a_chief_and_two_workers_run_every_trial_once_and_write_what_a_serial_search_writes(tmp_path):
    from autofix_lstm.inputs import resolve_inputs
    from autofix_lstm.tuning.driver import run_search

    path = _spec(tmp_path)
    distributed = run_search(*resolve_inputs(path, workers=2))
    run = RunDir(distributed.output_dir)
    records = load_records(run)
    assert sorted(r.trial_id for r in records) == [str(i) for i in range(TRIALS)]  # each trial once
    assert {r.worker for r in records} == WORKERS  # split across both workers
    assert all(r.order is not None and r.source in ("seed", "refine", "oracle") for r in records)  # the chief's notes
    oracle = json.loads(run.tuner_oracle.read_text())
    assert len(oracle["end_order"]) == TRIALS and not oracle["ongoing_trials"]
    summary = distributed.summary
    assert summary["trials_total"] == TRIALS
    assert summary["trials_completed"] + summary["trials_pruned"] + summary["trials_failed"] == TRIALS
    best = json.loads(run.best_trial.read_text())["trial_id"]
    assert best == summary.get("best_trial_id", best) and run.trial_model(best).is_file()
    csv = distributed.trials
    assert set(csv["worker"]) == WORKERS and len(csv) == TRIALS
    assert not run.workers.exists() and not run.chief_file.exists()  # the chief tidied up after its workers
    # events.jsonl parses line by line; each trial's events name the worker that ran it
    events = [json.loads(line) for line in run.events.read_text().splitlines()]
    ended = {e["trial_id"]: e["worker"] for e in events if e["event"] == "trial_ended"}
    assert ended == {r.trial_id: r.worker for r in records}
    started = [e for e in events if e["event"] == "trial_started"]
    assert {e["trial_id"] for e in started} == set(ended) and {e["worker"] for e in started} == WORKERS

    serial = run_search(*resolve_inputs(_spec(tmp_path, output="runs/serial")))
    assert _files(run.root) == _files(serial.output_dir)
    assert {r.worker for r in serial.records} == {"chief"}


@pytest.mark.slow
def test_tensorboard_on_the_command_line_reaches_the_workers_trials(tmp_path):
    from autofix_lstm.inputs import resolve_inputs
    from autofix_lstm.run_dir import TENSORBOARD_FILES
    from autofix_lstm.tuning.driver import run_search

    path = _spec(tmp_path)  # search.tensorboard is not in the file: only the chief's override turns it on
    result = run_search(*resolve_inputs(path, workers=2, tensorboard=True, max_trials=2))
    run = RunDir(result.output_dir)
    records = load_records(run)
    assert len(records) == 2 and {r.worker for r in records} <= WORKERS
    for trial_id in ["baseline", *(r.trial_id for r in records)]:  # every trial, wherever it trained
        logs = list(run.tensorboard_trial(trial_id).glob(TENSORBOARD_FILES))
        assert logs and all(p.stat().st_size > 0 for p in logs), (trial_id, sorted(run.tensorboard.rglob("*")))
    run.clear_search()  # what --fresh does: the workers' logs go with the rest
    assert not run.tensorboard.exists()


def _wait_for(condition, timeout: float, process: subprocess.Popen | None = None, what: str = "") -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the search ended before {what}: {process.stdout.read()[-3000:]}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _heartbeats(run: RunDir) -> list[dict]:
    beats = []
    for path in run.workers.glob("*.json") if run.workers.is_dir() else []:
        try:
            beats.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return beats


@pytest.mark.slow
def test_a_worker_killed_mid_trial_still_leaves_a_finished_search(tmp_path):
    path = _spec(tmp_path, epochs=3)  # a few seconds a trial: time to kill one in the middle
    run = RunDir(load_spec(path).output_dir)
    process = subprocess.Popen(_search_command(path, "--workers", "2"), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        training = []

        def a_worker_is_training() -> bool:
            training[:] = [b for b in _heartbeats(run) if b.get("trial") is not None
                           and not run.trial_record(b["trial"]).is_file()]
            return bool(training)

        _wait_for(a_worker_is_training, 180, process, "a worker started a trial")
        victim = training[0]
        os.kill(victim["pid"], signal.SIGKILL)
        assert not run.trial_record(victim["trial"]).is_file(), "the trial ended before the kill"
        output, _ = process.communicate(timeout=240)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode in (0, 1), output[-3000:]
    summary = json.loads(output[output.index("{"):])
    assert summary["trials_total"] == TRIALS
    records = {r.trial_id: r for r in load_records(run)}
    assert sorted(records) == [str(i) for i in range(TRIALS)]
    killed = records[victim["trial"]]
    # Handed to the other worker (and run there), or recorded as failed naming the lost worker.
    assert (killed.worker != victim["worker"] and killed.scored) or (
        killed.status.value == "failed" and victim["worker"] in killed.message
    ), killed
    assert run.summary.is_file() and run.best_spec.is_file() and run.best_model.is_file()


@pytest.mark.slow
def test_a_killed_chief_resumes_with_its_workers_finished_trials_kept(tmp_path):
    path = _spec(tmp_path, epochs=2)
    run = RunDir(load_spec(path).output_dir)
    process = subprocess.Popen(_search_command(path, "--workers", "2"), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(lambda: len(load_records(run)) >= 2, 180, process, "two trials were recorded")
        process.kill()  # the chief only: its workers notice it is gone and end
        process.wait()
        kept = {r.trial_id: run.trial_record(r.trial_id).read_text() for r in load_records(run)}
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    done = subprocess.run(_search_command(path, "--workers", "2"), capture_output=True, text=True, timeout=240)
    assert done.returncode in (0, 1), (done.stdout + done.stderr)[-3000:]
    summary = json.loads(done.stdout[done.stdout.index("{"):])
    assert summary["trials_total"] == TRIALS
    records = {r.trial_id: r for r in load_records(run)}
    assert sorted(records) == [str(i) for i in range(TRIALS)]
    for trial_id, text in kept.items():  # finished before the kill: kept, not run again
        assert json.loads(run.trial_record(trial_id).read_text())["seconds"] == json.loads(text)["seconds"]


def test_each_local_worker_gets_its_own_gpu_round_robin(monkeypatch):
    from autofix_lstm.tuning.distributed import gpu_for_worker, visible_gpu_ids

    assert gpu_for_worker(0, []) == {}  # no GPU: nothing to share out
    assert [gpu_for_worker(i, ["0", "1"])["CUDA_VISIBLE_DEVICES"] for i in range(3)] == ["0", "1", "0"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2, 5")  # a scheduler's allocation is what workers share
    assert visible_gpu_ids() == ["2", "5"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert visible_gpu_ids() == []
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert visible_gpu_ids() == []  # this machine: TensorFlow sees no GPU
