"""The spec: what the user built and the data it fails on, validated once at the boundary.

``load_spec`` reads a YAML file (safe loader, a key given twice refused), a dict or an existing
``Spec`` and returns a validated ``Spec``. Every problem becomes one line naming its path, e.g.
``data.window must be >= 1, got 0``; inner code receives the validated object and never re-reads YAML.
The checks that need Keras (layer types and arguments, loss and optimizer names, a saved model) run
once every other field is valid, so most bad specs are refused without importing TensorFlow.

Counts have upper bounds (``MAX_*`` below) that catch typos and unit mix-ups, never a real plan.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Literal, Union, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from autofix_lstm.errors import ModelSpecError, SpecError

TABLE_SUFFIXES = (".csv", ".parquet")
ARRAY_SUFFIXES = (".npz",)
DATA_SUFFIXES = TABLE_SUFFIXES + ARRAY_SUFFIXES

# Upper bounds on counts: far above what a demanding user trains (the README's spec section says
# why each), so a value above one is a typo or a unit mix-up (10**12 epochs), refused before it runs.
MAX_EPOCHS = 10_000
MAX_BATCH_SIZE = 65_536
MAX_TRIALS = 10_000
MAX_UNITS = 8_192  # units of a layer (and filters, for layer types that have them)
MAX_LAYERS = 100
MAX_WINDOW = 100_000  # rows in one input sequence
MAX_HORIZON = 100_000
MAX_SEARCH_SECONDS = 30 * 86_400  # search.max_time: 30 days
SEED_LIMIT = 2**32  # numpy and Keras seeds are 32-bit: 0 <= seed < 2**32
_COUNT_KWARGS = ("units", "filters")  # layer arguments that size a layer

Task = Literal["regression", "binary", "multiclass"]
InputScaling = Literal["none", "standard", "minmax", "robust", "window_relative"]
TargetScaling = Literal["none", "standard", "minmax", "robust", "log", "difference"]

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


class DataSpec(_Strict):
    """Where the data is and how to cut it into (window, target) samples."""

    path: str | None = None
    target: str | None = None
    features: list[str] | None = Field(None, min_length=1)
    window: int | None = Field(None, ge=1, le=MAX_WINDOW)
    horizon: int = Field(1, ge=0, le=MAX_HORIZON)
    task: Task | None = None
    validation_split: float = Field(0.2, gt=0.0, lt=1.0)
    missing: Literal["error", "drop", "ffill", "interpolate"] = "error"

    @field_validator("path")
    @classmethod
    def _known_suffix(cls, value: str | None) -> str | None:
        if value is not None and Path(value).suffix.lower() not in DATA_SUFFIXES:
            raise ValueError(f"must end in one of {', '.join(DATA_SUFFIXES)}, got {value!r}")
        return value

    @property
    def is_array_file(self) -> bool:
        """True for an already windowed ``.npz`` file."""
        return self.path is not None and Path(self.path).suffix.lower() in ARRAY_SUFFIXES

    @model_validator(mode="after")
    def _fields_fit_the_file_kind(self) -> DataSpec:
        # Lines starting with "." name a field under this one: `data` + `.window ...` -> `data.window ...`.
        problems = []
        if self.is_array_file:
            for name in ("target", "features", "window"):
                if getattr(self, name) is not None:
                    problems.append(f".{name} does not apply to .npz files (they are already windowed); remove it")
            if "horizon" in self.model_fields_set:
                problems.append(".horizon does not apply to .npz files (they are already windowed); remove it")
            if self.missing in ("ffill", "interpolate"):
                problems.append(f".missing must be 'error' or 'drop' for .npz files, got {self.missing!r}")
        elif self.path is not None:
            if self.target is None:
                problems.append(".target is required for .csv/.parquet data: name the column to predict")
            if self.window is None:
                problems.append(".window is required for .csv/.parquet data: the number of rows in each input sequence")
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


# Losses that score class labels (or +-1 margins): on a real-valued target they cannot learn it.
CLASS_LABEL_LOSSES = frozenset({
    "binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy",
    "categorical_focal_crossentropy", "sparse_categorical_crossentropy", "hinge", "squared_hinge", "categorical_hinge",
})
_PASS_THROUGH_LAYERS = ("dropout", "layer_normalization", "batch_normalization")  # keep their input's width
_SIZED_LAYERS = ("dense", "lstm", "gru", "simple_rnn")  # output `units` values per sample


def _loss_function_name(loss: str) -> str:
    """A Keras loss identifier as its function's name: ``BinaryCrossentropy`` and ``bce`` -> ``binary_crossentropy``.

    Spelled out rather than asked of Keras, so this check needs no TensorFlow import; Keras' own
    identifiers for these losses are exactly the snake_case and CamelCase names, and ``bce``/``BCE``.
    """
    name = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", loss.strip()).lower()
    return {"bce": "binary_crossentropy"}.get(name, name)


def regression_head_problems(model: ModelSpec) -> list[str]:
    """Why this model cannot predict a real-valued target, one line each naming the field; [] when it can.

    Refused, because no training can fix them: a loss for class labels (cross-entropies, hinges), an
    output layer with more than one unit (only its first column would be read as the prediction), and
    a softmax over one unit (always 1.0). A head that merely cannot reach the targets (sigmoid, relu)
    is left to the diagnosis (``output_activation_range``), which the search can fix.
    """
    problems = []
    if _loss_function_name(model.loss) in CLASS_LABEL_LOSSES:
        problems.append(
            f"model.loss {model.loss!r} is for class labels but the task is regression; use mse, mae or huber, "
            "or set data.task to binary or multiclass if the target holds class labels"
        )
    for index in range(len(model.layers or []) - 1, -1, -1):
        layer = model.layers[index]
        kind = layer.type.lower()
        if kind in _PASS_THROUGH_LAYERS:
            continue
        units = layer.kwargs.get("units")
        if kind not in _SIZED_LAYERS or not isinstance(units, int) or layer.kwargs.get("return_sequences"):
            break  # a width not read from the spec, or one vector per timestep: the model build says what is wrong
        activation = layer.kwargs.get("activation")
        if units != 1:
            problems.append(
                f"model.layers[{index}] ({kind}, {units} units) is the output layer, but a regression predicts one "
                f"value per sample (only the first of its {units} outputs would be used); give it units: 1, "
                "or set data.task to multiclass if the target holds class labels"
            )
        elif isinstance(activation, str) and activation.lower() == "softmax":
            problems.append(
                f"model.layers[{index}] ({kind}, softmax over 1 unit) is the output layer and always outputs 1.0 "
                "whatever its input, so it cannot predict a regression target; use activation: linear"
            )
        break
    return problems


def check_model_fits_task(spec: Spec, task: str) -> None:
    """Refuse, before anything trains, a model that cannot learn a ``task`` target at all.

    Only regression has such checks (``regression_head_problems``); a classifier's head or loss that
    does not fit is a collapse cause the diagnosis explains and the search can fix.

    Raises:
        ModelSpecError: one line per problem, naming the layer or ``model.loss`` and the fix.
    """
    problems = regression_head_problems(spec.model) if task == "regression" else []
    if problems:
        raise ModelSpecError(problems, spec.source)


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
    """How to train: epochs, batch size and the seed that makes runs repeatable."""

    epochs: int = Field(20, ge=1, le=MAX_EPOCHS)
    batch_size: int = Field(32, ge=1, le=MAX_BATCH_SIZE)
    seed: int = Field(0, ge=0, lt=SEED_LIMIT)


class SearchSpec(_Strict):
    """How to search for a fix (see the README: the search)."""

    tuner: Literal["bayesian", "random", "hyperband"] = "bayesian"
    max_trials: int = Field(30, ge=1, le=MAX_TRIALS)
    max_time: str | None = None
    strategies: Union[Literal["all"], list[str]] = "all"
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


class Spec(_Strict):
    """A whole validated spec. ``base_dir`` anchors the relative paths in it."""

    data: DataSpec
    model: ModelSpec
    preprocessing: PreprocessingSpec = Field(default_factory=PreprocessingSpec)
    train: TrainSpec = Field(default_factory=TrainSpec)
    search: SearchSpec = Field(default_factory=SearchSpec)
    output: str = "runs/autofix"

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _source: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _model_fits_a_declared_regression(self) -> Spec:
        # With data.task given, a model that cannot learn it is refused with the spec's other problems;
        # an inferred task is checked once the data is read (``check_model_fits_task``).
        if self.data.task == "regression":
            problems = regression_head_problems(self.model)
            if problems:
                raise ValueError("\n".join(problems))
        return self


    @property
    def base_dir(self) -> Path:
        """The folder relative paths are resolved against (the spec file's folder)."""
        return self._base_dir

    @property
    def source(self) -> str | None:
        """Where the spec came from (a file path), for error messages."""
        return self._source

    def resolve(self, path: str | Path) -> Path:
        """``path`` made absolute against the spec's folder."""
        path = Path(path).expanduser()
        return path if path.is_absolute() else (self._base_dir / path)

    @property
    def output_dir(self) -> Path:
        """The absolute output folder."""
        return self.resolve(self.output)

    def to_dict(self) -> dict[str, Any]:
        """A plain dict that ``load_spec`` accepts back (layers flattened to ``{type, **kwargs}``)."""
        raw = self.model_dump(mode="json", exclude_none=False)
        if self.model.layers is not None:
            raw["model"]["layers"] = [layer.to_dict() for layer in self.model.layers]
        for key in ("layers", "path"):
            if raw["model"].get(key) is None:
                raw["model"].pop(key, None)
        if self.data.is_array_file:
            for key in ("target", "features", "window", "horizon"):
                raw["data"].pop(key, None)
        return raw

    def to_yaml(self, path: str | Path | None = None) -> str:
        """The spec as YAML, readable by a person and by ``load_spec``; also written to ``path`` when given."""
        text = yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None, width=100)
        if path is not None:
            from autofix_lstm.run_dir import write_text  # atomic, like every file the package writes

            write_text(text, Path(path).expanduser())
        return text

    @classmethod
    def from_model(
        cls,
        model: Any,
        *,
        path: str | None = None,
        target: str | None = None,
        window: int | None = None,
        features: list[str] | None = None,
        horizon: int | None = None,
        task: Task | None = None,
        validation_split: float | None = None,
        epochs: int | None = None,
        batch_size: int | None = None,
        seed: int | None = None,
        preprocessing: dict | None = None,
        search: dict | None = None,
        output: str | None = None,
    ) -> Spec:
        """The spec of a compiled ``keras.Model``: its layers, optimizer and loss, and the data settings given.

        The model is only read, never changed. ``task`` defaults to what a classification loss
        implies (binary cross-entropy: binary; categorical: multiclass); with any other loss it is
        inferred from the target, as for a spec (so an mse loss on 0/1 labels is diagnosed as binary).
        ``spec.to_yaml("spec.yaml")`` then saves it for the CLI (give ``path``, ``target`` and
        ``window`` for a table, or set ``data.path`` in the file).

        Raises:
            ModelSpecError: the model is not a compiled Sequential or linear functional model of
                supported layers; one line naming what is not (a branch, a custom layer).
            SpecError: the settings given break the schema.
        """
        import keras

        from autofix_lstm.modeling.reading import layers_from_model, loss_from_model, optimizer_from_model

        if not isinstance(model, keras.Model):
            raise ModelSpecError(f"expected a compiled keras.Model; got {type(model).__name__}")
        try:
            model_section = {"layers": layers_from_model(model), "optimizer": optimizer_from_model(model),
                             "loss": loss_from_model(model)}
        except ModelSpecError as err:
            raise ModelSpecError([f"the model {p}" for p in err.problems]) from None
        given = {"path": path, "target": target, "window": window, "features": features, "horizon": horizon,
                 "task": task or _task_of_loss(model_section["loss"]), "validation_split": validation_split}
        raw: dict[str, Any] = {"data": {k: v for k, v in given.items() if v is not None}, "model": model_section}
        train = {k: v for k, v in {"epochs": epochs, "batch_size": batch_size, "seed": seed}.items() if v is not None}
        for section, values in (("train", train), ("preprocessing", preprocessing), ("search", search)):
            if values:
                raw[section] = dict(values)
        if output is not None:
            raw["output"] = output
        return _validate(raw, base_dir=Path.cwd(), source=None)

    def updated(self, changes: dict[str, Any]) -> Spec:
        """A new validated spec with dotted-path ``changes`` applied (``{"train.epochs": 5}``)."""
        raw = self.to_dict()
        for dotted, value in changes.items():
            _set_path(raw, dotted, value)
        return _validate(raw, base_dir=self._base_dir, source=self._source)


def _task_of_loss(loss: str) -> Task | None:
    """The task a classification loss implies (binary cross-entropy -> binary, categorical -> multiclass), else None."""
    name = loss.lower()
    if "binary" in name:
        return "binary"
    return "multiclass" if "categorical" in name else None


def _set_path(raw: dict, dotted: str, value: Any) -> None:
    node = raw
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


# Parts pydantic adds to an error's location to name a union member or a validator, not a field.
_UNION_TAG = re.compile(r"^(literal|list|dict|tuple|set|union|tagged-union|nullable|is-instance)\[.*\]$|^(str|int|float|bool|none)$")
_VALIDATOR_TAG = re.compile(r"^function-[a-z-]+(\[.*\])?$")
_TYPE_WORDS = {"str": "a string", "int": "a whole number", "float": "a number", "bool": "true or false", "none": "null"}


def _describe_tag(tag: str) -> str:
    """``literal['all']`` -> ``'all'``, ``list[str]`` -> ``a list of strings``,
    ``dict[int,float]`` -> ``a mapping of whole numbers to finite numbers``."""
    if tag.startswith("literal["):
        return tag[len("literal[") : -1].replace(",", " or ")
    if tag.startswith("list["):
        inner = _TYPE_WORDS.get(tag[len("list[") : -1])
        return f"a list of {inner.split(' ', 1)[1]}s" if inner and inner.startswith("a ") else "a list"
    if tag.startswith("dict["):
        # the spec's floats are always finite (allow_inf_nan=False), so say so for a mapping's values
        words = [_TYPE_WORDS.get(part.strip(), "") for part in tag[len("dict[") : -1].split(",")]
        if len(words) == 2 and all(w.startswith("a ") for w in words):
            keys, values = (w.split(" ", 1)[1] + "s" for w in words)
            return f"a mapping of {keys} to {'finite ' if values == 'numbers' else ''}{values}"
        return "a mapping"
    return _TYPE_WORDS.get(tag, tag)


def _split_location(loc: tuple) -> tuple[str, str | None]:
    """The dotted field path of ``loc`` and the union member it names, if any."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _VALIDATOR_TAG.match(str(part)) or part == "[key]":
            continue
        elif _UNION_TAG.match(str(part)):
            return out or "spec", str(part)
        else:
            out += ("." if out else "") + str(part)
    return out or "spec", None


def _format_location(loc: tuple) -> str:
    return _split_location(loc)[0]


def _format_problem(error: dict) -> str:
    """One line per problem (a validator's message may hold several lines, each naming its field)."""
    loc = _format_location(tuple(error["loc"]))
    kind = error["type"]
    ctx = error.get("ctx", {}) or {}
    received = error.get("input")
    got = f", got {received!r}"
    if kind == "extra_forbidden":
        return f"{loc} is not a known key; remove it or check its spelling"
    if kind == "missing":
        return f"{loc} is required"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        bound = next(iter(ctx.values()))
        return f"{loc} must be {op} {bound}{got}"
    if kind == "too_short":
        return f"{loc} must hold at least {ctx.get('min_length', 1)} item(s){got}"
    if kind == "literal_error":
        return f"{loc} must be {ctx.get('expected', 'one of the allowed values')}{got}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{loc} must be a whole number{got}"
    if kind == "finite_number":
        return f"{loc} must be a finite number{got}"
    if kind in ("float_parsing", "float_type"):
        return f"{loc} must be a number{got}"
    if kind in ("bool_parsing", "bool_type"):
        return f"{loc} must be true or false{got}"
    if kind in ("string_type",):
        return f"{loc} must be a string{got}"
    if kind in ("list_type",):
        return f"{loc} must be a list{got}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"{loc} must be a mapping of keys to values{got}"
    if kind == "value_error":
        message = str(ctx.get("error", error.get("msg", "")))
        lines = []
        for line in message.splitlines() or [""]:
            if line.startswith((".", "[")):  # names a field under loc
                lines.append(f"{loc}{line}" if loc != "spec" else line.lstrip("."))
            else:
                lines.append(f"{loc} {line}" if loc != "spec" else line)
        return "\n".join(lines)
    return f"{loc}: {error.get('msg', kind)}{got}"


def _format_errors(errors: list[dict]) -> list[str]:
    """Pydantic's errors as problem lines; a value that fits no member of a union gets ONE line."""
    lines: list[str] = []
    unions: dict[str, list] = {}  # field path -> [member descriptions, the value given]
    for error in errors:
        loc, member = _split_location(tuple(error["loc"]))
        if member is None:
            lines.extend(_format_problem(error).splitlines())
            continue
        if loc not in unions:
            unions[loc] = [[], error.get("input")]
            lines.append(loc)  # placeholder, filled in below, keeps the order
        described = _describe_tag(member)
        if described not in unions[loc][0]:
            unions[loc][0].append(described)
        if error["loc"][-1] == member:  # an error on the member itself carries the whole value given
            unions[loc][1] = error.get("input")
    out: list[str] = []
    for line in lines:
        if line in unions:
            members, given = unions.pop(line)
            line = f"{line} must be {' or '.join(members)}, got {given!r}"
        if line not in out:
            out.append(line)
    return out


def _validate(raw: Any, *, base_dir: Path, source: str | None, keras_checks: bool = True) -> Spec:
    if not isinstance(raw, dict):
        raise SpecError(f"the spec must be a mapping with keys data, model, ...; got {type(raw).__name__}", source)
    raw = copy.deepcopy(raw)
    for section in ("preprocessing", "train", "search"):
        if section in raw and raw[section] is None:  # `search:` with nothing under it means the defaults
            del raw[section]
    try:  # first without the checks that import TensorFlow, so a spec bad elsewhere is refused at once
        spec = Spec.model_validate(raw, context={_KERAS_CHECKS: False})
    except ValidationError as err:
        raise SpecError(_format_errors(err.errors()), source) from None
    model_path = (raw.get("model") or {}).get("path") if isinstance(raw.get("model"), dict) else None
    if keras_checks and model_path is not None and (raw["model"].get("layers") is None):
        # A saved Sequential is read into the same layer list the rest of the tool works with.
        from autofix_lstm.modeling.reading import read_layers_from_file

        path = Path(model_path).expanduser()
        path = path if path.is_absolute() else base_dir / path
        try:
            raw["model"]["layers"] = read_layers_from_file(path)
        except ModelSpecError as err:
            raise ModelSpecError([f"model.path {p}" for p in err.problems], source) from None
        raw["model"].pop("path")
    if keras_checks:
        try:
            spec = Spec.model_validate(raw)
        except ValidationError as err:
            raise SpecError(_format_errors(err.errors()), source) from None
    spec._base_dir = base_dir
    spec._source = source
    return spec


class DuplicateKeyError(yaml.YAMLError):
    """A YAML mapping gives the same key twice (PyYAML would silently keep the last one)."""

    def __init__(self, path: str, first_line: int, second_line: int):
        self.path, self.first_line, self.second_line = path, first_line, second_line
        where = f"on line {first_line}" if first_line == second_line else f"at lines {first_line} and {second_line}"
        super().__init__(f"{path} is given twice, {where}; YAML would silently keep only the second: remove one of them")


def _check_unique_keys(node: yaml.Node, loader: yaml.SafeLoader, path: str, seen_nodes: set[int]) -> None:
    """Raise ``DuplicateKeyError`` for the first key given twice in any mapping under ``node``."""
    if id(node) in seen_nodes:  # an alias to a node already checked (or a recursive one)
        return
    seen_nodes.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _check_unique_keys(item, loader, f"{path}[{index}]", seen_nodes)
    elif isinstance(node, yaml.MappingNode):
        lines: dict[Any, int] = {}  # key -> line it first appears on
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults`: keys given here override it, by design
                _check_unique_keys(value_node, loader, path, seen_nodes)
                continue
            key = loader.construct_object(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            name = f"{path}.{key}" if path else str(key)
            try:
                first = lines.get(key) if key is not None else None
            except TypeError:  # unhashable: the constructor refuses it with its own message
                first = None
            if first is not None:
                raise DuplicateKeyError(name, first, key_node.start_mark.line + 1)
            if key is not None:
                lines[key] = key_node.start_mark.line + 1
            _check_unique_keys(value_node, loader, name, seen_nodes)


def safe_load_unique(text: str) -> Any:
    """``yaml.safe_load``, but a key given twice in one mapping (at any depth) is refused.

    Raises:
        DuplicateKeyError: naming the key's path and both lines, e.g. ``data.window is given twice,
            at lines 3 and 5``.
        yaml.YAMLError: the text is not YAML.
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_unique_keys(node, loader, "", set())
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load_spec(spec: str | Path | dict | Spec, *, keras_checks: bool = True) -> Spec:
    """Read and validate a spec from a YAML file path, a dict or an existing ``Spec``.

    ``keras_checks=False`` leaves out the checks that import Keras (layer types and arguments, loss
    and optimizer names, reading ``model.path``): the result is good for reading the data and the
    output folder before TensorFlow loads (``preflight``), not for training.

    Raises:
        SpecError: the file is missing or malformed, or the spec breaks the schema; one line per problem.
    """
    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, dict):
        return _validate(spec, base_dir=Path.cwd(), source=None, keras_checks=keras_checks)
    path = Path(spec).expanduser()
    source = str(path)
    if not path.is_file():
        raise SpecError(f"spec file not found; expected a YAML file at {path.resolve()}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise SpecError(f"cannot read the spec file: {err}", source) from None
    try:
        raw = safe_load_unique(text)
    except DuplicateKeyError as err:
        raise SpecError(str(err), source) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise SpecError(f"malformed YAML{where}: {problem}; fix the syntax (indentation, colons, quotes)", source) from None
    if raw is None:
        raise SpecError("the spec file is empty; it needs at least 'data' and 'model'", source)
    if isinstance(raw, dict) and "output" not in raw:
        raw["output"] = f"runs/{path.stem}"
    return _validate(raw, base_dir=path.resolve().parent, source=source, keras_checks=keras_checks)
