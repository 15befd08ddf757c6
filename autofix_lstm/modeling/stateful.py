"""Stateful recurrent layers: a fixed batch size, and states carried from one batch to the next.

A recurrent layer with ``stateful: true`` starts each batch from the states the previous batch left,
sample ``j`` of a batch from sample ``j`` of the batch before. Keras 3 builds it only on a static
batch size (``keras.Input(batch_shape=(batch_size, window, features))``) and then refuses any other
batch size, a last batch of the remainder included. Its ``fit`` never resets the states: not between
batches, not between epochs, not around the validation pass (``train.reset_states: epoch`` resets
them at the start of every epoch, as the tutorials' manual loop of one-epoch fits did).

How this package trains and measures such a model:

- training: batches in time order (never shuffled: shuffled batches carry a state into an unrelated
  window), whole batches only (the remainder of the training windows is left out, as is the
  remainder of the validation windows for the fit's ``val_loss``); ``full_batches``, used by
  ``train``'s fit data;
- predicting: ``batch_size`` windows at a time, the last chunk padded with copies of its last window
  and the padding dropped (``batched``), from zero states, and the states the training carries put
  back afterwards (``fresh_states``), so that a measurement in the middle of a training changes nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import keras
import numpy as np

from autofix_lstm.errors import CannotTrainError
from autofix_lstm.modeling.build import is_stateful, recurrent_config

# ``train.reset_states``: when the states go back to zeros during a training. ``never`` is what Keras does.
RESET_POLICIES = ("never", "epoch")


def stateful_indices(layers: list[dict[str, Any]]) -> list[int]:
    """Indices of the spec layer dicts whose recurrent layer (a bidirectional's included) is stateful."""
    return [i for i, layer in enumerate(layers) if (recurrent_config(layer) or {}).get("stateful") is True]


def set_stateful(layers: list[dict[str, Any]], value: bool) -> None:
    """Make every recurrent layer of the spec layer dicts stateful (``value`` true) or stateless, in place.

    Stateless removes the key, so that the layer reads as one the user never made stateful.
    """
    for layer in layers:
        config = recurrent_config(layer)
        if config is None:
            continue
        if value:
            config["stateful"] = True
        else:
            config.pop("stateful", None)


def _state_variables(model: keras.Model) -> list:
    """The state variables of every stateful recurrent layer in ``model`` (nested models and both
    directions of a bidirectional layer included)."""
    found = []
    for layer in getattr(model, "layers", ()):  # a stand-in for a model (tests replay outputs) has none
        if isinstance(layer, keras.Model):
            found += _state_variables(layer)
        elif isinstance(layer, keras.layers.Bidirectional):
            for direction in (layer.forward_layer, layer.backward_layer):
                if direction.stateful and direction.states is not None:
                    found += list(direction.states)
        elif isinstance(layer, keras.layers.RNN) and layer.stateful and layer.states is not None:
            found += list(layer.states)
    return found


def static_batch_size(model: keras.Model) -> int | None:
    """The batch size a model with stateful layers was built for (every call must have exactly that
    many samples); None for a model without stateful layers."""
    if not _state_variables(model):
        return None
    inputs = getattr(model, "inputs", None)
    size = inputs[0].shape[0] if inputs else None
    return None if size is None else int(size)


def reset_states(model: keras.Model) -> None:
    """Set the states of every stateful layer of ``model`` to zeros."""
    for variable in _state_variables(model):
        variable.assign(keras.ops.zeros_like(variable))


@contextlib.contextmanager
def fresh_states(model: keras.Model) -> Iterator[None]:
    """Zero states inside the block; the states as they were before it, on the way out. A stateless model
    is left alone."""
    variables = _state_variables(model)
    saved = [keras.ops.convert_to_numpy(v) for v in variables]
    reset_states(model)
    try:
        yield
    finally:
        for variable, value in zip(variables, saved):
            variable.assign(value)


class ResetStatesEachEpoch(keras.callbacks.Callback):
    """Resets the states of the model's stateful layers at the start of every epoch (``train.reset_states: epoch``)."""

    def on_epoch_begin(self, epoch, logs=None):
        reset_states(self.model)


def full_batches(n: int, batch_size: int) -> int:
    """How many of ``n`` windows a stateful model trains on: whole batches of ``batch_size`` only."""
    return n - n % max(1, int(batch_size))


def require_full_batch(spec, train_windows: int) -> None:
    """A stateful spec must have one whole batch of training windows at least.

    Raises:
        CannotTrainError: ``train.batch_size`` exceeds the training windows of a stateful model.
    """
    size = spec.train.batch_size
    if train_windows >= size or not is_stateful(spec.model):
        return
    reason = (f"a stateful model trains on whole batches of train.batch_size ({size}) windows, and the training "
              f"part holds {train_windows}")
    raise CannotTrainError(f"cannot train: {reason}; lower train.batch_size, or make the recurrent layers "
                           "stateless (stateful: false)", spec.source, reason=reason)


def _pad(array: Any, size: int) -> np.ndarray:
    """``array`` (a chunk) as a numpy array of ``size`` rows: its last row repeated to fill it."""
    array = np.asarray(array)
    if len(array) == size:
        return array
    return np.concatenate([array, np.repeat(array[-1:], size - len(array), axis=0)])


def batched(fn: Callable[..., Any], batch_size: int, *arrays: Any) -> Any:
    """``fn`` on consecutive chunks of exactly ``batch_size`` rows of ``arrays`` (aligned by row), in
    order: the last chunk is padded with copies of its last row, and the padding's rows are dropped
    from what ``fn`` returns. ``fn`` returns an array (rows first) or a list of them; the chunks' results
    are joined row-wise the same way.
    """
    n = len(arrays[0])
    results = []
    for start in range(0, n, batch_size):
        kept = min(batch_size, n - start)
        out = fn(*(_pad(a[start : start + batch_size], batch_size) for a in arrays))
        many = isinstance(out, (list, tuple))
        results.append([np.asarray(o)[:kept] for o in out] if many else np.asarray(out)[:kept])
    if not results:
        raise ValueError("batched needs at least one row")
    if isinstance(results[0], list):
        return [np.concatenate(parts) for parts in zip(*results)]
    return np.concatenate(results)


def predict_in_batches(model: keras.Model, x: Any, prepare: Callable[[Any], Any] = lambda chunk: chunk) -> np.ndarray:
    """``model(prepare(chunk))`` in inference mode for a model with stateful layers: its static batch at a
    time (``batched``), from zero states, its training's states put back afterwards (``fresh_states``)."""
    with fresh_states(model):
        return batched(lambda chunk: model(prepare(chunk), training=False), static_batch_size(model), x)


__all__ = ["RESET_POLICIES", "ResetStatesEachEpoch", "batched", "fresh_states", "predict_in_batches", "full_batches",
           "is_stateful", "require_full_batch", "reset_states", "set_stateful", "stateful_indices", "static_batch_size"]
