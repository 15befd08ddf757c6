"""The validation windows ``CollapseMonitor`` measures: a bounded sample of arrays, batches, or the fit's own.

Three sources, each read once and cut to at most ``max_samples`` windows:

- ``(x_val, y_val)`` arrays (a third item, sample weights, is ignored): evenly spaced windows;
- a ``keras.utils.PyDataset`` of ``(x, y)`` batches: evenly spaced batches (it has random access);
- a ``tf.data.Dataset`` of ``(x, y)`` batches: its first batches (it can only be read in order, and
  may repeat for ever).

With no source, ``fit_validation_windows`` reads the validation data ``model.fit`` was given
(``validation_data=`` or ``validation_split=``). Keras 3 hands none to callbacks (``Callback.validation_data``
is gone: "a remnant of a long-deprecated feature", keras-team/keras#20043), and no public API returns it
during a fit. The one place a fit keeps it is the trainer's cached evaluation iterator,
``model._eval_epoch_iterator``: private, set when the fit first validates and deleted when it ends.
It is read there and nowhere else; tests/diagnosis/test_monitor_sources.py pins it, and when it is missing (a
fit without validation data, one that validates only every few epochs, or a Keras that changed it)
the monitor raises a ``SpecError`` that says what to pass instead.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from autofix_lstm.data.dataset import MIN_TRAIN_SAMPLES
from autofix_lstm.errors import SpecError

# The monitor's sample stands in for both parts of the data its checks read, so it needs as many
# windows as a training part.
MIN_WINDOWS = MIN_TRAIN_SAMPLES
# What to pass when no validation data can be read: the sentence every refusal ends with.
WHAT_TO_PASS = ("give the monitor its validation data: CollapseMonitor((x_val, y_val)), a tf.data.Dataset or a "
                "keras.utils.PyDataset of (x, y) batches")
# The fit's data adapters whose batches can be read again without disturbing the fit: arrays (sliced
# afresh) and tf.data (a new iteration). A generator's batches would be taken from the fit itself.
_REREADABLE_ADAPTERS = ("ArrayDataAdapter", "TFDatasetAdapter")


def _tf_dataset_type():
    try:
        import tensorflow as tf
    except ImportError:  # another Keras backend, without TensorFlow: no tf.data to read
        return None
    return tf.data.Dataset


def _x_and_y(batch, source: str) -> tuple[np.ndarray, np.ndarray]:
    """A batch (or the arrays) as (windows, targets), sample weights dropped."""
    x, y, _ = keras.utils.unpack_x_y_sample_weight(tuple(batch) if isinstance(batch, list) else batch)
    if y is None:
        raise SpecError(f"CollapseMonitor's {source} holds windows without targets; it needs (x, y) to measure "
                        "the output's spread against the targets'")
    if isinstance(x, dict) or isinstance(y, dict):
        raise SpecError(f"CollapseMonitor's {source} holds a dict of inputs or targets; it reads one array of "
                        "windows and one of targets")
    return np.asarray(x), np.asarray(y)  # numpy, lists, and any backend's tensors (they implement __array__)


def _evenly_spaced(x: np.ndarray, y: np.ndarray, max_samples: int) -> tuple[np.ndarray, np.ndarray]:
    index = np.unique(np.linspace(0, len(x) - 1, min(len(x), int(max_samples))).astype(int))
    return x[index], y[index]


def _checked(x: np.ndarray, y: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Windows (samples, timesteps, features) as float32 and as many targets, at least ``MIN_WINDOWS``."""
    if x.ndim != 3 or len(x) != len(y) or len(x) < MIN_WINDOWS:
        raise SpecError(
            f"CollapseMonitor's {source} must hold windows (samples, timesteps, features) and as many targets, at "
            f"least {MIN_WINDOWS}; got x {x.shape} and y {y.shape}"
        )
    return x.astype(np.float32), y


def _stacked(pairs: list[tuple[np.ndarray, np.ndarray]], source: str) -> tuple[np.ndarray, np.ndarray]:
    if not pairs:
        raise SpecError(f"CollapseMonitor's {source} is empty")
    try:
        return np.concatenate([x for x, _ in pairs]), np.concatenate([y for _, y in pairs])
    except ValueError as err:  # batches of different window shapes
        raise SpecError(f"CollapseMonitor's {source}: its batches do not stack ({err})") from None


def _from_batches(batches, max_samples: int, source: str) -> tuple[np.ndarray, np.ndarray]:
    """The first batches of an iterator, until they hold ``max_samples`` windows (never read further)."""
    pairs, held = [], 0
    for batch in batches:
        pairs.append(_x_and_y(batch, source))
        held += len(pairs[-1][0])
        if held >= max_samples:
            break
    x, y = _stacked(pairs, source)
    return _checked(x[:max_samples], y[:max_samples], source)


def _from_py_dataset(dataset: keras.utils.PyDataset, max_samples: int, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Evenly spaced batches of a finite ``PyDataset`` (the first ones of an infinite one), then evenly spaced
    windows of them, at most ``max_samples``."""
    count = dataset.num_batches
    if count is None:  # infinite: only its first batches are bounded
        return _from_batches((dataset[i] for i in range(max_samples)), max_samples, source)
    if count < 1:
        raise SpecError(f"CollapseMonitor's {source} is empty")
    first = _x_and_y(dataset[0], source)
    wanted = min(count, math.ceil(max_samples / max(1, len(first[0]))))
    picks = np.unique(np.linspace(0, count - 1, wanted).astype(int))
    x, y = _stacked([first] + [_x_and_y(dataset[int(i)], source) for i in picks[1:]], source)
    return _checked(*_evenly_spaced(x, y, max_samples), source)


def sample_windows(source, max_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_samples`` validation windows (float32) and their targets from ``source`` (see the module).

    Raises:
        SpecError: a source of another kind, windows that are not (samples, timesteps, features), no targets.
    """
    if isinstance(source, keras.utils.PyDataset):
        return _from_py_dataset(source, max_samples, "PyDataset")
    tf_dataset = _tf_dataset_type()
    if tf_dataset is not None and isinstance(source, tf_dataset):
        return _from_batches(source.as_numpy_iterator(), max_samples, "tf.data.Dataset")
    if isinstance(source, (tuple, list)) and len(source) in (2, 3):
        x, y = _x_and_y(source, "validation_data")
        return _checked(*_evenly_spaced(x, y, max_samples), "validation_data")
    raise SpecError(
        "CollapseMonitor's validation_data must be an (x_val, y_val) tuple, a tf.data.Dataset or a "
        f"keras.utils.PyDataset, or left out to use the fit's own; got {type(source).__name__}"
    )


def fit_validation_windows(model: keras.Model, max_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_samples`` windows of the validation data the running ``model.fit`` was given.

    Read at an epoch's end, once the fit has validated (see the module for where, and why there).

    Raises:
        SpecError: no validation data can be read (the message says what to pass).
    """
    # Private: Keras' cached evaluation iterator of this fit (None before its first validation).
    iterator = getattr(model, "_eval_epoch_iterator", None)
    adapter = getattr(iterator, "data_adapter", None)
    if adapter is None:
        raise SpecError(
            "CollapseMonitor() was given no validation data and this fit has none it can read at the end of the "
            "epoch (no validation_data= or validation_split=, or validation_freq > 1); " + WHAT_TO_PASS
        )
    py_dataset = getattr(adapter, "py_dataset", None)  # read by index: its workers and queue stay the fit's
    if isinstance(py_dataset, keras.utils.PyDataset):
        return _from_py_dataset(py_dataset, max_samples, "fit's validation PyDataset")
    if type(adapter).__name__ not in _REREADABLE_ADAPTERS:
        raise SpecError(
            f"CollapseMonitor() cannot read this fit's validation data ({type(adapter).__name__}) without taking "
            "batches from the fit itself; " + WHAT_TO_PASS
        )
    return _from_batches(adapter.get_numpy_iterator(), max_samples, "fit's validation data")


__all__ = ["MIN_WINDOWS", "fit_validation_windows", "sample_windows"]
