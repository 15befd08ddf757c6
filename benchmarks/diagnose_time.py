"""How long ``diagnose`` takes, as a ratio to one full training of the same spec.

Both run in the same process after a warm-up of each (so neither pays for importing TensorFlow or
its first graph), with ``save=False``, ``repeats`` times alternately; the medians are compared.

    .venv/bin/python benchmarks/diagnose_time.py [--spec examples/energy.yaml] [--repeats 3]

writes ``benchmarks/results/diagnose_time.json``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _timed(fn):
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def measure(spec_path: Path, repeats: int) -> dict:
    """Median seconds of ``diagnose`` and of ``train`` on ``spec_path``, and their ratio."""
    import keras
    import tensorflow as tf

    from autofix_lstm.diagnosis import diagnose
    from autofix_lstm.inputs import resolve_inputs
    from autofix_lstm.modeling.train import train
    from autofix_lstm.spec import load_spec

    spec = load_spec(spec_path)
    diagnose(*resolve_inputs(spec, save=False)[:2], save=False)  # warm-up: TensorFlow's first graphs, thread pools
    train(*resolve_inputs(spec, save=False)[:2], save=False)
    diagnose_seconds, train_seconds = [], []
    result = None
    for _ in range(repeats):  # each timing reads the data too (resolve_inputs), as each command does
        seconds, result = _timed(lambda: diagnose(*resolve_inputs(spec, save=False)[:2], save=False))
        diagnose_seconds.append(seconds)
        keras.backend.clear_session()
        seconds, _ = _timed(lambda: train(*resolve_inputs(spec, save=False)[:2], save=False))
        train_seconds.append(seconds)
        keras.backend.clear_session()
    d, t = statistics.median(diagnose_seconds), statistics.median(train_seconds)
    probe = result.probe or {}
    return {
        "spec": str(spec_path.relative_to(ROOT) if spec_path.is_relative_to(ROOT) else spec_path),
        "repeats": repeats,
        "diagnose_seconds": [round(s, 3) for s in diagnose_seconds],
        "train_seconds": [round(s, 3) for s in train_seconds],
        "diagnose_median_seconds": round(d, 3),
        "train_median_seconds": round(t, 3),
        "ratio_diagnose_to_train": round(d / t, 3),
        "brief_training": probe.get("brief_training"),
        "brief_steps": probe.get("steps"),
        "full_training_steps": probe.get("full_training_steps"),
        "findings": result.ids,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
        },
        "command": " ".join(["python benchmarks/diagnose_time.py", *sys.argv[1:]]),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=ROOT / "examples" / "energy.yaml")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "diagnose_time.json")
    args = parser.parse_args(argv)
    report = measure(args.spec.resolve(), args.repeats)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"diagnose {report['diagnose_median_seconds']:.2f}s vs full training {report['train_median_seconds']:.2f}s: "
        f"ratio {report['ratio_diagnose_to_train']:.2f} ({report['brief_training']}) -> {args.out}"
    )
    return report


if __name__ == "__main__":
    main()
