"""Memory over a long search: the process's resident memory (RSS) after each of many small trials.

One search in this process, ``--trials`` tiny trials (an LSTM of 2 units, 1 epoch, 200 rows, no
re-runs of pruned trials), with a reporter that reads the RSS each time a trial ends. The target:
the growth from trial 5 to the last one is under 10% (``growth_after_5``).

    PYTHONPATH=. .venv/bin/python benchmarks/long_memory.py [--trials 50]

writes ``benchmarks/results/long_memory.json`` and ``long_memory.png`` (the curve).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TARGET_GROWTH = 0.10


def rss_mb() -> float:
    """This process's resident set size now, in MiB (Linux /proc; psutil elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def make_case(folder: Path, trials: int) -> Path:
    """A tiny learnable sine and a spec for ``trials`` one-epoch trials of a 2-unit LSTM."""
    t = np.arange(200, dtype=np.float64)
    pd.DataFrame({"t": t, "x": np.cos(t / 3), "y": np.sin(t / 3)}).to_csv(folder / "data.csv", index=False)
    spec = {
        "data": {"path": "data.csv", "target": "y", "features": ["x", "y"], "window": 6, "horizon": 1},
        "model": {"layers": [{"type": "lstm", "units": 2}, {"type": "dense", "units": 1}],
                  "optimizer": {"name": "adam", "learning_rate": 0.01}, "loss": "mse"},
        "train": {"epochs": 1, "batch_size": 64, "seed": 0},
        "search": {"max_trials": trials, "tuner": "random", "rerun_pruned": 0},
        "output": "out",
    }
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def measure(trials: int) -> dict:
    """Run the search; the RSS after the diagnosis and baseline, and after each trial."""
    from autofix_lstm.inputs import resolve_inputs
    from autofix_lstm.tuning.driver import run_search
    from autofix_lstm.tuning.result import SearchReporter

    curve: list[dict] = []
    started = time.perf_counter()

    class MemoryReporter(SearchReporter):
        def stage(self, text: str) -> None:
            curve.append({"after": text, "trial": None, "rss_mb": round(rss_mb(), 1),
                          "seconds": round(time.perf_counter() - started, 1)})

        def trial_done(self, done: int, best, fixed: bool) -> None:
            if done and (not curve or curve[-1]["trial"] != done):
                curve.append({"after": f"trial {done}", "trial": done, "rss_mb": round(rss_mb(), 1),
                              "seconds": round(time.perf_counter() - started, 1)})
                print(f"trial {done}: {curve[-1]['rss_mb']} MiB", flush=True)

    with tempfile.TemporaryDirectory(prefix="long-memory-") as folder:
        spec = make_case(Path(folder), trials)
        result = run_search(*resolve_inputs(spec), reporter=MemoryReporter())
        total = result.summary["trials_total"]
    per_trial = [point for point in curve if point["trial"] is not None]
    at = {point["trial"]: point["rss_mb"] for point in per_trial}
    fifth, last = at.get(5), per_trial[-1]["rss_mb"] if per_trial else None
    growth = None if fifth is None or last is None else (last - fifth) / fifth
    return {"trials": total, "curve": curve, "rss_after_trial_5_mb": fifth, "rss_after_last_trial_mb": last,
            "growth_after_5": None if growth is None else round(growth, 4),
            "target_growth": TARGET_GROWTH, "met": growth is not None and growth < TARGET_GROWTH}


def from_log(log: Path) -> dict:
    """The curve a run printed (``trial N: X MiB``), judged like ``measure``'s (to report a run stopped early)."""
    curve = []
    for line in log.read_text().splitlines():
        if line.startswith("trial ") and line.endswith(" MiB"):
            trial, value = line.removeprefix("trial ").removesuffix(" MiB").split(": ")
            curve.append({"after": f"trial {trial}", "trial": int(trial), "rss_mb": float(value), "seconds": None})
    at = {p["trial"]: p["rss_mb"] for p in curve}
    fifth, last = at.get(5), curve[-1]["rss_mb"] if curve else None
    growth = None if fifth is None or last is None else (last - fifth) / fifth
    return {"trials": len(curve), "stopped_early_from_log": str(log), "curve": curve, "rss_after_trial_5_mb": fifth,
            "rss_after_last_trial_mb": last, "growth_after_5": None if growth is None else round(growth, 4),
            "target_growth": TARGET_GROWTH, "met": growth is not None and growth < TARGET_GROWTH}


def plot(result: dict, path: Path) -> None:
    """The RSS curve over the trials, with the 10% band above trial 5."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [p for p in result["curve"] if p["trial"] is not None]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot([p["trial"] for p in points], [p["rss_mb"] for p in points], marker=".", label="RSS after the trial")
    if result["rss_after_trial_5_mb"]:
        ax.axhline(result["rss_after_trial_5_mb"] * (1 + TARGET_GROWTH), color="red", linestyle="--",
                   label="trial 5 + 10%")
    ax.set_xlabel("trials ended")
    ax.set_ylabel("resident memory (MiB)")
    ax.set_title(f"Memory over a {result['trials']}-trial search: growth after trial 5 = "
                 f"{100 * (result['growth_after_5'] or 0):.1f}%")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--from-log", type=Path, default=None,
                        help="write the results from the 'trial N: X MiB' lines a run stopped early printed")
    args = parser.parse_args(argv)
    started = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    result = measure(args.trials) if args.from_log is None else from_log(args.from_log)
    import keras

    command = "PYTHONPATH=. python benchmarks/long_memory.py " + " ".join(argv if argv is not None else sys.argv[1:])
    result = {"command": command.strip(), "started": started, "python": platform.python_version(),
              "keras": keras.__version__, **result}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "long_memory.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(result, args.results / "long_memory.png")
    print(f"growth after trial 5: {result['growth_after_5']} (target < {TARGET_GROWTH}); met: {result['met']}")
    return 0 if result["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
