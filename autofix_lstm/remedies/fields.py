"""The searchable spec fields: one ``Field`` object each, registered in ``FIELDS``.

A field reads the spec's own value (what the user did) and writes a new one into a raw spec dict.
It also says which candidate values can apply to the data (``allowed``), whether it needs a
recurrent layer to act on, which values are applied even when they read as the spec's own
(``activations.head: task`` also fixes the head's units and loss), and how a change of it reads in
the verdict (``describe``: ``scale the target (standard)``). Adding a searchable field means adding
one ``Field`` here; a strategy file may then name it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autofix_lstm.data.window_length import fits as window_fits
from autofix_lstm.data.window_length import refusal as window_refusal
from autofix_lstm.errors import SpecError
from autofix_lstm.format import setting
from autofix_lstm.modeling.build import encoder_end, hidden_dense_indices, recurrent_config
from autofix_lstm.modeling.initializers import custom_initializers, reset_initializers
from autofix_lstm.modeling.regularizers import largest_factor, set_factor
from autofix_lstm.modeling.stateful import set_stateful, stateful_indices
from autofix_lstm.modeling.steps import FEW_EPOCHS, few_steps
from autofix_lstm.remedies.descriptions import (
    describe_batch_size,
    describe_cell,
    describe_class_weight,
    describe_clipnorm,
    describe_depth,
    describe_dropout,
    describe_epochs,
    describe_head,
    describe_hidden_dense,
    describe_initializers,
    describe_inputs,
    describe_learning_rate,
    describe_loss,
    describe_optimizer,
    describe_recurrent_dropout,
    describe_regularization,
    describe_stateful,
    describe_target,
    describe_units,
    describe_window,
)
from autofix_lstm.remedies.head_fields import layers_of as _layers
from autofix_lstm.remedies.head_fields import (
    loss_or_head_unfit,
    read_head,
    read_loss,
    write_head,
    write_loss,
)
from autofix_lstm.spec import MOMENTUM_OPTIMIZERS, Spec


def _recurrent_indices(raw: dict) -> list[int]:
    """Indices of the recurrent layers, wrapped ones (a bidirectional lstm) included."""
    return [i for i, layer in enumerate(_layers(raw)) if recurrent_config(layer) is not None]


def _cell(raw: dict, index: int) -> dict:
    """The settings of the recurrent layer at ``index`` (inside its wrapper, if any); edits land in ``raw``."""
    return recurrent_config(_layers(raw)[index])


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
    return len(_depth_stack(raw))


def _depth_stack(raw: dict) -> list[int]:
    """The recurrent layers depth acts on: an encoder-decoder's encoder (before its ``repeat_vector``,
    whose decoder stays as the user built it), else every one."""
    end = encoder_end(_layers(raw))
    return [i for i in _recurrent_indices(raw) if end is None or i < end]


def _write_depth(raw: dict, depth: int, ctx: dict) -> None:
    """Drop the deepest recurrent layers, or add copies of the last one (a bidirectional lstm stays one).

    Every recurrent layer but the last returns sequences; the last keeps what the user's last one
    returned, so a flatten or pooling layer behind it still gets its sequence. In an encoder-decoder
    this is the encoder's depth (``_depth_stack``).
    """
    layers = _layers(raw)
    rec = _depth_stack(raw)
    if not rec or depth == len(rec):
        return
    depth = int(depth)
    last_returns = bool(_cell(raw, rec[-1]).get("return_sequences", False))
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
        extra = [copy.deepcopy(layers[last]) for _ in range(depth - len(rec))]
        raw["model"]["layers"] = layers[: last + 1] + extra + layers[last + 1 :]
    rec = _depth_stack(raw)
    for n, i in enumerate(rec):
        _cell(raw, i)["return_sequences"] = True if n < len(rec) - 1 else last_returns


def _read_units(raw: dict, ctx: dict) -> int | None:
    rec = _recurrent_indices(raw)
    return int(_cell(raw, rec[0]).get("units")) if rec else None


def _write_units(raw: dict, units: int, ctx: dict) -> None:
    rec = _recurrent_indices(raw)
    if not rec:
        return
    first = int(_cell(raw, rec[0])["units"])
    for i in rec:
        # Keep the user's taper (e.g. 64 -> 32) while moving the width.
        _cell(raw, i)["units"] = max(1, int(round(int(_cell(raw, i)["units"]) * int(units) / first)))


# The activation of a hidden Dense layer the search adds before the head (none of the user's to keep).
HIDDEN_DENSE_ACTIVATION = "relu"


def _read_hidden_dense(raw: dict, ctx: dict) -> int:
    """The width of the narrowest hidden Dense layer before the head; 0 when the spec has none."""
    hidden = hidden_dense_indices(_layers(raw))
    return min(int(_layers(raw)[i].get("units", 1)) for i in hidden) if hidden else 0


def _write_hidden_dense(raw: dict, units: int, ctx: dict) -> None:
    """Give every hidden Dense layer before the head ``units`` units; 0 removes them (the recurrent stack
    then feeds the head directly). A spec without such layers is left as it is."""
    hidden = set(hidden_dense_indices(_layers(raw)))
    if not hidden:
        return
    units = int(units)
    if units == 0:
        raw["model"]["layers"] = [layer for i, layer in enumerate(_layers(raw)) if i not in hidden]
        return
    for i in hidden:
        _layers(raw)[i]["units"] = units


def _read_regularization(raw: dict, ctx: dict) -> float:
    return largest_factor(_layers(raw))


def _write_regularization(raw: dict, factor: float, ctx: dict) -> None:
    set_factor(_layers(raw), float(factor))


def _read_initializers(raw: dict, ctx: dict) -> str:
    """``custom`` when a layer sets its own weight initializer, else ``default`` (Keras')."""
    return "custom" if custom_initializers(_layers(raw)) else "default"


def _write_initializers(raw: dict, kind: str, ctx: dict) -> None:
    """``default`` removes every initializer setting (Keras' own come back); ``custom`` keeps the spec's."""
    if kind == "default":
        reset_initializers(_layers(raw))


def _read_dropout(raw: dict, ctx: dict) -> float:
    rates = [float(layer.get("rate", 0.0)) for layer in _layers(raw) if layer["type"] == "dropout"]
    rates += [float(_cell(raw, i).get("dropout", 0.0)) for i in _recurrent_indices(raw)]
    return max(rates, default=0.0)


def _write_dropout(raw: dict, rate: float, ctx: dict) -> None:
    rate = float(rate)
    for layer in _layers(raw):
        if layer["type"] == "dropout":
            layer["rate"] = rate
        elif recurrent_config(layer) is not None:
            recurrent_config(layer)["dropout"] = rate
    if rate == 0.0:
        raw["model"]["layers"] = [layer for layer in _layers(raw) if layer["type"] != "dropout"]


def _read_recurrent_dropout(raw: dict, ctx: dict) -> float:
    return max((float(_cell(raw, i).get("recurrent_dropout", 0.0)) for i in _recurrent_indices(raw)), default=0.0)


def _write_recurrent_dropout(raw: dict, rate: float, ctx: dict) -> None:
    for i in _recurrent_indices(raw):
        _cell(raw, i)["recurrent_dropout"] = float(rate)


def _read_cell(raw: dict, ctx: dict) -> str:
    rec = _recurrent_indices(raw)
    return str(_cell(raw, rec[0]).get("activation", "tanh")) if rec else "tanh"


def _write_cell(raw: dict, activation: str, ctx: dict) -> None:
    for i in _recurrent_indices(raw):
        _cell(raw, i)["activation"] = activation


def _write_clipnorm(raw: dict, value, ctx: dict) -> None:
    """Clip by norm; Keras takes one kind of clipping, so a norm replaces the user's clipvalue."""
    raw["model"]["optimizer"]["clipnorm"] = value
    if value is not None:
        raw["model"]["optimizer"]["clipvalue"] = None


# The optimizers the search may switch to; ``sgd_momentum`` is SGD with momentum 0.9, the form of
# SGD that trains an LSTM in reasonable time (plain SGD is one of the slow optimizers it replaces).
SGD_MOMENTUM = 0.9


def _read_optimizer(raw: dict, ctx: dict) -> str:
    optimizer = raw["model"]["optimizer"]
    name = optimizer.get("name", "adam")
    if name == "sgd" and (optimizer.get("momentum") or 0.0) > 0:
        return "sgd_momentum"
    return name


def _write_optimizer(raw: dict, name: str, ctx: dict) -> None:
    """Switch the optimizer, keeping its learning rate and clipping (the learning-rate field moves the rate)."""
    optimizer = raw["model"]["optimizer"]
    if name == "sgd_momentum":
        optimizer["name"], optimizer["momentum"] = "sgd", SGD_MOMENTUM
        return
    optimizer["name"] = name
    if name not in MOMENTUM_OPTIMIZERS:
        optimizer.pop("momentum", None)


def _target_allowed(value: Any, dataset) -> bool:
    if value == "difference" and dataset.target_columns is None:
        return False  # the last observed target value (each target's, for several) must be among the inputs
    return not (value == "log" and float(np.min(dataset.y_train)) <= -1)


def _window_allowed(value: Any, dataset) -> bool:
    """The windows the samples can take (``data.window_length``); windowed arrays refuse the field.

    A value that is no window length at all (``0``, ``lol``) passes, for the spec's own check to
    refuse it, saying what a window must be.

    Raises:
        SpecError: the data are windowed arrays, which have no rows to cut other windows from.
    """
    if dataset.rows is None:
        raise SpecError(f"data.window cannot be searched: {window_refusal(dataset, 1)}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 1:
        return True
    return window_fits(dataset, int(value))


def _always(value: Any, dataset) -> bool:
    return True


@dataclass(frozen=True)
class Field:
    """One searchable spec field.

    Attributes:
        name: the hyperparameter's name, as strategy files spell it (``preprocessing.target``).
        read: ``(raw_spec, ctx) -> value``: the spec's own value.
        write: ``(raw_spec, value, ctx) -> None``: apply a value in place.
        allowed: ``(value, dataset) -> bool``: whether a candidate can apply to this data.
        needs_recurrent: the field acts on the recurrent layers; skipped for a model without one.
        optional: the field acts on settings a spec may not have (the hidden Dense layers before the
            head, the L1/L2 penalties); without them its other values change nothing, so the search
            leaves it out.
        forced: values applied even when they read as the spec's own value.
        describe: ``(old, new, task) -> text``: the change in words, for the verdict
            (``scale the target (standard)``); None reads ``set <name> to <new>``.
    """

    name: str
    read: Callable[[dict, dict], Any]
    write: Callable[[dict, Any, dict], None]
    allowed: Callable[[Any, Any], bool] = _always
    needs_recurrent: bool = False
    optional: bool = False
    forced: frozenset = field(default_factory=frozenset)
    describe: Callable[[Any, Any, str], str] | None = None

    def own(self, raw: dict, ctx: dict) -> Any:
        """The spec's own value."""
        return self.read(raw, ctx)

    def apply(self, raw: dict, value: Any, ctx: dict) -> None:
        """Set ``value`` in ``raw`` (in place), unless it is already the spec's own."""
        if (isinstance(value, str) and value in self.forced) or value != self.read(raw, ctx):
            self.write(raw, value, ctx)

    def description(self, old: Any, new: Any, task: str) -> str:
        """The change from ``old`` to ``new`` in words, for a spec of ``task``: ``scale the target (standard)``."""
        if self.describe is None:
            return f"set {self.name} to {setting(new)}"
        return self.describe(old, new, task)


def _write_stateful(raw: dict, value: Any, ctx: dict) -> None:
    set_stateful(_layers(raw), bool(value))
    if not value:  # the spec refuses train.reset_states on stateless layers: it would do nothing there
        (raw.get("train") or {}).pop("reset_states", None)


def _plain(dotted: str, **options) -> Field:
    read, write = _plain_field(dotted)
    return Field(dotted, read, write, **options)


# Applied in this order, so that structure (depth) changes before per-layer settings.
FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        _plain("preprocessing.inputs", describe=describe_inputs),
        _plain("preprocessing.target", allowed=_target_allowed, describe=describe_target),
        _plain("preprocessing.class_weight", describe=describe_class_weight),
        Field("model.optimizer.clipnorm", _plain_field("model.optimizer.clipnorm")[0], _write_clipnorm,
              describe=describe_clipnorm),
        Field("model.optimizer.name", _read_optimizer, _write_optimizer, describe=describe_optimizer),
        _plain("model.optimizer.learning_rate", describe=describe_learning_rate),
        Field("architecture.depth", _read_depth, _write_depth, allowed=lambda v, ds: int(v) >= 1, needs_recurrent=True,
              describe=describe_depth),
        Field("architecture.units", _read_units, _write_units, needs_recurrent=True, describe=describe_units),
        Field("architecture.stateful", lambda raw, ctx: bool(stateful_indices(_layers(raw))), _write_stateful,
              optional=True, describe=describe_stateful),
        Field("architecture.hidden_dense_units", _read_hidden_dense, _write_hidden_dense,
              allowed=lambda v, ds: int(v) >= 0, optional=True, describe=describe_hidden_dense),
        Field("regularization.factor", _read_regularization, _write_regularization, optional=True,
              describe=describe_regularization),
        Field("initializers.kind", _read_initializers, _write_initializers, optional=True,
              allowed=lambda v, ds: v in ("default", "custom"), describe=describe_initializers),
        Field("dropout.rate", _read_dropout, _write_dropout, describe=describe_dropout),
        Field("dropout.recurrent", _read_recurrent_dropout, _write_recurrent_dropout,
              describe=describe_recurrent_dropout),
        Field("activations.cell", _read_cell, _write_cell, needs_recurrent=True, describe=describe_cell),
        Field("activations.head", read_head, write_head, forced=frozenset({"task"}), describe=describe_head),
        Field("model.loss", read_loss, write_loss, allowed=lambda v, ds: v == "task" or ds.task == "regression",
              forced=frozenset({"task"}), describe=describe_loss),
        # the training strategy searches these when the steps are few; a user's may anyway (a batch of 1 or of
        # 450, one epoch, are common)
        # (``allowed`` leaves out what this data rules out; the spec's own bounds refuse the rest, 0 epochs say)
        _plain("train.batch_size", allowed=lambda v, ds: int(v) <= len(ds.y_train), describe=describe_batch_size),
        _plain("train.epochs", describe=describe_epochs),
        # a user's strategy only (none built in): every window length is scored on the spec's own validation
        # targets, and a trial trains on windows of its own length (``data.window_length``)
        _plain("data.window", allowed=_window_allowed, describe=describe_window),
    )
}


def _few_steps(raw: dict, ctx: dict) -> bool:
    train = raw.get("train") or {}
    return few_steps(int(ctx["n_train"]), int(train.get("batch_size", 32)), int(train.get("epochs", 20)))


# A strategy file's ``when:`` for a field: the field is searched only for a spec (and data) where this
# holds. ``ctx`` as for ``apply_values``, with ``n_train`` (the training windows) besides.
CONDITIONS: dict[str, Callable[[dict, dict], bool]] = {
    "loss_or_head_unfit": loss_or_head_unfit,  # the spec's loss or head does not fit its target
    "few_steps": _few_steps,  # the whole training takes few optimizer steps (``modeling.steps``)
    "single_epoch": lambda raw, ctx: int((raw.get("train") or {}).get("epochs", 20)) < FEW_EPOCHS,  # one pass
    "regularized": lambda raw, ctx: largest_factor(_layers(raw)) > 0,  # a layer has an L1/L2 penalty
    "custom_initializers": lambda raw, ctx: bool(custom_initializers(_layers(raw))),  # a layer sets its own init
    "stateful": lambda raw, ctx: bool(stateful_indices(_layers(raw))),  # a recurrent layer is stateful
}


def own_value(raw: dict, name: str, ctx: dict) -> Any:
    """The spec's own value of field ``name`` (what the user did)."""
    return FIELDS[name].own(raw, ctx)


def apply_values(raw: dict, values: dict[str, Any], ctx: dict) -> dict:
    """A copy of the raw spec dict with each field set to its value (values equal to the spec's own are skipped).

    ``ctx`` carries the task and the number of classes (``{"task": ..., "n_classes": ...}``).
    """
    out = copy.deepcopy(raw)
    order = list(FIELDS)
    for name in sorted(values, key=order.index):
        FIELDS[name].apply(out, values[name], ctx)
    return out


# Every section a field may change; of data only its window (``SEARCHABLE_DATA``); search and output stay the user's.
SEARCHABLE_SECTIONS = ("model", "preprocessing", "train")
SEARCHABLE_DATA = ("window",)


def searched_parts(raw: dict) -> dict[str, Any]:
    """What a search may have changed in a raw spec dict, as ``Spec.updated`` takes it: the searchable
    sections whole, and ``data.window``."""
    data = raw.get("data") or {}
    return {**{section: raw[section] for section in SEARCHABLE_SECTIONS if section in raw},
            **{f"data.{name}": data.get(name) for name in SEARCHABLE_DATA}}


def spec_with_values(spec: Spec, values: dict[str, Any], ctx: dict) -> Spec:
    """``spec`` with each field set to its (decoded) value, validated: the one place a candidate is built.

    ``ctx`` as for ``apply_values``. Only the searchable parts change (``searched_parts``).
    """
    return spec.updated(searched_parts(apply_values(spec.to_dict(), values, ctx)))
