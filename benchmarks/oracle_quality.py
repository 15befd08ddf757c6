"""Is the batched proposal step as good as Keras Tuner's? The suite searched with both, in one run.

    python -m benchmarks.oracle_quality                     # every case, 12 trials, both proposal steps
    python -m benchmarks.oracle_quality --cases trend_co2 --trials 3   # a quick check that it works
    python -m benchmarks.oracle_quality --summarise         # re-read the results, write the page again

Each case is searched by autofix-lstm twice, on the same budget and seeds: with
``search.oracle_proposal: keras_tuner`` (Keras Tuner's own 50 L-BFGS-B restarts) and with ``batched``
(the default). Everything else is ``benchmarks.run``'s (its runner, its verified verdict); the
diagnosis is not timed. The comparison is the best objective each search reached (lower is better;
``autofix_lstm.scoring.objective``), its median over the cases, the cases where the batched step is
no worse (within 0.005), the fixes, and the search's seconds.
``--batched-from DIR`` takes the batched arm from a finished ``benchmarks.run`` pass instead (its
``<case>.json``, autofix-lstm's method, same trial budget; the searches' summaries from
``--batched-work``) and searches only with Keras Tuner's step; the page says so.
Each arm's time is read from its searches' summaries too: wall / trained and the oracle's share of
training (``benchmarks.suite_time``), the before and after of issue 15's overhead figure.
The stages that never ask the oracle are left out of both arms (``AFTER_SEARCH_OFF``: the confirmation's
seed runs and the minimal fix retrain the kept fix; the reference fix is not trained): they change
neither arm's best objective and would only add the same trainings to both.
Results: benchmarks/results/oracle_quality/<case>.json, oracle_quality.json and oracle_quality.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from benchmarks.cases import list_cases
from benchmarks.run import RESULTS, WORK, run_case
from benchmarks.suite_time import case_time

PROPOSALS = ("keras_tuner", "batched")
AFTER_SEARCH_OFF = {"search.confirm": False, "search.minimize": False}
TOLERANCE = 0.005  # objective differences below this are ties
OUT = RESULTS / "oracle_quality"


def best_objective(method: dict) -> float | None:
    """The lowest objective among a method's trials (the spec as written included when it was a fix)."""
    scores = [t["objective"] for t in method["trials"] if t.get("objective") is not None]
    return min(scores) if scores else None


def search_case(case, trials: int, epochs: int | None, work: Path, proposals=PROPOSALS) -> dict:
    """The proposal steps on one case: ``{proposal: benchmarks.run's result for the autofix method}``."""
    out = {}
    for proposal in proposals:
        result = run_case(case, ["autofix"], trials, epochs, work / proposal,
                          settings={**AFTER_SEARCH_OFF, "search.oracle_proposal": proposal},
                          timing=False, reference=False)
        out[proposal] = result["methods"]["autofix"]
    return out


def batched_from(results: Path, work: Path, case: str, trials: int) -> dict:
    """The batched arm of ``case`` from a finished ``benchmarks.run`` pass (autofix-lstm's method)."""
    path = results / f"{case}.json"
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run python -m benchmarks.run --trials {trials} first")
    result = json.loads(path.read_text())
    if result["trials_budget"] != trials:
        raise SystemExit(f"{path} was run with {result['trials_budget']} trials, not {trials}")
    method = dict(result["methods"]["autofix"])
    summary = work / case / "autofix" / "summary.json"
    if "time" not in method and summary.is_file():  # a pass whose runner did not copy the time block
        saved = json.loads(summary.read_text())
        method.update({k: saved.get(k) for k in ("time", "minimal_fix") if method.get(k) is None})
    method["source"] = str(path)
    return method


def arm_time(method: dict) -> dict | None:
    """wall / trained and the oracle's share for one arm's search (None without a time block)."""
    if not method.get("time"):
        return None
    return case_time({"time": method["time"], "confirmation": method.get("confirmation"),
                      "minimal_fix": method.get("minimal_fix")})


def compare(rows: dict[str, dict]) -> dict:
    """Per case and over the cases: best objectives, fixes and seconds for both steps."""
    cases = []
    for name, by_step in sorted(rows.items()):
        line = {"case": name}
        for proposal in PROPOSALS:
            method = by_step[proposal]
            timing = arm_time(method)
            line[proposal] = {"best_objective": best_objective(method), "fixed": method["fixed"],
                              "total_seconds": method["total_seconds"], "trials_run": method["trials_run"],
                              "wall_over_trained": None if timing is None else timing["ratio"],
                              "oracle_share": None if timing is None else timing["oracle_share"]}
        ours, theirs = line["batched"]["best_objective"], line["keras_tuner"]["best_objective"]
        line["batched_no_worse"] = None if ours is None or theirs is None else ours <= theirs + TOLERANCE
        cases.append(line)

    def median(proposal: str, key: str):
        values = [c[proposal][key] for c in cases if c[proposal][key] is not None]
        return statistics.median(values) if values else None

    overall = {proposal: {"median_best_objective": median(proposal, "best_objective"),
                          "median_total_seconds": median(proposal, "total_seconds"),
                          "median_wall_over_trained": median(proposal, "wall_over_trained"),
                          "median_oracle_share": median(proposal, "oracle_share"),
                          "fixed": sum(bool(c[proposal]["fixed"]) for c in cases)} for proposal in PROPOSALS}
    judged = [c["batched_no_worse"] for c in cases if c["batched_no_worse"] is not None]
    overall["batched_no_worse_cases"] = f"{sum(judged)}/{len(judged)}"
    overall["batched_from"] = sorted({str(Path(r["batched"]["source"]).parent) for r in rows.values()
                                      if r["batched"].get("source")})
    return {"cases": cases, "overall": overall}


def _fmt(value, pattern: str = "{:.4f}") -> str:
    return "-" if value is None else pattern.format(value)


def markdown(comparison: dict, command: str, started: str) -> str:
    """The comparison as a Markdown page."""
    o = comparison["overall"]
    lines = [
        "# The Bayesian oracle's proposal step: batched against Keras Tuner's own",
        "",
        f"Command: `{command}` (started {started}). Objective: lower is better; ties within {TOLERANCE}.",
        "",
        *([f"The batched arm is the autofix-lstm method of the benchmark pass in {', '.join(o['batched_from'])} "
           "(same budget, seeds and cases; searched by that run, not this one). Only Keras Tuner's step was "
           "searched here.", ""] if o.get("batched_from") else
          ["Both steps searched each case here, fresh, with the same seeds and budget; the stages that never "
           "ask the oracle (the confirmation, the minimal fix, the reference fix) were off in both arms.", ""]),
        "| | Keras Tuner's step | batched step |",
        "|---|---|---|",
        f"| median best objective | {_fmt(o['keras_tuner']['median_best_objective'])} "
        f"| {_fmt(o['batched']['median_best_objective'])} |",
        f"| cases fixed | {o['keras_tuner']['fixed']} | {o['batched']['fixed']} |",
        f"| median search seconds | {_fmt(o['keras_tuner']['median_total_seconds'], '{:.1f}')} "
        f"| {_fmt(o['batched']['median_total_seconds'], '{:.1f}')} |",
        f"| median wall / trained | {_fmt(o['keras_tuner'].get('median_wall_over_trained'), '{:.3f}')} "
        f"| {_fmt(o['batched'].get('median_wall_over_trained'), '{:.3f}')} |",
        f"| median oracle share of training | {_fmt(o['keras_tuner'].get('median_oracle_share'), '{:.2%}')} "
        f"| {_fmt(o['batched'].get('median_oracle_share'), '{:.2%}')} |",
        "",
        f"The batched step is no worse on {o['batched_no_worse_cases']} cases.",
        "",
        "| case | best objective (KT step) | best objective (batched) | no worse | fixed (KT / batched) "
        "| seconds (KT / batched) | oracle share (KT / batched) |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in comparison["cases"]:
        kt_, b = c["keras_tuner"], c["batched"]
        lines.append(f"| {c['case']} | {_fmt(kt_['best_objective'])} | {_fmt(b['best_objective'])} "
                     f"| {_fmt(c['batched_no_worse'], '{}')} | {kt_['fixed']} / {b['fixed']} "
                     f"| {kt_['total_seconds']:.1f} / {b['total_seconds']:.1f} "
                     f"| {_fmt(kt_.get('oracle_share'), '{:.2%}')} / {_fmt(b.get('oracle_share'), '{:.2%}')} |")
    return "\n".join(lines) + "\n"


def _write(rows: dict, results: Path, command: str, started: str) -> dict:
    comparison = compare(rows)
    payload = {"command": command, "started": started, **comparison}
    (results / "oracle_quality.json").write_text(json.dumps(payload, indent=1, default=str) + "\n")
    (results / "oracle_quality.md").write_text(markdown(comparison, command, started))
    return comparison


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="*", help="case names (default: all)")
    parser.add_argument("--trials", type=int, default=12, help="trial budget per search (default 12)")
    parser.add_argument("--epochs", type=int, default=None, help="override each case's epochs")
    parser.add_argument("--results", type=Path, default=OUT, help="where the results go")
    parser.add_argument("--work", type=Path, default=WORK / "oracle_quality", help="the searches' output folders")
    parser.add_argument("--summarise", action="store_true", help="only re-read <results>/cases/*.json")
    parser.add_argument("--batched-from", type=Path, default=None, metavar="DIR",
                        help="take the batched arm from a finished benchmarks.run pass's <case>.json files")
    parser.add_argument("--batched-work", type=Path, default=WORK, help="that pass's search folders (default: %(default)s)")
    args = parser.parse_args(argv)
    command = ("python -m benchmarks.oracle_quality " + " ".join(argv if argv is not None else sys.argv[1:])).strip()
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    per_case = args.results / "cases"
    per_case.mkdir(parents=True, exist_ok=True)
    if not args.summarise:
        for case in list_cases(args.cases or None):
            if args.batched_from is None:
                rows = search_case(case, args.trials, args.epochs, args.work / case.name)
            else:
                rows = search_case(case, args.trials, args.epochs, args.work / case.name, proposals=("keras_tuner",))
                rows["batched"] = batched_from(args.batched_from, args.batched_work, case.name, args.trials)
            (per_case / f"{case.name}.json").write_text(json.dumps(rows, indent=1, default=str) + "\n")
    rows = {path.stem: json.loads(path.read_text()) for path in sorted(per_case.glob("*.json"))}
    comparison = _write(rows, args.results, command, started)
    print(json.dumps(comparison["overall"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
