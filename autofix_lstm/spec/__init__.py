"""The spec: what the user built and the data it fails on, validated once at the boundary.

``load_spec`` reads a YAML file (safe loader, a key given twice refused), a dict or an existing
``Spec`` and returns a validated ``Spec``. Every problem becomes one line naming its path, e.g.
``data.window must be >= 1, got 0``; inner code receives the validated object and never re-reads YAML.
The checks that need Keras (layer types and arguments, loss and optimizer names, a saved model) run
once every other field is valid, so most bad specs are refused without importing TensorFlow.

Counts have upper bounds (``MAX_*``) that catch typos and unit mix-ups, never a real plan.

One concept a module: ``_values`` (file kinds, bounds, task and scaling names), ``_sections`` (the
sections' schemas), ``_spec`` (the whole ``Spec`` and its validation), ``_task_fit`` (a model that
cannot learn a regression target), ``_error_lines`` (pydantic's errors as problem lines) and
``_loading`` (YAML, every key once).
"""

from autofix_lstm.spec._loading import DuplicateKeyError, load_spec, safe_load_unique
from autofix_lstm.spec._sections import (
    MOMENTUM_OPTIMIZERS,
    DataSpec,
    LayerSpec,
    ModelSpec,
    OptimizerSpec,
    PreprocessingSpec,
    SearchSpec,
    TrainSpec,
    parse_duration,
)
from autofix_lstm.spec._spec import Spec
from autofix_lstm.spec._task_fit import CLASS_LABEL_LOSSES, OutputLayer, is_class_label_loss, output_layer
from autofix_lstm.spec._values import (
    ARRAY_SUFFIXES,
    DATA_SUFFIXES,
    MAX_BATCH_SIZE,
    MAX_EPOCHS,
    MAX_FORECAST_STEPS,
    MAX_HORIZON,
    MAX_LAYERS,
    MAX_SEARCH_SECONDS,
    MAX_TRIALS,
    MAX_UNITS,
    MAX_WINDOW,
    SEED_LIMIT,
    TABLE_SUFFIXES,
    InputScaling,
    TargetScaling,
    Task,
)

__all__ = [
    "ARRAY_SUFFIXES",
    "CLASS_LABEL_LOSSES",
    "DATA_SUFFIXES",
    "MAX_BATCH_SIZE",
    "MAX_EPOCHS",
    "MAX_FORECAST_STEPS",
    "MAX_HORIZON",
    "MAX_LAYERS",
    "MAX_SEARCH_SECONDS",
    "MAX_TRIALS",
    "MAX_UNITS",
    "MAX_WINDOW",
    "MOMENTUM_OPTIMIZERS",
    "SEED_LIMIT",
    "TABLE_SUFFIXES",
    "DataSpec",
    "DuplicateKeyError",
    "InputScaling",
    "LayerSpec",
    "ModelSpec",
    "OptimizerSpec",
    "PreprocessingSpec",
    "SearchSpec",
    "Spec",
    "TargetScaling",
    "Task",
    "TrainSpec",
    "load_spec",
    "parse_duration",
    "is_class_label_loss",
    "output_layer",
    "OutputLayer",
    "safe_load_unique",
]
