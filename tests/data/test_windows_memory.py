"""Windows without copies (issue 15): scaled once as rows, fed to Keras in batches when large,
statistics and checks on bounded samples, and the same numbers as the whole-array path."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from helpers import spec_dict

from autofix_lstm.data import batches, transforms
from autofix_lstm.data.dataset import bounded_windows, evenly_spaced, load_dataset
from autofix_lstm.data.transforms import InputTransform
from autofix_lstm.modeling import callbacks
from autofix_lstm.modeling.train import fit_prepared, prepare
from autofix_lstm.spec import load_spec


def _spec(window=6, inputs="standard", **data):
    return load_spec(spec_dict(None, data={"path": None, "target": "y", "features": ["a", "y"], "window": window,
                                           **data},
                               preprocessing={"inputs": inputs}, train={"epochs": 2, "batch_size": 16, "seed": 0}))


def _frame(n=400, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64)
    return pd.DataFrame({"a": 50 + 20 * np.sin(t / 7) + rng.normal(size=n), "y": 3 * np.sin(t / 7 + 0.5)})


@pytest.mark.parametrize("inputs", ["none", "standard", "minmax", "robust"])
def test_scaled_windows_are_views_over_scaled_rows(inputs):
    spec = _spec(inputs=inputs)
    ds = load_dataset(spec, frame=_frame())
    prepared = prepare(spec, ds)
    base = prepared.x_train.base
    while base is not None and base.base is not None:
        base = base.base
    assert base is not None and base.shape == (400, 2)  # the scaled rows, once
    assert np.shares_memory(prepared.x_train, prepared.x_val)
    expected = prepared.inputs.apply(ds.x_val)  # the whole-array transform it replaces
    np.testing.assert_array_equal(prepared.x_val, expected)


@pytest.mark.parametrize("kind", ["standard", "minmax", "window_relative"])
def test_large_windows_fit_the_same_scaler_without_a_copy(monkeypatch, kind):
    spec = _spec(window=20)
    ds = load_dataset(spec, frame=_frame(1000))
    exact = InputTransform.fit(kind, ds.x_train)
    monkeypatch.setattr(transforms, "IN_ONE_GO_BYTES", 1024)  # everything counts as large now
    monkeypatch.setattr(transforms, "CHUNK_SAMPLES", 37)
    chunked = InputTransform.fit(kind, ds.x_train, ds.training_rows())
    # float64 accumulation here, the scaler's own dtype (float32 for minmax) there: float32 precision
    np.testing.assert_allclose(chunked.center, exact.center, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(chunked.scale, exact.scale, rtol=1e-6)
    np.testing.assert_allclose(chunked.apply(ds.x_val), exact.apply(ds.x_val), rtol=1e-6, atol=1e-6)


def test_training_rows_weight_each_row_by_the_windows_covering_it():
    spec = _spec(window=4, missing="drop")
    frame = _frame(60)
    frame.loc[30, "a"] = np.nan
    ds = load_dataset(spec, frame=frame)
    rows, counts = ds.training_rows()
    flat = ds.x_train.reshape(-1, 2).astype(np.float64)
    assert counts.sum() == len(flat)
    np.testing.assert_allclose(np.average(rows, axis=0, weights=counts), flat.mean(axis=0), rtol=1e-6)


def test_streamed_training_matches_the_task_and_records_the_check_sample(monkeypatch):
    spec = _spec(window=8, validation_split=0.3)
    ds = load_dataset(spec, frame=_frame(600))
    prepared = prepare(spec, ds)
    monkeypatch.setattr("autofix_lstm.modeling.train.STREAM_ABOVE_BYTES", 0)  # batches from the views
    monkeypatch.setattr(callbacks, "COLLAPSE_CHECK_WINDOWS", 40)
    pruning = callbacks.CollapsePruning(prepared, after=1, min_std_ratio=0.1, epochs=3, batch_size=16)
    outcome = fit_prepared(spec, prepared, epochs=3, callbacks=[pruning])
    assert outcome.epochs_run >= 2 and len(outcome.history["val_loss"]) == outcome.epochs_run
    assert np.isfinite(outcome.history["loss"]).all()
    n_val = len(prepared.y_val)
    assert pruning.checked_windows == len(range(0, n_val, -(-n_val // 40))) <= 40
    assert outcome.metrics.collapse_checks_on == f"{pruning.checked_windows} of {n_val} validation windows, evenly spaced"
    assert outcome.metrics.std_ratio > 0  # the final metrics still use every validation window


def test_window_batches_cover_every_sample_once_an_epoch_with_class_weights():
    x = np.lib.stride_tricks.sliding_window_view(np.arange(40, dtype=np.float32).reshape(20, 2), 3, axis=0)
    x = x.transpose(0, 2, 1)
    y = (np.arange(len(x)) % 2).astype(np.float32)
    feed = batches.WindowBatches(x, y, 5, shuffle=True, seed=1, class_weight={0: 1.0, 1: 4.0})
    seen = []
    for i in range(len(feed)):
        xb, yb, wb = feed[i]
        assert xb.flags.c_contiguous and xb.dtype == np.float32
        np.testing.assert_array_equal(wb, np.where(yb == 1, 4.0, 1.0))
        seen.extend((xb[:, 0, 0] // 2).astype(int).tolist())
    assert sorted(seen) == list(range(len(x)))
    in_order = batches.WindowBatches(x, y, 5)
    np.testing.assert_array_equal(in_order[1][0], x[5:10])


def test_bounded_samples_are_views():
    x = np.zeros((1000, 30, 4), np.float32)
    sample = bounded_windows(x, 30 * 4 * 100)
    assert len(sample) == 100 and np.shares_memory(sample, x)
    assert bounded_windows(x, x.size) is x
    assert evenly_spaced(10, 3) == slice(0, 10, 4)


def test_the_data_digest_is_unchanged_and_chunked(monkeypatch):
    spec = _spec()
    ds = load_dataset(spec, frame=_frame())
    whole = hashlib.sha256()
    for array in (ds.x_train, ds.y_train, ds.x_val, ds.y_val):
        whole.update(np.ascontiguousarray(array).tobytes())
    monkeypatch.setattr("autofix_lstm.data.samples._DIGEST_CHUNK", 7)
    chunked = hashlib.sha256()
    ds.update_digest(chunked)
    assert chunked.hexdigest() == whole.hexdigest()


def test_the_brief_training_evaluates_in_chunks_with_the_same_numbers(monkeypatch):
    from autofix_lstm.diagnosis import probes, stepper

    spec = _spec(window=8, validation_split=0.3)
    prepared = prepare(spec, load_dataset(spec, frame=_frame(500)))
    whole, whole_metrics = probes.run_probe(spec, prepared)
    monkeypatch.setattr(stepper, "EVAL_CHUNK", 7)  # 150 validation windows: 22 chunks, the last one short
    chunked, chunked_metrics = probes.run_probe(spec, prepared)
    np.testing.assert_allclose(chunked.val_loss, whole.val_loss, rtol=1e-5)
    assert chunked_metrics.std_ratio == pytest.approx(whole_metrics.std_ratio, rel=1e-5)
    assert chunked_metrics.mse == pytest.approx(whole_metrics.mse, rel=1e-5)


def test_large_window_relative_inputs_are_computed_as_read(monkeypatch):
    import tracemalloc

    spec = _spec(window=40, inputs="window_relative")
    ds = load_dataset(spec, frame=_frame(3000))
    eager = prepare(spec, ds)  # small: one array, as always
    assert isinstance(eager.x_train, np.ndarray)
    monkeypatch.setattr(transforms, "IN_ONE_GO_BYTES", 1024)  # everything counts as large now
    monkeypatch.setattr(transforms, "CHUNK_SAMPLES", 37)
    tracemalloc.start()
    lazy = prepare(spec, ds)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert isinstance(lazy.x_train, transforms.RelativeWindows) and lazy.x_train.shape == eager.x_train.shape
    assert peak < eager.x_train.nbytes / 4  # no copy of the windows
    # the same numbers as the whole-array transform with the same (chunk-fit) scaler
    x_train, x_val = lazy.inputs.apply(ds.x_train), lazy.inputs.apply(ds.x_val)
    np.testing.assert_allclose(x_train, eager.x_train, rtol=1e-6, atol=1e-6)
    index = np.array([0, 5, 999, len(ds.y_train) - 1])
    np.testing.assert_array_equal(lazy.x_train[index], x_train[index])
    np.testing.assert_array_equal(lazy.x_train[7], x_train[7])
    np.testing.assert_array_equal(lazy.x_train[index, -1, 0], x_train[index, -1, 0])
    part = lazy.x_val[3:50:4]
    assert isinstance(part, transforms.RelativeWindows)
    np.testing.assert_array_equal(np.asarray(part), x_val[3:50:4])
    np.testing.assert_array_equal(np.asarray(lazy.validation_sample(20).x_val), x_val[evenly_spaced(len(x_val), 20)])
    monkeypatch.setattr("autofix_lstm.modeling.train.STREAM_ABOVE_BYTES", 0)  # batches read from the lazy inputs
    outcome = fit_prepared(spec, lazy, epochs=1)
    assert np.isfinite(outcome.history["loss"]).all() and outcome.metrics.std_ratio > 0
