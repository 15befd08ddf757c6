"""Do the L2 penalties people use collapse an LSTM? Train the reservoir case's data under a few.

    PYTHONPATH=. python benchmarks/l2_levels.py     # -> benchmarks/results/issue24/l2_levels.md

Issue 24 names a heavy L2 as a classic collapse. The ``heavy_regularization`` finding is reported only
when the output is useless (collapsed or no better than a constant), so it must stay quiet on the
levels that still train; this measures which do.
"""

from __future__ import annotations

import sys
from pathlib import Path

import keras

from autofix_lstm import train
from benchmarks.cases.make_cases import reservoir_level

LEVELS = [(64, 0.01), (128, 0.01), (64, 0.05), (64, 0.5), (64, 5.0)]  # (LSTM units, L2 factor on every kernel)


def main() -> int:
    data = reservoir_level()
    rows = ["| LSTM units | L2 factor | std_ratio | r2 |", "|---|---|---|---|"]
    for units, factor in LEVELS:
        penalty = keras.regularizers.L2(factor)
        model = keras.Sequential([keras.Input((30, 2)),
                                  keras.layers.LSTM(units, kernel_regularizer=penalty, recurrent_regularizer=penalty),
                                  keras.layers.Dense(1, kernel_regularizer=penalty)])
        model.compile(optimizer="adam", loss="mse")
        result = train(model, data=data, target="level_pct", window=30, features=["rain_mm", "level_pct"], epochs=15,
                       batch_size=32, preprocessing={"inputs": "standard", "target": "standard"},
                       output="runs/l2_levels")
        rows.append(f"| {units} | {factor:g} | {result.metrics.std_ratio:.3f} | {result.metrics.r2:.3f} |")
        print(rows[-1], flush=True)
    out = Path("benchmarks/results/issue24/l2_levels.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("# L2 levels on the reservoir data (15 epochs, batch 32, Adam 0.001, standardised)\n\n"
                   "Command: `PYTHONPATH=. python benchmarks/l2_levels.py`\n\n" + "\n".join(rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
