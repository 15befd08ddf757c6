"""Signals and the lock (robustness issue 26, points 15 to 18).

15. A signal during the diagnosis waits for its next check point (never raised inside TensorFlow, where it
    was swallowed or left an "Object was never used" ERROR block), and a search stopped before any trial
    ended writes no verdict.
16. A second signal stops at once: no stage catches it to write outputs, nor does the report wait for it.
17. The CLI checks the folder's lock before TensorFlow loads.
18. A full disk names the file being written, and leaves no lock file behind.

Nothing trains here but the brief training of point 15's diagnosis (one step of a tiny LSTM).
"""

from __future__ import annotations

import contextlib
import errno
import gc
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import pytest
from helpers import FakeDiagnosis
from typer.testing import CliRunner

from autofix_lstm import api, cli
from autofix_lstm.diagnosis.findings import Finding
from autofix_lstm.errors import RunFolderError, SearchInterrupted
from autofix_lstm.inputs import resolve_inputs
from autofix_lstm.run_dir import RunDir, append_line, write_json
from autofix_lstm.scoring.metrics import Metrics
from autofix_lstm.spec import load_spec
from autofix_lstm.tuning import driver, trials
from autofix_lstm.tuning.interrupts import StopNow, StopRequested, StopSignals
from autofix_lstm.tuning.trials import TrialRunner

COLLAPSED = Metrics(task="regression", nan=False, std_ratio=0.001, r2=-30.0, mse=31.0, constant_mse=1.0,
                    persistence_mse=0.3, collapsed=True)


def _collapse_seen() -> SimpleNamespace:
    """A diagnosis whose brief training saw the collapse: the trials start before the spec is trained in full."""
    return SimpleNamespace(
        findings=[Finding("collapsed_output", "error", "seen", {})], metrics=COLLAPSED, training_error=None,
        probe={"steps": 30, "full_training_steps": 300, "seconds": 2.0, "epochs": 3, "nonfinite_loss_step": None},
        signal_probe=None, output_path=None, seconds=1.0, to_dict=lambda: {"findings": []},
    )


def _never_trains(*args, **kwargs):
    raise AssertionError("a training started after the signal")


def _kill(signum: int) -> None:
    """Send ``signum`` to this process, swallowing what its handler raises there, as TensorFlow's C++ fast
    path, a finaliser or a weakref callback does with an exception raised in it."""
    try:
        os.kill(os.getpid(), signum)
    except BaseException:  # noqa: BLE001 - the point: what the signal handler raised is lost here
        pass


# --- 15: a signal in the diagnosis waits for its next check point; no verdict before a trial ended ----------------


def test_a_signal_late_in_the_diagnosis_stops_before_trial_0_and_touches_nothing(csv_spec, monkeypatch):
    def diagnosis(*args, **kwargs):
        _kill(signal.SIGTERM)
        return _collapse_seen()

    monkeypatch.setattr(driver, "diagnose_dataset", diagnosis)
    monkeypatch.setattr(trials, "train_candidate", _never_trains)
    with pytest.raises(SearchInterrupted) as caught:
        driver.run_search(*resolve_inputs(csv_spec))
    err = caught.value
    assert (err.signal_name, err.exit_code, err.result) == ("SIGTERM", 143, None)
    assert not load_spec(csv_spec).output_dir.exists()  # no summary.json, no report: nothing at all


def test_a_signal_between_the_diagnosis_and_trial_0_writes_no_verdict(csv_spec, monkeypatch):
    build_space, sent = driver.build_space, []

    def signal_while_building(*args, **kwargs):
        if not sent:
            sent.append(signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGTERM)  # noted: the search stops at its next check point
        return build_space(*args, **kwargs)

    monkeypatch.setattr(driver, "diagnose_dataset", lambda *args, **kwargs: _collapse_seen())
    monkeypatch.setattr(driver, "build_space", signal_while_building)
    monkeypatch.setattr(trials, "train_candidate", _never_trains)
    with pytest.raises(SearchInterrupted) as caught:
        driver.run_search(*resolve_inputs(csv_spec))
    assert (caught.value.signal_name, caught.value.result) == ("SIGTERM", None)
    run = RunDir(load_spec(csv_spec).output_dir)
    assert not run.summary.exists() and not run.report.exists() and not run.trials_csv.exists()
    assert not run.project.exists() or not list(run.project.glob("trial_*"))  # trial 0 never started
    assert run.state.is_file() and not run.lock_file.exists()  # the same command resumes it
    events = [json.loads(line) for line in run.events.read_text().splitlines()]
    assert events[-1]["event"] == "interrupted" and events[-1]["outputs_written"] is False


def test_a_signal_inside_the_eager_lstm_loop_of_the_diagnosis_leaves_no_tensorflow_error(csv_spec, monkeypatch):
    """The brief training's measurements run the LSTM eagerly: an exception raised inside its loop, just
    after a timestep's output was written, left that TensorArray unused, and TensorFlow logged an
    "Object was never used" ERROR block for it."""
    import tensorflow as tf

    calls = {"eager": 0}
    write = tf.TensorArray.write

    def signal_after_the_third_write(self, *args, **kwargs):
        written = write(self, *args, **kwargs)
        if tf.executing_eagerly():
            calls["eager"] += 1
            if calls["eager"] == 3:
                os.kill(os.getpid(), signal.SIGTERM)
        return written

    logged = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: logged.append(record.getMessage())
    tf_logger = logging.getLogger("tensorflow")
    monkeypatch.setattr(tf_logger, "filters", [])  # the CLI's filter (another test may have installed it) hides it
    monkeypatch.setattr(tf.TensorArray, "write", signal_after_the_third_write)
    monkeypatch.setattr(trials, "train_candidate", _never_trains)
    tf_logger.addHandler(handler)
    try:
        with pytest.raises(SearchInterrupted) as caught:
            driver.run_search(*resolve_inputs(csv_spec))
        gc.collect()
    finally:
        tf_logger.removeHandler(handler)
    assert not [line for line in logged if "never used" in line]
    assert (caught.value.signal_name, caught.value.result) == ("SIGTERM", None)
    assert calls["eager"] > 8  # the loop ran on past the signal (8 timesteps a window)
    assert not load_spec(csv_spec).output_dir.exists()


# --- 16: a second signal stops at once --------------------------------------------------------------------------


def test_a_second_signal_is_not_caught_by_a_stage_that_writes_the_best_so_far():
    with StopSignals() as stops, stops.at_epoch_ends():

        def stage():
            os.kill(os.getpid(), signal.SIGINT)  # the first: noted
            assert stops.requested and not stops.now
            os.kill(os.getpid(), signal.SIGINT)  # the second: raised at once
            raise AssertionError("the second signal should have stopped the stage")

        with pytest.raises(StopNow):
            driver._until_stopped(stops, stage)
        with pytest.raises(StopNow):  # and every later check point says so again, should it be swallowed
            stops.check()
        stopper = stops.epoch_callback(3)
        with pytest.raises(StopNow):
            stopper.on_train_batch_begin(0)


def test_after_a_second_signal_what_unwinding_libraries_print_is_dropped_until_the_handlers_go(capsys):
    # CI once saw TensorFlow print a SystemError's traceback: the second signal's exception landed
    # inside its C code, in the middle of an import. The user asked to stop; they see the stop's line.
    hooks = (sys.excepthook, sys.unraisablehook)
    with StopSignals(), contextlib.suppress(StopRequested):
        os.kill(os.getpid(), signal.SIGINT)  # one signal: raised at once outside at_epoch_ends
    assert (sys.excepthook, sys.unraisablehook) == hooks  # one signal changes nothing
    with StopSignals() as stops, contextlib.suppress(StopNow):
        with contextlib.suppress(StopRequested):
            os.kill(os.getpid(), signal.SIGINT)
        try:
            os.kill(os.getpid(), signal.SIGINT)
        except StopNow:
            try:
                raise SystemError("<built-in function __import__> returned a result with an exception set")
            except SystemError:
                sys.excepthook(*sys.exc_info())  # as PyErr_Print would
            print("Traceback (most recent call last):", file=sys.stderr)
            sys.unraisablehook(None)
            assert stops.now
    assert (sys.excepthook, sys.unraisablehook) == hooks
    print("after", file=sys.stderr)
    assert capsys.readouterr().err == "after\n"


def test_a_second_signal_in_the_trials_stops_the_search_writing_no_outputs(csv_spec, monkeypatch):
    def two_signals(self, oracle, records):
        os.kill(os.getpid(), signal.SIGINT)  # noted: the stage would end at the epoch's end
        started = time.perf_counter()
        os.kill(os.getpid(), signal.SIGINT)
        raise AssertionError(f"the second signal should have stopped the search ({time.perf_counter() - started}s)")

    monkeypatch.setattr(driver, "diagnose_dataset", lambda *args, **kwargs: _collapse_seen())
    monkeypatch.setattr(TrialRunner, "rerun_unrecorded", two_signals)
    monkeypatch.setattr(trials, "train_candidate", _never_trains)
    with pytest.raises(SearchInterrupted) as caught:
        driver.run_search(*resolve_inputs(csv_spec))
    assert (caught.value.signal_name, caught.value.exit_code, caught.value.result) == ("SIGINT", 130, None)
    run = RunDir(load_spec(csv_spec).output_dir)
    assert not run.summary.exists() and not run.report.exists() and not run.lock_file.exists()
    assert run.state.is_file()  # as a kill leaves it: the same command resumes


def test_a_second_signal_while_the_report_is_written_stops_it(tmp_path, monkeypatch):
    class Outside(Exception):
        """What the handler outside the search would raise: the report must not reach it."""

    def report(output_dir):
        os.kill(os.getpid(), signal.SIGINT)
        raise AssertionError("the second signal should have stopped the report")

    def interrupted_search(*args, **kwargs):
        raise SearchInterrupted("SIGTERM", SimpleNamespace(output_dir=tmp_path), tmp_path)

    def outside(signum, frame):
        raise Outside

    monkeypatch.setattr(api, "run_search", interrupted_search)
    monkeypatch.setattr(api, "write_report", report)
    previous = signal.signal(signal.SIGINT, outside)
    try:
        with pytest.raises(SearchInterrupted) as caught:
            api.search_resolved(None, None, SimpleNamespace(progress=False))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert caught.value.signal_name == "SIGTERM" and caught.value.result is not None  # the outputs stand


# --- 17: the lock is checked before TensorFlow loads --------------------------------------------------------------


def test_a_second_search_into_a_held_folder_is_refused_before_tensorflow_loads(csv_spec):
    run = RunDir(load_spec(csv_spec).output_dir)
    code = textwrap.dedent(f"""
        import json, sys, time
        from autofix_lstm.cli import app
        started = time.perf_counter()
        try:
            app(["search", {str(csv_spec)!r}, "--json"], prog_name="autofix-lstm")
        except SystemExit as stop:
            code = stop.code
        print(json.dumps({{"code": code, "seconds": time.perf_counter() - started,
                           "heavy": [m for m in ("tensorflow", "keras", "sklearn") if m in sys.modules]}}))
    """)
    with run.lock():
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["code"] == cli.EXIT_CANNOT_RUN, done.stderr
    assert report["heavy"] == [], "TensorFlow was imported before the lock was checked"
    assert f"pid {os.getpid()}" in done.stderr and "search.lock" in done.stderr
    assert not run.lock_file.exists()  # the holder released it; the refused search took nothing


# --- 18: a full disk names the file, and leaves no lock file ------------------------------------------------------


def _disk_full(path: str):
    """An ``os.replace`` that fails as a full disk does (no file name) when it would write ``path``."""
    replace = os.replace

    def full(source, destination, **kwargs):
        if os.path.basename(destination) == path:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return replace(source, destination, **kwargs)

    return full


def test_a_full_disk_names_the_file_being_written_and_releases_the_lock(csv_spec, monkeypatch):
    monkeypatch.setattr(driver, "diagnose_dataset", lambda *args, **kwargs: FakeDiagnosis())
    monkeypatch.setattr(os, "replace", _disk_full("search_state.json"))
    result = CliRunner().invoke(cli.app, ["search", str(csv_spec), "--json"])
    run = RunDir(load_spec(csv_spec).output_dir)
    assert result.exit_code == cli.EXIT_CANNOT_RUN, result.output
    assert f"cannot read or write {run.state}: No space left on device" in result.output
    assert "free some space" in result.output
    assert not run.root.exists()  # the lock, the temporary file and the folder the search made: gone


def test_the_atomic_writers_and_the_event_log_name_the_file_on_a_full_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "replace", _disk_full("summary.json"))
    with pytest.raises(OSError) as caught:
        write_json({"a": 1}, tmp_path / "summary.json")
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(tmp_path / "summary.json")
    monkeypatch.undo()

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full)
    try:
        append_line("{}", tmp_path / "events.jsonl")
    except OSError as err:
        caught = err
    monkeypatch.undo()
    assert caught.errno == errno.ENOSPC and caught.filename == str(tmp_path / "events.jsonl")


def test_a_full_disk_while_taking_the_lock_leaves_no_lock_file(tmp_path, monkeypatch):
    run = RunDir(tmp_path / "runs" / "out")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(RunFolderError, match="No space left on device") as caught, run.lock():
        raise AssertionError("the lock should not have been taken")
    assert str(run.lock_file) in str(caught.value)
    assert not run.lock_file.exists() and not run.root.exists()  # the folder it made goes too
