"""autofix-lstm: find out why a Keras LSTM predicts a constant, and fix it.

Importing the package registers its serializable Keras layers, so a saved ``model.keras`` loads
with ``keras.saving.load_model`` after ``import autofix_lstm``.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from autofix_lstm import transforms as _transforms  # noqa: E402,F401  (registers custom layers)
from autofix_lstm.errors import (  # noqa: E402
    AutofixError,
    DataError,
    FatalSearchError,
    ModelSpecError,
    SpecError,
    TrialFailed,
)
from autofix_lstm.report import show_report, write_report  # noqa: E402
from autofix_lstm.search import SearchResult, search  # noqa: E402
from autofix_lstm.spec import Spec, load_spec  # noqa: E402
from autofix_lstm.training import TrainResult, train  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "AutofixError",
    "DataError",
    "FatalSearchError",
    "ModelSpecError",
    "SearchResult",
    "Spec",
    "SpecError",
    "TrainResult",
    "TrialFailed",
    "load_spec",
    "search",
    "show_report",
    "train",
    "write_report",
]
