"""Compare autofix-lstm with one search feature on and off, from two benchmark result folders.

    python -m benchmarks.run --methods autofix --trials 12 --results benchmarks/results/full
    python -m benchmarks.run --methods autofix --trials 12 --set search.prune_after=null \\
        --results benchmarks/results/no_pruning --no-timing
    python -m benchmarks.ablation pruning benchmarks/results/full benchmarks/results/no_pruning

Writes benchmarks/results/ablation_<name>.md (RESULTS.md includes it) and .json: per case, the kept
model's quality and objective with the feature (the first folder) and without it (the second),
whether each is a fix, and the search's total seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks.report import RESULTS, _fmt, load, quality

TITLES = {
    "pruning": "Pruning: the same searches with pruning (as shipped) and without (search.prune_after: null)",
    "refinement": "Refinement: the same searches with refinement (as shipped) and without (search.refine: false)",
    "refinement_issue27": "Refinement of issue 27 (narrower steps, capacity first on little data, the working spec's "
                          "neighbourhood, widening far below the probe): this version ('with') against 3d45677 ('without')",
}


def compare(with_feature: list[dict], without: list[dict]) -> list[dict]:
    """One row per case present in both folders."""
    other = {r["case"]: r for r in without}
    rows = []
    for r in with_feature:
        if r["case"] not in other or "autofix" not in r["methods"] or "autofix" not in other[r["case"]]["methods"]:
            continue
        a, b = r["methods"]["autofix"], other[r["case"]]["methods"]["autofix"]
        rows.append({
            "case": r["case"],
            "with": {"quality": quality(a["best_metrics"]), "fixed": a["fixed"], "seconds": a["total_seconds"],
                     "trials_pruned": (a.get("pruning") or {}).get("trials_pruned")},
            "without": {"quality": quality(b["best_metrics"]), "fixed": b["fixed"], "seconds": b["total_seconds"]},
        })
    return rows


def markdown(name: str, rows: list[dict], command: str) -> str:
    """The ablation as a RESULTS.md section."""
    lost = [r["case"] for r in rows if r["without"]["fixed"] and not r["with"]["fixed"]]
    better = sum(1 for r in rows if (r["with"]["quality"] or -9) > (r["without"]["quality"] or -9) + 0.01)
    worse = sum(1 for r in rows if (r["with"]["quality"] or -9) < (r["without"]["quality"] or -9) - 0.01)
    seconds_with = sum(r["with"]["seconds"] for r in rows)
    seconds_without = sum(r["without"]["seconds"] for r in rows)
    lines = [
        f"## {TITLES.get(name, name)}", "",
        f"Produced by `{command}`. {len(rows)} cases. Kept model better with it on {better}, worse on {worse} "
        f"(by more than 0.01 of r2 / balanced accuracy); fixes found only without it: {len(lost)} "
        f"({', '.join(lost) or 'none'}). Total search seconds with / without: "
        f"{_fmt(seconds_with, 0)} / {_fmt(seconds_without, 0)}.", "",
        "| case | quality with | quality without | fixed with | fixed without | s with | s without |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        w, wo = r["with"], r["without"]
        lines.append(f"| {r['case']} | {_fmt(w['quality'], 3)} | {_fmt(wo['quality'], 3)} | {_fmt(w['fixed'])} | "
                     f"{_fmt(wo['fixed'])} | {_fmt(w['seconds'], 0)} | {_fmt(wo['seconds'], 0)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", help="the feature compared, e.g. pruning or refinement")
    parser.add_argument("with_feature", type=Path, help="results folder of the searches with the feature")
    parser.add_argument("without", type=Path, help="results folder of the searches without it")
    args = parser.parse_args(argv)
    rows = compare(load(args.with_feature), load(args.without))
    command = "python -m benchmarks.ablation " + " ".join(argv if argv is not None else sys.argv[1:])
    (RESULTS / f"ablation_{args.name}.json").write_text(json.dumps(rows, indent=1) + "\n")
    (RESULTS / f"ablation_{args.name}.md").write_text(markdown(args.name, rows, command))
    print(markdown(args.name, rows, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
