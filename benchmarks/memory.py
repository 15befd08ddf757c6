"""Peak memory (RSS) of ``autofix-lstm diagnose`` and of a 2-trial search, over rows x window.

Each measurement runs the installed console script in a fresh process, started by a fresh
wrapper process that reads ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` once the command has
ended: the peak resident memory of that one command and nothing else (a getrusage in this process
would report the largest of all the runs so far). The data is a synthetic table of ``--features``
noisy, related series (the target is one of them); the model is small (LSTM 16, dense 1), so what
grows with the data is the data pipeline, not the model. The search's confirmation and minimal fix are
off (they retrain the kept fix on the same windows: their peak is a training's peak, and at 10^6 rows
they would add hours).

Target (issue 15): peak RSS grows with the number of rows only, not with the window, and 10^6 rows
x 10 features x window 120 stays under 4 GB.

    PYTHONPATH=. .venv/bin/python -m benchmarks.memory                              # the full grid
    PYTHONPATH=. .venv/bin/python -m benchmarks.memory --rows 10000 100000 --epochs 1   # small grid

writes ``benchmarks/results/<name>.json``, ``<name>.md`` and ``<name>.png`` (``--name``, default
``memory``). The console script and the package are the ones on ``PATH``/``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
COMMANDS = ("diagnose", "search")
SEARCH_TRIALS = 2


def make_table(rows: int, features: int, path: Path, seed: int = 0) -> Path:
    """A parquet table of ``features`` related noisy series (``f0`` is the target), written once."""
    import numpy as np
    import pandas as pd

    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    t = np.arange(rows, dtype=np.float64)
    base = np.sin(2 * np.pi * t / 96.0) + 0.3 * np.sin(2 * np.pi * t / 17.0)
    columns = {}
    for j in range(features):
        columns[f"f{j}"] = (base * (1 + 0.1 * j) + 0.2 * rng.standard_normal(rows) + j).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(columns).to_parquet(path, index=False)
    return path


def write_spec(folder: Path, data: Path, window: int, epochs: int) -> Path:
    """A spec on ``data`` with a small model, written as YAML into ``folder``."""
    import yaml

    spec = {
        "data": {"path": str(data), "target": "f0", "window": window, "horizon": 1, "validation_split": 0.2},
        "model": {"layers": [{"type": "lstm", "units": 16}, {"type": "dense", "units": 1}],
                  "optimizer": {"name": "adam", "learning_rate": 0.001}, "loss": "mse"},
        "train": {"epochs": epochs, "batch_size": 256, "seed": 0},
        # The confirmation's seed runs and the minimal fix retrain on the same windows as the trials (their
        # peak is a training's peak); they are off so that the 10^6-row search ends in minutes, not hours.
        "search": {"tuner": "random", "max_trials": SEARCH_TRIALS, "prune_after": None, "rerun_pruned": 0,
                   "confirm": False, "minimize": False},
        "output": str(folder / "run"),
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def command_line(command: str, spec: Path) -> list[str]:
    """The console-script call measured for ``command``."""
    script = shutil.which("autofix-lstm") or str(Path(sys.executable).with_name("autofix-lstm"))
    if command == "search":
        return [script, "search", str(spec), "--fresh", "--max-trials", str(SEARCH_TRIALS), "--json"]
    return [script, "diagnose", str(spec), "--json"]


def measure_one(argv: list[str]) -> dict:
    """Run ``argv`` as this process's only child; its peak RSS (bytes), exit code and seconds."""
    started = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    return {"peak_rss_bytes": int(kib) * 1024, "returncode": done.returncode, "seconds": round(seconds, 1),
            "stderr_tail": done.stderr.strip().splitlines()[-1:] if done.returncode else []}


def measure_fresh(argv: list[str]) -> dict:
    """``measure_one`` in a fresh wrapper process, so no earlier run's peak is counted."""
    # By file path: the wrapper needs only the standard library, and PYTHONPATH stays the caller's
    # (it decides which copy of the package the console script imports).
    wrapper = [sys.executable, str(Path(__file__).resolve()), "--one", json.dumps(argv)]
    out = subprocess.run(wrapper, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_grid(rows_list, windows, features, epochs, commands, work: Path) -> list[dict]:
    """Every (command, rows, window) measurement, printed as it ends."""
    records = []
    for rows in rows_list:
        data = make_table(rows, features, work / f"table_{rows}x{features}.parquet")
        for window in windows:
            spec = write_spec(work / f"{rows}_{window}", data, window, epochs)
            for command in commands:
                result = measure_fresh(command_line(command, spec))
                record = {"command": command, "rows": rows, "window": window, "features": features,
                          "epochs": epochs, **result, "peak_rss_mb": round(result["peak_rss_bytes"] / 2**20, 1)}
                print(json.dumps(record), flush=True)
                records.append(record)
    return records


def markdown(records: list[dict], meta: dict) -> str:
    """One table: rows x window per command, peak RSS in MB."""
    lines = [f"# Peak RSS of diagnose and a {SEARCH_TRIALS}-trial search", "",
             f"`{meta['command']}` ({meta['date']}, {meta['cpus']} CPUs, {meta['features']} features, "
             f"{meta['epochs']} epoch(s), PYTHONPATH={meta['pythonpath'] or '-'})", "",
             "| command | rows | window | peak RSS (MB) | seconds | exit |", "|---|---:|---:|---:|---:|---:|"]
    for r in records:
        lines.append(f"| {r['command']} | {r['rows']:,} | {r['window']} | {r['peak_rss_mb']:,.0f} | "
                     f"{r['seconds']} | {r['returncode']} |")
    return "\n".join(lines) + "\n"


def plot(records: list[dict], path: Path) -> None:
    """Peak RSS against rows, one line per (command, window)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for command in COMMANDS:
        for window in sorted({r["window"] for r in records}):
            points = sorted((r["rows"], r["peak_rss_mb"] / 1024) for r in records
                            if r["command"] == command and r["window"] == window)
            if points:
                ax.plot(*zip(*points), marker="o", linestyle="-" if command == "diagnose" else "--",
                        label=f"{command}, window {window}")
    ax.axhline(4.0, color="grey", linewidth=0.8, linestyle=":", label="4 GB target")
    ax.set_xscale("log")
    ax.set_xlabel("rows")
    ax.set_ylabel("peak RSS (GB)")
    ax.set_title("peak memory over rows and window")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--windows", type=int, nargs="+", default=[30, 120])
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--commands", nargs="+", choices=COMMANDS, default=list(COMMANDS))
    parser.add_argument("--work", type=Path, default=Path("/tmp/autofix_memory_bench"))
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--name", default="memory")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure this JSON argv and print
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure_one(json.loads(args.one))))
        return 0
    records = run_grid(args.rows, args.windows, args.features, args.epochs, args.commands, args.work)
    meta = {
        "command": " ".join(["python -m benchmarks.memory", *(argv if argv is not None else sys.argv[1:])]),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(), "python": platform.python_version(), "features": args.features,
        "epochs": args.epochs, "pythonpath": os.environ.get("PYTHONPATH", ""),
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"{args.name}.json").write_text(json.dumps({"meta": meta, "records": records}, indent=2) + "\n")
    (args.results / f"{args.name}.md").write_text(markdown(records, meta))
    plot(records, args.results / f"{args.name}.png")
    return 0 if all(r["returncode"] == 0 for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
