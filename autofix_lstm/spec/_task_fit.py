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
    width is not read from the spec (a wrapper, a layer returning sequences, a saved model)."""
    for index in range(len(model.layers or []) - 1, -1, -1):
        layer = model.layers[index]
        kind = layer.type.lower()
        if kind in _PASS_THROUGH_LAYERS:
            continue
        units = layer.kwargs.get("units")
        if kind not in _SIZED_LAYERS or not isinstance(units, int) or layer.kwargs.get("return_sequences"):
            return None
        return OutputLayer(index, kind, units)
    return None
