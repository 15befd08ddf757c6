"""Make the data file of every benchmark case: ``python benchmarks/cases/make_cases.py [NAME ...]``.

Real cases copy a series out of a dataset that ships INSIDE the statsmodels wheel
(``statsmodels/datasets/<name>/*.csv``, read by ``load_pandas()``; nothing is downloaded).
Synthetic cases are generated from a fixed seed, so the files are byte-for-byte reproducible.
Each case's ``case.yaml`` records its source; this script is the only way its data is made.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def _ar1(n: int, phi: float, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """An AR(1) process: ``e[t] = phi * e[t-1] + N(0, sigma)``."""
    out = np.zeros(n)
    shocks = rng.normal(0.0, sigma, n)
    for t in range(1, n):
        out[t] = phi * out[t - 1] + shocks[t]
    return out


def _dates(n: int, freq: str, start: str = "2021-01-01") -> list[str]:
    fmt = "%Y-%m-%d" if freq == "D" else "%Y-%m-%d %H:%M"
    return pd.date_range(start, periods=n, freq=freq).strftime(fmt).tolist()


# ---- real data: series bundled with statsmodels ----------------------------------------------


def sunspots() -> pd.DataFrame:
    """Yearly sunspot numbers 1700-2008 (statsmodels.datasets.sunspots, sunspots.csv)."""
    from statsmodels.datasets import sunspots as source

    data = source.load_pandas().data
    return pd.DataFrame({"year": data["YEAR"].astype(int), "sunactivity": data["SUNACTIVITY"]})


def co2() -> pd.DataFrame:
    """Monthly means of the weekly Mauna Loa CO2 record 1958-2001 (statsmodels.datasets.co2, co2.csv).

    Five months have no weekly reading at all; they stay empty (the spec interpolates them).
    """
    from statsmodels.datasets import co2 as source

    monthly = source.load_pandas().data["co2"].resample("MS").mean()
    return pd.DataFrame({"month": monthly.index.strftime("%Y-%m"), "co2": monthly.round(3).to_numpy()})


def elnino() -> pd.DataFrame:
    """Monthly Nino 1+2 sea surface temperature 1950-2010 (statsmodels.datasets.elnino, elnino.csv), and its phase.

    The temperature is written in kelvin (the statsmodels values in C plus 273.15), the unit that
    reanalysis and satellite SST products deliver. ``sst_anomaly`` is the temperature minus its
    calendar month's mean over the whole record; ``phase`` is the usual labelling of it:
    la_nina below -0.5 C, el_nino above +0.5 C, neutral in between.
    """
    from statsmodels.datasets import elnino as source

    wide = source.load_pandas().data
    months = list(wide.columns[1:])
    long = wide.melt(id_vars="YEAR", value_vars=months, var_name="month_name", value_name="sst")
    long["month"] = long["month_name"].map({m: i + 1 for i, m in enumerate(months)})
    long = long.sort_values(["YEAR", "month"]).reset_index(drop=True)
    anomaly = (long["sst"] - long.groupby("month")["sst"].transform("mean")).round(3)
    phase = np.where(anomaly < -0.5, "la_nina", np.where(anomaly > 0.5, "el_nino", "neutral"))
    return pd.DataFrame({
        "date": [f"{int(y)}-{m:02d}" for y, m in zip(long["YEAR"], long["month"])],
        "month": long["month"],
        "sst_k": (long["sst"] + 273.15).round(2),
        "sst_anomaly": anomaly,
        "phase": phase,
    })


def macrodata() -> pd.DataFrame:
    """US quarterly macro series 1959-2009 (statsmodels.datasets.macrodata, macrodata.csv)."""
    from statsmodels.datasets import macrodata as source

    data = source.load_pandas().data
    quarter = [f"{int(y)}Q{int(q)}" for y, q in zip(data["year"], data["quarter"])]
    columns = ["realgdp", "realcons", "realinv", "cpi", "tbilrate", "infl", "unemp"]
    return pd.DataFrame({"quarter": quarter, **{c: data[c] for c in columns}})


# ---- synthetic data ------------------------------------------------------------------------------


def store_sales(days: int = 900, seed: int = 11) -> pd.DataFrame:
    """Daily units sold: weekly pattern, yearly swing and persistent demand shocks."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    weekly = np.array([0.9, 0.85, 0.9, 0.95, 1.1, 1.35, 1.2])[t % 7]
    level = 200 + 30 * np.sin(2 * np.pi * t / 365.25) + _ar1(days, 0.85, 12, rng)
    sales = level * weekly + rng.normal(0, 6, days)
    return pd.DataFrame({"date": _dates(days, "D"), "sales": sales.round(1)})


def noise(rows: int = 900, seed: int = 12) -> pd.DataFrame:
    """Three independent white-noise columns: nothing in any window says anything about the target."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "x1": rng.normal(0, 1, rows).round(4),
        "x2": rng.normal(5, 2, rows).round(4),
        "y": rng.normal(10, 3, rows).round(4),
    })


def weather_station(hours: int = 1200, seed: int = 13) -> pd.DataFrame:
    """Hourly station readings: pressure in Pa (~101,325), temperature in C and humidity in %."""
    rng = np.random.default_rng(seed)
    t = np.arange(hours)
    pressure = 101325 + _ar1(hours, 0.98, 60, rng)
    front = -(pressure - 101325) / 250  # low pressure brings warmer, wetter air here
    temperature = 12 + 6 * np.sin(2 * np.pi * (t - 9) / 24) + front + _ar1(hours, 0.8, 0.6, rng)
    humidity = np.clip(75 - 2.5 * (temperature - 12) + 3 * front + rng.normal(0, 2, hours), 15, 100)
    return pd.DataFrame({
        "time": _dates(hours, "h"),
        "pressure_pa": pressure.round(1),
        "temperature_c": temperature.round(2),
        "humidity_pct": humidity.round(1),
    })


def arctic_temperature(days: int = 1000, seed: int = 14) -> pd.DataFrame:
    """Daily mean temperature at an Arctic station: below zero every day of the record."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    temperature = -24 + 11 * np.cos(2 * np.pi * (t - 200) / 365.25) + _ar1(days, 0.75, 2.5, rng)
    return pd.DataFrame({"date": _dates(days, "D", "2019-01-01"), "temperature_c": np.minimum(temperature, -0.5).round(2)})


def grid_overload(hours: int = 1200, seed: int = 15) -> pd.DataFrame:
    """Hourly feeder load in % of capacity and air temperature; ``overload`` flags load above 62 %."""
    rng = np.random.default_rng(seed)
    t = np.arange(hours)
    temperature = 18 + 7 * np.sin(2 * np.pi * (t - 9) / 24) + _ar1(hours, 0.95, 0.7, rng)
    load = 50 + 12 * np.sin(2 * np.pi * (t - 12) / 24) + 0.8 * (temperature - 18) + _ar1(hours, 0.9, 2.5, rng)
    return pd.DataFrame({
        "time": _dates(hours, "h"),
        "load_pct": load.round(2),
        "temperature_c": temperature.round(2),
        "overload": (load > 62).astype(int),
    })


def tank_level(minutes: int = 1000, seed: int = 16, delay: int = 10, drain: float = 0.95) -> pd.DataFrame:
    """A settling tank fed through a long pipe, sampled each minute.

    Water reaches the tank ``delay`` minutes after it passes the inflow meter, and the tank's
    level is a leaky sum of what arrived over the last ~20 minutes (drain constant 0.95 a minute).
    So the latest inflow readings say nothing about the next level: the information sits 9 or
    more steps back in the window, behind a stretch of irrelevant readings. The inflow is white
    noise, so nothing recent stands in for it.
    """
    rng = np.random.default_rng(seed)
    inflow = rng.normal(6.0, 2.0, minutes).clip(0.0)
    arrived = np.concatenate([np.full(delay, 6.0), inflow[:-delay]])
    level = np.zeros(minutes)
    level[0] = 50.0
    for t in range(1, minutes):
        level[t] = 50.0 + drain * (level[t - 1] - 50.0) + 0.15 * (arrived[t] - 6.0)
    level = level + rng.normal(0, 0.05, minutes)
    return pd.DataFrame({"minute": np.arange(minutes), "inflow_m3h": inflow.round(3), "level_cm": level.round(3)})


def _seasonal_series(n: int, period: int, base: float, amp: float, phi: float, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return base + amp * np.sin(2 * np.pi * t / period) + _ar1(n, phi, sigma, rng)


def web_traffic(hours: int = 1000, seed: int = 17) -> pd.DataFrame:
    """Hourly page views (thousands): a daily cycle and persistent surges."""
    views = _seasonal_series(hours, 24, 30, 10, 0.9, 2.0, seed)
    return pd.DataFrame({"time": _dates(hours, "h"), "views_k": views.round(3)})


def parking_occupancy(hours: int = 1000, seed: int = 18) -> pd.DataFrame:
    """Hourly occupied spaces in a 400-space garage: a commuter day profile, quieter weekends, events."""
    rng = np.random.default_rng(seed)
    t = np.arange(hours)
    hour, weekend = t % 24, (t // 24) % 7 >= 5
    day_profile = np.exp(-0.5 * ((hour - 13) / 3.5) ** 2)
    occupied = 60 + 260 * day_profile * np.where(weekend, 0.45, 1.0) + _ar1(hours, 0.85, 12, rng)
    return pd.DataFrame({"time": _dates(hours, "h"), "occupied": occupied.clip(0, 400).round(0).astype(int)})


def bike_rentals(hours: int = 1000, seed: int = 22) -> pd.DataFrame:
    """Hourly bike rentals at a station: a daily cycle and weather-driven persistent swings."""
    rentals = _seasonal_series(hours, 24, 45, 25, 0.85, 5.0, seed).clip(0)
    return pd.DataFrame({"time": _dates(hours, "h"), "rentals": rentals.round(0).astype(int)})


def call_volume(half_hours: int = 1000, seed: int = 19) -> pd.DataFrame:
    """Calls per half hour at a help desk: a daily profile (48 slots) and a slowly moving level."""
    views = _seasonal_series(half_hours, 48, 120, 40, 0.9, 8.0, seed)
    return pd.DataFrame({"slot": np.arange(half_hours), "calls": views.round(1)})


def app_users(days: int = 900, seed: int = 21) -> pd.DataFrame:
    """Daily active users of a growing app: compounding growth (about 0.6 % a day), a weekly rhythm and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    weekly = np.array([1.0, 1.02, 1.03, 1.02, 0.98, 0.9, 0.88])[t % 7]
    users = 2000 * np.exp(0.006 * t) * weekly * np.exp(_ar1(days, 0.7, 0.015, rng))
    return pd.DataFrame({"date": _dates(days, "D", "2022-01-01"), "active_users": users.round(0).astype(int)})


def bearing_failures(rows: int = 1500, seed: int = 20) -> pd.DataFrame:
    """Hourly vibration, temperature and motor current; ``failure`` marks the rare trips (about 4 %).

    A trip is preceded by a few hours of rising vibration and temperature, but the precursor is
    weak and noisy, so most hours that look slightly off are not followed by a trip.
    """
    rng = np.random.default_rng(seed)
    vibration = 2.0 + _ar1(rows, 0.6, 0.25, rng)
    temperature = 55 + _ar1(rows, 0.9, 0.8, rng)
    current = 12 + 0.5 * np.sin(2 * np.pi * np.arange(rows) / 24) + rng.normal(0, 0.3, rows)
    failure = np.zeros(rows, dtype=int)
    candidates = rng.choice(np.arange(30, rows), size=int(0.04 * rows), replace=False)
    for at in candidates:
        ramp = np.linspace(0.2, 1.0, 6)
        vibration[at - 6 : at] += 0.4 * ramp + rng.normal(0, 0.1, 6)
        temperature[at - 6 : at] += 0.6 * ramp
        failure[at] = 1
    return pd.DataFrame({
        "hour": np.arange(rows),
        "vibration_mm_s": vibration.round(3),
        "temperature_c": temperature.round(2),
        "current_a": current.round(3),
        "failure": failure,
    })


def harbour_tide(half_hours: int = 1600, seed: int = 23) -> pd.DataFrame:
    """Sea level at a wave-exposed harbour gauge every 30 minutes, and whether each reading is above the recent mean.

    Two tidal constituents (12.42 h and 12 h), a slowly moving weather surge, and waves that make
    single readings scatter by about 60 cm. ``above_recent_mean`` is 1 when a reading is above the
    mean of the 24 readings (12 hours) before it, so a window of 24 readings asks "will the next
    reading be above this window's mean?": the tide's phase answers it most of the time (about
    half the readings are above).
    """
    rng = np.random.default_rng(seed)
    n = half_hours + 24  # the first 24 readings only serve as the first labels' history
    hours = np.arange(n) / 2.0
    tide = 120 * np.sin(2 * np.pi * hours / 12.42) + 35 * np.sin(2 * np.pi * hours / 12.0 + 1.0)
    level = 250 + tide + _ar1(n, 0.97, 4.0, rng) + rng.normal(0, 60, n)
    recent = pd.Series(level).shift(1).rolling(24).mean().to_numpy()
    above = (level > recent).astype(int)
    return pd.DataFrame({
        "time": _dates(half_hours, "30min"),
        "level_cm": level[24:].round(1),
        "above_recent_mean": above[24:],
    })


def airport_fog(hours: int = 2000, seed: int = 24) -> pd.DataFrame:
    """Hourly temperature, dew point and wind at an airfield; ``fog`` marks the hours with fog (about 26 %).

    Fog may form after a calm, near-saturated hour (a small temperature - dew point spread and
    little wind), mostly at night. Even after the most favourable hour it forms less than half the
    time (at most 44 %, at least 2 % after any hour), so for every window "no fog" is the likelier
    answer: a classifier minimising unweighted cross-entropy is right to predict "no fog" for
    every hour, however long it trains. Weighting the classes moves the decision to the base rate,
    where the conditions separate the hours (a classifier that knew the true probabilities would
    reach a balanced accuracy of about 0.65 on the last 20 % of the rows).
    """
    rng = np.random.default_rng(seed)
    t = np.arange(hours)
    night = np.cos(2 * np.pi * (t - 4) / 24)  # 1 at 4 am, -1 at 4 pm
    temperature = 9 - 5 * night + _ar1(hours, 0.95, 0.8, rng)
    spread = np.clip(3.0 - 2.5 * night + _ar1(hours, 0.9, 0.9, rng), 0.0, None)
    wind = np.abs(3.0 + _ar1(hours, 0.85, 1.0, rng))
    favourable = -spread - 0.6 * wind
    favourable = (favourable - favourable.mean()) / favourable.std()
    chance = 0.02 + 0.42 / (1 + np.exp(-(5 * favourable + 1.2)))
    chance = np.concatenate([chance[:1], chance[:-1]])  # fog follows the previous hour's conditions
    fog = (rng.random(hours) < chance).astype(int)
    return pd.DataFrame({
        "time": _dates(hours, "h", "2022-10-01"),
        "temperature_c": temperature.round(2),
        "dewpoint_c": (temperature - spread).round(2),
        "wind_ms": wind.round(2),
        "fog": fog,
    })


def reservoir_level(days: int = 1000, seed: int = 25) -> pd.DataFrame:
    """Daily reservoir level (% full, 20-90) driven by rainfall two weeks earlier and a yearly cycle."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    rain = rng.gamma(0.6, 6.0, days)
    inflow = np.convolve(rain, np.exp(-np.arange(30) / 10.0), mode="full")[:days]
    level = 55 + 15 * np.sin(2 * np.pi * (t - 60) / 365.25) + 0.35 * (inflow - inflow.mean()) + _ar1(days, 0.8, 1.5, rng)
    return pd.DataFrame({"date": _dates(days, "D", "2020-01-01"), "rain_mm": rain.round(2),
                         "level_pct": np.clip(level, 5, 98).round(2)})


def factory_power(hours: int = 1000, seed: int = 26) -> pd.DataFrame:
    """Hourly power draw of a factory (kW, ~300-900): a shift pattern, a weekly cycle and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(hours)
    shift = np.where((t % 24 >= 6) & (t % 24 < 22), 1.0, 0.0)
    weekday = np.where((t // 24) % 7 < 5, 1.0, 0.55)
    power = 320 + 480 * shift * weekday + 40 * np.sin(2 * np.pi * t / 24) + _ar1(hours, 0.85, 25.0, rng)
    return pd.DataFrame({"time": _dates(hours, "h"), "power_kw": power.round(1)})


def river_flow(days: int = 1100, seed: int = 27) -> pd.DataFrame:
    """Daily river flow (m3/s): a seasonal base, storm peaks that decay over days."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    storms = (rng.random(days) < 0.06) * rng.gamma(2.0, 40.0, days)
    runoff = np.convolve(storms, 0.8 ** np.arange(20), mode="full")[:days]
    flow = 60 + 25 * np.sin(2 * np.pi * (t - 90) / 365.25) + runoff + _ar1(days, 0.7, 3.0, rng)
    return pd.DataFrame({"date": _dates(days, "D", "2018-01-01"), "flow_m3s": np.maximum(flow, 5).round(2)})


def machine_state(rows: int = 1200, seed: int = 28) -> pd.DataFrame:
    """A machine's vibration and temperature each minute; ``state`` is one of 5 operating modes.

    The mode follows the vibration band of the last minutes (a sticky Markov chain over 5 modes,
    each with its own vibration level and temperature), so the window tells the mode apart.
    """
    rng = np.random.default_rng(seed)
    state = np.zeros(rows, dtype=int)
    for i in range(1, rows):
        state[i] = state[i - 1] if rng.random() < 0.97 else rng.integers(0, 5)
    vibration = 1.0 + 0.8 * state + rng.normal(0, 0.2, rows)
    temperature = 40 + 3.0 * state + rng.normal(0, 0.8, rows)
    return pd.DataFrame({"minute": np.arange(rows), "vibration_mm_s": vibration.round(3),
                         "temperature_c": temperature.round(2), "state": state})


def district_electricity(hours: int = 1000, seed: int = 29) -> pd.DataFrame:
    """Hourly electricity demand of a district (MW, ~380-900): a daily double peak, quieter weekends,
    a cold-spell level that moves over days, and the air temperature that drives it."""
    rng = np.random.default_rng(seed)
    t = np.arange(hours)
    hour, weekend = t % 24, (t // 24) % 7 >= 5
    daily = 0.55 * np.exp(-0.5 * ((hour - 8) / 2.0) ** 2) + np.exp(-0.5 * ((hour - 19) / 2.5) ** 2)
    temperature = 4 + 4 * np.sin(2 * np.pi * (t - 15) / 24) + _ar1(hours, 0.98, 0.5, rng)
    demand = 420 + 380 * daily * np.where(weekend, 0.7, 1.0) - 9 * (temperature - 4) + _ar1(hours, 0.9, 12, rng)
    return pd.DataFrame({"time": _dates(hours, "h"), "demand_mw": demand.round(1), "temperature_c": temperature.round(2)})


def groundwater_level(days: int = 1000, seed: int = 30) -> pd.DataFrame:
    """Daily groundwater level at an observation well, in m relative to the ground surface (so always
    negative, about -9 to -2): a yearly recharge cycle, rain that raises it over the following days and a
    slow recession, and the rain itself (mm)."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    rain = (rng.random(days) < 0.3) * rng.gamma(1.5, 6.0, days)
    recharge = np.convolve(rain, 0.06 * 0.93 ** np.arange(60), mode="full")[:days]
    level = -7.0 + 1.8 * np.sin(2 * np.pi * (t - 40) / 365.25) + recharge - recharge.mean() + _ar1(days, 0.9, 0.08, rng)
    return pd.DataFrame({"date": _dates(days, "D", "2019-01-01"), "level_m": np.minimum(level, -0.2).round(3),
                         "rain_mm": rain.round(1)})


def heating_demand(hours: int = 1000, seed: int = 31) -> pd.DataFrame:
    """Hourly heat delivered by a district heating plant (MWh, ~150-600) and the outdoor temperature."""
    rng = np.random.default_rng(seed)
    t = np.arange(hours)
    outdoor = -2 + 5 * np.sin(2 * np.pi * (t - 14) / 24) + _ar1(hours, 0.99, 0.6, rng)
    heat = 330 - 14 * outdoor + 60 * np.exp(-0.5 * (((t % 24) - 7) / 2.0) ** 2) + _ar1(hours, 0.8, 10, rng)
    return pd.DataFrame({"time": _dates(hours, "h"), "heat_mwh": heat.round(1), "outdoor_c": outdoor.round(2)})


def office_building(hours: int = 1000, seed: int = 32) -> pd.DataFrame:
    """An office building each hour: electric load (kW, ~150-1,400) and indoor temperature (C, ~17-24), both
    following occupancy (weekday office hours; the heating runs then) with their own persistent noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(hours)
    hour, weekend = t % 24, (t // 24) % 7 >= 5
    occupancy = np.where(weekend, 0.1, 1.0) / (1 + np.exp(-(hour - 8.5) * 2)) / (1 + np.exp((hour - 17.5) * 2))
    outdoor = 8 + 6 * np.sin(2 * np.pi * (t - 15) / 24) + _ar1(hours, 0.97, 0.7, rng)
    load_kw = 250 + 900 * occupancy + 12 * np.abs(outdoor - 12) + _ar1(hours, 0.85, 25, rng)
    indoor = 17.5 + 4 * pd.Series(occupancy).ewm(alpha=0.3).mean().to_numpy() + 0.08 * outdoor + _ar1(hours, 0.9, 0.25, rng)
    return pd.DataFrame({"time": _dates(hours, "h"), "load_kw": load_kw.round(1), "indoor_c": indoor.round(2),
                         "outdoor_c": outdoor.round(2)})
def water_demand(hours: int = 1200, seed: int = 40) -> pd.DataFrame:
    """Hourly water drawn from a town's reservoir (m3, ~40-210): a daily cycle with a morning and an evening
    peak, and persistent deviations from it."""
    rng = np.random.default_rng(seed)
    t = np.arange(hours)
    cycle = 60 * np.sin(2 * np.pi * (t - 8) / 24) + 25 * np.sin(4 * np.pi * (t - 3) / 24)
    return pd.DataFrame({"time": _dates(hours, "h"), "demand_m3": (120 + cycle + _ar1(hours, 0.7, 4, rng)).round(1)})


def solar_output(hours: int = 1000, seed: int = 29) -> pd.DataFrame:
    """Hourly output of a rooftop solar array (kW, 0 at night, up to ~45 at noon) under passing clouds."""
    rng = np.random.default_rng(seed)
    t = np.arange(hours)
    sun = np.clip(np.sin(np.pi * ((t % 24) - 6) / 12), 0.0, None)  # daylight 6:00-18:00
    clear = 0.75 + 0.2 * np.tanh(_ar1(hours, 0.9, 0.5, rng))  # cloud cover that persists for hours
    output = 48 * sun * clear + rng.normal(0, 0.8, hours) * (sun > 0)
    return pd.DataFrame({"time": _dates(hours, "h", "2023-04-01"), "output_kw": np.clip(output, 0, None).round(2)})


def pump_pressure(minutes: int = 1200, seed: int = 30) -> pd.DataFrame:
    """Discharge pressure (bar) of a water pump each minute: demand cycles, valve steps and sensor noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(minutes)
    demand = 0.8 * np.sin(2 * np.pi * t / 90) + 0.4 * np.sin(2 * np.pi * t / 37 + 1.0)
    valve = np.repeat(rng.choice([-0.5, 0.0, 0.6], size=minutes // 60 + 1), 60)[:minutes]
    pressure = 4.5 + demand + valve + _ar1(minutes, 0.9, 0.08, rng) + rng.normal(0, 0.15, minutes)
    return pd.DataFrame({"minute": t, "pressure_bar": pressure.round(3)})


def kiln_temperature(minutes: int = 600, seed: int = 41) -> pd.DataFrame:
    """A kiln's temperature each minute as a noisy thermocouple reads it (C, ~830-870); ``overheat`` (43 %) marks
    the minutes whose true temperature averaged over the last 8 minutes is above 852 C."""
    rng = np.random.default_rng(seed)
    t = np.arange(minutes)
    true = 850 + 12 * np.sin(2 * np.pi * t / 45) + 4 * _ar1(minutes, 0.93, 1.0, rng)
    hot = pd.Series(true).rolling(8, min_periods=1).mean().to_numpy() > 852
    return pd.DataFrame({"minute": t, "temp_c": (true + rng.normal(0, 6, minutes)).round(1), "overheat": hot.astype(int)})


def building_sway(samples: int = 500, seed: int = 42) -> pd.DataFrame:
    """Sway of a tower's top (mm, ~17-23) each 0.2 s: two modes (23 and 9 samples) whose amplitude swells slowly."""
    t = np.arange(samples)
    amp = 1 + 0.3 * np.sin(2 * np.pi * t / 170)
    wave = amp * np.sin(2 * np.pi * t / 23) + 0.35 * np.sin(2 * np.pi * t / 9 + 0.5)
    noise = np.random.default_rng(seed).normal(0, 0.03, samples)
    return pd.DataFrame({"step": t, "sway_mm": (3 * (wave + noise) + 20).round(3)})


# case name -> (data file name, maker)
CASES = {
    "healthy_store_sales": ("sales.csv", store_sales),
    "negative_white_noise": ("noise.csv", noise),
    "unscaled_inputs_weather": ("weather.csv", weather_station),
    "unscaled_target_sunspots": ("sunspots.csv", sunspots),
    "trend_co2": ("co2.csv", co2),
    "trend_app_users": ("users.csv", app_users),
    "sigmoid_head_unemployment": ("macro.csv", macrodata),
    "relu_head_arctic": ("arctic.csv", arctic_temperature),
    "softmax_one_unit_overload": ("grid.csv", grid_overload),
    "vanishing_long_window": ("tank.csv", tank_level),
    "exploding_relu_cells": ("traffic.csv", web_traffic),
    "multiclass_elnino_unscaled": ("elnino.csv", elnino),
    "lr_too_low": ("calls.csv", call_volume),
    "excess_dropout_parking": ("parking.csv", parking_occupancy),
    "too_small_one_unit": ("bikes.csv", bike_rentals),
    "imbalance_bearing_failures": ("bearing.csv", bearing_failures),
    "adagrad_classifier": ("tide.csv", harbour_tide),
    "late_separating_classifier": ("fog.csv", airport_fog),
    "bce_on_levels_reservoir": ("reservoir.csv", reservoir_level),
    "batch_450_factory_power": ("power.csv", factory_power),
    "batch_1_one_epoch_river": ("river.csv", river_flow),
    "bottleneck_machine_states": ("machine.csv", machine_state),
    "multistep_sigmoid_electricity": ("electricity.csv", district_electricity),
    "encoder_decoder_relu_groundwater": ("groundwater.csv", groundwater_level),
    "rollout_unscaled_heating": ("heating.csv", heating_demand),
    "two_targets_unscaled_office": ("office.csv", office_building),
    "heavy_l2_solar": ("solar.csv", solar_output),
    "stateful_shuffled_pump": ("pump.csv", pump_pressure),
    "rollout_dropout_water": ("water.csv", water_demand),
    "oversized_stack_sunspots": ("sunspots.csv", lambda: sunspots().query("year >= 1820")),  # 189 years
    "slow_lr_kiln_alarm": ("kiln.csv", kiln_temperature),
    "narrow_lr_building_sway": ("sway.csv", building_sway),
}


def make(names: list[str] | None = None) -> list[Path]:
    """Write the data file of each named case (all cases when ``names`` is empty); return the paths."""
    written = []
    for name in names or list(CASES):
        filename, maker = CASES[name]
        folder = HERE / name
        folder.mkdir(exist_ok=True)
        path = folder / filename
        maker().to_csv(path, index=False)
        written.append(path)
    return written


if __name__ == "__main__":
    for path in make(sys.argv[1:]):
        print(f"wrote {path.relative_to(HERE)} ({path.stat().st_size / 1024:.0f} KB)")
