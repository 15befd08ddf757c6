"""What a model does on a batch of windows: each layer's output, its dead units, the head's spread, and
the loss gradient at each timestep of the window."""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np

from autofix_lstm.modeling.stateful import batched, fresh_states, predict_in_batches, static_batch_size
from autofix_lstm.modeling.train import Prepared

# A unit whose output varies less than this across samples (and timesteps) carries no information.
DEAD_UNIT_STD = 1e-3


def finite_or_none(value: float) -> float | None:
    """``value`` as a float, or None for NaN and inf (the record is JSON, which has neither)."""
    return float(value) if math.isfinite(value) else None


def _inference(model: keras.Model, x: np.ndarray):
    """``model(x)`` in inference mode; a stateful model's a static batch at a time, its states kept (``modeling.stateful``)."""
    return model(x, training=False) if static_batch_size(model) is None else predict_in_batches(model, x)


def single_input(model: keras.Model):
    """A one-input model's input tensor itself, not a list of one: a model built on a list expects a list,
    and Keras warns ("the structure of `inputs` doesn't match") when it is called with the array alone."""
    return model.inputs[0] if len(model.inputs) == 1 else model.inputs


def layer_extractor(core: keras.Model) -> keras.Model:
    """A model sharing ``core``'s weights that returns every layer's output."""
    return keras.Model(single_input(core), [layer.output for layer in core.layers])


def layer_inputs_and_outputs(extractor: keras.Model, x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(input, output) of every layer on ``x``, in inference mode."""
    outputs = _inference(extractor, x.astype(np.float32))
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    outputs = [np.asarray(keras.ops.convert_to_numpy(o), dtype=np.float64) for o in outputs]
    inputs = [np.asarray(x, dtype=np.float64), *outputs[:-1]]
    return list(zip(inputs, outputs))


# Hidden layers whose units can die (the same output for every sample); a Bidirectional's units are
# its two directions' outputs side by side.
_UNIT_LAYERS = (keras.layers.RNN, keras.layers.Bidirectional, keras.layers.Dense, keras.layers.Conv1D)


def measure_units(core: keras.Model, names: list[str], pairs) -> dict[str, dict[str, Any]]:
    """Per hidden layer (recurrent, bidirectional, dense or conv1d; not the head): units, dead units
    and their fraction.

    A unit is dead when its output's std across samples (and timesteps) is below ``DEAD_UNIT_STD``.
    """
    out = {}
    last = len(core.layers) - 1
    for index, (layer, (_, output)) in enumerate(zip(core.layers, pairs)):
        if index == last or not isinstance(layer, _UNIT_LAYERS):
            continue
        flat = output.reshape(-1, output.shape[-1])
        with np.errstate(invalid="ignore"):
            spread = np.std(flat, axis=0)
        dead = ~(spread >= DEAD_UNIT_STD)  # NaN spreads count as dead
        inner = layer.forward_layer if isinstance(layer, keras.layers.Bidirectional) else layer
        activation = getattr(getattr(inner, "cell", inner), "activation", None)
        out[names[index]] = {
            "units": int(flat.shape[1]),
            "dead": int(dead.sum()),
            "fraction": float(dead.mean()),
            "activation": getattr(activation, "__name__", str(activation)),
            "mean_abs_output": finite_or_none(float(np.mean(np.abs(flat)))),
        }
    return out


def mean_unit_spread(values: np.ndarray) -> float | None:
    """Std across samples of each output unit, averaged over the units (None when not finite)."""
    values = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    with np.errstate(all="ignore"):
        return finite_or_none(float(np.mean(np.std(values, axis=0))))


def target_spread(prepared: Prepared, index: np.ndarray, head_width: int) -> float | None:
    """The spread the head should show on the validation windows ``index``: model-space targets
    (regression) or the labels (one unit: the label itself; K units: one-hot), measured like
    ``mean_unit_spread``. Falls back to the training targets when those windows' targets do not vary."""

    def spread(y_model, labels):
        if prepared.dataset.task == "regression":
            return mean_unit_spread(y_model)
        labels = np.asarray(labels).astype(int)
        return mean_unit_spread(labels if head_width == 1 else np.eye(head_width)[np.clip(labels, 0, head_width - 1)])

    own = spread(np.asarray(prepared.y_val)[index], np.asarray(prepared.dataset.y_val)[index])
    if own:
        return own
    return spread(prepared.y_train, prepared.dataset.y_train) or None


def head_output(core: keras.Model, x: np.ndarray) -> np.ndarray:
    """The head's model-space outputs on ``x``, in inference mode."""
    return np.asarray(keras.ops.convert_to_numpy(_inference(core, x)), dtype=np.float64)


def temporal_gradient(core: keras.Model, x: np.ndarray, y: np.ndarray) -> list[float | None]:
    """Mean over windows of ``||d loss / d x_t||`` at each timestep, oldest first, over the largest.

    Empty when the loss or its gradient is not finite (nothing to compare).
    """
    import tensorflow as tf

    def input_gradient(x_part: np.ndarray, y_part: np.ndarray) -> np.ndarray:
        inputs = tf.convert_to_tensor(x_part.astype(np.float32))
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            loss = core.compute_loss(x=inputs, y=y_part, y_pred=core(inputs, training=False), training=False)
        grad = tape.gradient(loss, inputs)
        return np.full(inputs.shape, np.nan) if grad is None else np.asarray(grad, dtype=np.float64)

    static = static_batch_size(core)
    if static is None:
        grad = input_gradient(x, y)
    else:  # each chunk's gradient is scaled by 1/static, the same for every window: the ratios are unchanged
        with fresh_states(core):
            grad = batched(input_gradient, static, x, np.asarray(y))
    with np.errstate(all="ignore"):
        per_step = np.mean(np.sqrt(np.sum(grad**2, axis=2)), axis=0)
    largest = float(np.max(per_step)) if per_step.size else 0.0
    if not np.all(np.isfinite(per_step)) or largest <= 0:
        return []
    return [float(v) for v in per_step / largest]


def output_stats(pairs) -> dict[str, float | None]:
    """Mean and std of the head's model-space outputs (all units together)."""
    with np.errstate(all="ignore"):
        head = pairs[-1][1]
        return {"mean": finite_or_none(float(np.mean(head))), "std": finite_or_none(float(np.std(head)))}
