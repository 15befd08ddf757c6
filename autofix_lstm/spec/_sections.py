"""The spec's sections (``data``, ``model``, ``preprocessing``, ``train``, ``search``) as pydantic models.

Each one refuses keys it does not know (``extra="forbid"``). The validators that need Keras (layer
types and arguments, loss and optimizer names) import it only when the validation context asks for
them (``_KERAS_CHECKS``), so a spec bad elsewhere is refused without importing TensorFlow.
"""

from __future__ import annotations

import copy
import math
import numbers
import re
from pathlib import Path
from typing import Any, Literal, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from autofix_lstm.spec._values import (
    _COUNT_KWARGS,
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
    InputScaling,
    TargetScaling,
    Task,
)

# Validation context key: False skips the checks that import Keras (and so TensorFlow); see ``_validate``.
_KERAS_CHECKS = "keras_checks"


def _keras_checks(info: ValidationInfo) -> bool:
    return (info.context or {}).get(_KERAS_CHECKS, True)


class _Strict(BaseModel):
    # allow_inf_nan: a learning rate or a class weight of .inf or .nan is a typo, never a setting.
    model_config = ConfigDict(extra="forbid", validate_assignment=False, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value, info: ValidationInfo):
        # YAML reads `epochs: yes` as True, which pydantic would quietly take as 1.
        if isinstance(value, bool):
            annotation = cls.model_fields[info.field_name].annotation
            members = get_args(annotation) or (annotation,)
            if bool not in members and any(m in (int, float) for m in members):
                raise ValueError(f"must be a number, got {value!r}")
        return value


class HorizonSteps(_Strict):
    """``horizon: {steps: H}``: a forecast of the next H rows, the short form of ``horizon: [1, 2, ..., H]``."""

    steps: int = Field(..., ge=1, le=MAX_FORECAST_STEPS)


class DataSpec(_Strict):
    """Where the data is and how to cut it into (window, target) samples.

    ``rollout``: evaluate a one-step model (``horizon: 1``) by feeding it its own predictions that many
    times from each validation window (``data.rollout``).

    ``horizon``: which row after the window's last row is the target. One number (``1``: the next row)
    gives one target value per sample; a list of ascending offsets (``[1, 2, 3]``) or ``{steps: H}``
    (the next H rows) gives a multi-step forecast: H target values per sample, predicted at once by a
    head of H units (``Dense(H)``) or an encoder-decoder.

    ``target``: the column to predict, or several predicted together (``[a, b]``). For an ``.npz`` file
    or arrays given in memory, whose ``y`` has no column names, a list of two or more names says that
    ``y``'s columns are that many targets (by those names) rather than a forecast's steps.
    """

    path: str | None = None
    target: str | list[str] | None = None
    features: list[str] | None = Field(None, min_length=1)
    window: int | None = Field(None, ge=1, le=MAX_WINDOW)
    horizon: int | list[int] | HorizonSteps = 1
    rollout: int | None = Field(None, ge=2, le=MAX_FORECAST_STEPS)
    task: Task | None = None
    validation_split: float = Field(0.2, gt=0.0, lt=1.0)
    missing: Literal["error", "drop", "ffill", "interpolate"] = "error"

    @field_validator("path")
    @classmethod
    def _known_suffix(cls, value: str | None) -> str | None:
        if value is not None and Path(value).suffix.lower() not in DATA_SUFFIXES:
            raise ValueError(f"must end in one of {', '.join(DATA_SUFFIXES)}, got {value!r}")
        return value

    @field_validator("horizon")
    @classmethod
    def _offsets(cls, value):
        if isinstance(value, int) and not 0 <= value <= MAX_HORIZON:  # one offset: the bounds' usual words
            raise ValueError(f"must be <= {MAX_HORIZON}, got {value}" if value > 0 else f"must be >= 0, got {value}")
        offsets = value if isinstance(value, list) else [value] if isinstance(value, int) else None
        if offsets is None:
            return value
        if not offsets:
            raise ValueError("a list of horizons needs at least one offset, e.g. [1, 2, 3]")
        if len(offsets) > MAX_FORECAST_STEPS:
            raise ValueError(f"forecasts at most {MAX_FORECAST_STEPS} steps at once, got {len(offsets)}")
        out_of_range = [h for h in offsets if not 0 <= h <= MAX_HORIZON]
        if out_of_range:
            raise ValueError(f"each horizon must be between 0 and {MAX_HORIZON}, got {out_of_range[:5]}")
        if any(b <= a for a, b in zip(offsets, offsets[1:])):
            raise ValueError(f"the horizons must be strictly ascending (each step once), got {offsets[:10]}")
        return value

    @field_validator("target")
    @classmethod
    def _target_columns(cls, value):
        if isinstance(value, list):
            if not value:
                raise ValueError("a list of targets needs at least one column name")
            twice = sorted({name for name in value if value.count(name) > 1})
            if twice:
                raise ValueError(f"names a column twice: {twice}")
        return value

    @property
    def targets(self) -> tuple[str, ...]:
        """The target columns: one, or several predicted together (``target: [a, b]``)."""
        if self.target is None:
            return ()
        return tuple(self.target) if isinstance(self.target, list) else (self.target,)

    @property
    def multi_target(self) -> bool:
        """True when several columns are predicted together."""
        return len(self.targets) > 1

    @property
    def steps(self) -> tuple[int, ...]:
        """The target rows' offsets after the window's last row: ``(1,)`` for ``horizon: 1``, ``(1, 2, 3)``
        for ``horizon: {steps: 3}``."""
        if isinstance(self.horizon, HorizonSteps):
            return tuple(range(1, self.horizon.steps + 1))
        return tuple(self.horizon) if isinstance(self.horizon, list) else (self.horizon,)

    @property
    def multi_step(self) -> bool:
        """True for a forecast of several steps per sample."""
        return len(self.steps) > 1

    @property
    def furthest(self) -> int:
        """The furthest target row's offset: the rows a sample needs after its window."""
        return max(self.steps)

    @property
    def is_array_file(self) -> bool:
        """True for an already windowed ``.npz`` file."""
        return self.path is not None and Path(self.path).suffix.lower() in ARRAY_SUFFIXES

    @model_validator(mode="after")
    def _fields_fit_the_file_kind(self) -> DataSpec:
        # Lines starting with "." name a field under this one: `data` + `.window ...` -> `data.window ...`.
        problems = []
        if self.is_array_file:
            for name in ("features", "window"):
                if getattr(self, name) is not None:
                    problems.append(f".{name} does not apply to .npz files (they are already windowed); remove it")
            if self.target is not None and not self.multi_target:
                problems.append(".target does not apply to .npz files (they are already windowed) except as a list of "
                                "two or more names, one per column of y when y holds several targets; remove it")
            if "horizon" in self.model_fields_set:
                problems.append(".horizon does not apply to .npz files (they are already windowed); remove it")
            if self.rollout is not None:
                problems.append(".rollout does not apply to .npz files (they are already windowed); remove it")
            if self.missing in ("ffill", "interpolate"):
                problems.append(f".missing must be 'error' or 'drop' for .npz files, got {self.missing!r}")
        elif self.path is not None:
            if self.target is None:
                problems.append(".target is required for .csv/.parquet data: name the column to predict")
            if self.window is None:
                problems.append(".window is required for .csv/.parquet data: the number of rows in each input sequence")
        if self.multi_target and self.multi_step:
            problems.append(f".target names {len(self.targets)} columns and .horizon {len(self.steps)} steps; predict "
                            "several targets one step ahead, or one target several steps ahead")
        if self.multi_target and self.rollout is not None:
            problems.append(".rollout rolls out one target; give data.target one column")
        if self.rollout is not None and self.steps != (1,):
            problems.append(f".rollout rolls a one-step model out (horizon: 1); got horizon {self.horizon}. For a model "
                            "that predicts several steps at once, use horizon: {steps: H} instead")
        if problems:
            raise ValueError("\n".join(problems))
        return self


class LayerSpec(BaseModel):
    """One layer: ``type`` plus keyword arguments passed through to the Keras layer.

    A wrapper holds the layer it wraps under ``layer``, itself a layer mapping:
    ``{type: bidirectional, layer: {type: lstm, units: 32}, merge_mode: concat}`` or
    ``{type: time_distributed, layer: {type: dense, units: 1}}``.
    """

    model_config = ConfigDict(extra="allow")

    type: str

    @property
    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments for the Keras layer (everything but ``type``)."""
        return dict(self.model_extra or {})

    def to_dict(self) -> dict[str, Any]:
        """The layer as it appears in YAML: ``{type: ..., **kwargs}`` (a copy: a wrapped layer's dict too)."""
        return {"type": self.type, **copy.deepcopy(self.kwargs)}


MOMENTUM_OPTIMIZERS = ("sgd", "rmsprop")


class OptimizerSpec(_Strict):
    """The optimizer and its gradient clipping."""

    name: str = "adam"
    learning_rate: float = Field(0.001, gt=0.0)
    clipnorm: float | None = Field(None, gt=0.0)
    clipvalue: float | None = Field(None, gt=0.0)
    momentum: float | None = Field(None, ge=0.0, lt=1.0)  # sgd and rmsprop only (an extension)

    @field_validator("name")
    @classmethod
    def _known_optimizer(cls, value: str, info: ValidationInfo) -> str:
        key = value.lower()
        if not _keras_checks(info):
            return key
        from autofix_lstm.modeling.build import OPTIMIZERS

        if key not in OPTIMIZERS:
            raise ValueError(f"must be one of {', '.join(sorted(OPTIMIZERS))}, got {value!r}")
        return key

    @model_validator(mode="after")
    def _one_clipping(self) -> OptimizerSpec:
        if self.clipnorm is not None and self.clipvalue is not None:
            raise ValueError("sets both clipnorm and clipvalue; Keras takes only one of them: remove the other")
        if self.momentum is not None and self.name not in MOMENTUM_OPTIMIZERS:
            raise ValueError(
                f"sets momentum {self.momentum} for {self.name}, which takes none; momentum applies to "
                f"{' and '.join(MOMENTUM_OPTIMIZERS)}: remove it"
            )
        return self


class ModelSpec(_Strict):
    """The model exactly as the user built it: a layer list, or a saved Sequential ``path``."""

    layers: list[LayerSpec] | None = None
    path: str | None = None
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    loss: str = "mse"

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, value: str, info: ValidationInfo) -> str:
        if not _keras_checks(info):
            return value
        from autofix_lstm.modeling.build import check_loss

        return check_loss(value)

    @model_validator(mode="after")
    def _layers_or_path(self, info: ValidationInfo) -> ModelSpec:
        if (self.layers is None) == (self.path is None):
            raise ValueError("needs exactly one of 'layers' (a list of layers) or 'path' (a saved .keras model)")
        if self.layers is not None:
            if not self.layers:
                raise ValueError(".layers must hold at least one layer")
            if len(self.layers) > MAX_LAYERS:
                raise ValueError(f".layers must hold at most {MAX_LAYERS} layers, got {len(self.layers)}")
            bad_numbers = [f".layers[{index}] {problem}" for index, layer in enumerate(self.layers)
                           for problem in _layer_number_problems({"type": layer.type, **layer.kwargs})]
            if bad_numbers:  # checked without Keras, which takes `dropout: .nan` or `-1` and trains on it
                raise ValueError("\n".join(bad_numbers))
            if not _keras_checks(info):
                return self
            from autofix_lstm.modeling.build import check_layers

            bad_sizes = _layer_size_problems(self.layers)
            problems = []
            for index, layer in enumerate(self.layers):
                if index in bad_sizes:  # not built: Keras would take units 2.5 and fail later, or size 10**9
                    problems.append(f"[{index}] {bad_sizes[index]}")
                    continue
                try:
                    check_layers([layer])
                except ValueError as err:  # "[0] problem" lines for this one layer
                    problems += [f"[{index}]{line.removeprefix('[0]')}" for line in str(err).splitlines()]
            if problems:
                raise ValueError("\n".join(f".layers{line}" for line in problems))
        return self


_RATE_KWARGS = ("dropout", "recurrent_dropout")  # fractions of a recurrent layer's inputs dropped


def _layer_number_problems(layer: dict[str, Any]) -> list[str]:
    """Why the numbers in one layer's arguments (``layer``: ``{type, **kwargs}``) are not what Keras should get: each non-finite number
    (at any depth: a wrapped layer, a regularizer's settings, a list), and each rate (``dropout``,
    ``recurrent_dropout``, a dropout layer's ``rate``) not in [0, 1). ``units``/``filters`` are left
    to ``_layer_size_problems``, which says what they must be.
    """
    problems: list[str] = []

    def visit(value: Any, name: str, in_layer: bool, layer_type: Any, depth: int) -> None:
        if depth > 50:  # a mapping given as a dict may contain itself; a YAML one cannot (the loader refuses it)
            return
        if isinstance(value, dict):
            is_layer = in_layer or "type" in value
            inner_type = value.get("type") if "type" in value else layer_type
            for key, item in value.items():
                where = f"{name}{key}"
                if is_layer and key in _COUNT_KWARGS:
                    continue
                if is_layer and (key in _RATE_KWARGS or (key == "rate" and inner_type == "dropout")):
                    if isinstance(item, bool) or not isinstance(item, numbers.Real) or not 0 <= item < 1:
                        problems.append(
                            f"{where} must be a number >= 0 and < 1 (the fraction of inputs dropped), got {item!r}"
                        )
                    continue
                child_is_layer = isinstance(item, dict) and "type" in item
                visit(item, f"{where}.", child_is_layer, inner_type, depth + 1)
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                visit(item, f"{name.removesuffix('.')}[{index}].", False, layer_type, depth + 1)
        elif isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isfinite(value):
            problems.append(f"{name.removesuffix('.')} must be a finite number, got {value!r}")

    visit(layer, "", True, None, 0)
    return problems


def _layer_size_problems(layers: list[LayerSpec]) -> dict[int, str]:
    """Layer index -> why its ``units`` (or ``filters``) is not a whole number from 1 to ``MAX_UNITS``.

    Wrapped layers (a ``{type: ...}`` mapping inside a layer's arguments) are checked too. Keras itself
    takes an LSTM's ``units: 2.5`` or ``true`` and fails later, and would try to size 10**9 units.
    """

    def sizes(kwargs: dict, where: str):
        for key, value in kwargs.items():
            if key in _COUNT_KWARGS:
                yield f"{where}{key}", value
            elif isinstance(value, dict) and "type" in value:
                yield from sizes(value, f"{where}{key}.")

    problems = {}
    for index, layer in enumerate(layers):
        for name, value in sizes(layer.kwargs, ""):
            if isinstance(value, bool) or not isinstance(value, int):  # Keras itself refuses 0 and below
                problems[index] = f"{name} must be a whole number from 1 to {MAX_UNITS}, got {value!r}"
            elif value > MAX_UNITS:
                problems[index] = f"{name} must be <= {MAX_UNITS}, got {value!r}; lower it (no time-series model needs more)"
            else:
                continue
            break
    return problems


class PreprocessingSpec(_Strict):
    """What the user did to the data before training. All default to none."""

    inputs: InputScaling = "none"
    target: TargetScaling = "none"
    class_weight: Union[Literal["balanced"], dict[int, float], None] = None

    @field_validator("class_weight")
    @classmethod
    def _positive_weights(cls, value):
        if isinstance(value, dict):
            bad = {k: v for k, v in value.items() if not v > 0}
            if bad:
                raise ValueError(f"weights must be > 0, got {bad}")
        return value


class TrainSpec(_Strict):
    """How to train: epochs, batch size, the seed that makes runs repeatable, and when a stateful model's
    states are reset."""

    epochs: int = Field(20, ge=1, le=MAX_EPOCHS)
    batch_size: int = Field(32, ge=1, le=MAX_BATCH_SIZE)
    seed: int = Field(0, ge=0, lt=SEED_LIMIT)
    # Stateful recurrent layers only: ``never`` (what Keras' fit does) or at the start of each ``epoch``.
    # Written out only when not the default, so a spec without stateful layers reads as it always did.
    reset_states: Literal["never", "epoch"] = "never"
    # TensorFlow's deterministic kernels (``tf.config.experimental.enable_op_determinism``), for a GPU, where
    # cuDNN's are not; on a CPU the seed alone already repeats a training bit for bit (docs/search.md).
    # Written out only when true.
    deterministic: bool = False


class SearchSpec(_Strict):
    """How to search for a fix (see docs/search.md)."""

    tuner: Literal["bayesian", "random", "hyperband"] = "bayesian"
    max_trials: int = Field(30, ge=1, le=MAX_TRIALS)
    max_time: str | None = None
    strategies: Union[Literal["all"], list[Union[str, dict[str, Any]]]] = Field(
        "all", description="all, or a list of built-in names, paths to strategy files and strategies written "
        "inline (a mapping as a strategy file holds it)",
    )
    min_std_ratio: float = Field(0.1, gt=0.0, lt=1.0)
    prune_after: int | None = Field(
        2, ge=1, le=MAX_EPOCHS, description="epochs after which a still-collapsed trial may be stopped; null: never prune"
    )
    refine: bool = Field(True, description="once a fix exists, try its one-field neighbours before exploring far away")
    rerun_pruned: int = Field(
        2, ge=0, le=20, description="with no fix at the end, re-run this many pruned trials in full before the verdict"
    )
    minimize: bool = Field(
        True, description="after a fix, retrain without each of its changes to find the ones that were needed"
    )
    confirm: bool = Field(
        True, description="train the best fix again with two more seeds, and say whether it holds on every one"
    )
    stop: Literal["budget", "confirmed"] = Field(
        "budget", description="budget: run max_trials (or until max_time); confirmed: stop the trials once the best "
        "fix held on every seed and the `patience` trials after it brought no gain",
    )
    patience: int = Field(
        3, ge=1, le=MAX_TRIALS, description="stop: confirmed: how many trials after the best fix must bring no gain",
    )
    seed: int | None = Field(
        None, ge=0, lt=SEED_LIMIT, description="the seed of the search's own choices (the oracle's draws); null: "
        "train.seed. Another search seed searches the same trainings in another order (Keras Tuner's seed=)",
    )
    oracle_proposal: Literal["batched", "keras_tuner"] = Field(
        "batched",
        description="how the bayesian tuner picks its next trial: batched (cheap: one vectorised predict over "
        "2000 candidates, the best few polished) or keras_tuner (Keras Tuner's own 50 L-BFGS-B restarts)",
    )
    tensorboard: bool = Field(
        False, description="write each trial's loss, val_loss and std_ratio per epoch and its values (HParams) "
        "under <output>/tensorboard/<trial id>/ for TensorBoard",
    )
    distribution: Literal["default", "mirrored"] = Field(
        "default",
        description="default: each trial trains on one device (the first GPU, or the CPU); mirrored: each trial "
        "trains under a tf.distribute.MirroredStrategy over every visible GPU (train.batch_size is split across them)",
    )

    @field_validator("max_time")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            seconds = parse_duration(value)
            if seconds > MAX_SEARCH_SECONDS:
                raise ValueError(f"must be at most 30d ({MAX_SEARCH_SECONDS} seconds), got {value!r}")
        return value

    @model_validator(mode="after")
    def _stop_needs_confirmation(self) -> SearchSpec:
        if self.stop == "confirmed" and not self.confirm:
            raise ValueError(".stop: confirmed ends the trials once a fix held on 3 seeds, so it needs search.confirm: "
                             "true (drop --no-confirm or confirm: false, or use stop: budget)")
        return self

    @property
    def max_seconds(self) -> float | None:
        """``max_time`` in seconds, or None for no limit."""
        return None if self.max_time is None else parse_duration(self.max_time)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400}


def parse_duration(text: str | int | float) -> float:
    """Seconds in a duration such as ``"90s"``, ``"30m"``, ``"2h"`` or a bare number of seconds."""
    if isinstance(text, (int, float)):
        return float(text)
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"must be a duration like '90s', '30m' or '2h', got {text!r}")
    return float(match.group(1)) * _UNIT_SECONDS[(match.group(2) or "s").lower()]
