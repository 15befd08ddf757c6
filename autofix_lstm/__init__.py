"""autofix-lstm: find out why a Keras LSTM predicts a constant, and fix it.

``import autofix_lstm`` is cheap: the public names (``search``, ``diagnose``, ``train``,
``load_spec``...) are imported on first use (PEP 562), so the CLI answers ``--help`` or refuses a
bad spec without loading TensorFlow. The package's serializable Keras layers are registered as soon
as Keras is imported (``layer_registration``), so a saved ``model.keras`` loads with
``keras.saving.load_model`` after ``import autofix_lstm``.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported, wherever that is

from autofix_lstm.errors import (  # noqa: E402  (light: no third-party imports)
    AutofixError,
    DataError,
    FatalSearchError,
    ModelSpecError,
    RunFolderError,
    SearchInterrupted,
    SpecError,
    TrialFailed,
)
from autofix_lstm.layer_registration import register_when_keras_loads  # noqa: E402

register_when_keras_loads()

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers and editors
    from autofix_lstm.api import diagnose, load_result, search, train
    from autofix_lstm.diagnosis import DiagnosisResult, Finding
    from autofix_lstm.diagnosis.monitor import CollapseMonitor, CollapseWarning
    from autofix_lstm.modeling.train import TrainResult
    from autofix_lstm.render.report import show_report, write_report
    from autofix_lstm.scoring.metrics import Metrics
    from autofix_lstm.spec import Spec, load_spec
    from autofix_lstm.tuning.result import SearchResult

# public name -> the module that defines it; imported on first use (most import TensorFlow)
_LAZY = {
    "search": "autofix_lstm.api",
    "diagnose": "autofix_lstm.api",
    "train": "autofix_lstm.api",
    "CollapseMonitor": "autofix_lstm.diagnosis.monitor",
    "CollapseWarning": "autofix_lstm.diagnosis.monitor",
    "DiagnosisResult": "autofix_lstm.diagnosis",
    "Finding": "autofix_lstm.diagnosis",
    "TrainResult": "autofix_lstm.modeling.train",
    "Metrics": "autofix_lstm.scoring.metrics",
    "show_report": "autofix_lstm.render.report",
    "write_report": "autofix_lstm.render.report",
    "Spec": "autofix_lstm.spec",
    "load_spec": "autofix_lstm.spec",
    "SearchResult": "autofix_lstm.tuning.result",
    "load_result": "autofix_lstm.api",
}


def __getattr__(name: str):
    if name in _LAZY:
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
    "Metrics",
    "ModelSpecError",
    "RunFolderError",
    "SearchInterrupted",
    "SearchResult",
    "Spec",
    "SpecError",
    "TrainResult",
    "TrialFailed",
    "diagnose",
    "load_result",
    "load_spec",
    "search",
    "show_report",
    "train",
    "write_report",
]
