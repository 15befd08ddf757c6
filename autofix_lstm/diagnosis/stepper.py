"""The brief training's compiled steps (loss, per-layer gradient norms, update ratios) and its evaluation
of the validation windows, ``EVAL_CHUNK`` at a time."""

from __future__ import annotations

import keras
import numpy as np

from autofix_lstm.modeling.stateful import predict_in_batches, static_batch_size
from autofix_lstm.modeling.train import Prepared
from autofix_lstm.scoring.metrics import class_probabilities

# Windows evaluated at a time (validation loss, predictions), as ``evaluate.predict_original`` does.
EVAL_CHUNK = 1024


def layer_groups(core: keras.Model, names: list[str]) -> dict[str, list[int]]:
    """layer name -> indices of its weights in ``core.trainable_variables``."""
    position = {id(v): i for i, v in enumerate(core.trainable_variables)}
    groups = {}
    for name, layer in zip(names, core.layers):
        indices = [position[id(v)] for v in layer.trainable_weights if id(v) in position]
        if indices:
            groups[name] = indices
    return groups


class Stepper:
    """The compiled train/eval steps of one model: loss, per-layer gradient norms, update ratios."""

    def __init__(self, core: keras.Model, groups: dict[str, list[int]], x_spec, y_spec):
        import tensorflow as tf

        self.core = core
        variables = core.trainable_variables
        group_indices = list(groups.values())
        kernel_groups = [[i for i in g if len(variables[i].shape) >= 2] for g in group_indices]
        optimizer = core.optimizer
        optimizer.build(variables)

        def norm(tensors):
            return tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(tf.cast(t, tf.float32))) for t in tensors]))

        @tf.function(input_signature=[x_spec, y_spec, tf.TensorSpec([None], tf.float32)], autograph=False)
        def train_step(x, y, sample_weight):
            with tf.GradientTape() as tape:
                pred = core(x, training=True)
                loss = core.compute_loss(x=x, y=y, y_pred=pred, sample_weight=sample_weight, training=True)
            grads = tape.gradient(loss, variables)
            grads = [g if g is not None else tf.zeros_like(v) for g, v in zip(grads, variables)]
            grad_norms = tf.stack([norm([grads[i] for i in g]) for g in group_indices])
            before = [[tf.identity(variables[i]) for i in g] for g in kernel_groups]
            optimizer.apply_gradients(zip(grads, variables))
            ratios = tf.stack([
                norm([variables[i] - b for i, b in zip(g, old)]) / (norm(old) + 1e-12) if g else tf.constant(-1.0)
                for g, old in zip(kernel_groups, before)
            ])
            return loss, grad_norms, ratios

        @tf.function(input_signature=[x_spec, y_spec], autograph=False)
        def eval_step(x, y):
            return core.compute_loss(x=x, y=y, y_pred=core(x, training=False), training=False)

        self.train_step = train_step
        self.eval_step = eval_step


def _eval_chunks(n: int):
    """Slices of ``EVAL_CHUNK`` windows covering ``0..n``."""
    return (slice(start, min(n, start + EVAL_CHUNK)) for start in range(0, n, EVAL_CHUNK))


def validation_loss(stepper: Stepper, x: np.ndarray, y: np.ndarray) -> float:
    """The loss on the windows ``x``, ``EVAL_CHUNK`` at a time: the mean of the chunks' losses,
    weighted by their windows (the loss of one whole-array call, which a single chunk is).

    A stateful model predicts its static batch at a time (``modeling.stateful``, its training's states
    kept), and the loss is taken on every prediction at once, so the padding of its last batch counts nowhere.
    """
    if static_batch_size(stepper.core) is not None:
        pred = predict_in_batches(stepper.core, x)
        return float(stepper.core.compute_loss(y=np.asarray(y), y_pred=pred, training=False))
    total = 0.0
    for part in _eval_chunks(len(y)):
        loss = float(stepper.eval_step(np.ascontiguousarray(x[part], dtype=np.float32), y[part]))
        total += loss * (part.stop - part.start)
    return total / max(1, len(y))


def predict_validation(core: keras.Model, prepared: Prepared) -> np.ndarray:
    """``training.predict_original`` on the validation windows, with an eager call instead of ``predict``
    (which compiles a predict function: most of a second, for one batch), ``EVAL_CHUNK`` windows at a time
    (a stateful model: its static batch at a time, its training's states kept; ``modeling.stateful``)."""
    x_raw = prepared.dataset.x_val
    if static_batch_size(core) is not None:
        out = predict_in_batches(core, prepared.x_val, lambda chunk: np.asarray(chunk, np.float32)).astype(np.float64)
    else:
        chunks = [np.asarray(keras.ops.convert_to_numpy(
            core(np.ascontiguousarray(prepared.x_val[part], dtype=np.float32), training=False)), dtype=np.float64)
            for part in _eval_chunks(len(x_raw))]
        out = np.concatenate(chunks) if chunks else np.empty((0, 1))
    if prepared.dataset.task == "regression":
        values = prepared.target.invert(out, x_raw).reshape(len(x_raw), -1)
        return values if prepared.dataset.multi_output else values[:, 0]  # as ``predict_original``
    return out


def predicted_shares(predictions: np.ndarray, task: str, n_classes: int) -> list[float] | None:
    """Classifiers: the share of windows given each class (None for regression or NaN outputs)."""
    if task == "regression" or not np.all(np.isfinite(predictions)):
        return None
    proba = class_probabilities(predictions, n_classes)
    return [float(v) for v in np.bincount(np.argmax(proba, axis=1), minlength=n_classes) / max(len(proba), 1)]


def sample_weights(prepared: Prepared, index: np.ndarray) -> np.ndarray:
    """The class weight of each training window ``index`` (all ones without ``class_weight``)."""
    if not prepared.class_weight:
        return np.ones(len(index), np.float32)
    labels = np.asarray(prepared.dataset.y_train)[index].astype(int)
    return np.array([prepared.class_weight.get(int(c), 1.0) for c in labels], np.float32)
