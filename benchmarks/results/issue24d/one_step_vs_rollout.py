"""One training of rollout_dropout_water's spec (dropout) and of its reference fix (plain), one step ahead and
rolled out 24 steps: r2 and std_ratio over all steps and at steps 1, 12 and 24 (issue 24's converging roll-out).

    PYTHONPATH=. python benchmarks/results/issue24d/one_step_vs_rollout.py plain dropout
"""

import sys
from pathlib import Path

import pandas as pd

import autofix_lstm as af

DATA = pd.read_csv(Path(__file__).parents[2] / "cases/rollout_dropout_water/water.csv")
LAYERS = {
    "plain": [{"type": "lstm", "units": 32}, {"type": "dense", "units": 1}],
    "dropout": [{"type": "lstm", "units": 32, "dropout": 0.6, "recurrent_dropout": 0.6}, {"type": "dense", "units": 1}],
}


def run(layers: list, rollout: int | None, epochs: int = 20, seed: int = 0) -> dict:
    """Train once; the metrics, with (r2, std_ratio) at the first, middle and last roll-out step."""
    data = {"target": "demand_m3", "features": ["demand_m3"], "window": 8, "horizon": 1, "validation_split": 0.2}
    if rollout:
        data["rollout"] = rollout
    spec = {"data": data,
            "model": {"layers": layers, "optimizer": {"name": "adam", "learning_rate": 0.001}, "loss": "mse"},
            "preprocessing": {"inputs": "standard", "target": "standard"},
            "train": {"epochs": epochs, "batch_size": 32, "seed": seed}, "output": "runs/one_step_vs_rollout"}
    metrics = af.train(spec, data=DATA, save=False).metrics
    out = {"r2": round(metrics.r2, 3), "std_ratio": round(metrics.std_ratio, 3), "collapsed": bool(metrics.collapsed)}
    if rollout and metrics.per_step:
        steps = metrics.per_step
        out["steps"] = [(round(s["r2"], 2), round(s["std_ratio"], 2)) for s in (steps[0], steps[len(steps) // 2], steps[-1])]
    return out


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(name, "one-step", run(LAYERS[name], None), "rollout24", run(LAYERS[name], 24), flush=True)
