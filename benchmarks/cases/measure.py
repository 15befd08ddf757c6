"""Train every case's spec and reference fix once and check them against case.yaml.

    python -m benchmarks.cases.measure [--cases NAME ...] [--seeds 0 1 2] [--out FILE]

Trains one model at a time through ``autofix_lstm.modeling.train.train`` (what ``autofix-lstm train``
runs), nothing saved. For each case and seed it records the baseline's verdict and std_ratio, the
reference fix's metrics and whether they meet ``good_fix``, and the seconds of each training
(fit + predict, without the TensorFlow import). Writes the raw results as JSON and prints the
Markdown table that benchmarks/cases/README.md carries. Exits 1 when a case does not behave as
its case.yaml says (at seed 0, the spec's own seed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

from benchmarks.cases import CASES_DIR, Case, list_cases  # noqa: E402

_KEEP = ("collapsed", "nan", "std_ratio", "r2", "mse", "constant_mse", "persistence_mse",
         "balanced_accuracy", "majority_balanced_accuracy", "accuracy", "distinct_predictions")


def _train(path: Path, seed: int) -> dict:
    from autofix_lstm.inputs import resolve_inputs
    from autofix_lstm.modeling.train import train
    from autofix_lstm.spec import load_spec

    spec = load_spec(path)
    if seed != spec.train.seed:
        spec = spec.updated({"train.seed": seed})
    result = train(*resolve_inputs(spec, save=False)[:2], save=False)
    out = {k: result.metrics.get(k) for k in _KEEP if k in result.metrics}
    out["seconds"] = round(result.seconds, 2)
    if out.get("persistence_mse") is not None and out.get("mse") is not None:
        out["beats_persistence"] = out["mse"] < out["persistence_mse"]
    return out


def measure_case(case: Case, seed: int) -> dict:
    """Baseline and reference-fix results of one case at one seed, with the checks against case.yaml."""
    row: dict = {"case": case.name, "seed": seed, "baseline": _train(case.spec, seed)}
    row["baseline_as_expected"] = row["baseline"]["collapsed"] == case.expect_collapsed_baseline
    if case.reference_fix is not None:
        row["reference_fix"] = _train(case.reference_fix, seed)
        row["reference_fix_misses"] = case.good_fix_failures(row["reference_fix"])
    elif case.category == "healthy_control":
        # the healthy spec is its own reference: it must already meet good_fix
        row["reference_fix_misses"] = case.good_fix_failures(row["baseline"])
    else:
        # the negative control: its baseline must NOT meet good_fix (nothing beats a constant)
        row["baseline_meets_good_fix"] = case.meets_good_fix(row["baseline"])
    print(json.dumps(row), file=sys.stderr, flush=True)
    return row


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "NaN"
    return f"{value:.{digits}f}"


def _fix_metric(case: Case, metrics: dict | None) -> str:
    if metrics is None:
        return "-"
    name = "balanced_accuracy" if "balanced_accuracy_min" in case.good_fix else "r2"
    short = "bal_acc" if name == "balanced_accuracy" else "r2"
    return f"{short} {_fmt(metrics.get(name))}"


def table(cases: list[Case], rows: list[dict]) -> str:
    """The Markdown table of the seed-0 results (one line per case)."""
    by_name = {r["case"]: r for r in rows if r["seed"] == 0}
    lines = [
        "| case | category | real data | baseline collapsed (std_ratio) | reference fix | good_fix | met | "
        "beats persistence | train s (baseline / fix) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for case in cases:
        row = by_name.get(case.name)
        if row is None:
            continue
        base = row["baseline"]
        fix = row.get("reference_fix")
        shown = fix if fix is not None else (base if case.category == "healthy_control" else None)
        real = case.data_source.get("dataset", "").replace("statsmodels.datasets.", "statsmodels ") if case.real_data else "no"
        verdict = "yes" if base["collapsed"] else "no"
        ratio = "NaN output" if base.get("nan") else _fmt(base.get("std_ratio"))
        if case.category == "negative_control":
            shown_metric = f"(none; baseline {_fix_metric(case, base)})"
            met = "no (as expected)" if not row["baseline_meets_good_fix"] else "YES - check for a leak"
        else:
            shown_metric = _fix_metric(case, shown) + (" (the spec itself)" if fix is None else "")
            met = "yes" if not row["reference_fix_misses"] else "NO: " + "; ".join(row["reference_fix_misses"])
        goal = ", ".join(f"{k} {v:g}" for k, v in case.good_fix.items())
        beats = "-" if not case.forecasting or shown is None else ("yes" if shown.get("beats_persistence") else "no")
        seconds = f"{base['seconds']:.1f}" + (f" / {fix['seconds']:.1f}" if fix is not None else "")
        lines.append(
            f"| {case.name} | {case.category} | {real} | {verdict} ({ratio}) | {shown_metric} | {goal} | {met} | "
            f"{beats} | {seconds} |"
        )
    return "\n".join(lines)


def seeds_table(cases: list[Case], rows: list[dict], seeds: list[int]) -> str:
    """Baseline std_ratio and reference-fix metric per seed (robustness of the verdicts)."""
    head = "| case | " + " | ".join(f"seed {s}: baseline std_ratio / fix" for s in seeds) + " |"
    lines = [head, "|---|" + "---|" * len(seeds)]
    index = {(r["case"], r["seed"]): r for r in rows}
    for case in cases:
        cells = []
        for s in seeds:
            row = index.get((case.name, s))
            if row is None:
                cells.append("-")
                continue
            base = row["baseline"]
            ratio = "NaN" if base.get("nan") else _fmt(base.get("std_ratio"))
            mark = "" if row["baseline_as_expected"] else " (!)"
            cells.append(f"{ratio}{mark} / {_fix_metric(case, row.get('reference_fix'))}")
        lines.append(f"| {case.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the measurements; print the tables; return 1 when a seed-0 check fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", help="case names (default: all)")
    parser.add_argument("--seeds", nargs="*", type=int, default=[0], help="training seeds (default: 0, the specs' own)")
    parser.add_argument("--out", type=Path, default=CASES_DIR / "measured.json", help="where to write the raw results")
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    cases = list_cases(args.cases)
    started = time.time()
    load_before = os.getloadavg()
    rows = [measure_case(case, seed) for seed in args.seeds for case in cases]
    machine = {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "loadavg_before": [round(v, 2) for v in load_before],
        "loadavg_after": [round(v, 2) for v in os.getloadavg()],
        "wall_seconds": round(time.time() - started, 1),
    }
    args.out.write_text(json.dumps({"machine": machine, "seeds": args.seeds, "rows": rows}, indent=2) + "\n")
    print(table(cases, rows))
    if len(args.seeds) > 1:
        print()
        print(seeds_table(cases, rows, args.seeds))
    print(f"\n{machine}")
    failures = [
        r["case"] for r in rows if r["seed"] == 0 and (
            not r["baseline_as_expected"] or r.get("reference_fix_misses") or r.get("baseline_meets_good_fix")
        )
    ]
    if failures:
        print(f"not as case.yaml says (seed 0): {', '.join(failures)}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
