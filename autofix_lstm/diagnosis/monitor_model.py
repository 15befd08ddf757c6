"""The user's compiled model and validation sample as ``CollapseMonitor``'s checks read them.

The model becomes a spec the way ``diagnose(model)`` reads one (``Spec.from_model``), so the checks
see the same layers, loss and optimizer, under the same layer names (``lstm_0``, ``dense_1``). A model
``Spec.from_model`` refuses (a custom layer, a learning-rate schedule, a branch) still gets the checks
that read only its head, its loss and the data (``_head_spec``). The validation sample becomes a
``Dataset`` whose task is inferred as ``diagnose`` infers it, with the same feature names.

``start_measures`` measures what the brief training measures before its first step (the recurrent
layers' gate saturation, the head's output), on the model as the fit starts: ``unscaled_inputs``
reads the saturation to tell an error from a warning.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from autofix_lstm.data.dataset import Dataset, array_feature_names
from autofix_lstm.data.task import infer_task
from autofix_lstm.diagnosis.head_checks import canonical_loss
from autofix_lstm.diagnosis.layer_measures import layer_inputs_and_outputs, output_stats, single_input
from autofix_lstm.diagnosis.probes import ACTIVATION_BATCH, layer_names
from autofix_lstm.diagnosis.saturation import measure_saturation
from autofix_lstm.errors import SpecError
from autofix_lstm.modeling.build import OPTIMIZERS
from autofix_lstm.modeling.reading import stacked_layers
from autofix_lstm.spec import MOMENTUM_OPTIMIZERS, Spec, load_spec


@dataclass(frozen=True)
class ModelReading:
    """What the monitor's checks know of the compiled model.

    Attributes:
        spec: the model as a spec (``Spec.from_model``; only its head, loss and optimizer when that refuses it).
        skipped: the checks that spec cannot feed (a loss or optimizer it could not name).
        names: the diagnosis' names of the model's layers (``lstm_0``), one per layer of ``stacked_layers``;
            empty when the spec holds only the head.
    """

    spec: Spec
    skipped: frozenset[str]
    names: tuple[str, ...]


def read_model(model: keras.Model) -> ModelReading:
    """The compiled model as the checks read it (see the module). Never changes the model."""
    try:
        spec = Spec.from_model(model)
    except SpecError:  # ModelSpecError too: a model the spec cannot describe in full
        spec, skipped = _head_spec(model)
        return ModelReading(spec, frozenset(skipped), ())
    return ModelReading(spec, frozenset(), tuple(layer_names(spec)))


def output_units(model: keras.Model) -> int:
    """The width of the model's output."""
    shape = model.outputs[0].shape if getattr(model, "outputs", None) else model.output_shape
    return int(shape[-1] or 1)


def _labels(y: np.ndarray) -> np.ndarray | None:
    """One value per window: a ``(n, 1)`` column flattened, one-hot rows as class indices; None for
    several real-valued outputs per window."""
    if y.ndim == 1:
        return y
    if y.ndim == 2 and y.shape[1] == 1:
        return y[:, 0]
    if y.ndim == 2 and np.issubdtype(y.dtype, np.number) and np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1):
        return np.argmax(y, axis=1)
    return None


def monitor_dataset(spec: Spec, units: int, x: np.ndarray, y: np.ndarray) -> Dataset:
    """The validation sample as a ``Dataset`` whose training part is itself (the monitor sees nothing else).

    The task is ``diagnose``'s (``infer_task`` on the targets, the loss as a hint); a classifier's labels
    stay the indices of the model's output columns, so a class the sample lacks keeps its place.
    Several real-valued outputs per window: the first is measured, as a regression.
    """
    labels = _labels(y)
    if labels is None:
        task, labels = "regression", y.reshape(len(y), -1)[:, 0]
    else:
        task = spec.data.task or infer_task(labels, spec.model.loss)
        if task == "binary" and units > 1:  # a softmax over K classes, on a sample that shows two of them
            task = "multiclass"
    if task == "regression":
        targets, classes = labels.astype(np.float64), []
    else:
        targets = np.rint(labels.astype(np.float64)).astype(np.int64)
        classes = list(range(max(units if units > 1 else 2, int(targets.max()) + 1)))
    return Dataset(x_train=x, y_train=targets, x_val=x, y_val=targets, task=task,
                   feature_names=array_feature_names(x.shape[2]), target_name="y", classes=classes)


def start_measures(model: keras.Model, names: tuple[str, ...], x: np.ndarray) -> tuple[dict, dict]:
    """(gate saturation per recurrent layer, head output ``{mean, std}``) of ``model`` on up to
    ``ACTIVATION_BATCH`` evenly spaced windows of ``x``: the brief training's ``saturation_init`` and
    ``output_init``, measured the same way. Empty for a model whose layers cannot be read one by one."""
    try:
        layers = stacked_layers(model)
        if len(layers) != len(names):
            return {}, {}
        extractor = keras.Model(single_input(model), [layer.output for layer in layers])
    except (SpecError, AttributeError, ValueError, TypeError):  # no symbolic graph: a subclassed model
        return {}, {}
    index = np.unique(np.linspace(0, len(x) - 1, min(len(x), ACTIVATION_BATCH)).astype(int))
    with np.errstate(all="ignore"):
        pairs = layer_inputs_and_outputs(extractor, x[index])
        return measure_saturation(layers, list(names), pairs), output_stats(pairs)


def initial_copy(model: keras.Model, weights: list) -> keras.Model | None:
    """A copy of ``model`` holding ``weights`` (the user's model is never touched); None when Keras cannot clone it."""
    try:
        copy = keras.models.clone_model(model)
        copy.set_weights(weights)
    except (ValueError, TypeError, NotImplementedError):
        return None
    return copy


# -- a model the spec cannot describe in full: its head, loss and optimizer ------------------------
def _head_layer(model: keras.Model):
    """The last layer that decides the output's activation (a wrapper's inner layer)."""
    for layer in reversed(model.layers):
        inner = getattr(layer, "layer", layer)  # TimeDistributed, Bidirectional
        if getattr(inner, "activation", None) is not None or hasattr(inner, "units"):
            return inner
    return None


def _activation_name(layer) -> str:
    activation = getattr(layer, "activation", None) if layer is not None else None
    if activation is None:
        return "linear"
    name = getattr(activation, "__name__", None) or str(keras.activations.serialize(activation))
    return str(name).lower()


def _loss_name(model: keras.Model) -> str | None:
    loss = getattr(model, "loss", None)
    if loss is None:
        return None
    if isinstance(loss, str):
        return loss
    name = getattr(loss, "name", None) or getattr(loss, "__name__", None)
    return None if name is None else canonical_loss(str(name))


def _head_spec(model: keras.Model) -> tuple[Spec, set[str]]:
    """The compiled model's head, loss and optimizer as a spec, and the checks it cannot feed.

    Only what the cheap detectors read: the head (one Dense layer with the model's output units and
    the head's activation), the loss and the optimizer. A loss that cannot be named skips the loss
    checks; an optimizer the spec does not know skips the slow-optimizer check.
    """
    skipped: set[str] = set()
    loss = _loss_name(model)
    optimizer = getattr(model, "optimizer", None)
    name = type(optimizer).__name__.lower()
    if name not in OPTIMIZERS:
        name = "adam"
        skipped.add("slow_optimizer")
    try:
        rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    except (AttributeError, TypeError, ValueError):
        rate = 0.001
    raw_optimizer = {"name": name, "learning_rate": rate if rate > 0 else 0.001}
    if name in MOMENTUM_OPTIMIZERS:
        raw_optimizer["momentum"] = float(getattr(optimizer, "momentum", 0.0) or 0.0)
    head = {"type": "dense", "units": output_units(model), "activation": _activation_name(_head_layer(model))}
    raw = {"data": {}, "model": {"layers": [head], "optimizer": raw_optimizer, "loss": loss or "mse"}}
    unnamed = {"loss_activation_mismatch", "loss_target_mismatch"} if loss is None else set()
    try:
        return load_spec(raw), skipped | unnamed
    except SpecError:
        # A loss or head activation the spec cannot hold: keep the checks that read only the data.
        raw["model"].update(loss="mse", layers=[{"type": "dense", "units": head["units"]}])
        return load_spec(raw), skipped | {"loss_activation_mismatch", "loss_target_mismatch", "output_activation_range"}


__all__ = ["ModelReading", "initial_copy", "monitor_dataset", "output_units", "read_model", "start_measures"]
