"""Which stage of ``diagnose`` and of a 2-trial search holds the peak memory, for one (rows, window).

``benchmarks/memory.py`` measures the peak RSS of whole commands; this script says where it comes
from. It runs ``autofix_lstm.diagnose`` or ``autofix_lstm.search`` in this process with the named
stages wrapped: each stage resets the process's resident high-water mark (``/proc/self/clear_refs``,
Linux) on entry and reads it (``VmHWM``) on exit, so a stage's figure is the peak RSS reached while
it ran (nested stages count in their callers too). With ``--tracemalloc``, each stage's peak of
Python/numpy allocations (not TensorFlow's own) above what was allocated when it began is added.

    PYTHONPATH=. .venv/bin/python -m benchmarks.memory_stages --rows 100000 --window 30 --command diagnose

prints one JSON line per stage call, then a table of each stage's largest peak (MB).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import re
import sys
import tracemalloc
from pathlib import Path

from benchmarks.memory import make_table, write_spec

# (module, name) of the functions measured, in the modules that call them.
STAGES = {
    "diagnose": [
        ("autofix_lstm.data.dataset", "load_dataset"),  # called by inputs.resolve_inputs, imported when it runs
        ("autofix_lstm.diagnosis.runner", "prepare"),
        ("autofix_lstm.diagnosis.runner", "probe_signal"),
        ("autofix_lstm.diagnosis.runner", "run_probe"),
        ("autofix_lstm.diagnosis.probes", "measure_saturation"),
        ("autofix_lstm.diagnosis.probes", "temporal_gradient"),
        ("autofix_lstm.diagnosis.probes", "predict_validation"),
        ("autofix_lstm.diagnosis.probes", "measure"),
        ("autofix_lstm.diagnosis.runner", "run_detectors"),
        ("autofix_lstm.diagnosis.runner", "reconcile"),
        ("autofix_lstm.diagnosis.runner", "write_json"),
    ],
    "search": [
        ("autofix_lstm.data.dataset", "load_dataset"),
        ("autofix_lstm.tuning.driver", "spec_fingerprint"),
        ("autofix_lstm.tuning.driver", "diagnose_dataset"),
        ("autofix_lstm.diagnosis.runner", "probe_signal"),
        ("autofix_lstm.diagnosis.runner", "run_probe"),
        ("autofix_lstm.tuning.trials", "train_candidate"),
        ("autofix_lstm.tuning.trials", "prepare"),
        ("autofix_lstm.tuning.trials", "fit_prepared"),
        ("autofix_lstm.tuning.trials", "predict_original"),
        ("autofix_lstm.modeling.train", "predict_original"),
        ("autofix_lstm.tuning.trials", "save_model"),
        ("autofix_lstm.api", "write_report"),
    ],
}


def _hwm_kib() -> int:
    return int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


def _rss_kib() -> int:
    return int(re.search(r"VmRSS:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


def _reset_hwm() -> None:
    Path("/proc/self/clear_refs").write_text("5")


class StageMeter:
    """Wraps functions so each call records the peak RSS (and optionally tracemalloc peak) while it ran."""

    def __init__(self, use_tracemalloc: bool):
        self.stack: list[dict] = []
        self.calls: list[dict] = []
        self.use_tracemalloc = use_tracemalloc

    def _lift_callers(self, kib: int) -> None:
        for frame in self.stack:
            frame["peak_kib"] = max(frame["peak_kib"], kib)

    def wrap(self, label: str, fn):
        @functools.wraps(fn)
        def measured(*args, **kwargs):
            self._lift_callers(_hwm_kib())  # what the callers reached before this stage resets the mark
            _reset_hwm()
            frame = {"stage": label, "start_kib": _rss_kib(), "peak_kib": 0}
            if self.use_tracemalloc:
                frame["traced_start"] = tracemalloc.get_traced_memory()[0]
                frame["traced_peak"] = 0
                for caller in self.stack:
                    caller["traced_peak"] = max(caller["traced_peak"], tracemalloc.get_traced_memory()[1])
                tracemalloc.reset_peak()
            self.stack.append(frame)
            try:
                return fn(*args, **kwargs)
            finally:
                self.stack.pop()
                frame["peak_kib"] = max(frame["peak_kib"], _hwm_kib())
                self._lift_callers(frame["peak_kib"])
                record = {"stage": label, "start_mb": round(frame["start_kib"] / 1024),
                          "peak_mb": round(frame["peak_kib"] / 1024),
                          "rise_mb": round((frame["peak_kib"] - frame["start_kib"]) / 1024)}
                if self.use_tracemalloc:
                    peak = max(frame["traced_peak"], tracemalloc.get_traced_memory()[1])
                    for caller in self.stack:
                        caller["traced_peak"] = max(caller["traced_peak"], peak)
                    record["traced_rise_mb"] = round((peak - frame["traced_start"]) / 2**20)
                print(json.dumps(record), flush=True)
                self.calls.append(record)

        return measured

    def install(self, command: str) -> None:
        for module_name, name in STAGES[command]:
            module = importlib.import_module(module_name)
            label = name if module_name.endswith((".runner", ".driver", ".trials", ".api")) else f"{name} ({module_name.split('.')[-1]})"
            setattr(module, name, self.wrap(label, getattr(module, name)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--window", type=int, default=30)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--command", choices=tuple(STAGES), default="diagnose")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--work", type=Path, default=Path("/tmp/autofix_memory_bench"))
    args = parser.parse_args(argv)

    data = make_table(args.rows, args.features, args.work / f"table_{args.rows}x{args.features}.parquet")
    spec = write_spec(args.work / f"stages_{args.rows}_{args.window}_{args.command}", data, args.window, args.epochs)
    import autofix_lstm.api as api

    meter = StageMeter(args.tracemalloc)
    meter.install(args.command)
    if args.tracemalloc:
        tracemalloc.start()
    _reset_hwm()
    root = {"stage": "whole run", "start_kib": _rss_kib(), "peak_kib": 0, "traced_peak": 0}
    meter.stack.append(root)
    if args.command == "diagnose":
        api.diagnose(str(spec))
    else:
        api.search(str(spec), fresh=True, max_trials=2)
    total = max(root["peak_kib"], _hwm_kib())
    largest: dict[str, dict] = {}
    for call in meter.calls:
        if call["stage"] not in largest or call["peak_mb"] > largest[call["stage"]]["peak_mb"]:
            largest[call["stage"]] = call
    print(f"\n{args.command}, {args.rows} rows x {args.features} features, window {args.window}: "
          f"peak RSS {round(total / 1024)} MB from {round(root['start_kib'] / 1024)} MB once imported")
    print("| stage | calls | start RSS (MB) | peak RSS (MB) | rise (MB) |" + (" traced rise (MB) |" if args.tracemalloc else ""))
    for stage, call in largest.items():
        n = sum(1 for c in meter.calls if c["stage"] == stage)
        row = f"| {stage} | {n} | {call['start_mb']} | {call['peak_mb']} | {call['rise_mb']} |"
        print(row + (f" {call['traced_rise_mb']} |" if args.tracemalloc else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
