"""The instrumented brief training: what the detectors measure about the model while it learns.

The brief training is ``min(BRIEF_EPOCHS, train.epochs)`` epochs of the spec's own model, optimizer,
loss, batch size, class weights and seed, cut at ``BRIEF_MAX_STEPS`` optimizer steps: far less than
a full training (a tenth or less of it for the bundled example), yet long enough for a model that
can learn to start moving its output. It is a plain ``tf.GradientTape`` loop, so every step
records:

- the training loss (the loss trajectory);
- the gradient norm of each layer's weights, before any clipping (vanishing/exploding gradients);
- the update/weight ratio ``||w_after - w_before|| / ||w_before||`` of each layer's kernels (the
  learning rate seen from the weights; biases start at zero and are left out).

The validation loss after each epoch and the metrics after the brief training are taken on at most
``VALIDATION_SAMPLE`` validation windows, evenly spaced (``validation_sample`` of
``validation_windows`` in the record), ``EVAL_CHUNK`` windows at a time: the sample is never copied
whole, so its memory does not grow with the window.

Before the first step and at ``SPREAD_POINTS`` evenly spaced steps, on up to ``ACTIVATION_BATCH``
validation windows (the part the collapse verdict is taken on): the spread of the head's outputs
across the windows (per unit std, averaged over the units), next to the spread of what the head
should output there. Its trajectory says whether the output is still moving off its constant
when the brief training ends.

Before and after it, on a batch of training windows (``ACTIVATION_BATCH``):

- the gate and cell activations of every recurrent layer (both directions of a ``Bidirectional``
  one, the backward one over the reversed sequence), recomputed from the cell's ``kernel``,
  ``recurrent_kernel`` and ``bias`` over the whole sequence, and the fraction of them that sit in
  the flat ends of their sigmoid/tanh (saturated: gradients through them are near zero);
- the per-unit spread of every hidden layer's output (dead units: the same value for every sample).

After it, on the same batch: the gradient of the loss with respect to the input at every timestep of
the window (oldest first, as a share of the largest), which shows how far back in the window the
trained model can still learn from (vanishing gradients through time).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import keras
import numpy as np

from autofix_lstm.errors import ModelSpecError
from autofix_lstm.modeling.evaluate import measure
from autofix_lstm.modeling.release import releasing_custom_gradients
from autofix_lstm.modeling.train import Prepared, build_model
from autofix_lstm.run_dir import jsonable
from autofix_lstm.scoring.metrics import class_probabilities
from autofix_lstm.spec import Spec

# The brief training: at most 3 epochs (enough for a learnable signal on a small model to move the
# output off its initial constant) and at most 60 steps (a fixed, small cost on big data sets).
BRIEF_EPOCHS = 3
BRIEF_MAX_STEPS = 60
# Gradient norms are summarised (median) over the first steps: vanishing/exploding gradients are a
# property of the starting point, before the optimizer has moved the weights far.
EARLY_STEPS = 10
# Activations are measured on this many training windows (enough for a stable per-unit spread).
ACTIVATION_BATCH = 256
# A sigmoid/tanh activation within 1% of its bounds is saturated: its derivative is under 4% (sigmoid)
# or 2% (tanh) of its maximum, so almost no gradient passes through it.
SATURATION_MARGIN = 0.01
# A unit whose output varies less than this across samples (and timesteps) carries no information.
DEAD_UNIT_STD = 1e-3
# The output spread is measured before the first step and at this many evenly spaced steps: enough
# points for a trajectory, each one forward pass over ``ACTIVATION_BATCH`` windows.
SPREAD_POINTS = 6
# The validation loss and the metrics after the brief training are measured on at most this many
# validation windows, evenly spaced (``Probe.validation_sample``): enough for the collapse verdict,
# at a bounded cost in time and memory however large the validation part.
VALIDATION_SAMPLE = 10_000
# Windows evaluated at a time (validation loss, predictions), as ``evaluate.predict_original`` does.
EVAL_CHUNK = 1024


def layer_names(spec: Spec) -> list[str]:
    """Stable names for the spec's layers: ``<type>_<index in model.layers>`` (``lstm_0``, ``dense_1``)."""
    return [f"{layer.type}_{index}" for index, layer in enumerate(spec.model.layers)]


@dataclass
class Probe:
    """The measurements of one brief training. Every field is JSON-able; ``to_dict`` is what is saved."""

    epochs: int  # epochs started
    steps: int  # optimizer steps taken
    batch_size: int
    full_training_steps: int  # steps a full training of the spec takes, for scale
    seconds: float = 0.0
    loss: list[float | None] = field(default_factory=list)  # training loss per step
    val_loss: list[float | None] = field(default_factory=list)  # validation loss per epoch
    grad_norms: dict[str, list[float | None]] = field(default_factory=dict)  # layer -> norm per step
    update_ratios: dict[str, list[float | None]] = field(default_factory=dict)  # layer -> ratio per step
    nonfinite_loss_step: int | None = None  # first step whose loss was NaN/inf (training stopped there)
    nonfinite_gradient_step: int | None = None  # first step with a NaN/inf gradient
    saturation_init: dict[str, dict[str, float]] = field(default_factory=dict)  # layer -> gate -> fraction
    saturation_trained: dict[str, dict[str, float]] = field(default_factory=dict)
    units: dict[str, dict[str, Any]] = field(default_factory=dict)  # layer -> {units, dead, fraction, ...}
    output_init: dict[str, float | None] = field(default_factory=dict)  # head output {mean, std}, model space
    output_trained: dict[str, float | None] = field(default_factory=dict)
    spread_steps: list[int] = field(default_factory=list)  # steps at which the output spread was measured
    output_spread: list[float | None] = field(default_factory=list)  # validation output spread at those steps
    target_spread: float | None = None  # spread of what the head should output on the same windows
    temporal_grad: list[float | None] = field(default_factory=list)  # input gradient per timestep / largest
    predicted_shares: list[float] | None = None  # classifiers: share of validation windows given each class
    head_layer: str | None = None  # the last trainable layer (reference for gradient ratios)
    trainable_params: int = 0
    validation_windows: int = 0  # windows in the validation part
    validation_sample: int = 0  # of them, measured for val_loss and the metrics (evenly spaced)

    def early_grad_norm(self, layer: str) -> float | None:
        """Median gradient norm of ``layer`` over the first ``EARLY_STEPS`` steps (finite ones only)."""
        values = [v for v in self.grad_norms.get(layer, [])[:EARLY_STEPS] if v is not None]
        return float(np.median(values)) if values else None

    def early_grad_norms(self) -> dict[str, float | None]:
        """``early_grad_norm`` for every trainable layer, input side first."""
        return {name: self.early_grad_norm(name) for name in self.grad_norms}

    def grad_norm_ratios(self) -> dict[str, float | None]:
        """Each layer's early gradient norm divided by the head's (the last trainable layer's)."""
        norms = self.early_grad_norms()
        head = norms.get(self.head_layer) if self.head_layer else None
        if not head:
            return {name: None for name in norms}
        return {name: (None if value is None else value / head) for name, value in norms.items()}

    def median_update_ratio(self) -> float | None:
        """Median update/weight ratio over all kernel-bearing layers and finite steps."""
        values = [v for series in self.update_ratios.values() for v in series if v is not None]
        return float(np.median(values)) if values else None

    def spread_ratios(self) -> list[float | None]:
        """``output_spread`` over ``target_spread`` at each measured step (None when unknown)."""
        if not self.target_spread:
            return [None for _ in self.output_spread]
        return [None if v is None else v / self.target_spread for v in self.output_spread]

    def to_dict(self) -> dict[str, Any]:
        """The measurements as JSON-able data, with the summaries the detectors use added."""
        out = jsonable(asdict(self))
        out["early_grad_norms"] = jsonable(self.early_grad_norms())
        out["grad_norm_ratios"] = jsonable(self.grad_norm_ratios())
        out["median_update_ratio"] = jsonable(self.median_update_ratio())
        out["spread_ratios"] = jsonable(self.spread_ratios())
        out["brief_training"] = (
            f"{self.steps} steps ({self.epochs} epoch{'s' if self.epochs != 1 else ''} started) of "
            f"{self.full_training_steps} in a full training"
        )
        return out


def brief_steps(spec: Spec, n_train: int) -> tuple[int, int, int]:
    """(epochs, steps, full-training steps) of the brief training for ``n_train`` training samples."""
    per_epoch = math.ceil(n_train / spec.train.batch_size)
    epochs = min(BRIEF_EPOCHS, spec.train.epochs)
    return epochs, min(epochs * per_epoch, BRIEF_MAX_STEPS), spec.train.epochs * per_epoch


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _layer_groups(core: keras.Model, names: list[str]) -> dict[str, list[int]]:
    """layer name -> indices of its weights in ``core.trainable_variables``."""
    position = {id(v): i for i, v in enumerate(core.trainable_variables)}
    groups = {}
    for name, layer in zip(names, core.layers):
        indices = [position[id(v)] for v in layer.trainable_weights if id(v) in position]
        if indices:
            groups[name] = indices
    return groups


# activation name -> the same function in numpy (the gate recomputation calls these at every timestep,
# where a round trip through a tensor per call costs more than the arithmetic)
_NUMPY_ACTIVATIONS = {
    "sigmoid": lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "linear": lambda z: z,
}


def _activation_values(fn, z: np.ndarray) -> np.ndarray:
    numpy_fn = _NUMPY_ACTIVATIONS.get(getattr(fn, "__name__", ""))
    if numpy_fn is not None:
        return numpy_fn(z)
    return np.asarray(keras.ops.convert_to_numpy(fn(keras.ops.convert_to_tensor(z.astype(np.float32)))), dtype=np.float64)


def _bounds(fn) -> tuple[float, float] | None:
    """(low, high) of a bounded activation such as sigmoid or tanh; None for unbounded ones."""
    probe = _activation_values(fn, np.array([-1e4, 1e4]))
    if np.all(np.isfinite(probe)) and probe[1] - probe[0] > 0 and abs(probe[1]) <= 1.0 + 1e-6:
        return float(probe[0]), float(probe[1])
    return None


def _saturated(values: np.ndarray, bounds: tuple[float, float] | None) -> float | None:
    if bounds is None:
        return None
    low, high = bounds
    margin = SATURATION_MARGIN * (high - low)
    return float(np.mean((values < low + margin) | (values > high - margin)))


def recurrent_gates(layer: keras.layers.Layer, x: np.ndarray) -> dict[str, np.ndarray]:
    """Gate and cell activations of a recurrent layer over the sequences ``x`` (samples, time, inputs).

    Recomputed from the cell's weights (Keras' gate order: LSTM ``i, f, c, o``; GRU ``z, r, h``), so
    every timestep's values are seen, not only the layer's output. Returns name -> (samples, time, units).
    """
    cell = layer.cell
    kernel = np.asarray(cell.kernel.numpy(), dtype=np.float64)
    recurrent = np.asarray(cell.recurrent_kernel.numpy(), dtype=np.float64)
    bias = np.asarray(cell.bias.numpy(), dtype=np.float64) if getattr(cell, "use_bias", False) else None
    units = cell.units
    n, steps = x.shape[0], x.shape[1]
    h = np.zeros((n, units))
    c = np.zeros((n, units))
    act, rec_act = cell.activation, getattr(cell, "recurrent_activation", None)
    kind = type(layer).__name__
    seen: dict[str, list[np.ndarray]] = {}

    def keep(name, value):
        seen.setdefault(name, []).append(value)

    for t in range(steps):
        xt = x[:, t, :].astype(np.float64)
        if kind == "LSTM":
            z = xt @ kernel + h @ recurrent + (bias if bias is not None else 0.0)
            zi, zf, zc, zo = np.split(z, 4, axis=1)
            i, f, o = (_activation_values(rec_act, v) for v in (zi, zf, zo))
            g = _activation_values(act, zc)
            c = f * c + i * g
            cell_out = _activation_values(act, c)
            h = o * cell_out
            for name, value in (("input", i), ("forget", f), ("candidate", g), ("output", o), ("cell", cell_out)):
                keep(name, value)
        elif kind == "GRU":
            reset_after = getattr(cell, "reset_after", True)
            if bias is None:
                b_in, b_rec = 0.0, 0.0
            elif bias.ndim == 2:
                b_in, b_rec = bias[0], bias[1]
            else:
                b_in, b_rec = bias, 0.0
            xz, xr, xh = np.split(xt @ kernel + b_in, 3, axis=1)
            rz, rr, rh_w = np.split(recurrent, 3, axis=1)
            if reset_after:
                hz, hr, hh = np.split(h @ recurrent + b_rec, 3, axis=1)
            else:
                hz, hr = h @ rz, h @ rr
            zg = _activation_values(rec_act, xz + hz)
            r = _activation_values(rec_act, xr + hr)
            cand = _activation_values(act, xh + (r * hh if reset_after else (r * h) @ rh_w))
            h = zg * h + (1 - zg) * cand
            for name, value in (("update", zg), ("reset", r), ("candidate", cand)):
                keep(name, value)
        else:  # SimpleRNN
            h = _activation_values(act, xt @ kernel + h @ recurrent + (bias if bias is not None else 0.0))
            keep("candidate", h)
    return {name: np.stack(values, axis=1) for name, values in seen.items()}


def gate_saturation(layer: keras.layers.Layer, x: np.ndarray) -> dict[str, float]:
    """Fraction of each gate's activations within ``SATURATION_MARGIN`` of its bounds, and ``all`` (mean).

    Gates with an unbounded activation (relu, linear) are left out.
    """
    cell = layer.cell
    act_bounds = _bounds(cell.activation)
    rec_bounds = _bounds(cell.recurrent_activation) if hasattr(cell, "recurrent_activation") else None
    out = {}
    for name, values in recurrent_gates(layer, x).items():
        bounds = act_bounds if name in ("candidate", "cell") else rec_bounds
        fraction = _saturated(values, bounds)
        if fraction is not None:
            out[name] = fraction
    gates = [v for k, v in out.items() if k != "cell"]
    if gates:
        out["all"] = float(np.mean(gates))
    return out


def _extractor(core: keras.Model) -> keras.Model:
    """A model sharing ``core``'s weights that returns every layer's output."""
    return keras.Model(core.inputs, [layer.output for layer in core.layers])


def _layer_inputs_and_outputs(extractor: keras.Model, x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(input, output) of every layer on ``x``, in inference mode."""
    outputs = extractor(keras.ops.convert_to_tensor(x.astype(np.float32)), training=False)
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    outputs = [np.asarray(keras.ops.convert_to_numpy(o), dtype=np.float64) for o in outputs]
    inputs = [np.asarray(x, dtype=np.float64), *outputs[:-1]]
    return list(zip(inputs, outputs))


def _recurrent_directions(layer: keras.layers.Layer) -> list[tuple[keras.layers.Layer, bool]]:
    """The recurrent layers inside ``layer`` and whether each reads the sequence backwards: the layer
    itself for an RNN, both directions of a ``Bidirectional``, none for anything else."""
    if isinstance(layer, keras.layers.Bidirectional):
        return [(layer.forward_layer, False), (layer.backward_layer, True)]
    if isinstance(layer, keras.layers.RNN):
        return [(layer, bool(getattr(layer, "go_backwards", False)))]
    return []


def layer_saturation(layer: keras.layers.Layer, x: np.ndarray) -> dict[str, float]:
    """``gate_saturation`` of a recurrent layer, or of both directions of a ``Bidirectional`` (their mean,
    gate by gate); empty for a layer without recurrence."""
    measured = [gate_saturation(rnn, x[:, ::-1, :] if backwards else x) for rnn, backwards in _recurrent_directions(layer)]
    if len(measured) <= 1:
        return measured[0] if measured else {}
    return {gate: float(np.mean([m[gate] for m in measured if gate in m])) for gate in measured[0]}


def measure_saturation(core: keras.Model, names: list[str], pairs) -> dict[str, dict[str, float]]:
    """``gate_saturation`` of every recurrent layer of ``core`` (wrapped in ``Bidirectional`` or not),
    given each layer's (input, output)."""
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    # Small matrices, one timestep at a time: BLAS threads only wait on each other (10x slower here).
    with threadpool_limits(limits=1, user_api="blas"):
        return {
            names[i]: layer_saturation(layer, pairs[i][0])
            for i, layer in enumerate(core.layers)
            if _recurrent_directions(layer)
        }


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
            "mean_abs_output": _finite_or_none(float(np.mean(np.abs(flat)))),
        }
    return out


def _spread(values: np.ndarray) -> float | None:
    """Std across samples of each output unit, averaged over the units (None when not finite)."""
    values = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    with np.errstate(all="ignore"):
        return _finite_or_none(float(np.mean(np.std(values, axis=0))))


def _target_spread(prepared: Prepared, index: np.ndarray, head_width: int) -> float | None:
    """The spread the head should show on the validation windows ``index``: model-space targets
    (regression) or the labels (one unit: the label itself; K units: one-hot), measured like
    ``_spread``. Falls back to the training targets when those windows' targets do not vary."""

    def spread(y_model, labels):
        if prepared.dataset.task == "regression":
            return _spread(y_model)
        labels = np.asarray(labels).astype(int)
        return _spread(labels if head_width == 1 else np.eye(head_width)[np.clip(labels, 0, head_width - 1)])

    own = spread(np.asarray(prepared.y_val)[index], np.asarray(prepared.dataset.y_val)[index])
    if own:
        return own
    return spread(prepared.y_train, prepared.dataset.y_train) or None


def _head_output(core: keras.Model, x: np.ndarray) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(core(x, training=False)), dtype=np.float64)


def temporal_gradient(core: keras.Model, x: np.ndarray, y: np.ndarray) -> list[float | None]:
    """Mean over windows of ``||d loss / d x_t||`` at each timestep, oldest first, over the largest.

    Empty when the loss or its gradient is not finite (nothing to compare).
    """
    import tensorflow as tf

    inputs = tf.convert_to_tensor(x.astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        loss = core.compute_loss(x=inputs, y=y, y_pred=core(inputs, training=False), training=False)
    grad = tape.gradient(loss, inputs)
    if grad is None:
        return []
    grad = np.asarray(grad, dtype=np.float64)
    with np.errstate(all="ignore"):
        per_step = np.mean(np.sqrt(np.sum(grad**2, axis=2)), axis=0)
    largest = float(np.max(per_step)) if per_step.size else 0.0
    if not np.all(np.isfinite(per_step)) or largest <= 0:
        return []
    return [float(v) for v in per_step / largest]


def _output_stats(pairs) -> dict[str, float | None]:
    """Mean and std of the head's model-space outputs (all units together)."""
    with np.errstate(all="ignore"):
        head = pairs[-1][1]
        return {"mean": _finite_or_none(float(np.mean(head))), "std": _finite_or_none(float(np.std(head)))}


class _Stepper:
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


def _val_loss(stepper: _Stepper, x: np.ndarray, y: np.ndarray) -> float:
    """The loss on the windows ``x``, ``EVAL_CHUNK`` at a time: the mean of the chunks' losses,
    weighted by their windows (the loss of one whole-array call, which a single chunk is)."""
    total = 0.0
    for part in _eval_chunks(len(y)):
        loss = float(stepper.eval_step(np.ascontiguousarray(x[part], dtype=np.float32), y[part]))
        total += loss * (part.stop - part.start)
    return total / max(1, len(y))


def _predict(core: keras.Model, prepared: Prepared) -> np.ndarray:
    """``training.predict_original`` on the validation windows, with an eager call instead of ``predict``
    (which compiles a predict function: most of a second, for one batch), ``EVAL_CHUNK`` windows at a time."""
    x_raw = prepared.dataset.x_val
    chunks = [np.asarray(keras.ops.convert_to_numpy(
        core(np.ascontiguousarray(prepared.x_val[part], dtype=np.float32), training=False)), dtype=np.float64)
        for part in _eval_chunks(len(x_raw))]
    out = np.concatenate(chunks) if chunks else np.empty((0, 1))
    if prepared.dataset.task == "regression":
        return prepared.target.invert(out, x_raw).reshape(len(x_raw), -1)[:, 0]
    return out


def _predicted_shares(predictions: np.ndarray, task: str, n_classes: int) -> list[float] | None:
    """Classifiers: the share of windows given each class (None for regression or NaN outputs)."""
    if task == "regression" or not np.all(np.isfinite(predictions)):
        return None
    proba = class_probabilities(predictions, n_classes)
    return [float(v) for v in np.bincount(np.argmax(proba, axis=1), minlength=n_classes) / max(len(proba), 1)]


def _sample_weights(prepared: Prepared, index: np.ndarray) -> np.ndarray:
    if not prepared.class_weight:
        return np.ones(len(index), np.float32)
    labels = np.asarray(prepared.dataset.y_train)[index].astype(int)
    return np.array([prepared.class_weight.get(int(c), 1.0) for c in labels], np.float32)


@releasing_custom_gradients()  # its traced train step's custom gradients would keep the graph for good
def run_probe(spec: Spec, prepared: Prepared, *, on_step=None) -> tuple[Probe, dict]:
    """Train the spec's model briefly, instrumented; return the measurements and the metrics after it.

    Args:
        on_step: called as ``on_step(done, total)`` after every optimizer step (progress display).

    Raises:
        ModelSpecError: the model cannot train on this data (loss/label/shape mismatch).
    """
    import tensorflow as tf

    started = time.perf_counter()
    names = layer_names(spec)
    n_train = len(prepared.x_train)
    epochs, steps, full_steps = brief_steps(spec, n_train)
    core = build_model(spec, prepared)
    groups = _layer_groups(core, names)
    variables = core.trainable_variables
    probe = Probe(epochs=0, steps=0, batch_size=spec.train.batch_size, full_training_steps=full_steps)
    probe.trainable_params = int(sum(int(np.prod(v.shape)) for v in variables))
    probe.head_layer = list(groups)[-1] if groups else None
    probe.grad_norms = {name: [] for name in groups}
    probe.update_ratios = {name: [] for name in groups if any(len(variables[i].shape) >= 2 for i in groups[name])}

    rng = np.random.default_rng(spec.train.seed)
    batch_index = np.sort(rng.permutation(n_train)[:ACTIVATION_BATCH])
    x_batch = prepared.x_train[batch_index]
    extractor = _extractor(core)
    with np.errstate(all="ignore"):
        pairs = _layer_inputs_and_outputs(extractor, x_batch)
        probe.saturation_init = measure_saturation(core, names, pairs)
        probe.output_init = _output_stats(pairs)
    head_width = int(np.prod(pairs[-1][1].shape[1:])) if pairs else 1
    n_val = len(prepared.x_val)
    val_index = np.unique(np.linspace(0, n_val - 1, min(n_val, ACTIVATION_BATCH)).astype(int))
    x_val_batch = prepared.x_val[val_index].astype(np.float32)
    probe.target_spread = _target_spread(prepared, val_index, head_width)
    checkpoints = {max(1, round(steps * k / SPREAD_POINTS)) for k in range(1, SPREAD_POINTS + 1)}

    def measure_spread() -> None:
        probe.spread_steps.append(probe.steps)
        probe.output_spread.append(_spread(_head_output(core, x_val_batch)))

    measure_spread()

    x_train = prepared.x_train  # float32 (views): each step gathers its batch from them
    y_train = prepared.y_train
    checked = prepared.validation_sample(VALIDATION_SAMPLE)
    probe.validation_windows, probe.validation_sample = len(prepared.y_val), len(checked.y_val)
    y_dtype = tf.int64 if np.issubdtype(y_train.dtype, np.integer) else tf.float32
    x_spec = tf.TensorSpec([None, *x_train.shape[1:]], tf.float32)
    y_spec = tf.TensorSpec([None, *y_train.shape[1:]], y_dtype)
    size = spec.train.batch_size
    try:
        stepper = _Stepper(core, groups, x_spec, y_spec)
        for _ in range(epochs):
            if probe.steps >= steps or probe.nonfinite_loss_step is not None:
                break
            probe.epochs += 1
            order = rng.permutation(n_train)
            for start in range(0, n_train, size):
                if probe.steps >= steps:
                    break
                index = order[start : start + size]
                loss, norms, ratios = stepper.train_step(np.asarray(x_train[index], np.float32), y_train[index],
                                                         _sample_weights(prepared, index))
                loss = float(loss)
                norms = np.asarray(norms, dtype=np.float64)
                ratios = np.asarray(ratios, dtype=np.float64)
                probe.loss.append(_finite_or_none(loss))
                for name, value in zip(groups, norms):
                    probe.grad_norms[name].append(_finite_or_none(value))
                for name, value in zip(groups, ratios):
                    if name in probe.update_ratios:
                        probe.update_ratios[name].append(_finite_or_none(value))
                if probe.nonfinite_gradient_step is None and not np.all(np.isfinite(norms)):
                    probe.nonfinite_gradient_step = probe.steps
                probe.steps += 1
                if probe.steps in checkpoints:
                    measure_spread()
                if on_step is not None:
                    on_step(probe.steps, steps)
                if not math.isfinite(loss):
                    probe.nonfinite_loss_step = probe.steps - 1
                    break
            probe.val_loss.append(_finite_or_none(_val_loss(stepper, checked.x_val, checked.y_val)))
    except (tf.errors.OpError, ValueError, TypeError) as err:
        lines = [line for line in str(err).strip().splitlines() if line.strip()]
        detail = next((line for line in lines if "label" in line.lower() or "shape" in line.lower()), lines[-1] if lines else "")
        raise ModelSpecError(
            f"training failed: {type(err).__name__}: {detail.strip()[:300]}. Check that the loss "
            f"'{spec.model.loss}' fits the head (units and activation) and the task ({prepared.dataset.task})"
        ) from None
    with np.errstate(all="ignore"):
        pairs = _layer_inputs_and_outputs(extractor, x_batch)
        probe.saturation_trained = measure_saturation(core, names, pairs)
        probe.units = measure_units(core, names, pairs)
        probe.output_trained = _output_stats(pairs)
        if probe.spread_steps[-1] != probe.steps:  # stopped early (NaN loss): measure where it stopped
            measure_spread()
        if probe.nonfinite_loss_step is None:
            probe.temporal_grad = temporal_gradient(core, x_batch.astype(np.float32), y_train[batch_index])
        predictions = _predict(core, checked)
        metrics = measure(checked, predictions)
        probe.predicted_shares = _predicted_shares(predictions, prepared.dataset.task, prepared.dataset.n_classes)
    probe.seconds = time.perf_counter() - started
    return probe, metrics
