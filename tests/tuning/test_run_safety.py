"""The run folder is safe: checked before it is touched, locked, cleared only of a search's own files,
damaged files named with --fresh, the best pair always from one trial, and signals stop a search cleanly.

Nothing here trains a model: the diagnosis is replaced where a test must stop before or inside it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import keras
import keras_tuner as kt
import numpy as np
import pytest
import yaml
from helpers import FakeDiagnosis, spec_dict, write_spec
from typer.testing import CliRunner

from autofix_lstm.cli import app
from autofix_lstm.errors import (
    CorruptRunError,
    ModelSpecError,
    RunLockedError,
    SearchInterrupted,
    SpecError,
    TrialFailed,
)
from autofix_lstm.inputs import resolve_inputs
from autofix_lstm.remedies.strategies import resolve_strategies
from autofix_lstm.run_dir import RunDir, write_json
from autofix_lstm.spec import load_spec
from autofix_lstm.tuning import driver, result, resume, trials
from autofix_lstm.tuning.interrupts import StopRequested, StopSignals
from autofix_lstm.tuning.oracles import AutofixTuner, make_oracle
from autofix_lstm.tuning.records import TrialRecord


def _no_diagnosis(*args, **kwargs):
    raise AssertionError("the diagnosis must not run: the search should have been refused before it")


def _search_files(run: RunDir) -> None:
    """An earlier search's files, plus a user's own notes beside and inside them."""
    for path in run.search_outputs():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    for trial_id in ("0", "1"):
        TrialRecord(trial_id, "completed", score=1.0).save(run.trial_record(trial_id))
        run.tuner_trial(trial_id).write_text("{}")
    run.trial_model("1").write_text("model")
    run.tuner_oracle.write_text("{}")
    run.tuner_state.write_text("{}")
    (run.root / ".summary.abc123.json").write_text("{")  # a write a kill cut short


def _user_files(run: RunDir) -> list:
    files = [run.tuner / "notes.txt", run.root / "mine.csv", run.project / "trial_0" / "plot.png"]
    for path in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("the user's")
    return files


# --- point 2: --fresh removes only what a search wrote; nothing is touched before the checks ------------------


def test_clearing_a_search_removes_its_files_and_keeps_the_users(tmp_path):
    run = RunDir(tmp_path / "out")
    _search_files(run)
    mine = _user_files(run)
    run.clear_search()
    assert all(path.read_text() == "the user's" for path in mine)
    left = sorted(str(p.relative_to(run.root)) for p in run.root.rglob("*") if p.is_file())
    assert left == ["mine.csv", "tuner/autofix/trial_0/plot.png", "tuner/notes.txt"]
    assert not (run.project / "trial_1").exists()  # emptied folders go too


@pytest.mark.parametrize("fresh", [False, True])
def test_a_search_refused_by_its_diagnosis_touches_nothing(tmp_path, csv_spec, monkeypatch, fresh):
    spec = load_spec(csv_spec)
    run = RunDir(spec.output_dir)
    if fresh:
        _search_files(run)
    mine = _user_files(run)
    before = {p: p.read_bytes() for p in run.root.rglob("*") if p.is_file()}

    def refuse(*args, **kwargs):
        raise ModelSpecError("model.layers[0] cannot be built")

    monkeypatch.setattr(driver, "diagnose_dataset", refuse)
    with pytest.raises(ModelSpecError):
        driver.run_search(*resolve_inputs(csv_spec, fresh=fresh))
    after = {p: p.read_bytes() for p in run.root.rglob("*") if p.is_file()}
    assert after == before and all(p.is_file() for p in mine)


def test_an_output_that_is_a_file_is_refused_before_anything_is_written(tmp_path, series_csv, monkeypatch):
    (tmp_path / "taken").write_text("a file")
    path = write_spec(tmp_path, spec_dict(series_csv.name, output="taken/run"))
    monkeypatch.setattr(driver, "diagnose_dataset", _no_diagnosis)
    with pytest.raises(SpecError, match="taken is a file, not a folder"):
        driver.run_search(*resolve_inputs(path))
    assert (tmp_path / "taken").read_text() == "a file"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder_exits_3_with_one_line(tmp_path, series_csv, monkeypatch):
    folder = tmp_path / "locked_down"
    folder.mkdir()
    folder.chmod(0o500)
    path = write_spec(tmp_path, spec_dict(series_csv.name, output="locked_down/run"))
    monkeypatch.setattr(driver, "diagnose_dataset", _no_diagnosis)
    result = CliRunner().invoke(app, ["search", str(path), "--json"])
    assert result.exit_code == 3, result.output
    assert "not writable" in result.output and len(result.output.strip().splitlines()) == 1


# --- point 3: damaged files are named, with --fresh -------------------------------------------------------------


def _resumable(csv_spec) -> RunDir:
    """An output folder whose state matches csv_spec, as an earlier run of the same search leaves it."""
    spec = load_spec(csv_spec)
    from autofix_lstm.data.dataset import load_dataset

    fingerprint = resume.spec_fingerprint(spec, load_dataset(spec), resolve_strategies(spec.search.strategies,
                                                                                      spec.base_dir))
    run = RunDir(spec.output_dir)
    write_json({"fingerprint": fingerprint, "elapsed_seconds": 3.0}, run.state)
    TrialRecord("baseline", "completed", score=2.0, fingerprint=fingerprint).save(run.baseline)
    return run


@pytest.mark.parametrize("damaged", ["state", "baseline"])
def test_a_damaged_state_or_baseline_file_is_named_with_fresh_and_exits_3(csv_spec, monkeypatch, damaged):
    run = _resumable(csv_spec)
    path = getattr(run, damaged)
    path.write_text(path.read_text()[:25])  # cut short, as by a full disk or an editor
    _refused_naming(csv_spec, monkeypatch, path, path.name)


def _refused_naming(csv_spec, monkeypatch, path, shown: str) -> None:
    """A search on ``csv_spec`` raises CorruptRunError for ``path``, and the CLI exits 3 in one line
    holding ``shown`` (the file's name or path) and ``--fresh``."""
    monkeypatch.setattr(driver, "diagnose_dataset", _no_diagnosis)
    with pytest.raises(CorruptRunError) as caught:
        driver.run_search(*resolve_inputs(csv_spec))
    assert caught.value.path == path and "--fresh" in str(caught.value)
    result = CliRunner().invoke(app, ["search", str(csv_spec), "--json"])
    assert result.exit_code == 3, result.output
    line = result.output.strip()
    assert len(line.splitlines()) == 1 and shown in line and "--fresh" in line and "Traceback" not in line


class _ScoreOnly:
    """A trial runner that trains nothing: every trial scores 1.0 (Keras Tuner's files without a model)."""

    def run(self, trial):
        return {"score": 1.0}

    def trial_ended(self, trial):
        pass


def _tuner(run: RunDir, max_trials: int = 2) -> AutofixTuner:
    hp = kt.HyperParameters()
    hp.Float("model.optimizer.learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
    oracle = make_oracle("random", hp, max_trials=max_trials, epochs=1, seeds=[], deadline=None, seed=0)
    return AutofixTuner(oracle, _ScoreOnly(), directory=str(run.tuner), project_name=run.project.name)


# Keras Tuner's state files (issue 26, point 7): each way one can be damaged, and what it then holds.
_TUNER_DAMAGE = {
    "cut short": lambda text: text[: len(text) // 2],
    "garbage": lambda text: "\x00\x17 not json at all",
    "not an object": lambda text: json.dumps([json.loads(text)]),
    "not Keras Tuner's": lambda text: json.dumps({"written_by": "someone else"}),
}


@pytest.mark.parametrize(("which", "damage"), [
    (which, damage) for which in ("oracle.json", "tuner0.json", "trial.json") for damage in sorted(_TUNER_DAMAGE)
    if (which, damage) != ("tuner0.json", "not Keras Tuner's")  # the tuner's state is {}: any object is one
])
def test_a_damaged_keras_tuner_state_file_is_named_with_fresh_before_the_diagnosis(csv_spec, monkeypatch, which,
                                                                                    damage):
    run = _resumable(csv_spec)
    _tuner(run).search(verbose=0)
    path = {"oracle.json": run.tuner_oracle, "tuner0.json": run.tuner_state, "trial.json": run.tuner_trial("1")}[which]
    path.write_text(_TUNER_DAMAGE[damage](path.read_text()))
    before = {p: p.read_bytes() for p in run.root.rglob("*") if p.is_file()}
    _refused_naming(csv_spec, monkeypatch, path, str(path))
    assert {p: p.read_bytes() for p in run.root.rglob("*") if p.is_file()} == before  # refused before touching it


def test_keras_tuner_state_it_cannot_reload_is_named_when_the_tuner_reloads_it(tmp_path):
    # The last line of defence, where the search's own check did not run first (a tuner built over a project).
    run = RunDir(tmp_path)
    _tuner(run).search(verbose=0)
    run.tuner_trial("0").write_text('{"trial_id": "0", "hyperpa')
    with pytest.raises(CorruptRunError) as caught:
        _tuner(run, max_trials=3)
    assert caught.value.path == run.tuner_trial("0")
    run.tuner_trial("0").unlink()  # oracle.json still names trial 0, whose file is gone: Keras Tuner's KeyError
    state = json.loads(run.tuner_oracle.read_text())
    state["ongoing_trials"] = {"tuner0": "0"}
    run.tuner_oracle.write_text(json.dumps(state))
    with pytest.raises(CorruptRunError) as caught:
        _tuner(run, max_trials=3)
    assert caught.value.path == run.tuner_oracle and "--fresh" in str(caught.value)


def test_a_damaged_trial_record_names_its_file(tmp_path):
    path = tmp_path / "autofix_trial.json"
    for text in ('{"trial_id": "1", "sta', '["not", "a", "record"]', '{"trial_id": "1", "status": "exploded"}'):
        path.write_text(text)
        with pytest.raises(CorruptRunError) as caught:
            TrialRecord.load(path)
        assert caught.value.path == path and isinstance(caught.value, ValueError)


# --- point 4: Keras Tuner's state and the best pair -----------------------------------------------------------------


def test_keras_tuner_state_files_are_written_atomically(tmp_path, monkeypatch):
    from keras_tuner.src import utils as kt_utils

    def in_place(*args, **kwargs):
        raise AssertionError("Keras Tuner's in-place JSON writer was used")

    monkeypatch.setattr(kt_utils, "save_json", in_place)
    hp = kt.HyperParameters()
    hp.Float("model.optimizer.learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
    oracle = make_oracle("random", hp, max_trials=2, epochs=1, seeds=[], deadline=None, seed=0)

    class Runner:
        def run(self, trial):
            return {"score": 1.0}

        def trial_ended(self, trial):
            pass

    run = RunDir(tmp_path)
    tuner = AutofixTuner(oracle, Runner(), directory=str(run.tuner), project_name=run.project.name)
    tuner.search(verbose=0)
    assert json.loads(run.tuner_oracle.read_text())["start_order"] == ["0", "1"]
    assert json.loads(run.tuner_trial("1").read_text())["status"] == "COMPLETED"


def test_a_trial_saved_but_not_yet_in_the_oracle_state_is_run_on_resume(tmp_path):
    # A kill between Keras Tuner's trial.json and oracle.json: the trial counted against the budget and never ran.
    hp = kt.HyperParameters()
    hp.Float("model.optimizer.learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
    ran = []

    class Runner:
        def run(self, trial):
            ran.append(trial.trial_id)
            return {"score": 1.0}

        def trial_ended(self, trial):
            pass

    run = RunDir(tmp_path)
    tuner = AutofixTuner(make_oracle("random", hp, max_trials=1, epochs=1, seeds=[], deadline=None, seed=0),
                         Runner(), directory=str(run.tuner), project_name=run.project.name)
    tuner.search(verbose=0)
    stranded = json.loads(run.tuner_trial("0").read_text())
    stranded["trial_id"], stranded["status"], stranded["score"] = "1", "RUNNING", None
    run.tuner_trial("1").parent.mkdir()
    run.tuner_trial("1").write_text(json.dumps(stranded))
    tuner = AutofixTuner(make_oracle("random", hp, max_trials=2, epochs=1, seeds=[], deadline=None, seed=0),
                         Runner(), directory=str(run.tuner), project_name=run.project.name)
    tuner.search(verbose=0)
    assert ran == ["0", "1"] and tuner.oracle.trials["1"].status == "COMPLETED"


def _best_pair_folder(csv_spec) -> tuple[RunDir, TrialRecord, TrialRecord]:
    spec = load_spec(csv_spec)
    run = RunDir(spec.output_dir)
    first = TrialRecord("0", "completed", score=1.0, spec=spec.updated({"train.epochs": 2}).to_dict())
    second = TrialRecord("1", "completed", score=0.5, spec=spec.updated({"train.epochs": 3}).to_dict())
    for record in (first, second):
        record.save(run.trial_record(record.trial_id))
        _archive(run.trial_model(record.trial_id), f"model of {record.trial_id}")
    return run, first, second


def _archive(path, text: str) -> None:
    """A stand-in for a saved model: a whole zip holding Keras' config.json (what ``intact_model`` checks)."""
    import zipfile

    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps({"model": text}))


def _archived(path) -> str:
    import zipfile

    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))["model"]


def test_a_kill_between_the_best_pairs_writes_is_detected_and_rewritten(csv_spec, monkeypatch):
    run, first, second = _best_pair_folder(csv_spec)
    spec = load_spec(csv_spec)
    resume.publish_best(run, first, spec)
    assert resume.best_published(run, first, spec)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # after best_model.keras was replaced, before best_spec.yaml

    monkeypatch.setattr(resume, "write_best_spec", killed)
    with pytest.raises(KeyboardInterrupt):
        resume.publish_best(run, second, spec)
    monkeypatch.undo()
    assert _archived(run.best_model) == "model of 1"
    assert yaml.safe_load(run.best_spec.read_text())["train"]["epochs"] == 2  # still trial 0's: they disagree
    assert not resume.best_published(run, second, spec)  # ... and best_trial.json says so
    resume.publish_best(run, second, spec)
    assert resume.best_published(run, second, spec)
    assert _archived(run.best_model) == "model of 1"
    assert yaml.safe_load(run.best_spec.read_text())["train"]["epochs"] == 3
    assert json.loads(run.best_trial.read_text()) == {"trial_id": "1"}


# --- point 5: strategy files are checked first --------------------------------------------------------------------


def test_a_missing_strategy_file_is_refused_before_the_diagnosis_and_writes_nothing(tmp_path, series_csv, monkeypatch):
    path = write_spec(tmp_path, spec_dict(series_csv.name, search={"strategies": ["scaling", "mine.yaml"]}))
    monkeypatch.setattr(driver, "diagnose_dataset", _no_diagnosis)
    with pytest.raises(SpecError, match="mine.yaml"):
        driver.run_search(*resolve_inputs(path))
    assert not load_spec(path).output_dir.exists()


# --- point 6: one search per folder ---------------------------------------------------------------------------------


def test_a_second_search_into_a_held_folder_is_refused_naming_the_holder(csv_spec, monkeypatch):
    run = RunDir(load_spec(csv_spec).output_dir)
    monkeypatch.setattr(driver, "diagnose_dataset", _no_diagnosis)
    with run.lock():
        holder = json.loads(run.lock_file.read_text())
        with pytest.raises(RunLockedError) as caught:
            driver.run_search(*resolve_inputs(csv_spec))
        err = caught.value
        assert (err.pid, err.host, err.started) == (os.getpid(), socket.gethostname(), holder["started"])
        assert f"pid {os.getpid()}" in str(err) and str(run.lock_file) in str(err)
        result = CliRunner().invoke(app, ["search", str(csv_spec), "--json"])
        assert result.exit_code == 3 and f"pid {os.getpid()}" in result.output
    assert not run.lock_file.exists() and not run.root.exists()  # released, and the folder it made is gone


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run = RunDir(tmp_path)
    run.lock_file.write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "started": "earlier"}))
    with run.lock():
        assert json.loads(run.lock_file.read_text())["pid"] == os.getpid()
    assert not run.lock_file.exists()


# --- point 7: the fingerprint covers the strategy files' contents -------------------------------------------------


def test_editing_a_strategy_file_changes_the_resume_fingerprint(tmp_path, csv_spec):
    mine = tmp_path / "mine.yaml"
    mine.write_text("name: mine\nfields:\n  model.optimizer.clipnorm:\n    values: [2.0, 3.0]\n")
    spec = load_spec(csv_spec)
    before = resume.spec_fingerprint(spec, None, resolve_strategies(["mine.yaml"], tmp_path))
    mine.write_text("name: mine\nfields:\n  model.optimizer.clipnorm:\n    values: [0.5, 1.0]\n")
    after = resume.spec_fingerprint(spec, None, resolve_strategies(["mine.yaml"], tmp_path))
    assert before != after
    mine.write_text("# a comment changes nothing\nname: mine\nfields:\n  model.optimizer.clipnorm:\n"
                    "    values: [0.5, 1.0]\n")
    assert resume.spec_fingerprint(spec, None, resolve_strategies(["mine.yaml"], tmp_path)) == after


# --- point 12: signals -----------------------------------------------------------------------------------------------


def test_signals_wait_for_the_epoch_end_inside_trainings_and_stop_at_once_elsewhere():
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    with StopSignals() as stops:
        with stops.at_epoch_ends():
            os.kill(os.getpid(), signal.SIGTERM)
            assert stops.signal_name == "SIGTERM"  # noted, not raised
            with pytest.raises(StopRequested):
                stops.check()
            with pytest.raises(StopRequested):  # a second signal stops at once
                os.kill(os.getpid(), signal.SIGINT)
    with StopSignals() as stops, pytest.raises(StopRequested) as caught:
        os.kill(os.getpid(), signal.SIGINT)
    assert caught.value.signal_name == "SIGINT"
    assert {signum: signal.getsignal(signum) for signum in before} == before


def test_a_signal_ignored_at_start_stays_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with StopSignals() as stops:
            os.kill(os.getpid(), signal.SIGINT)
            assert not stops.requested
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_training_stops_at_the_end_of_the_epoch_a_signal_came_in():
    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    y = x.sum(axis=1)
    with StopSignals() as stops, stops.at_epoch_ends():
        stopper = stops.epoch_callback(6)

        class SignalInEpoch2(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                if epoch == 1:
                    os.kill(os.getpid(), signal.SIGTERM)

        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile("sgd", "mse")
        history = model.fit(x, y, epochs=6, verbose=0, callbacks=[SignalInEpoch2(), stopper])
    assert len(history.history["loss"]) == 2 and stopper.cut_short


def test_a_signal_during_the_diagnosis_stops_cleanly_with_nothing_to_write(csv_spec, monkeypatch):
    before = signal.getsignal(signal.SIGINT)

    def interrupted(*args, check, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # noted, not raised inside TensorFlow: at the next check point
        check()
        raise AssertionError("the check point should have stopped the diagnosis")

    monkeypatch.setattr(driver, "diagnose_dataset", interrupted)
    with pytest.raises(SearchInterrupted) as caught:
        driver.run_search(*resolve_inputs(csv_spec))
    err = caught.value
    assert (err.signal_name, err.exit_code, err.result) == ("SIGINT", 130, None)
    run = RunDir(load_spec(csv_spec).output_dir)
    assert not run.lock_file.exists() and signal.getsignal(signal.SIGINT) is before
    assert SearchInterrupted("SIGTERM").exit_code == 143


# --- point 4: every file is written through run_dir, and a resume neither loses nor re-runs a finished trial -------


def _in_place_writes(source: str) -> list[str]:
    """The calls in ``source`` that write a file in place (read with ``ast``: messages quoting code do not count)."""
    import ast

    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        owner = getattr(getattr(func, "value", None), "id", "")
        mode = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "mode"), None)
        writes = (
            (name in ("write_text", "write_bytes", "to_parquet") and isinstance(func, ast.Attribute))
            or (name in ("copyfile", "copy", "copy2", "move") and owner == "shutil")
            or (name == "dump" and owner == "json")
            or (name in ("save", "savez", "savez_compressed") and owner in ("np", "numpy"))
            or (name == "to_csv" and node.args)
            or (name == "savefig" and not (node.args and getattr(node.args[0], "id", "") == "buffer"))
            or (name == "open" and isinstance(mode, ast.Constant) and str(mode.value)[:1] in "wax")
        )
        if writes:
            found.append(f"{name} at line {node.lineno}")
    return found


def test_files_are_written_only_through_run_dir():
    from pathlib import Path

    package = Path(__file__).resolve().parents[2] / "autofix_lstm"
    offenders = {
        str(path.relative_to(package)): _in_place_writes(path.read_text(encoding="utf-8"))
        for path in package.rglob("*.py") if path.name != "run_dir.py"
    }
    assert {k: v for k, v in offenders.items() if v} == {}
    assert _in_place_writes("frame.to_csv(path)\njson.dump(x, f)\nopen(p, 'w')\nPath(p).write_text(t)") != []


class _Trial:
    def __init__(self, trial_id, status="RUNNING", values=None):
        self.trial_id, self.status = trial_id, status
        self.hyperparameters = kt.HyperParameters()
        self.hyperparameters.values = dict(values or {})


def test_a_trial_recorded_before_a_kill_is_not_trained_again_when_keras_tuner_retries_it(tmp_path):
    run = RunDir(tmp_path)
    TrialRecord("3", "completed", score=0.25).save(run.trial_record("3"))
    TrialRecord("4", "failed", message="NaN loss").save(run.trial_record("4"))
    runner = trials.TrialRunner.__new__(trials.TrialRunner)
    runner.run_dir, runner.stops, runner.replayed = run, None, set()
    runner.train = lambda *args, **kwargs: pytest.fail("a recorded trial was trained again")
    assert runner.run(_Trial("3")) == {"score": 0.25}
    with pytest.raises(TrialFailed, match="NaN loss"):  # AutofixTuner hands it to Keras Tuner as failed
        runner.run(_Trial("4"))
    assert runner.replayed == {"3", "4"}


def test_trials_keras_tuner_ended_without_a_readable_record_are_run_again(tmp_path):
    run = RunDir(tmp_path)
    TrialRecord("0", "completed", score=1.0).save(run.trial_record("0"))
    run.trial_record("1").parent.mkdir(parents=True)
    run.trial_record("1").write_text('{"trial_id": "1", "sta')  # cut short

    class Oracle:
        start_order = ["0", "1", "2", "3"]
        trials = {"0": _Trial("0", "COMPLETED"), "1": _Trial("1", "COMPLETED", {"a": 1}),
                  "2": _Trial("2", "FAILED", {"a": 2}), "3": _Trial("3", "RUNNING")}
        sources = {"1": "seed"}

    trained = []

    class Space:
        def decode(self, values):
            return values

    runner = trials.TrialRunner.__new__(trials.TrialRunner)
    runner.stops, runner.space, runner.reporter = None, Space(), result.SearchReporter()
    runner.spec = load_spec({"data": {"path": "x.npz"}, "model": {"layers": [{"type": "lstm", "units": 2},
                                                                            {"type": "dense", "units": 1}]},
                             "train": {"epochs": 2}})
    runner.train = lambda trial_id, values, decoded, started, **kw: trained.append((trial_id, values, kw["order"],
                                                                                    kw["epochs"], kw["source"]))
    from autofix_lstm.tuning.records import load_records

    assert runner.rerun_unrecorded(Oracle(), load_records(run)) == 2
    # epochs None: each candidate's own train.epochs; "3" is Keras Tuner's to retry
    assert trained == [("1", {"a": 1}, 1, None, "seed"), ("2", {"a": 2}, 2, None, None)]


def test_a_signal_during_the_baseline_stops_cleanly_and_the_next_run_trains_it_again(csv_spec, monkeypatch):
    def baseline_training(spec, candidate, dataset, *, stops=None, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        assert stops.requested  # noted, not raised: the real training ends at this epoch's end, then raises
        raise StopRequested(stops.signal_name)

    monkeypatch.setattr(driver, "diagnose_dataset", lambda *args, **kwargs: FakeDiagnosis())
    monkeypatch.setattr(trials, "train_candidate", baseline_training)
    with pytest.raises(SearchInterrupted) as caught:
        driver.run_search(*resolve_inputs(csv_spec))
    assert (caught.value.signal_name, caught.value.exit_code, caught.value.result) == ("SIGTERM", 143, None)
    run = RunDir(load_spec(csv_spec).output_dir)
    assert run.state.is_file() and not run.baseline.exists() and not run.lock_file.exists()
