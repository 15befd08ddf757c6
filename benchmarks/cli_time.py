"""How fast the CLI answers when nothing trains: ``--help``, ``search --help`` and two refusals.

    python -m benchmarks.cli_time                    # this checkout ("after") against git's main ("before")
    python -m benchmarks.cli_time --before 0930146   # any commit, tag or branch as "before"
    python -m benchmarks.cli_time --repeats 1        # a quick check that it works

Each command runs ``--repeats`` times (default 5) as a fresh process, ``python -m autofix_lstm ...``,
with the package imported from this checkout ("after") or from ``git archive <before>`` unpacked
into a temporary folder ("before"); the figure is the median wall time. The target (issue 15): under
1 s. Run it on an idle machine: every other process on the CPU shows up in the figures.
Writes benchmarks/results/cli_time.json and cli_time.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TARGET_SECONDS = 1.0

# name -> (arguments after ``python -m autofix_lstm``, the exit code that means it answered as it should)
COMMANDS: dict[str, tuple[list[str], int]] = {
    "--help": (["--help"], 0),
    "search --help": (["search", "--help"], 0),
    "refusal: bad spec (data.window 0)": (["search", "{bad_spec}"], 2),
    "refusal: missing data file": (["search", "{missing_data}"], 2),
}


def _write_inputs(folder: Path) -> dict[str, str]:
    """A spec with an impossible value and one whose data file is missing (both exist as files)."""
    model = {"layers": [{"type": "lstm", "units": 4}, {"type": "dense", "units": 1}]}
    bad = folder / "bad_spec.yaml"
    bad.write_text(yaml.safe_dump({"data": {"path": "series.csv", "target": "y", "window": 0}, "model": model}))
    missing = folder / "missing_data.yaml"
    missing.write_text(yaml.safe_dump({"data": {"path": "nowhere.csv", "target": "y", "window": 8}, "model": model}))
    return {"bad_spec": str(bad), "missing_data": str(missing)}


def _unpack(ref: str, folder: Path) -> Path:
    """The package as it was at ``ref`` (git archive; the repository is only read)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref, "autofix_lstm", "strategies"],
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder)  # our own repository's files
    return folder


def _time(tree: Path, args: list[str], expected: int, repeats: int) -> dict:
    """Median wall time of ``python -m autofix_lstm *args`` importing the package from ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    seconds, codes = [], set()
    for _ in range(repeats):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "autofix_lstm", *args], capture_output=True, text=True,
                              cwd=tree, env=env)
        seconds.append(time.perf_counter() - started)
        codes.add(done.returncode)
    return {"median_s": round(statistics.median(seconds), 3), "all_s": [round(s, 3) for s in seconds],
            "exit_codes": sorted(codes), "answered_as_expected": codes == {expected}}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="main", help="git commit, tag or branch to compare against")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each command (the median is reported)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for cli_time.json and .md")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        inputs = _write_inputs(Path(tmp))
        before = _unpack(args.before, Path(tmp) / "before")
        for name, (command, expected) in COMMANDS.items():
            filled = [part.format(**inputs) for part in command]
            row = {"command": name, "expected_exit": expected}
            for label, tree in (("before", before), ("after", ROOT)):
                row[label] = _time(tree, filled, expected, args.repeats)
            rows.append(row)
            print(f"{name:36s} before {row['before']['median_s']:6.2f} s   after {row['after']['median_s']:6.2f} s",
                  flush=True)
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").is_file() else None
    result = {"before": args.before, "repeats": args.repeats, "target_s": TARGET_SECONDS, "python": sys.version.split()[0],
              "machine": platform.machine(), "load_average_after": load, "rows": rows}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "cli_time.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [f"# CLI answer time (median of {args.repeats}; before = `{args.before}`, target < {TARGET_SECONDS:g} s)", "",
             "| command | before (s) | after (s) | after under target | answered as expected (before / after) |",
             "|---|---:|---:|:-:|:-:|"]
    for row in rows:
        b, a = row["before"], row["after"]
        lines.append(f"| {row['command']} | {b['median_s']:.2f} | {a['median_s']:.2f} | "
                     f"{'yes' if a['median_s'] < TARGET_SECONDS else 'no'} | "
                     f"{'yes' if b['answered_as_expected'] else 'no'} / {'yes' if a['answered_as_expected'] else 'no'} |")
    lines += ["", f"Load average when it ended: {' '.join(load) if load else 'unknown'} (the machine should be idle).",
              f"Command: `python -m benchmarks.cli_time --before {args.before} --repeats {args.repeats}`", ""]
    (args.results / "cli_time.md").write_text("\n".join(lines))
    return 0 if all(row["after"]["answered_as_expected"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
