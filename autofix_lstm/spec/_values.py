"""What the spec's fields may hold: the data file kinds, the upper bounds on counts, the task and scaling names."""

from __future__ import annotations

from typing import Literal

TABLE_SUFFIXES = (".csv", ".parquet")
ARRAY_SUFFIXES = (".npz",)
DATA_SUFFIXES = TABLE_SUFFIXES + ARRAY_SUFFIXES

# Upper bounds on counts: far above what a demanding user trains (docs/spec.md says
# why each), so a value above one is a typo or a unit mix-up (10**12 epochs), refused before it runs.
MAX_EPOCHS = 10_000
MAX_BATCH_SIZE = 65_536
MAX_TRIALS = 10_000
MAX_UNITS = 8_192  # units of a layer (and filters, for layer types that have them)
MAX_LAYERS = 100
MAX_WINDOW = 100_000  # rows in one input sequence
MAX_HORIZON = 100_000
MAX_FORECAST_STEPS = 1_000  # values one sample's multi-step forecast predicts at once
MAX_SEARCH_SECONDS = 30 * 86_400  # search.max_time: 30 days
SEED_LIMIT = 2**32  # numpy and Keras seeds are 32-bit: 0 <= seed < 2**32
_COUNT_KWARGS = ("units", "filters")  # layer arguments that size a layer

Task = Literal["regression", "binary", "multiclass"]
InputScaling = Literal["none", "standard", "minmax", "robust", "window_relative"]
TargetScaling = Literal["none", "standard", "minmax", "robust", "log", "difference"]
