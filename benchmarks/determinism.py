"""Does one spec, trained twice with the same seed, give the same model? And what does determinism cost?

    python -m benchmarks.determinism [--cases NAME ...] [--repeats 2] [--out FILE]

For each case's spec (as written) and reference fix, trains ``--repeats`` times, each in a fresh Python
process (so nothing is shared but the files), under three settings:

- ``seeded``: what the search does by default (``keras.utils.set_random_seed`` before each build);
- ``op_determinism``: besides, ``tf.config.experimental.enable_op_determinism()``;
- ``op_determinism_1_thread``: besides, one intra-op and one inter-op thread.

Records each training's validation mse (a classifier's log loss) to full precision, a hash of its validation predictions and its
seconds; a setting is reproducible on a case when every repeat's hash is the same. Writes JSON and
prints a Markdown table (benchmarks/results/determinism.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SETTINGS = ("seeded", "op_determinism", "op_determinism_1_thread")
DEFAULT_CASES = ("unscaled_target_sunspots", "adagrad_classifier", "multistep_sigmoid_electricity")


def _one(spec_path: str, setting: str) -> dict:
    """Train ``spec_path`` once under ``setting`` in this process: mse, predictions' hash, seconds."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import tensorflow as tf

    if setting.startswith("op_determinism"):
        tf.config.experimental.enable_op_determinism()
    if setting.endswith("1_thread"):
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    from autofix_lstm.inputs import resolve_inputs
    from autofix_lstm.modeling.train import train
    from autofix_lstm.spec import load_spec

    spec, dataset, _ = resolve_inputs(load_spec(spec_path), save=False)
    start = time.perf_counter()
    result = train(spec, dataset, save=False)
    seconds = time.perf_counter() - start
    predictions = np.asarray(result.model.predict(dataset.x_val, verbose=0), dtype=np.float64)
    metrics = result.metrics
    loss = metrics.mse if metrics.mse is not None else metrics.log_loss
    return {"mse": None if loss is None else float(loss), "hash": hashlib.sha256(predictions.tobytes()).hexdigest()[:16],
            "seconds": round(seconds, 2)}


def measure(cases: list[str], repeats: int) -> list[dict]:
    """Every case's spec and reference fix, ``repeats`` fresh processes per setting."""
    from benchmarks.cases import CASES_DIR

    rows = []
    for case in cases:
        for which in ("spec.yaml", "reference_fix.yaml"):
            path = CASES_DIR / case / which
            if not path.is_file():
                continue
            for setting in SETTINGS:
                runs = []
                for _ in range(repeats):
                    out = subprocess.run([sys.executable, "-m", "benchmarks.determinism", "--one", str(path), setting],
                                         capture_output=True, text=True, cwd=path.parent, check=True,
                                         env={**os.environ, "PYTHONPATH": str(HERE.parent)})
                    runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
                rows.append({"case": case, "spec": which, "setting": setting, "runs": runs,
                             "reproducible": len({r["hash"] for r in runs}) == 1,
                             "mse_spread": _spread([r["mse"] for r in runs]),
                             "median_seconds": statistics.median(r["seconds"] for r in runs)})
                print(json.dumps(rows[-1]), flush=True)
    return rows


def _spread(values: list) -> float:
    finite = [v for v in values if v is not None]
    return max(finite) - min(finite) if finite else float("nan")


def table(rows: list[dict]) -> str:
    """Markdown: per case and spec, each setting's reproducibility, mse spread and median seconds."""
    lines = ["| case | spec | setting | same predictions | mse (log loss) spread | median s | s / seeded's |", "|---|---|---|---|---|---|---|"]
    base = {(r["case"], r["spec"]): r["median_seconds"] for r in rows if r["setting"] == "seeded"}
    for r in rows:
        ratio = r["median_seconds"] / base[(r["case"], r["spec"])] if base.get((r["case"], r["spec"])) else float("nan")
        lines.append(f"| {r['case']} | {r['spec']} | {r['setting']} | {'yes' if r['reproducible'] else 'no'} | "
                     f"{r['mse_spread']:.3g} | {r['median_seconds']:.1f} | {ratio:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: measure, write the JSON, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=list(DEFAULT_CASES))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "determinism.json")
    parser.add_argument("--one", nargs=2, metavar=("SPEC", "SETTING"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(_one(*args.one)))
        return 0
    load = os.getloadavg()
    rows = measure(args.cases, args.repeats)
    meta = {"platform": platform.platform(), "cpus": os.cpu_count(), "loadavg_before": load, "loadavg_after": os.getloadavg()}
    args.out.write_text(json.dumps({"machine": meta, "rows": rows}, indent=2) + "\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
