"""Where a search's time goes: its wall time over its summed training time, and the oracle's share.

    python -m benchmarks.overhead                           # the demo and 4 suite cases, 12 trials, both steps
    python -m benchmarks.overhead --cases demo --trials 4   # a quick check that it works
    python -m benchmarks.overhead --proposal-calls 0        # skip the proposal step's own timing

For each case, the same search runs once with Keras Tuner's own proposal step
(``search.oracle_proposal: keras_tuner``, the "before") and once with the batched one (the "after"),
fresh, in one process. From each search's summary.json (its ``time`` block): the wall time over the
summed training time (``wall / trained``; 1.0 is the physical limit, the target is <= 1.10), and the
oracle's seconds over the training time (target < 5%). Trained is every model fit: the spec as
written and each trial (building, fitting, pruning's checks). The diagnosis counts as overhead.

Besides, the proposal step alone is timed on a 12-trial history of the demo's search space (scores
from a known function, no training): the seconds one proposal takes with each step.

The machine's load average is recorded before and after each search: timings on a busy machine
overstate both steps (Keras Tuner's most: its many tiny ``predict`` calls wait on BLAS threads).
Results: benchmarks/results/overhead.json and overhead.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
WORK = HERE / "runs" / "overhead"
DEMO = ROOT / "examples" / "energy.yaml"
SUITE_CASES = ("trend_co2", "lr_too_low", "multiclass_elnino_unscaled", "negative_white_noise")
PROPOSALS = ("keras_tuner", "batched")  # before, after
TARGET_RATIO = 1.10
TARGET_ORACLE_SHARE = 0.05


def _spec_path(name: str) -> Path:
    if name == "demo":
        if not (DEMO.parent / "energy.csv").is_file():
            raise SystemExit("examples/energy.csv is missing: run `python examples/make_energy.py` first")
        return DEMO
    from benchmarks.cases import list_cases

    return list_cases([name])[0].spec


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def run_search(name: str, proposal: str, trials: int | None, work: Path) -> dict:
    """One fresh search of case ``name`` with the given proposal step; its time block and outcome."""
    from autofix_lstm.api import search
    from autofix_lstm.spec import load_spec

    spec = load_spec(_spec_path(name))
    changes = {"search.oracle_proposal": proposal, "output": str(work / name / proposal)}
    if trials is not None:
        changes["search.max_trials"] = trials
    spec = spec.updated(changes)
    load_before = _load()
    started = time.perf_counter()
    result = search(spec, fresh=True, progress=False)  # the report included, as users get it
    outer = time.perf_counter() - started
    summary = result.summary
    block = summary["time"]
    proposals = [r.oracle_seconds for r in result.records if r.source == "oracle" and r.oracle_seconds is not None]
    return {
        "case": name, "proposal": proposal, "trials": len(result.records), "tuner": spec.search.tuner,
        "wall": block["wall"], "outer_wall": round(outer, 3), "trained": block["trained"],
        "ratio": round(block["wall"] / block["trained"], 4) if block["trained"] else None,
        "oracle": block["oracle"], "oracle_share": block["oracle_share"], "overhead_share": summary["overhead_share"],
        "oracle_proposals": len(proposals),
        "seconds_per_oracle_proposal": round(statistics.mean(proposals), 3) if proposals else None,
        "time": block, "objective": summary["objective"], "fixed": summary["fixed"],
        "load_before": load_before, "load_after": _load(),
    }


def time_proposal_step(calls: int, history: int = 12) -> dict:
    """Seconds one proposal takes with each step, on a ``history``-trial history of the demo's space."""
    import numpy as np

    from autofix_lstm.data.dataset import load_dataset
    from autofix_lstm.remedies.strategies import resolve_strategies
    from autofix_lstm.spec import load_spec
    from autofix_lstm.tuning.oracles import AutofixTuner, make_oracle
    from autofix_lstm.tuning.space import build_space

    spec = load_spec(_spec_path("demo"))
    space = build_space(spec, load_dataset(spec), resolve_strategies(spec.search.strategies, spec.base_dir))

    class KnownScores:  # a learning rate near 3e-3 and a scaled target score best; no training
        def run(self, trial):
            values = trial.hyperparameters.values
            lr_error = np.log10(float(values["model.optimizer.learning_rate"])) + 2.5
            return {"score": float(lr_error ** 2 + (values["preprocessing.target"] == "none"))}

        def trial_ended(self, trial):
            pass

    out = {"history_trials": history, "dimensions": len(space.hyperparameters.space), "calls": calls}
    for proposal in PROPOSALS:
        oracle = make_oracle("bayesian", space.hyperparameters, max_trials=history, epochs=2, seeds=[],
                             deadline=None, seed=0, proposal=proposal)
        oracle.num_initial_points = history  # a random history of ``history`` trials
        with tempfile.TemporaryDirectory() as folder:
            AutofixTuner(oracle, KnownScores(), directory=folder, project_name="p").search(verbose=0)
            oracle.autofix_max_trials = None
            seconds, load_before = [], _load()
            for call in range(calls):
                oracle._fitted_on = None  # each call as after a new trial: the Gaussian process is refit
                started = time.perf_counter()
                oracle.populate_space(f"timing{call}")
                seconds.append(time.perf_counter() - started)
        out[proposal] = {"seconds": [round(s, 4) for s in seconds], "median": round(statistics.median(seconds), 4),
                         "load_before": load_before, "load_after": _load()}
    return out


def _machine() -> dict:
    import keras_tuner
    import sklearn
    import tensorflow as tf

    return {"python": platform.python_version(), "tensorflow": tf.__version__, "keras_tuner": keras_tuner.__version__,
            "scikit_learn": sklearn.__version__,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"}


def _fmt(value, pattern: str = "{:.2f}") -> str:
    return "-" if value is None else pattern.format(value)


def markdown(report: dict) -> str:
    """The results as a Markdown page."""
    lines = [
        "# Search overhead: wall time over training time, and the oracle's share",
        "",
        f"Command: `{report['command']}` (started {report['started']}).",
        f"Machine: {report['machine']['machine']}; load average {report['load_start']} at the start, "
        f"{report['load_end']} at the end (timings on a busy machine overstate both steps).",
        "",
        f"Targets: wall / trained <= {TARGET_RATIO:.2f} (1.0 is the physical limit); "
        f"oracle seconds / trained < {TARGET_ORACLE_SHARE:.0%}.",
        "",
        "| case | proposal step | trials | wall s | trained s | wall / trained | oracle s | oracle share "
        "| s / oracle proposal | diagnosis s | other s | best objective | fixed |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["searches"]:
        t = row["time"]
        lines.append(
            f"| {row['case']} | {row['proposal']} | {row['trials']} | {row['wall']:.1f} | {row['trained']:.1f} "
            f"| {_fmt(row['ratio'])} | {row['oracle']:.2f} | {_fmt(row['oracle_share'], '{:.1%}')} "
            f"| {_fmt(row['seconds_per_oracle_proposal'])} ({row['oracle_proposals']}) | {t['diagnosis']:.1f} "
            f"| {t['other']:.1f} | {_fmt(row['objective'], '{:.4f}')} | {row['fixed']} |"
        )
    for proposal in PROPOSALS:
        rows = [r for r in report["searches"] if r["proposal"] == proposal and r["ratio"] is not None]
        if rows:
            lines += ["", f"**{proposal}**: median wall / trained {statistics.median(r['ratio'] for r in rows):.2f}, "
                          f"median oracle share {statistics.median(r['oracle_share'] or 0 for r in rows):.1%} "
                          f"over {len(rows)} searches."]
    step = report.get("proposal_step")
    if step:
        lines += [
            "",
            f"## The proposal step alone ({step['history_trials']}-trial history, {step['dimensions']} dimensions, "
            "no training)",
            "",
            "| proposal step | seconds a proposal (median) | each call | load before / after |",
            "|---|---|---|---|",
        ]
        for proposal in PROPOSALS:
            p = step[proposal]
            lines.append(f"| {proposal} | {p['median']:.3f} | {', '.join(f'{s:.3f}' for s in p['seconds'])} "
                         f"| {p['load_before']} / {p['load_after']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="*", default=["demo", *SUITE_CASES],
                        help="'demo' (examples/energy.yaml) and suite case names (default: the demo and 4 cases)")
    parser.add_argument("--trials", type=int, default=12, help="trial budget per search (default 12)")
    parser.add_argument("--proposals", nargs="*", default=list(PROPOSALS), choices=list(PROPOSALS))
    parser.add_argument("--proposal-calls", type=int, default=3,
                        help="proposals timed per step on a 12-trial history (0: skip)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where overhead.json and overhead.md go")
    parser.add_argument("--work", type=Path, default=WORK, help="where the searches write their output folders")
    args = parser.parse_args(argv)
    report = {
        "command": "python -m benchmarks.overhead " + " ".join(argv if argv is not None else sys.argv[1:]),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": _machine(), "load_start": _load(),
        "trials": args.trials, "searches": [],
    }
    report["command"] = report["command"].strip()
    if args.proposal_calls > 0:
        report["proposal_step"] = time_proposal_step(args.proposal_calls)
        print(json.dumps(report["proposal_step"]), flush=True)
    for name in args.cases:
        for proposal in args.proposals:
            row = run_search(name, proposal, args.trials, args.work)
            report["searches"].append(row)
            print(f"  {name:28s} {proposal:12s} wall/trained={_fmt(row['ratio'])} "
                  f"oracle={_fmt(row['oracle_share'], '{:.1%}')} wall={row['wall']:.0f}s load={row['load_after']}",
                  flush=True)
    report["load_end"] = _load()
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "overhead.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.results / "overhead.md").write_text(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
