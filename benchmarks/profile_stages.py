"""Where a whole ``autofix-lstm search`` spends its time: cProfile of the process, read as stage shares.

Profiles the console command as a user runs it (``python -m cProfile -m autofix_lstm search ...``)
at one or more commits, each in a fresh process and a fresh output folder, and reads the profile's
cumulative times of the functions that are the stages: importing TensorFlow, the diagnosis, the
model fits (every trial, the spec as written, confirmation, minimal fix), the oracle's proposals,
evaluation, writing the outputs and the report. A function that does not exist at a commit counts 0.
Shares are of the whole process's wall time; the stages overlap where one calls another (fits
inside the diagnosis' brief training are the diagnosis'), so the rows do not sum to 100%.

    PYTHONPATH=. .venv/bin/python benchmarks/profile_stages.py --commits 0930146 HEAD

runs each commit's code from a temporary ``git worktree`` (the venv's packages, that commit's
package), writes ``benchmarks/results/profile_stages.json`` and ``.md``, and leaves the ``.prof``
files beside them for ``snakeviz``/``pstats`` (git ignores them: 4 MB each).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

# stage -> (file suffix, function name) pairs whose cumulative time is the stage's (the largest match)
STAGES: dict[str, list[tuple[str, str]]] = {
    "import tensorflow": [("tensorflow/__init__.py", "<module>")],
    "diagnosis": [("autofix_lstm/diagnosis/runner.py", "diagnose_dataset")],
    "model.fit (all trainings)": [("keras/src/backend/tensorflow/trainer.py", "fit")],
    "oracle proposals (populate_space)": [("keras_tuner/src/tuners/bayesian.py", "populate_space"),
                                          ("autofix_lstm/tuning/oracles.py", "populate_space")],
    "evaluation (predictions, metrics)": [("autofix_lstm/modeling/evaluate.py", "predict_original")],
    "confirmation (more seeds)": [("autofix_lstm/tuning/driver.py", "_confirm")],
    "minimal fix": [("autofix_lstm/tuning/minimal.py", "minimal_stage")],
    "report.html": [("autofix_lstm/render/report.py", "write_report")],
}


def stage_seconds(profile: Path) -> tuple[float, dict[str, float]]:
    """(total seconds of the process, stage -> cumulative seconds) from a cProfile file."""
    stats = pstats.Stats(str(profile))
    total = stats.total_tt
    found = {stage: 0.0 for stage in STAGES}
    for (filename, _, name), (_, _, _, cumulative, _) in stats.stats.items():
        for stage, functions in STAGES.items():
            if any(filename.endswith(suffix) and name == function for suffix, function in functions):
                found[stage] = max(found[stage], cumulative)
    main = [v[3] for (f, _, n), v in stats.stats.items() if n == "<module>" and f.endswith("autofix_lstm/__main__.py")]
    return (max(main) if main else total), found


def profile_commit(commit: str, spec: Path, work: Path) -> dict:
    """Run the search at ``commit`` under cProfile; its stage seconds."""
    sha = subprocess.run(["git", "rev-parse", "--short", commit], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.strip()
    tree = work / f"tree-{sha}"
    subprocess.run(["git", "worktree", "add", "--detach", str(tree), sha], cwd=ROOT, check=True,
                   capture_output=True)
    try:
        data = tree / "examples"
        subprocess.run([sys.executable, str(data / "make_energy.py")], cwd=tree, check=True, capture_output=True)
        spec_file = data / spec.name
        prof = RESULTS / f"profile_{sha}.prof"
        env = {**os.environ, "PYTHONPATH": str(tree)}
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "autofix_lstm", "search",
                               str(spec_file), "--fresh", "--json"], cwd=tree, env=env, capture_output=True,
                              text=True)
        wall = time.perf_counter() - started
        if done.returncode not in (0, 1):
            raise RuntimeError(f"the search at {sha} exited {done.returncode}: {done.stderr[-2000:]}")
        total, stages = stage_seconds(prof)
        return {"commit": sha, "wall_seconds": wall, "profiled_seconds": total, "stages": stages,
                "profile": str(prof.relative_to(ROOT)), "load_after": os.getloadavg()}
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)


def markdown(report: dict) -> str:
    """The stage shares, one column per commit."""
    runs = report["runs"]
    lines = ["# Where a whole search's time goes (cProfile, stage shares)", "",
             f"Command: `{report['command']}` ({report['date']}). Each column: `python -m cProfile -m autofix_lstm "
             f"search examples/{report['spec']} --fresh` at that commit, in a fresh process. Shares are of the "
             "profiled process time; stages nest (the diagnosis' brief training is inside it, not in fit), so "
             "columns do not sum to 100%.", "",
             "| stage | " + " | ".join(f"{r['commit']} (s)" for r in runs) + " | " +
             " | ".join(f"{r['commit']} share" for r in runs) + " |",
             "|---|" + "---:|" * (2 * len(runs))]
    for stage in STAGES:
        seconds = [r["stages"][stage] for r in runs]
        shares = [r["stages"][stage] / r["profiled_seconds"] if r["profiled_seconds"] else 0.0 for r in runs]
        lines.append(f"| {stage} | " + " | ".join(f"{s:.1f}" for s in seconds) + " | " +
                     " | ".join(f"{s:.0%}" for s in shares) + " |")
    lines.append("| **whole process** | " + " | ".join(f"{r['profiled_seconds']:.1f}" for r in runs) + " | " +
                 " | ".join("100%" for _ in runs) + " |")
    lines += ["", "Load average (1, 5, 15 min) after each run: " +
              "; ".join(f"{r['commit']}: {', '.join(f'{v:.1f}' for v in r['load_after'])}" for r in runs), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commits", nargs="+", default=["HEAD"], help="commits to profile, in order")
    parser.add_argument("--spec", default="energy.yaml", help="a spec in examples/ (the demo's by default)")
    parser.add_argument("--out", type=Path, default=RESULTS / "profile_stages.json")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="profile-stages-"))
    try:
        runs = [profile_commit(commit, Path(args.spec), work) for commit in args.commits]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {"command": "python benchmarks/profile_stages.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "spec": args.spec,
              "runs": runs}
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
