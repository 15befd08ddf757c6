"""Where autofix-lstm's time to the first fix goes, per case, read from a benchmark run's output.

    python -m benchmarks.first_fix                    # benchmarks/runs and benchmarks/results
    python -m benchmarks.first_fix --work DIR --results DIR

Reads what ``python -m benchmarks.run`` left: each case's ``<work>/<case>/autofix/events.jsonl`` and
``trials.csv`` and ``<results>/<case>.json``. For each fixable case it splits the seconds to the first
fix into the diagnosis, the trials before the fixing one, and the fixing trial's own training, and
sets that training beside the floor (one training of the kept configuration, timed by the runner
after the search, in a process that has already trained many models) and beside the later trainings
of the same architecture in the same search (same depth and width: the process is warm by then).
The last ratio shows what the process's first trainings cost beyond the model's own work.
Writes ``<results>/first_fix.md`` and ``first_fix.json``; computes, trains nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

from benchmarks.pages import command_line, write_page

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"  # benchmarks.run's folders (not imported: it loads TensorFlow)
WORK = HERE / "runs"


def _stage_seconds(events: Path, stage: str) -> float | None:
    for line in events.read_text().splitlines():
        event = json.loads(line)
        if event.get("event") == "stage_ended" and event.get("stage") == stage:
            return float(event["seconds"])
    return None


def case_row(result: dict, work: Path) -> dict | None:
    """The first fix's breakdown for one case, or None when autofix found none or left no files."""
    method = result["methods"].get("autofix")
    folder = work / result["case"] / "autofix"
    if not method or not method["trials_to_first_fix"] or not (folder / "trials.csv").is_file():
        return None
    rows = list(csv.DictReader((folder / "trials.csv").open()))
    fixing = next((r for r in rows if r["fix"] == "True"), None)
    if fixing is None:  # the spec as written was the first fix (trial 0)
        return None
    arch = (fixing["architecture.depth"], fixing["architecture.units"])
    index = rows.index(fixing)
    later = [float(r["train_seconds"]) for r in rows[index + 1:]
             if (r["architecture.depth"], r["architecture.units"]) == arch and not r["pruned_at_epoch"]
             and r["epochs_run"] == fixing["epochs_run"]]
    train = float(fixing["train_seconds"])
    floor = method["floor_seconds"]
    return {
        "case": result["case"],
        "first_fix_trial": fixing["trial_id"],
        "seconds_to_first_fix": method["seconds_to_first_fix"],
        "diagnosis": _stage_seconds(folder / "events.jsonl", "diagnosing"),
        "trials_before": sum(float(r["seconds"]) for r in rows[:index]),
        "fixing_trial_training": train,
        "floor": floor,
        "first_fix_over_floor": method["seconds_to_first_fix"] / floor if floor else None,
        "same_architecture_later_median": statistics.median(later) if later else None,
        "first_training_over_later": train / statistics.median(later) if later else None,
    }


def _fmt(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def markdown(rows: list[dict], command: str) -> str:
    """The breakdown as a Markdown page."""
    def median(key):
        values = [r[key] for r in rows if r[key] is not None]
        return statistics.median(values) if values else None

    lines = [
        "# Where the time to the first fix goes (autofix-lstm, per case)", "",
        f"Command: `{command}`, reading the benchmark run's own output (nothing trained again).", "",
        "| case | first fix (trial) | s to first fix | diagnosis s | earlier trials s | fixing trial's training s "
        "| floor s | first fix / floor | same architecture later in the search, median s | that training / later |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['first_fix_trial']} | {_fmt(r['seconds_to_first_fix'])} | {_fmt(r['diagnosis'])} "
            f"| {_fmt(r['trials_before'])} | {_fmt(r['fixing_trial_training'])} | {_fmt(r['floor'])} "
            f"| {_fmt(r['first_fix_over_floor'], 2)} | {_fmt(r['same_architecture_later_median'])} "
            f"| {_fmt(r['first_training_over_later'], 2)} |")
    lines += ["", f"Medians over {len(rows)} cases: first fix / floor {_fmt(median('first_fix_over_floor'), 2)}; "
              f"diagnosis {_fmt(median('diagnosis'))} s; the fixing trial's training over later trainings of the "
              f"same architecture {_fmt(median('first_training_over_later'), 2)}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    results = [json.loads(p.read_text()) for p in sorted(args.results.glob("*.json"))]
    rows = [row for r in results if isinstance(r, dict) and "methods" in r and r["meta"].get("expect_fixable")
            for row in [case_row(r, args.work)] if row is not None]
    command = command_line("benchmarks.first_fix", argv)
    print(write_page(args.results, "first_fix", command, rows, markdown(rows, command)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
