"""The head and the loss as search fields: which layer is the head, its activation, its width and the loss.

``activations.head`` and ``model.loss`` (``remedies.fields``) read and write a spec dict through
these. The head is the last Dense layer (pass-through layers such as dropout behind it skipped), or
an encoder-decoder's TimeDistributed Dense (one output per forecast step); a regression head has one
unit per target value (a multi-step forecast's steps, several targets' columns: ``ctx["n_outputs"]``).
"""

from __future__ import annotations

import copy

from autofix_lstm.modeling.build import PASS_THROUGH_TYPES, encoder_end
from autofix_lstm.remedies.descriptions import TASK_HEAD

REGRESSION_LOSSES = ("mse", "mae", "huber", "mean_squared_error", "mean_absolute_error", "log_cosh", "logcosh")


def layers_of(raw: dict) -> list[dict]:
    """The spec dict's layer list (edits land in the dict)."""
    return raw["model"]["layers"]


def _head_index(raw: dict) -> int | None:
    for i in range(len(layers_of(raw)) - 1, -1, -1):
        kind = layers_of(raw)[i]["type"]
        if kind == "dense" or _per_step_dense(layers_of(raw)[i]):
            return i
        if kind not in PASS_THROUGH_TYPES:
            return None
    return None


def _per_step_dense(layer: dict) -> bool:
    """True for a TimeDistributed Dense: an encoder-decoder's head, one output per step."""
    inner = layer.get("layer")
    return layer.get("type") == "time_distributed" and isinstance(inner, dict) and inner.get("type") == "dense"


def _head(raw: dict, index: int) -> dict:
    """The dict holding the head's units and activation (a TimeDistributed head's wrapped Dense)."""
    layer = layers_of(raw)[index]
    return layer["layer"] if _per_step_dense(layer) else layer


def _set_regression_width(raw: dict, index: int, ctx: dict) -> None:
    """A regression head's width: one unit per target value; an encoder-decoder's per-step head one unit,
    and its ``repeat_vector`` one repeat per step."""
    if not _per_step_dense(layers_of(raw)[index]):
        set_if_different(layers_of(raw)[index], "units", _regression_units(ctx))
        return
    set_if_different(_head(raw, index), "units", 1)
    end = encoder_end(layers_of(raw))
    if end is not None:
        set_if_different(layers_of(raw)[end], "n", _regression_units(ctx))


def read_head(raw: dict, ctx: dict) -> str:
    """The head's activation (``linear`` when none is given; ``none`` when the model has no head)."""
    index = _head_index(raw)
    if index is None:
        return "none"
    activation = _head(raw, index).get("activation", "linear")
    return "linear" if activation is None else str(activation)


def write_head(raw: dict, activation: str, ctx: dict) -> None:
    """Set the head's activation; for the task's own head also its units and a matching loss."""
    task = ctx["task"]
    fitting = activation == "task"
    if fitting:
        activation = TASK_HEAD[task]
    index = _head_index(raw)
    if index is None:
        units = _regression_units(ctx) if task == "regression" else 1
        raw["model"]["layers"].append({"type": "dense", "units": units, "activation": activation})
        index = len(layers_of(raw)) - 1
    head = _head(raw, index)
    set_if_different(head, "activation", activation, default="linear")
    if not fitting:
        return
    loss = raw["model"].get("loss", "mse")
    if task == "regression":
        _set_regression_width(raw, index, ctx)
        if loss not in REGRESSION_LOSSES:
            raw["model"]["loss"] = "mse"
    elif task == "binary":
        set_if_different(head, "units", 1)
        raw["model"]["loss"] = "binary_crossentropy"
    else:
        set_if_different(head, "units", int(ctx["n_classes"]))
        if loss != "categorical_crossentropy":
            raw["model"]["loss"] = "sparse_categorical_crossentropy"


def read_loss(raw: dict, ctx: dict) -> str:
    """The spec's loss (``mse`` when none is given)."""
    return str(raw["model"].get("loss", "mse"))


def write_loss(raw: dict, loss: str, ctx: dict) -> None:
    """A loss that fits the task, with a head of the width it needs. A classifier gets the task's head and
    loss (``activations.head: task``: the activation comes with the loss). A regression gets one output
    unit per target value (a Dense head added after a recurrent last layer) and ``loss`` (``task``: mse unless its loss
    is already a regression one); its head's activation is left to ``activations.head``."""
    if ctx["task"] != "regression":
        write_head(raw, "task", ctx)
        return
    index = _head_index(raw)
    if index is None:
        raw["model"]["layers"].append({"type": "dense", "units": _regression_units(ctx), "activation": "linear"})
    else:
        _set_regression_width(raw, index, ctx)
    current = raw["model"].get("loss", "mse")
    if loss != "task":
        raw["model"]["loss"] = loss
    elif current not in REGRESSION_LOSSES:
        raw["model"]["loss"] = "mse"


def _regression_units(ctx: dict) -> int:
    """A regression head's width: one unit per value a sample's target holds (a forecast's steps)."""
    return int(ctx.get("n_outputs", 1))


def loss_or_head_unfit(raw: dict, ctx: dict) -> bool:
    """True when the task's own loss (``model.loss: task``) would change the spec: its loss or its head's
    width does not fit the target (a regression head's activation is ``activations.head``'s to fix)."""
    fitted = copy.deepcopy(raw)
    write_loss(fitted, "task", ctx)
    return fitted["model"] != raw["model"]


def set_if_different(layer: dict, key: str, value, default=None) -> None:
    """Set ``layer[key]`` only when its effective value differs, so an unchanged spec stays identical."""
    current = layer.get(key, default)
    if (current if current is not None else default) != value:
        layer[key] = value
