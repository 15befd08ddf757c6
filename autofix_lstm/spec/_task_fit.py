"""What in a model does not fit a regression target: a loss for class labels, an output wider than one value.

Neither is refused: both are the user's mistake, which the diagnosis names (``loss_target_mismatch``,
``head_width_mismatch``) and the search fixes by changing the loss and the head. Read from the spec
alone, so no TensorFlow import is needed.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from autofix_lstm.spec._sections import ModelSpec

# Losses that score class labels (or +-1 margins): on a real-valued target they cannot learn it.
CLASS_LABEL_LOSSES = frozenset({
    "binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy",
    "categorical_focal_crossentropy", "sparse_categorical_crossentropy", "hinge", "squared_hinge", "categorical_hinge",
})
_PASS_THROUGH_LAYERS = ("dropout", "layer_normalization", "batch_normalization")  # keep their input's width
_SIZED_LAYERS = ("dense", "lstm", "gru", "simple_rnn")  # output `units` values per sample


def loss_function_name(loss: str) -> str:
    """A Keras loss identifier as its function's name: ``BinaryCrossentropy`` and ``bce`` -> ``binary_crossentropy``.

    Spelled out rather than asked of Keras, so this check needs no TensorFlow import; Keras' own
    identifiers for these losses are exactly the snake_case and CamelCase names, and ``bce``/``BCE``.
    """
    name = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", loss.strip()).lower()
    return {"bce": "binary_crossentropy"}.get(name, name)


def is_class_label_loss(loss: str) -> bool:
    """True for a loss that scores class labels or margins (cross-entropies, hinges): ``CLASS_LABEL_LOSSES``."""
    return loss_function_name(loss) in CLASS_LABEL_LOSSES


class OutputLayer(NamedTuple):
    """The layer whose units are the model's outputs: its index in ``model.layers``, type and width."""

    index: int
    kind: str
    units: int


def output_layer(model: ModelSpec) -> OutputLayer | None:
    """The last layer that sets the model's output width (pass-through layers skipped); None when the
    width is not read from the spec (a wrapper, a layer returning sequences, a saved model).

    An encoder-decoder's TimeDistributed Dense outputs its units at each of the ``repeat_vector``'s
    steps: its width is their product.
    """
    for index in range(len(model.layers or []) - 1, -1, -1):
        layer = model.layers[index]
        kind = layer.type.lower()
        if kind in _PASS_THROUGH_LAYERS:
            continue
        if kind == "time_distributed":
            return _per_step_output(model, index)
        units = layer.kwargs.get("units")
        if kind not in _SIZED_LAYERS or not isinstance(units, int) or layer.kwargs.get("return_sequences"):
            return None
        return OutputLayer(index, kind, units)
    return None


def _per_step_output(model: ModelSpec, index: int) -> OutputLayer | None:
    """A TimeDistributed Dense head after a ``repeat_vector``: units x repeats values per sample."""
    inner = model.layers[index].kwargs.get("layer")
    repeats = [layer.kwargs.get("n") for layer in model.layers[:index] if layer.type.lower() == "repeat_vector"]
    if not isinstance(inner, dict) or inner.get("type") != "dense" or len(repeats) != 1:
        return None
    units, n = inner.get("units"), repeats[0]
    if not isinstance(units, int) or not isinstance(n, int):
        return None
    return OutputLayer(index, "time_distributed dense", units * n)
