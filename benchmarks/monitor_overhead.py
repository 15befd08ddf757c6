"""What ``CollapseMonitor`` costs per epoch, as a fraction of the epoch it watches.

Each size fits one LSTM (Adam, mse) on a noisy sine, with and without the monitor, ``repeats``
times alternately after a warm-up. Two figures per size: the time spent inside the monitor's own
hooks (timed around each call) over the epoch's time with the monitor, and the median difference
between the two fits' epoch times over the plain one's (the end-to-end view, noisier on a shared
machine). A healthy model never warns, so this is the cost a user pays on every epoch.

    .venv/bin/python benchmarks/monitor_overhead.py [--sizes small medium] [--epochs 4] [--repeats 3]

writes ``benchmarks/results/monitor_overhead.json``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# name -> (training windows, validation windows, timesteps, features, LSTM units, batch size)
SIZES = {
    "small": (2_000, 500, 30, 4, 32, 32),
    "medium": (10_000, 2_500, 60, 8, 64, 64),
    "large": (40_000, 10_000, 100, 16, 128, 64),
}


def _data(n: int, window: int, features: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.arange(n + window)
    series = np.sin(2 * np.pi * t / 24)[:, None] + 0.1 * rng.normal(size=(n + window, features))
    index = np.arange(window)[None, :] + np.arange(n)[:, None]
    return series[index].astype(np.float32), series[window:, 0].astype(np.float32)


def _timed_monitor(validation_data):
    """A ``CollapseMonitor`` whose hooks add their own wall time to ``.seconds``."""
    from autofix_lstm import CollapseMonitor

    class TimedMonitor(CollapseMonitor):
        seconds = 0.0

    for hook in ("on_train_batch_begin", "on_train_batch_end", "on_epoch_end"):
        original = getattr(CollapseMonitor, hook)

        def timed(self, *args, _original=original, **kwargs):
            started = time.perf_counter()
            try:
                return _original(self, *args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        setattr(TimedMonitor, hook, timed)
    return TimedMonitor(validation_data)


def measure_size(name: str, epochs: int, repeats: int) -> dict:
    """Per-epoch seconds with and without the monitor, and the monitor's own share, for one size."""
    import keras

    n_train, n_val, window, features, units, batch = SIZES[name]
    x, y = _data(n_train + n_val, window, features)
    x_train, y_train, x_val, y_val = x[:n_train], y[:n_train], x[n_train:], y[n_train:]

    def fit(with_monitor: bool) -> tuple[float, float, bool]:
        keras.backend.clear_session()
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((window, features)), keras.layers.LSTM(units), keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        callbacks = [_timed_monitor((x_val, y_val))] if with_monitor else []
        started = time.perf_counter()
        model.fit(x_train, y_train, epochs=epochs, batch_size=batch, verbose=0, callbacks=callbacks)
        seconds = time.perf_counter() - started
        monitor = callbacks[0] if callbacks else None
        return seconds / epochs, (monitor.seconds / epochs if monitor else 0.0), bool(monitor and monitor.warned_at)

    fit(True), fit(False)  # warm-up: TensorFlow's first graphs for this shape
    plain, watched, inside, warned = [], [], [], []
    for _ in range(repeats):
        per_epoch, own, did_warn = fit(True)
        watched.append(per_epoch)
        inside.append(own)
        warned.append(did_warn)
        plain.append(fit(False)[0])
    p, w, own = statistics.median(plain), statistics.median(watched), statistics.median(inside)
    return {
        "size": name, "train_windows": n_train, "validation_windows": n_val, "timesteps": window,
        "features": features, "units": units, "batch_size": batch, "epochs": epochs, "repeats": repeats,
        "epoch_seconds_plain": [round(s, 4) for s in plain],
        "epoch_seconds_with_monitor": [round(s, 4) for s in watched],
        "monitor_seconds_per_epoch": [round(s, 4) for s in inside],
        "monitor_share_of_epoch": round(own / w, 4),
        "end_to_end_overhead": round((w - p) / p, 4),
        "warned": any(warned),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["small", "medium"], choices=list(SIZES))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "monitor_overhead.json")
    args = parser.parse_args(argv)
    import keras
    import tensorflow as tf

    rows = [measure_size(name, args.epochs, args.repeats) for name in args.sizes]
    report = {
        "sizes": rows,
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
                    "tensorflow": tf.__version__, "keras": keras.__version__},
        "command": " ".join(["python benchmarks/monitor_overhead.py", *sys.argv[1:]]),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for row in rows:
        print(f"{row['size']}: monitor {row['monitor_share_of_epoch']:.1%} of an epoch "
              f"(end to end {row['end_to_end_overhead']:+.1%}) -> {args.out}")
    return report


if __name__ == "__main__":
    main()
