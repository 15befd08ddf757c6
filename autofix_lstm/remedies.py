"""Remedy strategies: declarative files in ``strategies/`` and the code that applies their fields.

A strategy file (YAML) names the spec fields it changes, their candidate values or range, the
tasks it applies to, the diagnosis findings that make it a priority, and the seed values the
first trials try. The fields themselves are applied by the small functions in ``FIELDS``;
a strategy file may only name fields registered there.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from autofix_lstm.errors import SpecError
from autofix_lstm.model import RECURRENT_TYPES

BUILTIN_PACKAGE = "autofix_lstm.strategies"
TASKS = ("regression", "binary", "multiclass")
TASK_HEAD = {"regression": "linear", "binary": "sigmoid", "multiclass": "softmax"}
REGRESSION_LOSSES = ("mse", "mae", "huber", "mean_squared_error", "mean_absolute_error", "log_cosh", "logcosh")


class FieldSpace(BaseModel):
    """The candidates of one field: a list of ``values`` or a numeric ``range``."""

    model_config = ConfigDict(extra="forbid")

    values: list[Any] | None = None
    range: dict[str, Any] | None = None
    tasks: list[Literal["regression", "binary", "multiclass"]] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> FieldSpace:
        if (self.values is None) == (self.range is None):
            raise ValueError("give exactly one of 'values' (a list) or 'range' ({min, max, sampling})")
        if self.range is not None:
            unknown = set(self.range) - {"min", "max", "sampling"}
            if unknown or not {"min", "max"} <= set(self.range):
                raise ValueError(f"range needs min and max (and optional sampling: linear|log), got {self.range}")
            if self.range.get("sampling", "linear") not in ("linear", "log"):
                raise ValueError(f"range.sampling must be linear or log, got {self.range['sampling']!r}")
            if not float(self.range["min"]) < float(self.range["max"]):
                raise ValueError(f"range.min must be < range.max, got {self.range}")
        return self


class Strategy(BaseModel):
    """One remedy strategy, as declared in its file."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    tasks: list[Literal["regression", "binary", "multiclass"]] = Field(default_factory=lambda: list(TASKS))
    findings: list[str] = Field(default_factory=list)
    fields: dict[str, FieldSpace]
    seed: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_fields(self) -> Strategy:
        unknown = sorted(set(self.fields) - set(FIELDS))
        if unknown:
            raise ValueError(f"fields {unknown} are not known; known fields are {sorted(FIELDS)}")
        for key, values in self.seed.items():
            stray = sorted(set(values) - set(self.fields))
            if stray:
                raise ValueError(f"seed.{key} sets {stray}, which are not among this strategy's fields")
        return self

    def applies_to(self, task: str) -> bool:
        """True when the strategy is for ``task``."""
        return task in self.tasks


# --- fields: each reads the spec's own value and applies a new one to a raw spec dict ----------


def _layers(raw: dict) -> list[dict]:
    return raw["model"]["layers"]


def _recurrent_indices(raw: dict) -> list[int]:
    return [i for i, layer in enumerate(_layers(raw)) if layer["type"] in RECURRENT_TYPES]


def _head_index(raw: dict) -> int | None:
    for i in range(len(_layers(raw)) - 1, -1, -1):
        kind = _layers(raw)[i]["type"]
        if kind == "dense":
            return i
        if kind not in ("dropout", "layer_normalization", "batch_normalization"):
            return None
    return None


def _get_path(raw: dict, dotted: str):
    node = raw
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _set_path(raw: dict, dotted: str, value) -> None:
    node = raw
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _plain_field(dotted: str):
    def read(raw: dict, ctx: dict):
        return _get_path(raw, dotted)

    def write(raw: dict, value, ctx: dict) -> None:
        _set_path(raw, dotted, value)

    return read, write


def _read_depth(raw: dict, ctx: dict) -> int:
    return len(_recurrent_indices(raw))


def _write_depth(raw: dict, depth: int, ctx: dict) -> None:
    layers = _layers(raw)
    rec = _recurrent_indices(raw)
    if not rec or depth == len(rec):
        return
    depth = int(depth)
    if depth < len(rec):
        # Drop the deepest recurrent layers and the dropout layers that fed them.
        drop = set()
        for i in rec[depth:]:
            drop.add(i)
            j = i - 1
            while j >= 0 and layers[j]["type"] == "dropout":
                drop.add(j)
                j -= 1
        raw["model"]["layers"] = [layer for i, layer in enumerate(layers) if i not in drop]
    else:
        last = rec[-1]
        template = copy.deepcopy(layers[last])
        extra = []
        for _ in range(depth - len(rec)):
            clone = copy.deepcopy(template)
            clone["return_sequences"] = False
            extra.append(clone)
        layers[last]["return_sequences"] = True
        for clone in extra[:-1]:
            clone["return_sequences"] = True
        raw["model"]["layers"] = layers[: last + 1] + extra + layers[last + 1 :]
    rec = _recurrent_indices(raw)
    for n, i in enumerate(rec):
        _layers(raw)[i]["return_sequences"] = n < len(rec) - 1


def _read_units(raw: dict, ctx: dict) -> int | None:
    rec = _recurrent_indices(raw)
    return int(_layers(raw)[rec[0]].get("units")) if rec else None


def _write_units(raw: dict, units: int, ctx: dict) -> None:
    rec = _recurrent_indices(raw)
    if not rec:
        return
    first = int(_layers(raw)[rec[0]]["units"])
    for i in rec:
        # Keep the user's taper (e.g. 64 -> 32) while moving the width.
        _layers(raw)[i]["units"] = max(1, int(round(int(_layers(raw)[i]["units"]) * int(units) / first)))


def _read_dropout(raw: dict, ctx: dict) -> float:
    rates = [float(layer.get("rate", 0.0)) for layer in _layers(raw) if layer["type"] == "dropout"]
    rates += [float(_layers(raw)[i].get("dropout", 0.0)) for i in _recurrent_indices(raw)]
    return max(rates, default=0.0)


def _write_dropout(raw: dict, rate: float, ctx: dict) -> None:
    rate = float(rate)
    for layer in _layers(raw):
        if layer["type"] == "dropout":
            layer["rate"] = rate
        elif layer["type"] in RECURRENT_TYPES:
            layer["dropout"] = rate
    if rate == 0.0:
        raw["model"]["layers"] = [layer for layer in _layers(raw) if layer["type"] != "dropout"]


def _read_recurrent_dropout(raw: dict, ctx: dict) -> float:
    return max((float(_layers(raw)[i].get("recurrent_dropout", 0.0)) for i in _recurrent_indices(raw)), default=0.0)


def _write_recurrent_dropout(raw: dict, rate: float, ctx: dict) -> None:
    for i in _recurrent_indices(raw):
        _layers(raw)[i]["recurrent_dropout"] = float(rate)


def _read_cell(raw: dict, ctx: dict) -> str:
    rec = _recurrent_indices(raw)
    return str(_layers(raw)[rec[0]].get("activation", "tanh")) if rec else "tanh"


def _write_cell(raw: dict, activation: str, ctx: dict) -> None:
    for i in _recurrent_indices(raw):
        _layers(raw)[i]["activation"] = activation


def _read_head(raw: dict, ctx: dict) -> str:
    index = _head_index(raw)
    if index is None:
        return "none"
    activation = _layers(raw)[index].get("activation", "linear")
    return "linear" if activation is None else str(activation)


def _write_head(raw: dict, activation: str, ctx: dict) -> None:
    """Set the head's activation; for the task's own head also its units and a matching loss."""
    task = ctx["task"]
    fitting = activation == "task"
    if fitting:
        activation = TASK_HEAD[task]
    index = _head_index(raw)
    if index is None:
        raw["model"]["layers"].append({"type": "dense", "units": 1, "activation": activation})
        index = len(_layers(raw)) - 1
    head = _layers(raw)[index]
    _set_if_different(head, "activation", activation, default="linear")
    if not fitting:
        return
    loss = raw["model"].get("loss", "mse")
    if task == "regression":
        _set_if_different(head, "units", 1)
        if loss not in REGRESSION_LOSSES:
            raw["model"]["loss"] = "mse"
    elif task == "binary":
        _set_if_different(head, "units", 1)
        raw["model"]["loss"] = "binary_crossentropy"
    else:
        _set_if_different(head, "units", int(ctx["n_classes"]))
        if loss != "categorical_crossentropy":
            raw["model"]["loss"] = "sparse_categorical_crossentropy"


def _set_if_different(layer: dict, key: str, value, default=None) -> None:
    """Set ``layer[key]`` only when its effective value differs, so an unchanged spec stays identical."""
    current = layer.get(key, default)
    if (current if current is not None else default) != value:
        layer[key] = value


def _write_clipnorm(raw: dict, value, ctx: dict) -> None:
    """Clip by norm; Keras takes one kind of clipping, so a norm replaces the user's clipvalue."""
    raw["model"]["optimizer"]["clipnorm"] = value
    if value is not None:
        raw["model"]["optimizer"]["clipvalue"] = None


# field name -> (read the spec's own value, write a value)
FIELDS: dict[str, tuple[Callable, Callable]] = {
    "preprocessing.inputs": _plain_field("preprocessing.inputs"),
    "preprocessing.target": _plain_field("preprocessing.target"),
    "preprocessing.class_weight": _plain_field("preprocessing.class_weight"),
    "model.optimizer.clipnorm": (_plain_field("model.optimizer.clipnorm")[0], _write_clipnorm),
    "model.optimizer.learning_rate": _plain_field("model.optimizer.learning_rate"),
    "architecture.depth": (_read_depth, _write_depth),
    "architecture.units": (_read_units, _write_units),
    "dropout.rate": (_read_dropout, _write_dropout),
    "dropout.recurrent": (_read_recurrent_dropout, _write_recurrent_dropout),
    "activations.cell": (_read_cell, _write_cell),
    "activations.head": (_read_head, _write_head),
}

# Applied in this order so that structure (depth) changes before per-layer settings.
FIELD_ORDER = list(FIELDS)


def own_value(raw: dict, field: str, ctx: dict):
    """The spec's own value of ``field`` (what the user did)."""
    return FIELDS[field][0](raw, ctx)


def apply_values(raw: dict, values: dict[str, Any], ctx: dict) -> dict:
    """A copy of the raw spec dict with each field set to its value, skipping values equal to the spec's own.

    ``ctx`` carries the task and the number of classes (``{"task": ..., "n_classes": ...}``).
    """
    out = copy.deepcopy(raw)
    for field in sorted(values, key=FIELD_ORDER.index):
        value = values[field]
        if value == "task" and field == "activations.head":
            FIELDS[field][1](out, value, ctx)
            continue
        if value != own_value(out, field, ctx):
            FIELDS[field][1](out, value, ctx)
    return out


def _load_file(path_or_text: Path | str, origin: str) -> Strategy:
    try:
        raw = yaml.safe_load(path_or_text)
    except yaml.YAMLError as err:
        raise SpecError(f"strategy file {origin} is not valid YAML: {err}") from None
    try:
        return Strategy.model_validate(raw)
    except ValidationError as err:
        problems = [f"strategy file {origin}: {'.'.join(map(str, e['loc']))} {e['msg']}" for e in err.errors()]
        raise SpecError(problems) from None


def builtin_strategies() -> dict[str, Strategy]:
    """The strategies shipped with the package, by name."""
    out = {}
    for entry in sorted(resources.files(BUILTIN_PACKAGE).iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".yaml"):
            strategy = _load_file(entry.read_text(encoding="utf-8"), entry.name)
            out[strategy.name] = strategy
    return out


def get_strategy(name: str) -> Strategy:
    """A built-in strategy by name; fails naming the valid ones."""
    known = builtin_strategies()
    if name not in known:
        raise SpecError(f"search.strategies names unknown strategy {name!r}; expected one of {', '.join(known)} or a .yaml path")
    return known[name]


def resolve_strategies(selection: str | list[str], base_dir: Path) -> list[Strategy]:
    """The strategies ``search.strategies`` selects: ``all``, or a list of names and/or paths to files."""
    if selection == "all":
        return list(builtin_strategies().values())
    out = []
    for item in selection:
        if item.endswith((".yaml", ".yml")):
            path = Path(item).expanduser()
            path = path if path.is_absolute() else base_dir / path
            if not path.is_file():
                raise SpecError(f"search.strategies names {item!r}, but no file is at {path}")
            out.append(_load_file(path.read_text(encoding="utf-8"), str(path)))
        else:
            out.append(get_strategy(item))
    return out
