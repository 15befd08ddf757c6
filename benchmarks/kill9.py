"""kill -9 a real search at random moments, resume it, and check that nothing was lost or left disagreeing.

A tiny search (a collapsing LSTM on 240 rows, a few trials of 2 epochs) runs once uninterrupted, to
time its stages. Then, ``--kills`` times, a fresh copy starts and is killed with SIGKILL: a random
share of a stage's reference length after that stage started in the killed run (the diagnosis: the
process's start; the spec as written and a trial: their events in events.jsonl), or the instant a
temporary file of an atomic write appears (``--kills`` includes 2 such "while writing" kills). Each
killed search is resumed (the same command) to completion, and checked:

* the resume exits 0 or 1 and its summary counts every trial of the budget;
* no finished trial is lost or re-run: every record on disk at the kill is still there, unchanged;
* every output parses (summary.json, trials.csv, best_spec.yaml, best_model.keras, best_trial.json,
  baseline.json, diagnosis.json, report.html, the trial records) and they agree: best_trial.json,
  summary.json's best_trial and the lowest objective name one trial; best_spec.yaml is its spec;
  best_model.keras predicts its recorded validation predictions; trials.csv has a row per record;
* the lock is released and no temporary file is left.

    PYTHONPATH=. .venv/bin/python benchmarks/kill9.py [--kills 10] [--trials 3] [--seed 0]

writes ``benchmarks/results/kill9.json`` and ``kill9.md``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def make_case(folder: Path, trials: int, epochs: int) -> Path:
    """A spec that collapses on purpose (targets ~5,000 into a sigmoid head) and its data, in ``folder``."""
    rng = np.random.default_rng(0)
    t = np.arange(240, dtype=np.float64)
    y = 5000 + 1000 * (np.sin(2 * np.pi * t / 16) + 0.05 * rng.normal(size=t.size))
    x = np.sin(2 * np.pi * t / 16 + np.pi / 2)
    pd.DataFrame({"t": t, "x": x, "y": y}).to_csv(folder / "data.csv", index=False)
    spec = {
        "data": {"path": "data.csv", "target": "y", "features": ["x", "y"], "window": 8, "horizon": 1},
        "model": {"layers": [{"type": "lstm", "units": 4}, {"type": "dense", "units": 1, "activation": "sigmoid"}],
                  "optimizer": {"name": "adam", "learning_rate": 0.01}, "loss": "mse"},
        "train": {"epochs": epochs, "batch_size": 32, "seed": 0},
        "search": {"max_trials": trials, "tuner": "random"},
        "output": "out",
    }
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _command(spec: Path) -> list[str]:
    return [sys.executable, "-m", "autofix_lstm", "search", str(spec), "--json"]


def _records(out: Path) -> dict[str, str]:
    """trial id -> sha256 of its record, for every record that parses."""
    found = {}
    for path in (out / "tuner" / "autofix").glob("trial_*/autofix_trial.json"):
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        found[str(raw.get("trial_id"))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _temporaries(out: Path) -> list[Path]:
    if not out.is_dir():
        return []
    return [p for p in out.rglob(".*") if p.is_file()]


def _stage(out: Path, trials: int) -> str:
    """Which stage a search was in, read from the files it had written."""
    if not (out / "diagnosis.json").is_file():
        return "diagnosis"
    done = len(_records(out))
    if (out / "summary.json").is_file():
        return "writing outputs"
    if done < trials:  # the trials run before the spec as written when the diagnosis saw a collapse
        return f"trial {done}"
    if not (out / "baseline.json").is_file():
        return "baseline"
    return "writing outputs"


def reference_run(folder: Path, trials: int, epochs: int) -> dict:
    """Run the search once, uninterrupted, noting when each stage's file appeared (seconds from start)."""
    spec = make_case(folder, trials, epochs)
    out = folder / "out"
    started = time.perf_counter()
    log = (folder / "stderr.log").open("w")
    process = subprocess.Popen(_command(spec), cwd=folder, stdout=subprocess.DEVNULL, stderr=log)
    marks: dict[str, float] = {}
    while process.poll() is None:
        now = time.perf_counter() - started
        if "diagnosis" not in marks and (out / "diagnosis.json").is_file():
            marks["diagnosis"] = now
        if "baseline" not in marks and (out / "baseline.json").is_file():
            marks["baseline"] = now
        for trial_id in _records(out):
            marks.setdefault(f"record {trial_id}", now)
        time.sleep(0.05)
    marks["end"] = time.perf_counter() - started
    log.close()
    if process.returncode not in (0, 1):
        tail = (folder / "stderr.log").read_text()[-2000:]
        raise SystemExit(f"the reference search failed ({process.returncode}): {tail}")
    return marks


def kill_plan(marks: dict[str, float], kills: int, rng: random.Random) -> list[dict]:
    """``kills`` moments: 2 while writing, the rest spread over the diagnosis, the spec as written and the
    trials, each anchored to its stage's start *in the killed run* (so a machine slower or faster than
    during the reference run still kills inside the stage): ``after`` seconds into the stage, a random
    share (10-70%) of the stage's length in the reference run.

    Anchors: the process's start (diagnosis); events.jsonl's ``stage_started`` of the spec as written
    (baseline); its ``trial_started`` of a random trial (mid-trial).
    """
    diagnosis_end = marks["diagnosis"]
    baseline_end = marks["baseline"]
    records = sorted(v for k, v in marks.items() if k.startswith("record"))
    if baseline_end <= records[0]:  # the spec as written trained first, then the trials
        baseline_start, trials_start = diagnosis_end, baseline_end
    else:  # the diagnosis saw the collapse: the trials first, the spec as written after them
        baseline_start, trials_start = records[-1], diagnosis_end
    trial_seconds = (records[-1] - trials_start) / len(records)
    stages = [("diagnosis", diagnosis_end), ("baseline", baseline_end - baseline_start), ("mid-trial", trial_seconds)]
    plan = [{"aim": "while writing", "wait_for": "model"}, {"aim": "while writing", "wait_for": "record"}]
    timed = max(0, kills - len(plan))
    for index in range(timed):
        aim, length = stages[min(index * len(stages) // max(timed, 1), len(stages) - 1)]
        kill = {"aim": aim, "after": round(rng.uniform(0.1, 0.7) * max(length, 0.5), 2)}
        if aim == "mid-trial":
            kill["trial"] = str(rng.randrange(len(records)))
        plan.append(kill)
    return plan[:kills]


def _events(out: Path) -> list[dict]:
    try:
        lines = (out / "events.jsonl").read_text().splitlines()
    except OSError:
        return []
    events = []
    for line in lines:
        try:
            events.append(json.loads(line))
        except ValueError:  # a line being written
            pass
    return events


def _anchored(out: Path, plan: dict) -> bool:
    """Whether the stage ``plan`` aims at has started in this run (events.jsonl)."""
    if plan["aim"] == "diagnosis":
        return True
    for event in _events(out):
        if plan["aim"] == "mid-trial" and event.get("event") == "trial_started" and event.get("trial_id") == plan["trial"]:
            return True
        if plan["aim"] == "baseline" and event.get("event") == "stage_started" and "spec as written" in str(event.get("stage")):
            return True
    return False


def _wait_for_write(out: Path, kind: str, process: subprocess.Popen, timeout: float) -> str | None:
    """Block until a temporary file of the ``kind`` of write appears; its name (None on timeout)."""
    deadline = time.time() + timeout
    wanted = {"model": (".model.", ".best_model.", ".baseline_model."), "record": (".autofix_trial.", ".summary.")}[kind]
    while time.time() < deadline and process.poll() is None:
        for path in _temporaries(out):
            if path.name.startswith(wanted):
                return str(path.relative_to(out))
        time.sleep(0.002)
    return None


def one_kill(folder: Path, plan: dict, trials: int, epochs: int) -> dict:
    """Start a search, kill -9 it as planned, resume it to completion, and check the folder."""
    spec = make_case(folder, trials, epochs)
    out = folder / "out"
    started = time.perf_counter()
    process = subprocess.Popen(_command(spec), cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    writing = None
    if "after" in plan:
        while process.poll() is None and not _anchored(out, plan):
            time.sleep(0.01)
        anchor = time.perf_counter()
        while process.poll() is None and time.perf_counter() - anchor < plan["after"]:
            time.sleep(0.01)
    else:
        writing = _wait_for_write(out, plan["wait_for"], process, timeout=600)
    finished_before_kill = process.poll() is not None
    stage = _stage(out, trials)
    if not finished_before_kill:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = round(time.perf_counter() - started, 2)
    before = _records(out)
    temporaries = [str(p.relative_to(out)) for p in _temporaries(out)]
    lock_left = (out / "search.lock").is_file()

    resumed = subprocess.run(_command(spec), cwd=folder, capture_output=True, text=True, timeout=1800)
    outcome = {
        **plan, "killed_at_seconds": killed_at, "stage_at_kill": stage, "writing": writing,
        "finished_before_kill": finished_before_kill, "records_at_kill": len(before),
        "temporaries_at_kill": temporaries, "lock_left_by_kill": lock_left,
        "resume_exit_code": resumed.returncode,
    }
    problems = check_folder(out, before, trials, resumed)
    outcome["problems"] = problems
    outcome["ok"] = not problems
    return outcome


def check_folder(out: Path, before: dict[str, str], trials: int, resumed: subprocess.CompletedProcess) -> list[str]:
    """What is wrong with the resumed search's folder (empty when nothing is)."""
    import keras

    import autofix_lstm  # noqa: F401  (registers the layers best_model.keras needs)
    from autofix_lstm.data.dataset import load_dataset
    from autofix_lstm.run_dir import RunDir
    from autofix_lstm.spec import load_spec
    from autofix_lstm.tuning.records import TrialRecord, best_record, load_records
    from autofix_lstm.tuning.summary import record_spec

    problems = []
    if resumed.returncode not in (0, 1):
        return [f"resume exited {resumed.returncode}: {resumed.stderr.strip()[-500:]}"]
    after = _records(out)
    lost = sorted(set(before) - set(after))
    rerun = sorted(k for k in before if k in after and after[k] != before[k])
    if lost:
        problems.append(f"finished trials lost: {lost}")
    if rerun:
        problems.append(f"finished trials re-run: {rerun}")
    try:
        summary = json.loads((out / "summary.json").read_text())
        marker = json.loads((out / "best_trial.json").read_text())
        frame = pd.read_csv(out / "trials.csv")
        json.loads((out / "baseline.json").read_text())
        json.loads((out / "diagnosis.json").read_text())
        best_spec = load_spec(out / "best_spec.yaml")
        model = keras.saving.load_model(out / "best_model.keras")
        report = (out / "report.html").read_text()
    except Exception as err:  # noqa: BLE001 - any unreadable output is the finding
        return problems + [f"an output does not parse: {type(err).__name__}: {err}"]
    if json.loads(resumed.stdout) != summary:
        problems.append("the resume's printed summary differs from summary.json")
    run = RunDir(out)
    baseline = TrialRecord.load(run.baseline)
    records = load_records(run)
    scored = [r for r in records if not r.rerun_of]
    if summary["trials_total"] != len(records) or len(scored) != trials:
        problems.append(f"{len(scored)} trials recorded of {trials}; summary counts {summary['trials_total']}")
    best = best_record([baseline, *records])
    if not (marker.get("trial_id") == summary.get("best_trial") == best.trial_id):
        problems.append(f"best trial: best_trial.json {marker.get('trial_id')}, summary {summary.get('best_trial')}, "
                        f"lowest objective {best.trial_id}")
    user_spec = load_spec(out.parent / "spec.yaml")
    expected = record_spec(best, user_spec).to_dict()
    got = best_spec.to_dict()
    for section in ("model", "preprocessing", "train"):
        if expected[section] != got[section]:
            problems.append(f"best_spec.yaml's {section} is not trial {best.trial_id}'s")
    dataset = load_dataset(user_spec)
    predicted = model.predict(dataset.x_val, verbose=0).reshape(len(dataset.x_val), -1)
    recorded = np.asarray(best.val_predictions, dtype=np.float64).reshape(len(dataset.x_val), -1)
    if not np.allclose(predicted, recorded, rtol=1e-3, atol=1e-3 * (np.abs(recorded).max() + 1e-9)):
        problems.append(f"best_model.keras does not predict trial {best.trial_id}'s validation predictions")
    if len(frame) != len(records):
        problems.append(f"trials.csv has {len(frame)} rows for {len(records)} records")
    if "<html" not in report.lower():
        problems.append("report.html is not a page")
    if (out / "search.lock").exists():
        problems.append("search.lock left after the resume")
    leftovers = _temporaries(out)
    if leftovers:
        problems.append(f"temporary files left: {[str(p.relative_to(out)) for p in leftovers]}")
    return problems


def markdown(result: dict) -> str:
    """The campaign as a RESULTS.md section."""
    ok = sum(o["ok"] for o in result["outcomes"])
    real = sum(not o["finished_before_kill"] for o in result["outcomes"])
    lines = [
        "## kill -9 at random moments, then resume", "",
        f"Produced by `{result['command']}` on {result['started']}: a {result['trials']}-trial search of "
        f"{result['epochs']} epochs per trial (reference run {result['reference']['end']:.0f} s), killed with "
        f"SIGKILL {real} times ({len(result['outcomes']) - real} more planned kills came after the search had "
        "finished by itself, the load having dropped)"
        + (f" (of {result['planned_kills']} planned: the run was stopped early)" if result.get("planned_kills") else "")
        + f" and resumed each time. **{ok}/{len(result['outcomes'])}** "
        "resumed searches finished with no finished trial lost or re-run and every output parsing and agreeing.",
        "",
        "| # | aimed at | killed at (s from start) | stage at kill | records at kill | temp files at kill | resume exit | ok | problems |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for index, o in enumerate(result["outcomes"], 1):
        aim = o["aim"] + (f" ({o['writing']})" if o.get("writing") else "")
        if o.get("after") is not None:
            aim += f", {o['after']} s into " + (f"trial {o['trial']}" if o.get("trial") else "it")
        lines.append(
            f"| {index} | {aim} | {o['killed_at_seconds']} | {o['stage_at_kill']}"
            f"{' (had finished)' if o['finished_before_kill'] else ''} | {o['records_at_kill']} | "
            f"{len(o['temporaries_at_kill'])} | {o['resume_exit_code']} | {'yes' if o['ok'] else 'NO'} | "
            f"{'; '.join(o['problems']) or '-'} |"
        )
    return "\n".join(lines) + "\n"


def from_log(log: Path) -> tuple[dict, list[dict]]:
    """The reference timeline and the outcomes a run printed (to report a run stopped before its end)."""
    marks, outcomes = {}, []
    for line in log.read_text().splitlines():
        if line.startswith("reference: "):
            marks = json.loads(line.removeprefix("reference: "))
        elif line.startswith("{"):
            outcomes.append(json.loads(line))
    return marks, outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--from-log", type=Path, default=None,
                        help="write the results from the lines a run stopped early printed, and run nothing")
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--writing-only", action="store_true",
                        help="only kills timed by a write (no reference run): every kill waits for a temporary file")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    started = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if args.from_log is not None:
        marks, outcomes = from_log(args.from_log)
        result = {"command": "PYTHONPATH=. python benchmarks/kill9.py (stopped early; written with --from-log)",
                  "started": started, "trials": args.trials, "epochs": args.epochs, "seed": args.seed,
                  "reference": marks, "outcomes": outcomes, "planned_kills": args.kills}
        args.results.mkdir(parents=True, exist_ok=True)
        (args.results / "kill9.json").write_text(json.dumps(result, indent=2) + "\n")
        (args.results / "kill9.md").write_text(markdown(result))
        return 0 if all(o["ok"] for o in outcomes) else 1
    work = Path(tempfile.mkdtemp(prefix="kill9-"))
    try:
        if args.writing_only:
            marks = {"end": 0.0}
            kinds = ("model", "record")
            plans = [{"aim": "while writing", "wait_for": kinds[i % 2]} for i in range(args.kills)]
        else:
            (work / "reference").mkdir()
            marks = reference_run(work / "reference", args.trials, args.epochs)
            print(f"reference: {json.dumps({k: round(v, 1) for k, v in marks.items()})}", flush=True)
            plans = kill_plan(marks, args.kills, rng)
        outcomes = []
        for index, plan in enumerate(plans):
            folder = work / f"kill{index}"
            folder.mkdir()
            outcome = one_kill(folder, plan, args.trials, args.epochs)
            print(json.dumps(outcome), flush=True)
            outcomes.append(outcome)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    command = "PYTHONPATH=. python benchmarks/kill9.py " + " ".join(argv if argv is not None else sys.argv[1:])
    result = {"command": command.strip(), "started": started, "trials": args.trials, "epochs": args.epochs,
              "seed": args.seed, "reference": marks, "outcomes": outcomes}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "kill9.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.results / "kill9.md").write_text(markdown(result))
    return 0 if all(o["ok"] for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
