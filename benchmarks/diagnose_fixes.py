"""Diagnose the fixed configurations a benchmark run's searches returned, as a user checking a fix would.

    python -m benchmarks.diagnose_fixes benchmarks/runs            # the --work folder of benchmarks.run

For every ``<work>/<case>/autofix/best_spec.yaml``: the diagnosis' error-level findings (a working
model should get none, unless a finding explains why the fix is weaker than the reference).
Writes benchmarks/results/diagnose_fixes.json and prints one line per case.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from autofix_lstm.diagnosis import diagnose  # noqa: E402
from autofix_lstm.inputs import resolve_inputs  # noqa: E402
from autofix_lstm.run_dir import RunDir  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work", nargs="+", type=Path, help="benchmarks.run --work folders")
    args = parser.parse_args(argv)
    rows = []
    for work in args.work:
        for folder in sorted(p for p in work.glob("*/autofix") if RunDir(p).best_spec.is_file()):
            summary = json.loads(RunDir(folder).summary.read_text())
            result = diagnose(*resolve_inputs(RunDir(folder).best_spec, save=False)[:2], save=False)
            errors = [f.id for f in result.findings if f.severity == "error"]
            rows.append({"case": folder.parent.name, "fixed": summary["fixed"], "errors": errors,
                         "warnings": [f.id for f in result.findings if f.severity == "warning"]})
            print(f"{folder.parent.name:32s} fixed={summary['fixed']!s:5s} errors={errors}", flush=True)
    (RESULTS / "diagnose_fixes.json").write_text(json.dumps(rows, indent=1) + "\n")
    with_errors = [r for r in rows if r["fixed"] and r["errors"]]
    print(f"{len(with_errors)} of {sum(r['fixed'] for r in rows)} fixed configurations got an error-level finding")
    return 0


if __name__ == "__main__":
    sys.exit(main())
