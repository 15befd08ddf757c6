"""Whether a model can learn a regression target at all: what no training can fix, found before any runs."""

from __future__ import annotations

import re

from autofix_lstm.spec._sections import ModelSpec

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
