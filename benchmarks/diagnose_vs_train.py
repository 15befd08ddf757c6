"""Seconds of ``diagnose`` against one full training, per benchmark case, warm (the second call).

    python -m benchmarks.diagnose_vs_train [CASE ...]

Run it from two checkouts (e.g. a worktree of an older commit) on an idle machine to compare the
diagnosis' cost between versions: the ratio measured inside a loaded benchmark run is not comparable.
"""

from __future__ import annotations

import sys
import time

from autofix_lstm.diagnosis import diagnose
from autofix_lstm.inputs import resolve_inputs
from autofix_lstm.modeling.train import train
from benchmarks.cases import list_cases

DEFAULT = ["lr_too_low", "unscaled_target_sunspots", "imbalance_bearing_failures"]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    for case in list_cases((argv if argv is not None else sys.argv[1:]) or DEFAULT):
        diagnose(*resolve_inputs(case.spec, save=False)[:2], save=False)  # warm: TensorFlow's first traces
        started = time.perf_counter()  # each timing reads the data too, as each command does
        diagnose(*resolve_inputs(case.spec, save=False)[:2], save=False)
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        train(*resolve_inputs(case.spec, save=False)[:2], save=False)
        full = time.perf_counter() - started
        print(f"{case.name:28s} diagnose {seconds:.2f}s train {full:.2f}s ratio {seconds / full:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
