"""The minimal fix over the benchmark suite: how many changes a fix needs, and what the ablation costs.

For each case, autofix-lstm searches as ``benchmarks.run`` does (same trial budget and epochs), then
its minimal-fix stage ablates the best trial's changes. Per case: the changes full vs minimal (as
search fields, and as summary.json's spec lines), whether ``minimal_spec.yaml`` retrained on its own
(``autofix-lstm train``: the same seed, a fresh process state) still fixes and still beats
persistence when the full fix did, and the ablation's seconds as a ratio of the search's.

    python -m benchmarks.minimal                              # the whole suite, 10 trials
    python -m benchmarks.minimal --cases unscaled_target_sunspots --trials 4 --epochs 3

writes ``benchmarks/results/minimal_fix.json`` and ``benchmarks/results/minimal_fix.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from autofix_lstm.inputs import resolve_inputs  # noqa: E402
from autofix_lstm.modeling.train import train  # noqa: E402
from autofix_lstm.run_dir import RunDir  # noqa: E402
from autofix_lstm.scoring.objective import beats_persistence, is_fix  # noqa: E402
from autofix_lstm.spec import load_spec  # noqa: E402
from autofix_lstm.tuning.driver import run_search  # noqa: E402
from benchmarks.cases import list_cases  # noqa: E402
from benchmarks.run import RESULTS, WORK, versions  # noqa: E402


def run_case(case, trials: int, epochs: int | None, work: Path) -> dict:
    """Search one case with the minimal-fix stage on; retrain its minimal spec; the figures."""
    changes = {"search.max_trials": trials, "output": str(work / case.name)}
    if epochs is not None:
        changes["train.epochs"] = epochs
    spec = load_spec(case.spec).updated(changes)
    result = run_search(*resolve_inputs(spec, fresh=True))
    summary = result.summary
    minimal = summary.get("minimal_fix") or {}
    row = {
        "case": case.name, "fixed": summary["fixed"], "beats_persistence": summary["beats_persistence"],
        "changes_lines": len(summary["changes"]), "minimal_ran": bool(minimal.get("ran")),
        "minimal_reason": minimal.get("reason"), "minimal_complete": minimal.get("complete"),
        "changes_full": minimal.get("changes_full"), "changes_minimal": minimal.get("changes_minimal"),
        "necessary": [c["change"] for c in summary.get("necessary_changes") or []],
        "incidental": [c["change"] for c in summary.get("incidental_changes") or []],
        "verdict": minimal.get("verdict"), "objective_full": minimal.get("objective_full"),
        "objective_minimal": minimal.get("objective_minimal"), "ablation_trainings": minimal.get("trainings"),
        "ablation_seconds": minimal.get("seconds"), "elapsed_seconds": summary["elapsed_seconds"],
    }
    if row["minimal_ran"]:
        row["search_seconds"] = summary["elapsed_seconds"] - (minimal.get("seconds") or 0.0)
        row["ablation_over_search"] = (minimal.get("seconds") or 0.0) / row["search_seconds"]
        retrained = train(*resolve_inputs(RunDir(spec.output_dir).minimal_spec, save=False)[:2], save=False).metrics
        row["minimal_retrained_fixed"] = is_fix(retrained, spec.search.min_std_ratio)
        row["minimal_retrained_beats_persistence"] = beats_persistence(retrained)
        row["minimal_retrained_metrics"] = retrained.to_dict()
    return row


def aggregate(rows: list[dict]) -> dict:
    """The suite's figures over the cases whose minimal fix ran."""
    ran = [r for r in rows if r["minimal_ran"]]
    fixed = [r for r in ran if r["fixed"]]
    persistence = [r for r in fixed if r["beats_persistence"]]

    def median(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    return {
        "cases": len(rows), "minimal_ran": len(ran),
        "median_changes_full": median([r["changes_full"] for r in ran]),
        "median_changes_minimal": median([r["changes_minimal"] for r in ran]),
        "median_change_lines_full": median([r["changes_lines"] for r in ran]),
        "minimal_still_fixes": f"{sum(bool(r['minimal_retrained_fixed']) for r in fixed)}/{len(fixed)}",
        "minimal_still_beats_persistence":
            f"{sum(bool(r['minimal_retrained_beats_persistence']) for r in persistence)}/{len(persistence)}",
        "median_ablation_over_search": median([r.get("ablation_over_search") for r in ran]),
        "max_ablation_over_search": max((r["ablation_over_search"] for r in ran), default=None),
    }


def markdown(report: dict) -> str:
    """The results as a Markdown page."""
    s = report["summary"]
    lines = [
        "# The minimal fix over the suite", "", f"Command: `{report['command']}` ({report['date']})", "",
        *([] if report.get("complete", True) else [
            f"**Partial: {s['cases']} of the {report['cases_planned']} planned cases had run when this was written.**", ""]),
        f"- cases: {s['cases']}, minimal fix ran on {s['minimal_ran']} (the others had no fix, or the spec as "
        "written was the best)",
        f"- median changes per fix: {s['median_changes_full']} full -> {s['median_changes_minimal']} minimal "
        f"(search fields; {s['median_change_lines_full']} spec lines in summary.json's `changes`)",
        f"- minimal_spec.yaml retrained on its own still fixes: {s['minimal_still_fixes']} of the fixed cases; "
        f"still beats persistence: {s['minimal_still_beats_persistence']} of those where the full fix did",
        f"- the ablation's time as a ratio of the search: median {_fmt(s['median_ablation_over_search'])}, "
        f"max {_fmt(s['max_ablation_over_search'])}",
        "", "| case | fixed | full | minimal | retrained fixes | ablation / search | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["cases"]:
        lines.append(
            f"| {r['case']} | {r['fixed']} | {r['changes_full']} | {r['changes_minimal']} | "
            f"{r.get('minimal_retrained_fixed', '-')} | {_fmt(r.get('ablation_over_search'))} | "
            f"{r['verdict'] or r['minimal_reason']} |"
        )
    return "\n".join(lines) + "\n"


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="*", help="case names (default: all)")
    parser.add_argument("--trials", type=int, default=10, help="trial budget per case (benchmarks.run's default)")
    parser.add_argument("--epochs", type=int, default=None, help="override each case's epochs")
    parser.add_argument("--work", type=Path, default=WORK / "minimal", help="where the searches write their folders")
    parser.add_argument("--out", type=Path, default=RESULTS / "minimal_fix.json")
    args = parser.parse_args(argv)
    try:
        cases = list_cases(args.cases or None)
    except ValueError as err:
        parser.error(str(err))
    rows = []
    command = "python -m benchmarks.minimal " + " ".join(argv if argv is not None else sys.argv[1:])
    for case in cases:
        row = run_case(case, args.trials, args.epochs, args.work)
        rows.append(row)
        print(f"  {case.name:32s} fixed={row['fixed']!s:5s} changes {row['changes_full']} -> {row['changes_minimal']} "
              f"retrained fixes={row.get('minimal_retrained_fixed', '-')} "
              f"ablation/search={_fmt(row.get('ablation_over_search'))}", flush=True)
        # Written after every case: a run stopped part-way keeps its cases, and says it is partial.
        report = {
            "command": command, "date": time.strftime("%Y-%m-%d %H:%M:%S"), "versions": versions(),
            "cases_planned": len(cases), "complete": len(rows) == len(cases),
            "summary": aggregate(rows), "cases": rows,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1, default=str) + "\n")
        args.out.with_suffix(".md").write_text(markdown(report))
    print(json.dumps(report["summary"], indent=1))
    return report


if __name__ == "__main__":
    main()
