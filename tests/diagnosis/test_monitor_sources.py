"""CollapseMonitor's validation data: arrays, a tf.data.Dataset, a keras.utils.PyDataset, or the fit's own.

Each source is checked against the plain arrays it holds, on the same fit: two monitors watching one
model at the same epoch ends must measure the same spread and name the same causes.
"""

from __future__ import annotations

import math
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from autofix_lstm import CollapseMonitor, CollapseWarning
from autofix_lstm.diagnosis.monitor_data import fit_validation_windows, sample_windows
from autofix_lstm.errors import SpecError


class _Batches(keras.utils.PyDataset):
    """(x, y) batches by index, as a user's PyDataset serves them."""

    def __init__(self, x, y, batch_size):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index):
        part = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[part], self.y[part]


def _pinned():
    """Windows in the hundreds and a target in the hundreds into a sigmoid head: collapsed for good."""
    rng = np.random.default_rng(0)
    series = 300 + 50 * np.sin(np.arange(160) / 8) + rng.normal(0, 5, 160)
    x = np.stack([series[i : i + 8] for i in range(150)])[..., None].astype("float32")
    y = series[8:158].astype("float32")
    model = keras.Sequential([keras.Input((8, 1)), keras.layers.LSTM(8), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model, x, y


def _fit(model, x, y, callbacks, **fit_args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CollapseWarning)
        model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=callbacks, **fit_args)


def _same(a: CollapseMonitor, b: CollapseMonitor) -> None:
    assert a.std_ratios == b.std_ratios and a.warned_at == b.warned_at == 2
    assert [f.to_dict() for f in a.findings] == [f.to_dict() for f in b.findings]


def test_every_source_reads_the_windows_it_holds():
    x = np.arange(40 * 3 * 2, dtype="float32").reshape(40, 3, 2)
    y = np.arange(40.0)
    tuple_x, tuple_y = sample_windows((x, y), max_samples=10)
    assert len(tuple_x) == 10 and tuple_y[0] == 0 and tuple_y[-1] == 39  # evenly spaced over the whole
    py_x, py_y = sample_windows(_Batches(x, y, 8), max_samples=10)
    assert len(py_x) == 10 and py_y[0] == 0 and py_y[-1] == 39  # evenly spaced batches, then windows
    tf_x, tf_y = sample_windows(tf.data.Dataset.from_tensor_slices((x, y)).batch(8).repeat(), max_samples=10)
    assert list(tf_y) == list(range(10))  # its first batches only: it may repeat for ever
    weighted = sample_windows((x, y, np.ones(40)), max_samples=40)  # fit's (x, y, sample_weight) form
    assert np.array_equal(weighted[0], x) and tf_x.dtype == py_x.dtype == np.float32


def test_sources_without_targets_or_of_another_kind_are_refused():
    x = np.zeros((8, 3, 1), "float32")
    with pytest.raises(SpecError, match="without targets"):
        sample_windows(tf.data.Dataset.from_tensor_slices(x).batch(4), max_samples=8)
    with pytest.raises(SpecError, match=r"\(x_val, y_val\) tuple, a tf.data.Dataset or a keras.utils.PyDataset"):
        CollapseMonitor({"x": x})
    with pytest.raises(SpecError, match="at least 4"):
        CollapseMonitor((x[:3], np.arange(3.0)))


@pytest.mark.slow
def test_a_tf_dataset_and_a_py_dataset_measure_what_their_arrays_do():
    model, x, y = _pinned()
    arrays = CollapseMonitor((x[120:], y[120:]))
    from_tf = CollapseMonitor(tf.data.Dataset.from_tensor_slices((x[120:], y[120:])).batch(8))
    from_py = CollapseMonitor(_Batches(x[120:], y[120:], 8))
    _fit(model, x[:120], y[:120], [arrays, from_tf, from_py])
    _same(arrays, from_tf)
    _same(arrays, from_py)
    ids = {f.id: str(f.severity) for f in arrays.findings}
    assert ids["unscaled_inputs"] == ids["unscaled_target"] == ids["output_activation_range"] == "error"


@pytest.mark.slow
@pytest.mark.parametrize("route", ["validation_data", "validation_split", "tf.data", "PyDataset"])
def test_with_no_argument_it_reads_the_fits_own_validation_data(route):
    model, x, y = _pinned()
    given = {
        "validation_data": {"validation_data": (x[120:], y[120:])},
        "validation_split": {"validation_split": 0.2},  # Keras holds out the last fifth
        "tf.data": {"validation_data": tf.data.Dataset.from_tensor_slices((x[120:], y[120:])).batch(16)},
        "PyDataset": {"validation_data": _Batches(x[120:], y[120:], 16)},
    }[route]
    explicit, own = CollapseMonitor((x[120:], y[120:])), CollapseMonitor()
    fit_x, fit_y = (x, y) if route == "validation_split" else (x[:120], y[:120])
    _fit(model, fit_x, fit_y, [explicit, own], **given)
    assert np.array_equal(own.x, explicit.x)
    # The same findings: unscaled_inputs' gate saturation, measured on a copy at the fit's starting
    # weights, matches the one measured on the model itself before its first step.
    _same(explicit, own)


class _PeekAtTheFitsValidation(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.adapter = getattr(getattr(self.model, "_eval_epoch_iterator", None), "data_adapter", None)


def test_keras_still_keeps_the_fits_validation_data_where_the_monitor_reads_it():
    """Pins the one private read (monitor_data.fit_validation_windows): a Keras upgrade that moves it fails here."""
    model, x, y = _pinned()
    peek = _PeekAtTheFitsValidation()
    model.fit(x[:40], y[:40], validation_data=(x[40:60], y[40:60]), epochs=1, verbose=0, callbacks=[peek])
    assert type(peek.adapter).__name__ == "ArrayDataAdapter"
    assert not hasattr(model, "_eval_epoch_iterator")  # deleted when the fit ends: read at an epoch's end only
    with pytest.raises(SpecError, match="CollapseMonitor\\(\\(x_val, y_val\\)\\)"):
        fit_validation_windows(model, 10)


def test_a_fit_without_validation_data_is_told_what_to_pass():
    model, x, y = _pinned()
    with pytest.raises(SpecError, match="no validation_data= or validation_split="):
        model.fit(x[:40], y[:40], epochs=1, verbose=0, callbacks=[CollapseMonitor()])
