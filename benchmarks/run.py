"""Run the benchmark suite: every case searched by autofix-lstm, plain Keras Tuner and Optuna.

    python -m benchmarks.run                      # the whole suite, the default budget
    python -m benchmarks.run --cases trend_co2 exploding_relu_cells
    python -m benchmarks.run --quick              # 2 cases, 2 trials, 1 epoch: checks the runner works

Every method gets the same trial budget, epochs and seeds. The runner computes each method's
verdict itself from the saved best model's predictions; it also times one training of the final
configuration (the floor) and the diagnosis against one full training of the spec as written.
Raw results go to benchmarks/results/<case>.json; ``benchmarks.report`` turns them into
benchmarks/RESULTS.md and a plot.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import yaml  # noqa: E402

from autofix_lstm.remedies.strategies import builtin_strategies  # noqa: E402
from autofix_lstm.run_dir import RunDir  # noqa: E402
from autofix_lstm.spec import load_spec  # noqa: E402
from autofix_lstm.tuning.records import TrialRecord  # noqa: E402
from benchmarks import kept_quality  # noqa: E402
from benchmarks.cases import list_cases  # noqa: E402
from benchmarks.methods import METHODS, common_score, floor_seconds, seed_check, train_reference, verify  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
WORK = HERE / "runs"
QUICK_CASES = ("unscaled_target_sunspots", "negative_white_noise")


def versions() -> dict:
    """Library versions and the machine, for the report."""
    import keras
    import keras_tuner
    import optuna
    import sklearn
    import tensorflow as tf

    return {
        "python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
        "keras_tuner": keras_tuner.__version__, "optuna": optuna.__version__, "scikit_learn": sklearn.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        "gpu": bool(tf.config.list_physical_devices("GPU")),
    }


def time_diagnosis(spec) -> dict:
    """Seconds of ``diagnose`` against one full training of the spec as written."""
    from autofix_lstm.diagnosis import diagnose
    from autofix_lstm.inputs import resolve_inputs
    from autofix_lstm.modeling.train import train

    # Each timing reads the data too (resolve_inputs), as each command does.
    started = time.perf_counter()
    diagnose(*resolve_inputs(spec, save=False)[:2], save=False)
    diagnose_seconds = time.perf_counter() - started
    started = time.perf_counter()
    train(*resolve_inputs(spec, save=False)[:2], save=False)
    train_seconds = time.perf_counter() - started
    return {"diagnose_seconds": diagnose_seconds, "train_seconds": train_seconds,
            "ratio": diagnose_seconds / train_seconds}


def run_case(case, methods: list[str], trials: int, epochs: int | None, work: Path = WORK,
             settings: dict | None = None, timing: bool = True, reference: bool = True) -> dict:
    """Search one case with every method and measure the outcome (``reference``: train its reference fix too)."""
    spec = load_spec(case.spec)
    changes = {"search.max_trials": trials, **(settings or {})}
    if epochs is not None:
        changes["train.epochs"] = epochs
        if spec.search.strategies == "all":
            # every method trains for the same epochs: the training strategy (more epochs when they are
            # few) would give autofix-lstm's trials 20 or 40 where the peers get ``epochs``
            changes["search.strategies"] = [name for name in builtin_strategies() if name != "training"]
    spec = spec.updated(changes)
    meta = {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(case).items()}
    result = {"case": case.name, "meta": meta, "trials_budget": trials, "epochs": spec.train.epochs, "methods": {},
              "settings": settings or {}}
    if timing:
        result["diagnosis_timing"] = time_diagnosis(spec)
    if reference and case.reference_fix is not None:
        result["reference"] = train_reference(case.reference_fix, spec)
    for method in methods:
        out = work / case.name / method
        run = METHODS[method](spec, out)
        verdict = verify(run, spec)
        for trial in run.trials:
            trial["score"] = common_score(trial.get("metrics") or {}, spec)
        trials_to_fix, seconds_to_fix = run.first_fix()
        result["methods"][method] = {
            "fixed": verdict["fixed"],
            "meets_good_fix": bool(verdict["metrics"]) and case.meets_good_fix(verdict["metrics"]),
            "best_metrics": verdict["metrics"],
            "beats_persistence": verdict["beats_persistence"],
            "trials_run": len(run.trials),
            "trials_to_first_fix": trials_to_fix,
            "seconds_to_first_fix": seconds_to_fix,
            "total_seconds": run.total_seconds,
            "floor_seconds": floor_seconds(run.best_spec, spec),
            "stopped_early": run.stopped,
            "trials": run.trials,
        }
        if method == "autofix":
            baseline = TrialRecord.load(RunDir(out).baseline).metrics
            result["baseline"] = None if baseline is None else baseline.to_dict()
            summary = json.loads(RunDir(out).summary.read_text())
            for key in ("signal_probe", "pruning", "refinement", "best_trial", "trials_pruned", "baseline_state",
                        "confirmed_seeds", "seed_runs", "confirmation", "minimal_fix", "time", "overhead_share"):
                result["methods"][method][key] = summary.get(key)
        elif verdict["fixed"]:
            # The peers have no confirmation of their own: the runner trains their best configuration
            # with the same two extra seeds autofix's confirmation uses, outside their timed search.
            runs = seed_check(run.best_spec, spec)
            result["methods"][method]["seed_runs"] = runs
            result["methods"][method]["confirmed_seeds"] = f"{1 + sum(r['fix'] for r in runs)}/{1 + len(runs)}"
        line = result["methods"][method]
        print(
            f"  {case.name:32s} {method:12s} fixed={line['fixed']!s:5s} first_fix={trials_to_fix} "
            f"({_fmt(seconds_to_fix)}s) total={run.total_seconds:.0f}s floor={_fmt(line['floor_seconds'])}s",
            flush=True,
        )
    return result


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="*", help="case names (default: all)")
    parser.add_argument("--methods", nargs="*", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--trials", type=int, default=10, help="trial budget per method and case")
    parser.add_argument("--epochs", type=int, default=None, help="override each case's epochs")
    parser.add_argument("--quick", action="store_true", help="2 cases, 2 trials, 1 epoch")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write <case>.json")
    parser.add_argument("--work", type=Path, default=WORK, help="where the searches write their output folders")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                        help="a spec change for every case, e.g. search.prune_after=null (YAML value); repeatable")
    parser.add_argument("--no-timing", action="store_true", help="skip timing the diagnosis against one training")
    args = parser.parse_args(argv)
    names = list(QUICK_CASES) if args.quick and not args.cases else args.cases
    try:
        cases = list_cases(names or None)
    except ValueError as err:
        parser.error(str(err))
    trials, epochs = (2, 1) if args.quick else (args.trials, args.epochs)
    args.results.mkdir(parents=True, exist_ok=True)
    command = "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:])
    meta = {"command": command.strip(), "versions": versions(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    print(f"{len(cases)} cases x {len(args.methods)} methods, {trials} trials each", flush=True)
    try:
        settings = {key: yaml.safe_load(value) for key, value in (item.split("=", 1) for item in args.settings)}
    except ValueError:
        parser.error("--set takes KEY=VALUE, e.g. search.refine=false")
    stored = kept_quality.load()
    regressions = []
    for case in cases:
        result = run_case(case, args.methods, trials, epochs, args.work, settings, timing=not args.no_timing)
        result["run"] = meta
        (args.results / f"{case.name}.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
        drop = kept_quality.worse(case.name, result, stored) if "autofix" in args.methods else None
        if drop is not None:
            regressions.append(drop)
            print(f"  WORSE since the last full run: {case.name} kept {drop['metric']} {drop['now']:.3f}, was "
                  f"{drop['before']:.3f} ({drop['change']:+.3f}; {drop['since']})", flush=True)
    (args.results / "worse_since_last_run.json").write_text(json.dumps(regressions, indent=1) + "\n")
    if regressions:
        print(f"{len(regressions)} case(s) kept a worse model than the last full run (by more than "
              f"{kept_quality.WORSE_BY}): {', '.join(r['case'] for r in regressions)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
