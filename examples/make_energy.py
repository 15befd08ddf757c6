"""Make examples/energy.csv: three years of a realistic daily electricity load, and its collapsed spec.

The load (in MWh, around 5,000) has a weekly cycle, a yearly temperature-driven cycle, a slow
growth trend and autocorrelated noise; temperature (in degrees C) drives it. Fed to an LSTM
UNSCALED, as many first attempts do, the tanh gates saturate and the head crawls towards the
mean: the model predicts almost the same number every day. Run: ``python examples/make_energy.py``.

The package ships the same table for ``autofix-lstm demo`` (``autofix_lstm/demo_data/energy.csv``):
this script writes both, and ``tests/test_demo.py`` keeps them equal.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
PACKAGED = HERE.parent / "autofix_lstm" / "demo_data"


def make(days: int = 1095, seed: int = 7) -> pd.DataFrame:
    """The synthetic daily load table (date, temperature, load)."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    temperature = 12 + 10 * np.sin(2 * np.pi * (t - 100) / 365.25) + rng.normal(0, 2.5, days)
    weekday = np.array([1.00, 1.03, 1.04, 1.03, 1.00, 0.86, 0.80])[t % 7]
    heating_cooling = 18 * np.abs(temperature - 16)
    noise = np.zeros(days)
    for i in range(1, days):
        noise[i] = 0.7 * noise[i - 1] + rng.normal(0, 60)
    load = (4200 + 0.25 * t + heating_cooling) * weekday + noise
    return pd.DataFrame({
        "date": pd.date_range("2022-01-01", periods=days, freq="D").strftime("%Y-%m-%d"),
        "temperature": temperature.round(2),
        "load": load.round(1),
    })


if __name__ == "__main__":
    table = make()
    for folder in (HERE, PACKAGED):
        table.to_csv(folder / "energy.csv", index=False)
        print(f"wrote {folder / 'energy.csv'}")
