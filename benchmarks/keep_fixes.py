"""Keep the fixes a benchmark run's searches returned, so the diagnosis contract test can check them.

    python -m benchmarks.keep_fixes /tmp/bench_work --run "python -m benchmarks.run ... (commit abc1234)"

For every ``<work>/<case>/autofix/best_spec.yaml`` whose search ended ``fixed``: copies it to
``benchmarks/cases/<case>/returned_fix.yaml`` with its data path pointing at the case's own data
file and a header naming the run, the trial and its validation metrics. A case whose search found
no fix keeps no file (an old one is removed, so the folder never shows a fix the last run did not
return).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from autofix_lstm.run_dir import RunDir
from benchmarks.cases import RETURNED_FIX, list_cases


def _header(run: str, summary: dict) -> str:
    metrics = summary.get("best") or {}
    quality = ", ".join(f"{k} {metrics[k]:.3f}" for k in ("r2", "balanced_accuracy") if metrics.get(k) is not None)
    return (f"# The fix a benchmark search returned (best_spec.yaml of trial {summary.get('best_trial')}; {quality}).\n"
            f"# Run: {run}\n# Kept by: python -m benchmarks.keep_fixes. Do not edit by hand: re-run the benchmark.\n")


def keep(work: Path, run: str) -> list[str]:
    """Copy each case's returned fix from ``work`` into its case folder; returns one line per case."""
    lines = []
    for case in list_cases():
        folder = RunDir(work / case.name / "autofix")
        target = case.folder / RETURNED_FIX
        if not folder.summary.is_file():
            continue
        summary = json.loads(folder.summary.read_text())
        if not summary.get("fixed") or not folder.best_spec.is_file():
            target.unlink(missing_ok=True)
            lines.append(f"{case.name:32s} no fix returned")
            continue
        spec = yaml.safe_load(folder.best_spec.read_text())
        own = yaml.safe_load(case.spec.read_text())
        spec["data"]["path"] = own["data"]["path"]
        spec["output"] = "runs/returned_fix"
        target.write_text(_header(run, summary) + yaml.safe_dump(spec, sort_keys=False, width=110))
        lines.append(f"{case.name:32s} kept trial {summary.get('best_trial')}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work", type=Path, help="a benchmarks.run --work folder")
    parser.add_argument("--run", required=True, help="the command (and commit) that produced the folder")
    args = parser.parse_args(argv)
    for line in keep(args.work, args.run):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
