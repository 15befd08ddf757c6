"""Shared fixtures: fixed seeds for every test, and tiny data files and specs in ``tmp_path``.

The builders themselves live in ``tests/helpers.py`` so a test can also call them with its own
arguments (``make_series_csv(tmp_path, kind="trend", scale=1000)``).

Browser tests skip, with a one-line hint, where no Chromium is installed; where the environment
variable ``CI`` is set (non-empty) such a skip is reported as a failure instead, so CI cannot pass
without rendering report.html (``.ci/run`` installs Chromium).
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path


def _prepare_an_xdist_worker() -> None:
    """Under pytest-xdist (``make test`` runs ``-n auto``), each worker process's TensorFlow and BLAS
    thread pools get its share of the cores, as a distributed search's workers do
    (``tuning.distributed.threads_per_worker``): the models here are tiny, so threads beyond that
    share only contend. Set before Keras is imported; a variable already set is kept.

    xdist's workers also start with ``COLUMNS=80`` and ``LINES=24`` in their environment: the CLI's Rich
    consoles, made when ``autofix_lstm.cli`` is imported, would keep that width for good, where in one
    process they read the width a test gives ``CliRunner.invoke(env=...)``. They are dropped.
    """
    count = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if not count:
        return
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = str(max(1, cores // max(1, int(count))))
    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(name, threads)


_prepare_an_xdist_worker()

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import (  # noqa: E402
    collapsing_spec,
    healthy_spec,
    make_series_csv,
    make_series_parquet,
    make_windows_npz,
    spec_dict,
    write_spec,
)

SEED = 0


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason.removeprefix("Skipped: ")  # longrepr is (path, line, "Skipped: <reason>")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI, a test that skipped for want of Chromium fails: those checks must run there."""
    report = yield
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        reason = _skip_reason(report)
        if "chromium" in reason.lower():
            report.outcome = "failed"
            report.longrepr = f"CI is set, so this browser test must run, not skip: {reason}"
    return report


@pytest.fixture(autouse=True)
def fixed_seeds():
    """Every test starts from the same numpy, random and Keras/TensorFlow seeds."""
    random.seed(SEED)
    np.random.seed(SEED)
    keras.utils.set_random_seed(SEED)


@pytest.fixture
def series_csv(tmp_path) -> Path:
    """A 300-row sine table (columns t, x, y) as ``tmp_path/series.csv``."""
    return make_series_csv(tmp_path)


@pytest.fixture
def series_parquet(tmp_path) -> Path:
    """The same 300-row sine table as ``tmp_path/series.parquet``."""
    return make_series_parquet(tmp_path)


@pytest.fixture
def windows_npz(tmp_path) -> Path:
    """200 already windowed samples (8 timesteps, 2 features) as ``tmp_path/windows.npz``."""
    return make_windows_npz(tmp_path)


@pytest.fixture
def csv_spec(tmp_path, series_csv) -> Path:
    """A tiny valid spec (1 epoch, LSTM 8) on ``series.csv``, written as ``tmp_path/spec.yaml``."""
    return write_spec(tmp_path, spec_dict(series_csv.name))


@pytest.fixture
def collapsing_spec_path(tmp_path) -> Path:
    """A spec that collapses on purpose (targets ~5,000 into a sigmoid head)."""
    return collapsing_spec(tmp_path)


@pytest.fixture
def healthy_spec_path(tmp_path) -> Path:
    """A spec that learns a scaled sine with a linear head and does not collapse."""
    return healthy_spec(tmp_path)
