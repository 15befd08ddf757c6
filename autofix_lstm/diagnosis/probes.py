"""The instrumented brief training: what the detectors measure about the model while it learns.

The brief training is ``min(BRIEF_EPOCHS, train.epochs)`` epochs of the spec's own model, optimizer,
loss, batch size, class weights and seed (a stateful model's whole batches in time order, as
``modeling.stateful`` trains it), cut at ``BRIEF_MAX_STEPS`` optimizer steps: far less than
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

import numpy as np

from autofix_lstm.diagnosis.layer_measures import (
    finite_or_none,
    head_output,
    layer_extractor,
    layer_inputs_and_outputs,
    mean_unit_spread,
    measure_units,
    output_stats,
    target_spread,
    temporal_gradient,
)
from autofix_lstm.diagnosis.saturation import measure_saturation
from autofix_lstm.diagnosis.stepper import (
    Stepper,
    layer_groups,
    predict_validation,
    predicted_shares,
    sample_weights,
    validation_loss,
)
from autofix_lstm.errors import ModelSpecError
from autofix_lstm.modeling.evaluate import measure
from autofix_lstm.modeling.release import releasing_custom_gradients
from autofix_lstm.modeling.stateful import full_batches, is_stateful, reset_states, static_batch_size
from autofix_lstm.modeling.train import Prepared, build_model
from autofix_lstm.run_dir import jsonable
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
# The output spread is measured before the first step and at this many evenly spaced steps: enough
# points for a trajectory, each one forward pass over ``ACTIVATION_BATCH`` windows.
SPREAD_POINTS = 6
# The validation loss and the metrics after the brief training are measured on at most this many
# validation windows, evenly spaced (``Probe.validation_sample``): enough for the collapse verdict,
# at a bounded cost in time and memory however large the validation part.
VALIDATION_SAMPLE = 10_000


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
    initial_penalty: float = 0.0  # the L1/L2 penalty Keras adds to the loss, at initialisation (0: none)
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
    """(epochs, steps, full-training steps) of the brief training for ``n_train`` training samples (a stateful
    model's epoch is its whole batches only)."""
    size = spec.train.batch_size
    per_epoch = full_batches(n_train, size) // size if is_stateful(spec.model) else math.ceil(n_train / size)
    epochs = min(BRIEF_EPOCHS, spec.train.epochs)
    return epochs, min(epochs * per_epoch, BRIEF_MAX_STEPS), spec.train.epochs * per_epoch


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
    groups = layer_groups(core, names)
    variables = core.trainable_variables
    probe = Probe(epochs=0, steps=0, batch_size=spec.train.batch_size, full_training_steps=full_steps)
    probe.trainable_params = int(sum(int(np.prod(v.shape)) for v in variables))
    probe.head_layer = list(groups)[-1] if groups else None
    probe.grad_norms = {name: [] for name in groups}
    probe.update_ratios = {name: [] for name in groups if any(len(variables[i].shape) >= 2 for i in groups[name])}

    rng = np.random.default_rng(spec.train.seed)
    batch_index = np.sort(rng.permutation(n_train)[:ACTIVATION_BATCH])
    x_batch = prepared.x_train[batch_index]
    extractor = layer_extractor(core)
    with np.errstate(all="ignore"):
        pairs = layer_inputs_and_outputs(extractor, x_batch)
        probe.saturation_init = measure_saturation(core.layers, names, pairs)
        probe.output_init = output_stats(pairs)
    probe.initial_penalty = float(sum(float(np.asarray(penalty)) for penalty in core.losses))
    head_width = int(np.prod(pairs[-1][1].shape[1:])) if pairs else 1
    n_val = len(prepared.x_val)
    val_index = np.unique(np.linspace(0, n_val - 1, min(n_val, ACTIVATION_BATCH)).astype(int))
    x_val_batch = prepared.x_val[val_index].astype(np.float32)
    probe.target_spread = target_spread(prepared, val_index, head_width)
    checkpoints = {max(1, round(steps * k / SPREAD_POINTS)) for k in range(1, SPREAD_POINTS + 1)}

    def measure_spread() -> None:
        probe.spread_steps.append(probe.steps)
        probe.output_spread.append(mean_unit_spread(head_output(core, x_val_batch)))

    measure_spread()

    x_train = prepared.x_train  # float32 (views): each step gathers its batch from them
    y_train = prepared.y_train
    checked = prepared.validation_sample(VALIDATION_SAMPLE)
    probe.validation_windows, probe.validation_sample = len(prepared.y_val), len(checked.y_val)
    y_dtype = tf.int64 if np.issubdtype(y_train.dtype, np.integer) else tf.float32
    static = static_batch_size(core)  # a stateful model: whole batches of this size, in time order
    x_spec = tf.TensorSpec([static, *x_train.shape[1:]], tf.float32)
    y_spec = tf.TensorSpec([None, *y_train.shape[1:]], y_dtype)
    size = spec.train.batch_size
    trained = n_train if static is None else full_batches(n_train, size)
    try:
        stepper = Stepper(core, groups, x_spec, y_spec)
        for _ in range(epochs):
            if probe.steps >= steps or probe.nonfinite_loss_step is not None:
                break
            probe.epochs += 1
            order = rng.permutation(n_train) if static is None else np.arange(n_train)
            if static is not None and spec.train.reset_states == "epoch":
                reset_states(core)
            for start in range(0, trained, size):
                if probe.steps >= steps:
                    break
                index = order[start : start + size]
                loss, norms, ratios = stepper.train_step(np.asarray(x_train[index], np.float32), y_train[index],
                                                         sample_weights(prepared, index))
                loss = float(loss)
                norms = np.asarray(norms, dtype=np.float64)
                ratios = np.asarray(ratios, dtype=np.float64)
                probe.loss.append(finite_or_none(loss))
                for name, value in zip(groups, norms):
                    probe.grad_norms[name].append(finite_or_none(value))
                for name, value in zip(groups, ratios):
                    if name in probe.update_ratios:
                        probe.update_ratios[name].append(finite_or_none(value))
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
            probe.val_loss.append(finite_or_none(validation_loss(stepper, checked.x_val, checked.y_val)))
    except (tf.errors.OpError, ValueError, TypeError) as err:
        lines = [line for line in str(err).strip().splitlines() if line.strip()]
        detail = next((line for line in lines if "label" in line.lower() or "shape" in line.lower()), lines[-1] if lines else "")
        raise ModelSpecError(
            f"training failed: {type(err).__name__}: {detail.strip()[:300]}. Check that the loss "
            f"'{spec.model.loss}' fits the head (units and activation) and the task ({prepared.dataset.task})"
        ) from None
    with np.errstate(all="ignore"):
        pairs = layer_inputs_and_outputs(extractor, x_batch)
        probe.saturation_trained = measure_saturation(core.layers, names, pairs)
        probe.units = measure_units(core, names, pairs)
        probe.output_trained = output_stats(pairs)
        if probe.spread_steps[-1] != probe.steps:  # stopped early (NaN loss): measure where it stopped
            measure_spread()
        if probe.nonfinite_loss_step is None:
            probe.temporal_grad = temporal_gradient(core, x_batch.astype(np.float32), y_train[batch_index])
        predictions = predict_validation(core, checked)
        metrics = measure(checked, predictions)
        probe.predicted_shares = predicted_shares(predictions, prepared.dataset.task, prepared.dataset.n_classes)
    probe.seconds = time.perf_counter() - started
    return probe, metrics
