"""autofix-lstm: find out why a Keras LSTM predicts a constant, and fix it.

Importing the package registers its serializable Keras layers, so a saved ``model.keras`` loads
with ``keras.saving.load_model`` after ``import autofix_lstm``.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from autofix_lstm.api import diagnose, search, train  # noqa: E402
from autofix_lstm.data import transforms as _transforms  # noqa: E402,F401  (registers custom layers)
from autofix_lstm.errors import (  # noqa: E402
    AutofixError,
    DataError,
    FatalSearchError,
    ModelSpecError,
    SpecError,
    TrialFailed,
)
from autofix_lstm.modeling.train import TrainResult  # noqa: E402
from autofix_lstm.render.report import show_report, write_report  # noqa: E402
from autofix_lstm.spec import Spec, load_spec  # noqa: E402
from autofix_lstm.tuning.driver import SearchResult  # noqa: E402

# Imported on first use, so ``import autofix_lstm`` does not load the diagnosis (``diagnose`` loads
# it when called): name -> its module.
_LAZY = {
    "CollapseMonitor": "autofix_lstm.diagnosis.monitor",
    "CollapseWarning": "autofix_lstm.diagnosis.monitor",
    "DiagnosisResult": "autofix_lstm.diagnosis",
    "Finding": "autofix_lstm.diagnosis",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'autofix_lstm' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__version__ = "0.1.0"

__all__ = [
    "AutofixError",
    "CollapseMonitor",
    "CollapseWarning",
    "DataError",
    "DiagnosisResult",
    "FatalSearchError",
    "Finding",
    "ModelSpecError",
    "SearchResult",
    "Spec",
    "SpecError",
    "TrainResult",
    "TrialFailed",
    "diagnose",
    "load_spec",
    "search",
    "show_report",
    "train",
    "write_report",
]
