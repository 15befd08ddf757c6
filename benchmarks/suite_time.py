"""Where autofix-lstm's search time went on every benchmark case, read from a benchmark run's output.

    python -m benchmarks.suite_time                  # benchmarks/runs/<case>/autofix/summary.json
    python -m benchmarks.suite_time --work DIR

For each case's autofix search (``python -m benchmarks.run`` leaves its output folder), from
summary.json's ``time`` block: the search's wall time over its training time (``wall / trained``;
1.0 is the physical limit, the target of issue 15 is <= 1.10) and the oracle's seconds over the
training time (target < 5%). Training is every model fit: the spec as written, each trial, the
confirmation's seed runs and the minimal fix's retrainings. A summary written before the time block
counted those two stages (``confirmation.seconds``, ``minimal_fix.seconds``) is read the same way.
Writes ``benchmarks/results/suite_time.md`` and ``suite_time.json``; trains nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from benchmarks.pages import command_line, write_page

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"  # benchmarks.run's folders (not imported: it loads TensorFlow)
WORK = HERE / "runs"

TARGET_RATIO = 1.10
TARGET_ORACLE_SHARE = 0.05


def case_time(summary: dict) -> dict:
    """Wall, trained, their ratio, the oracle's share and the stages, from one summary.json."""
    block = dict(summary["time"])
    if "confirmation" not in block:  # written before these stages counted as training
        block["confirmation"] = float((summary.get("confirmation") or {}).get("seconds") or 0.0)
        block["minimal_fix"] = float((summary.get("minimal_fix") or {}).get("seconds") or 0.0)
        block["other"] = max(0.0, block["other"] - block["confirmation"] - block["minimal_fix"])
        block["trained"] = block["trained"] + block["confirmation"] + block["minimal_fix"]
    trained = block["trained"]
    return {
        "wall": block["wall"], "trained": trained, "ratio": block["wall"] / trained if trained else None,
        "oracle": block["oracle"], "oracle_share": block["oracle"] / trained if trained else None,
        "stages": {k: block[k] for k in ("diagnosis", "baseline", "oracle", "training", "evaluation", "writing",
                                         "confirmation", "minimal_fix", "other")},
    }


def markdown(rows: list[dict], command: str) -> str:
    """The per-case table and the medians."""
    lines = [
        "# Where autofix-lstm's search time went, on every benchmark case", "",
        f"Command: `{command}`, reading each case's summary.json from the benchmark run (nothing trained again). "
        f"Targets (issue 15): wall / trained <= {TARGET_RATIO:.2f}; oracle / trained < {TARGET_ORACLE_SHARE:.0%}.", "",
        "| case | wall s | trained s | wall / trained | oracle s | oracle share | diagnosis s | evaluation s "
        "| writing s | other s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        st = r["stages"]
        lines.append(f"| {r['case']} | {r['wall']:.1f} | {r['trained']:.1f} | {r['ratio']:.3f} | {r['oracle']:.2f} "
                     f"| {100 * r['oracle_share']:.2f}% | {st['diagnosis']:.1f} | {st['evaluation']:.1f} "
                     f"| {st['writing']:.1f} | {st['other']:.1f} |")
    ratios = [r["ratio"] for r in rows]
    shares = [r["oracle_share"] for r in rows]
    lines += ["", f"Over {len(rows)} cases: wall / trained median {statistics.median(ratios):.3f}, worst "
              f"{max(ratios):.3f} (target <= {TARGET_RATIO:.2f}: {'met' if max(ratios) <= TARGET_RATIO else 'missed'} "
              f"on {sum(x <= TARGET_RATIO for x in ratios)}/{len(rows)}); oracle share median "
              f"{100 * statistics.median(shares):.2f}%, worst {100 * max(shares):.2f}% (target < "
              f"{TARGET_ORACLE_SHARE:.0%}: {'met' if max(shares) < TARGET_ORACLE_SHARE else 'missed'})."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    rows = []
    for path in sorted(args.work.glob("*/autofix/summary.json")):
        rows.append({"case": path.parent.parent.name, **case_time(json.loads(path.read_text()))})
    if not rows:
        raise SystemExit(f"no autofix summaries under {args.work}: run python -m benchmarks.run first")
    command = command_line("benchmarks.suite_time", argv)
    print(write_page(args.results, "suite_time", command, rows, markdown(rows, command)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
