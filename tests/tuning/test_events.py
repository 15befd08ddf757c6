"""events.jsonl: every run appends one JSON line per stage, trial, interruption and resume, each naming its worker."""

from __future__ import annotations

import json
import os
import signal

import pytest
import yaml
from helpers import TRIALS_ONLY, FakeDiagnosis, collapsing_spec

from autofix_lstm.errors import SearchInterrupted
from autofix_lstm.inputs import resolve_inputs
from autofix_lstm.run_dir import RunDir
from autofix_lstm.scoring.metrics import Metrics
from autofix_lstm.spec import load_spec
from autofix_lstm.tuning import driver, trials
from autofix_lstm.tuning.events import EventLog, LoggedReporter, read_events
from autofix_lstm.tuning.interrupts import StopRequested
from autofix_lstm.tuning.process_role import worker_name
from autofix_lstm.tuning.records import TrialRecord, TrialStatus, load_records

QUICK = {"max_trials": 2, "rerun_pruned": 0, **TRIALS_ONLY}


def _spec(tmp_path, **search):
    path = collapsing_spec(tmp_path, epochs=1)
    raw = yaml.safe_load(path.read_text())
    raw["search"] = {**QUICK, **search}
    path.write_text(yaml.safe_dump(raw))
    return path


def _lines(path) -> list[dict]:
    """Each line of events.jsonl parsed on its own (the file is a stream of lines, not one document)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """One tiny real search (2 trials, 1 epoch) and its output folder."""
    tmp_path = tmp_path_factory.mktemp("events")
    spec = _spec(tmp_path)
    result = driver.run_search(*resolve_inputs(spec))
    return result, RunDir(result.output_dir)


def test_a_search_writes_one_parsable_line_per_event(searched):
    result, run = searched
    events = _lines(run.events)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "search_started" and kinds[-1] == "search_ended"
    assert events[0]["device"] == "CPU" and events[0]["discarded_earlier"] is False
    assert all({"time", "event", "worker", "pid"} <= set(e) for e in events)
    # every stage that starts ends, in order, with its duration
    started = [e["stage"] for e in events if e["event"] == "stage_started"]
    ended = [e for e in events if e["event"] == "stage_ended"]
    assert started[0] == "diagnosing" and "trials" in started
    assert [e["stage"] for e in ended] == started and all(e["seconds"] >= 0 for e in ended)
    assert events[-1]["best_trial"] == result.summary["best_trial"]
    assert events[-1]["trials_total"] == result.summary["trials_total"]


def test_each_trial_starts_and_ends_once_with_its_records_metrics_and_worker(searched):
    _, run = searched
    events = _lines(run.events)
    records = {r.trial_id: r for r in load_records(run)}
    begun = [e["trial_id"] for e in events if e["event"] == "trial_started"]
    ended = {e["trial_id"]: e for e in events if e["event"] == "trial_ended"}
    assert sorted(begun) == sorted(ended) == sorted(records) and len(records) == 2
    for trial_id, event in ended.items():
        record = records[trial_id]
        assert event["worker"] == "chief"
        assert event["status"] == record.status.value and event["objective"] == pytest.approx(record.score)
        assert event["std_ratio"] == pytest.approx(record.metrics.std_ratio)
        assert event["seconds"] == pytest.approx(record.seconds) and event["values"] == record.values
        # a trial's end comes after its start
        positions = [i for i, e in enumerate(events) if e.get("trial_id") == trial_id]
        assert events[positions[0]]["event"] == "trial_started" and events[positions[-1]]["event"] == "trial_ended"


def test_the_device_is_recorded_in_the_summary(searched):
    result, _ = searched
    assert result.summary["device"] == "CPU"
    assert result.summary["distribution"] == {"device": "CPU", "distribution": "default", "replicas": 1,
                                              "devices": ["CPU"]}


def test_the_worker_is_keras_tuners_tuner_id(tmp_path, monkeypatch):
    monkeypatch.delenv("KERASTUNER_TUNER_ID", raising=False)
    assert worker_name() == "chief"
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner1")
    log = EventLog(tmp_path / "events.jsonl")
    log.trial_ended(TrialRecord("3", TrialStatus.PRUNED, values={"units": 4},
                                metrics=Metrics("regression", std_ratio=0.01), score=2.5, seconds=1.5))
    (event,) = _lines(tmp_path / "events.jsonl")
    assert (event["worker"], event["trial_id"], event["status"], event["std_ratio"]) == ("tuner1", "3", "pruned", 0.01)


def test_each_line_is_on_disk_as_soon_as_it_is_logged_and_two_writers_append(tmp_path):
    path = tmp_path / "events.jsonl"
    chief, worker = EventLog(path), EventLog(path)
    chief.write("stage_started", stage="diagnosing")
    assert _lines(path)[0]["stage"] == "diagnosing"  # readable before anything is closed or flushed by hand
    worker.write("trial_started", trial_id="0")
    chief.write("trial_started", trial_id="1")
    assert [e.get("trial_id") for e in _lines(path)] == [None, "0", "1"]
    with path.open("a") as f:
        f.write('{"event": "trial_ended", "tri')  # a line a kill cut short
    assert len(read_events(path)) == 3


def test_a_reporter_written_before_the_new_calls_still_works(tmp_path):
    class OldReporter:  # knows only the original four calls
        def __init__(self):
            self.calls = []

        def start(self, total):
            self.calls.append(("start", total))

        def stage(self, text):
            self.calls.append(("stage", text))

        def trial_done(self, done, best, fixed):
            self.calls.append(("trial_done", done))

        def stop(self):
            self.calls.append(("stop",))

    old = OldReporter()
    reporter = LoggedReporter(old, EventLog(tmp_path / "events.jsonl"))
    reporter.stage("diagnosing")
    reporter.start(3)
    reporter.trial_started("0")
    reporter.trial_recorded(TrialRecord("0", TrialStatus.FAILED, message="NaN"))
    reporter.trial_done(1, None, False)
    reporter.stop()
    assert old.calls == [("stage", "diagnosing"), ("start", 3), ("trial_done", 1), ("stop",)]
    kinds = [e["event"] for e in _lines(tmp_path / "events.jsonl")]
    assert kinds == ["stage_started", "stage_ended", "stage_started", "trial_started", "trial_ended", "stage_ended"]


def test_an_interrupted_search_logs_the_signal(csv_spec, monkeypatch):
    def baseline_training(spec, candidate, dataset, *, stops=None, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        raise StopRequested(stops.signal_name)

    monkeypatch.setattr(driver, "diagnose_dataset", lambda *args, **kwargs: FakeDiagnosis())
    monkeypatch.setattr(trials, "train_candidate", baseline_training)
    with pytest.raises(SearchInterrupted):
        driver.run_search(*resolve_inputs(csv_spec))
    events = _lines(RunDir(load_spec(csv_spec).output_dir).events)
    assert events[-1]["event"] == "interrupted"
    assert (events[-1]["signal"], events[-1]["outputs_written"]) == ("SIGTERM", False)
    # the stage the signal cut short is closed before the interruption is logged
    assert events[-2]["event"] == "stage_ended" and events[-2]["stage"] == "training the spec as written"


@pytest.mark.slow
def test_a_resumed_search_appends_resumed_and_fresh_keeps_the_file(tmp_path):
    spec = _spec(tmp_path, max_trials=1)
    driver.run_search(*resolve_inputs(spec))
    run = RunDir(load_spec(spec).output_dir)
    first = _lines(run.events)
    driver.run_search(*resolve_inputs(spec, max_trials=2))
    second = _lines(run.events)[len(first):]
    assert _lines(run.events)[: len(first)] == first  # appended, never rewritten
    assert second[0]["event"] == "resumed" and second[0]["trials_recorded"] == 1
    assert [e["trial_id"] for e in second if e["event"] == "trial_started"] == ["1"]  # trial 0 is not run again
    driver.run_search(*resolve_inputs(spec, max_trials=1, fresh=True))
    third = _lines(run.events)[len(first) + len(second):]
    assert third[0]["event"] == "search_started" and third[0]["discarded_earlier"] is True
    assert [e["event"] for e in third].count("trial_ended") == 1


def test_fresh_clears_the_tensorboard_logs_and_keeps_the_event_log(tmp_path):
    run = RunDir(tmp_path / "out")
    EventLog(run.events).write("search_started")
    logs = [run.tensorboard_trial(t) / "events.out.tfevents.1.host.1.0.v2" for t in ("0", "baseline")]
    for path in logs:
        path.parent.mkdir(parents=True)
        path.write_bytes(b"\0")
    notes = run.tensorboard / "notes.txt"
    notes.write_text("the user's")
    assert set(logs) <= set(run.search_files())
    run.clear_search()
    assert not any(path.exists() for path in logs) and not run.tensorboard_trial("0").exists()
    assert notes.read_text() == "the user's" and len(read_events(run.events)) == 1


def test_an_event_after_a_partial_last_line_starts_a_new_line(tmp_path):
    # Issue 26 (13): the next event was appended onto a line a kill cut short, and both were lost.
    path = tmp_path / "events.jsonl"
    log = EventLog(path)
    log.write("stage_started", stage="diagnosing")
    with path.open("a") as f:
        f.write('{"event": "trial_ended", "tri')  # a line a kill cut short
    log.write("trial_started", trial_id="1")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[1] == '{"event": "trial_ended", "tri' and json.loads(lines[2])["trial_id"] == "1"
    assert [e["event"] for e in read_events(path)] == ["stage_started", "trial_started"]
