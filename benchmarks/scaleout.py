"""Scale-out: trials per hour with 1 and 2 workers (Keras Tuner's chief/worker mode), same spec and budget.

One run does both searches, one after the other, each a fresh ``autofix-lstm search --workers N
--json`` in its own process and output folder: a collapsing spec (unscaled targets near 5,000 into
a sigmoid head) on a synthetic sine, ``--trials`` random-search trials, no confirmation, minimal
fix or re-run of pruned trials, so the search is the trials. Each worker gets its share of the
cores (``cores // N`` TensorFlow threads).

Trials per hour are counted over the trial phase, from the first trial's start to the last one's
end (the records' ``elapsed_at_end - seconds`` and ``elapsed_at_end``, on the chief's clock), and
over the whole command besides (diagnosis, baseline and the workers' start included). The target:
2 workers run at least 1.7 times the trials per hour of 1. The first-fix time is summary.json's
``seconds_to_first_fix`` of each.

    PYTHONPATH=. .venv/bin/python benchmarks/scaleout.py            # the measurement (about 20 minutes)
    PYTHONPATH=. .venv/bin/python benchmarks/scaleout.py --trials 4 --epochs 1 --rows 240 --units 4 \
        --results /tmp/scaleout-smoke                                # a smoke test (a couple of minutes)

writes ``benchmarks/results/scaleout.json`` and ``scaleout.md``. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
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
TARGET_RATIO = 1.7


def make_case(folder: Path, *, rows: int, units: int, epochs: int, trials: int) -> Path:
    """A collapsing spec on a sine of ``rows`` rows: targets ~5,000 into a sigmoid head (the search fixes it)."""
    rng = np.random.default_rng(0)
    t = np.arange(rows, dtype=np.float64)
    phase = 2 * np.pi * t / 16
    frame = pd.DataFrame({"t": t, "x": np.sin(phase + np.pi / 2) + 0.05 * rng.normal(size=rows),
                          "y": 5000 + 1000 * (np.sin(phase) + 0.05 * rng.normal(size=rows))})
    frame.to_csv(folder / "data.csv", index=False)
    spec = {
        "data": {"path": "data.csv", "target": "y", "features": ["x", "y"], "window": 16, "horizon": 1},
        "model": {"layers": [{"type": "lstm", "units": units}, {"type": "dense", "units": 1, "activation": "sigmoid"}],
                  "optimizer": {"name": "adam", "learning_rate": 0.01}, "loss": "mse"},
        "train": {"epochs": epochs, "batch_size": 32, "seed": 0},
        "search": {"max_trials": trials, "tuner": "random", "confirm": False, "minimize": False, "rerun_pruned": 0},
        "output": "out",
    }
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def measure(spec: Path, workers: int, output: Path) -> dict:
    """One fresh search with ``workers`` workers into ``output``; its trial rate and first-fix time."""
    raw = yaml.safe_load(spec.read_text())
    raw["output"] = str(output)
    case = spec.with_name(f"spec_{workers}.yaml")
    case.write_text(yaml.safe_dump(raw, sort_keys=False))
    command = [sys.executable, "-m", "autofix_lstm", "search", str(case), "--workers", str(workers), "--json", "--fresh"]
    started = time.perf_counter()
    # This checkout's package, for the search and the workers it starts (they run in the case's folder).
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(command, capture_output=True, text=True, cwd=spec.parent, env=env)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"the search with {workers} workers failed ({done.returncode}): {done.stderr[-3000:]}")
    summary = json.loads(done.stdout[done.stdout.index("{"):])
    records = [json.loads(p.read_text()) for p in (output / "tuner" / "autofix").glob("trial_*/autofix_trial.json")]
    trials = [r for r in records if not r.get("rerun_of")]
    starts = [r["elapsed_at_end"] - (r.get("seconds") or 0.0) for r in trials if r.get("elapsed_at_end") is not None]
    ends = [r["elapsed_at_end"] for r in trials if r.get("elapsed_at_end") is not None]
    phase = max(ends) - min(starts) if ends else None
    by_worker: dict[str, int] = {}
    for record in trials:
        by_worker[record.get("worker") or "?"] = by_worker.get(record.get("worker") or "?", 0) + 1
    return {
        "workers": workers,
        "trials": len(trials),
        "trials_by_worker": dict(sorted(by_worker.items())),
        "trial_phase_seconds": None if phase is None else round(phase, 1),
        "trials_per_hour": None if not phase else round(len(trials) / phase * 3600, 1),
        "wall_seconds": round(wall, 1),
        "trials_per_hour_wall": round(len(trials) / wall * 3600, 1),
        "seconds_to_first_fix": None if summary.get("seconds_to_first_fix") is None
        else round(summary["seconds_to_first_fix"], 1),
        "trials_to_first_fix": summary.get("trials_to_first_fix"),
        "best_state": summary.get("best_state"),
        "objective": summary.get("objective"),
    }


def markdown(result: dict) -> str:
    rows = ["| workers | trials | by worker | trial phase (s) | trials/hour | whole command (s) | trials/hour (whole) "
            "| first fix (s) | first fix (trials) |", "|---|---|---|---|---|---|---|---|---|"]
    for run in result["runs"]:
        by = ", ".join(f"{k} {v}" for k, v in run["trials_by_worker"].items())
        rows.append(f"| {run['workers']} | {run['trials']} | {by} | {run['trial_phase_seconds']} | "
                    f"{run['trials_per_hour']} | {run['wall_seconds']} | {run['trials_per_hour_wall']} | "
                    f"{run['seconds_to_first_fix']} | {run['trials_to_first_fix']} |")
    return "\n".join([
        "# Scale-out: trials per hour with 1 and 2 workers", "",
        f"`{result['command']}` ({result['started']}, {result['cores']} cores, Python {result['python']}).", "",
        f"Spec: {result['case']}.", "", *rows, "",
        f"Ratio (2 workers / 1, trial phase): **{result['ratio']}** (target >= {TARGET_RATIO}: "
        f"{'met' if result['met'] else 'not met'}); over the whole command: {result['ratio_wall']}.", "",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=24, help="max_trials of each search")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    started = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    with tempfile.TemporaryDirectory(prefix="scaleout-") as folder:
        spec = make_case(Path(folder), rows=args.rows, units=args.units, epochs=args.epochs, trials=args.trials)
        runs = []
        for workers in (1, 2):
            print(f"searching with {workers} worker{'s' if workers > 1 else ''} ...", flush=True)
            runs.append(measure(spec, workers, Path(folder) / f"out_{workers}"))
            print(json.dumps(runs[-1]), flush=True)
    one, two = runs
    ratio = round(two["trials_per_hour"] / one["trials_per_hour"], 2) if one["trials_per_hour"] else None
    command = "PYTHONPATH=. python benchmarks/scaleout.py " + " ".join(argv if argv is not None else sys.argv[1:])
    result = {
        "command": command.strip(), "started": started, "python": platform.python_version(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "case": f"collapsing sine, {args.rows} rows, window 16, LSTM {args.units} + sigmoid head, {args.epochs} "
                f"epochs, {args.trials} random trials, no confirmation/minimal fix/re-runs",
        "runs": runs, "ratio": ratio,
        "ratio_wall": round(two["trials_per_hour_wall"] / one["trials_per_hour_wall"], 2),
        "target_ratio": TARGET_RATIO, "met": ratio is not None and ratio >= TARGET_RATIO,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "scaleout.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.results / "scaleout.md").write_text(markdown(result))
    print(f"trials per hour, 2 workers / 1: {ratio} (target >= {TARGET_RATIO}); met: {result['met']}")
    return 0 if result["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
