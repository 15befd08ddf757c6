"""Stateful recurrent layers (issue 24.3): built on a static batch, trained on whole batches in time order,
measured a static batch at a time without disturbing the training's states, exported and read back."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from helpers import make_series_csv, series_frame, spec_dict, write_spec

import autofix_lstm  # noqa: F401  (registers the custom layers before loading)
from autofix_lstm.data.dataset import load_dataset
from autofix_lstm.errors import CannotTrainError, ModelSpecError, SpecError
from autofix_lstm.modeling import stateful
from autofix_lstm.modeling import train as train_module
from autofix_lstm.modeling.build import build_core
from autofix_lstm.modeling.evaluate import predict_original
from autofix_lstm.modeling.train import build_model, export_model, fit_prepared, prepare, save_model
from autofix_lstm.spec import Spec, load_spec

BATCH = 16
STATEFUL_LSTM = [{"type": "lstm", "units": 8, "stateful": True}, {"type": "dense", "units": 1}]


def _spec(tmp_path, *, layers=None, n: int = 150, **train):
    path = make_series_csv(tmp_path, n=n, kind="sine", scale=10.0, offset=50.0)
    raw = spec_dict(path.name, model={"layers": layers or STATEFUL_LSTM},
                    preprocessing={"inputs": "standard", "target": "standard"},
                    train={"epochs": 2, "batch_size": BATCH, **train})
    spec = load_spec(write_spec(tmp_path, raw))
    return spec, prepare(spec, load_dataset(spec))


def _states(model) -> list[np.ndarray]:
    return [np.array(keras.ops.convert_to_numpy(v)) for v in stateful._state_variables(model)]


# --- the spec's side ---------------------------------------------------------------------------------------


def test_a_stateful_layer_builds_on_a_static_batch_and_needs_one(tmp_path):
    spec, _ = _spec(tmp_path)
    core = build_core(spec.model, (8, 2), batch_size=BATCH)
    assert core.input_shape == (BATCH, 8, 2) and core.layers[0].stateful
    assert stateful.static_batch_size(core) == BATCH
    assert build_core(load_spec(spec_dict("s.csv")).model, (8, 2), batch_size=BATCH).input_shape == (None, 8, 2)
    with pytest.raises(ModelSpecError, match="stateful recurrent layer needs a fixed batch size"):
        build_core(spec.model, (8, 2))


def test_reset_states_is_written_only_when_it_is_not_the_default(tmp_path):
    spec, _ = _spec(tmp_path)
    assert spec.train.reset_states == "never" and "reset_states" not in spec.to_dict()["train"]
    epoch = spec.updated({"train.reset_states": "epoch"})
    assert epoch.to_dict()["train"]["reset_states"] == "epoch"
    with pytest.raises(Exception, match="train.reset_states"):
        spec.updated({"train.reset_states": "batch"})


def test_resetting_states_on_a_model_with_no_stateful_layer_is_refused_at_the_spec():
    layers = [{"type": "bidirectional", "layer": {"type": "lstm", "units": 4}}, {"type": "dense", "units": 1}]
    with pytest.raises(SpecError) as caught:
        load_spec(spec_dict("s.csv", model={"layers": layers}, train={"reset_states": "epoch"}))
    assert caught.value.problems == [
        "train.reset_states: epoch only applies to stateful layers, and no recurrent layer of model.layers is "
        "stateful; set `stateful: true` on an lstm layer (with train.batch_size as its fixed batch) or remove "
        "train.reset_states"]
    layers[0]["layer"]["stateful"] = True  # a wrapped stateful layer counts
    assert load_spec(spec_dict("s.csv", model={"layers": layers}, train={"reset_states": "epoch"})).train.reset_states == (
        "epoch")


def test_statefulness_is_set_on_every_recurrent_layer_a_wrapped_one_included():
    layers = [{"type": "bidirectional", "layer": {"type": "gru", "units": 4, "stateful": True}},
              {"type": "dropout", "rate": 0.1}, {"type": "lstm", "units": 4}, {"type": "dense", "units": 1}]
    assert stateful.stateful_indices(layers) == [0]
    stateful.set_stateful(layers, True)
    assert stateful.stateful_indices(layers) == [0, 2]
    stateful.set_stateful(layers, False)
    assert stateful.stateful_indices(layers) == [] and "stateful" not in layers[0]["layer"]


# --- batches -----------------------------------------------------------------------------------------------


def test_batched_calls_on_whole_batches_and_drops_the_padding():
    seen = []

    def double(x, y):
        seen.append(len(x))
        return [x * 2, y + 1]

    x, y = np.arange(7.0).reshape(7, 1), np.arange(7.0)
    out_x, out_y = stateful.batched(double, 3, x, y)
    assert seen == [3, 3, 3]
    np.testing.assert_array_equal(out_x[:, 0], [0, 2, 4, 6, 8, 10, 12])
    np.testing.assert_array_equal(out_y, [1, 2, 3, 4, 5, 6, 7])
    assert stateful.full_batches(117, BATCH) == 112 and stateful.full_batches(16, BATCH) == 16


def test_the_fit_gets_whole_batches_in_time_order(tmp_path):
    spec, prepared = _spec(tmp_path)
    n_train, n_val = len(prepared.y_train), len(prepared.y_val)
    assert n_train % BATCH and n_val % BATCH  # a remainder on both sides
    data = train_module._fit_data(spec, prepared)
    assert data["shuffle"] is False and data["batch_size"] == BATCH
    assert len(data["x"]) == len(data["y"]) == n_train - n_train % BATCH
    np.testing.assert_array_equal(data["y"], prepared.y_train[: len(data["y"])])
    x_val, y_val = data["validation_data"]
    assert len(x_val) == len(y_val) == n_val - n_val % BATCH


def test_large_windows_stream_as_whole_batches_in_time_order(tmp_path, monkeypatch):
    spec, prepared = _spec(tmp_path)
    monkeypatch.setattr(train_module, "STREAM_ABOVE_BYTES", 0)  # as if the windows were too large to hand over whole
    data = train_module._fit_data(spec, prepared)
    batches, n_train = data["x"], len(prepared.y_train)
    assert len(batches) == n_train // BATCH and "y" not in data
    sizes = [len(batches[i][1]) for i in range(len(batches))]
    assert sizes == [BATCH] * len(batches)
    np.testing.assert_array_equal(np.concatenate([batches[i][1] for i in range(len(batches))]),
                                  prepared.y_train[: n_train - n_train % BATCH])
    assert len(data["validation_data"]) == len(prepared.y_val) // BATCH


# --- training, measuring, exporting ------------------------------------------------------------------------


def test_a_stateful_spec_trains_past_a_remainder_batch_and_predicts_every_window(tmp_path):
    spec, prepared = _spec(tmp_path, reset_states="epoch")
    outcome = fit_prepared(spec, prepared)
    assert outcome.epochs_run == 2 and len(outcome.history["val_loss"]) == 2
    assert outcome.val_predictions.shape == (len(prepared.y_val),)  # not a multiple of the batch
    assert np.all(np.isfinite(outcome.val_predictions))
    assert outcome.metrics.r2 > 0.5  # a scaled sine: learnable in two epochs


def test_predicting_starts_from_zero_states_and_leaves_the_trainings_states_alone(tmp_path):
    spec, prepared = _spec(tmp_path)
    core = build_model(spec, prepared)
    left = [np.full(s.shape, 0.5, np.float32) for s in _states(core)]
    for variable, value in zip(stateful._state_variables(core), left):
        variable.assign(value)
    first = predict_original(core, prepared, prepared.dataset.x_val)
    for state, value in zip(_states(core), left):
        np.testing.assert_array_equal(state, value)  # put back as the training left them
    np.testing.assert_array_equal(predict_original(core, prepared, prepared.dataset.x_val), first)
    with stateful.fresh_states(core):
        by_hand = np.asarray(core(np.asarray(prepared.x_val[:BATCH], np.float32), training=False))[:, 0]
    np.testing.assert_allclose(first[:BATCH], prepared.target.invert(by_hand.astype(np.float64),
                                                                    prepared.dataset.x_val[:BATCH]), rtol=1e-5)


def test_states_are_reset_each_epoch_when_the_spec_says_so(tmp_path):
    spec, prepared = _spec(tmp_path)
    core = build_model(spec, prepared)
    for variable in stateful._state_variables(core):
        variable.assign(np.ones(variable.shape, np.float32))
    callback = stateful.ResetStatesEachEpoch()
    callback.set_model(core)
    callback.on_epoch_begin(0)
    assert all(not np.any(state) for state in _states(core))


def test_a_batch_larger_than_the_training_part_cannot_train(tmp_path):
    spec, prepared = _spec(tmp_path, n=40)
    spec = spec.updated({"train.batch_size": 64})
    assert len(prepared.y_train) == 26
    with pytest.raises(CannotTrainError, match=r"whole batches of train.batch_size \(64\) windows.*holds 26"):
        build_model(spec, prepared)


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_the_exported_stateful_model_takes_its_batch_from_zero_states(tmp_path):
    spec, prepared = _spec(tmp_path)
    outcome = fit_prepared(spec, prepared, epochs=1)
    expected = predict_original(outcome.core, prepared, prepared.dataset.x_val[:BATCH])
    save_model(export_model(outcome.core, prepared), tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert loaded.input_shape == (BATCH, 8, 2)
    got = np.asarray(loaded.predict(prepared.dataset.x_val[:BATCH], batch_size=BATCH, verbose=0)).reshape(-1)
    np.testing.assert_allclose(got, expected, rtol=1e-4)


# --- reading a live or saved stateful model ----------------------------------------------------------------


def _live(batch: int = BATCH) -> keras.Model:
    model = keras.Sequential([keras.Input(batch_shape=(batch, 8, 2)), keras.layers.LSTM(8, stateful=True),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model


def test_a_live_stateful_model_is_read_with_its_state_and_batch_size():
    spec = Spec.from_model(_live(), path="series.csv", target="y", window=8)
    assert spec.model.layers[0].to_dict() == {"type": "lstm", "stateful": True, "units": 8}
    assert spec.train.batch_size == BATCH
    assert Spec.from_model(_live(), path="series.csv", target="y", window=8, batch_size=BATCH).train.batch_size == BATCH
    with pytest.raises(ModelSpecError, match="built for batches of 16 windows.*train.batch_size is 32"):
        Spec.from_model(_live(), path="series.csv", target="y", window=8, batch_size=32)


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_a_saved_stateful_model_is_read_with_its_state_and_batch_size(tmp_path):
    _live(batch=8).save(tmp_path / "model.keras")
    series_frame(120).to_csv(tmp_path / "series.csv", index=False)
    raw = spec_dict("series.csv", model={"path": "model.keras", "layers": None}, train={"batch_size": None})
    spec = load_spec(write_spec(tmp_path, raw))
    assert spec.model.layers[0].to_dict() == {"type": "lstm", "stateful": True, "units": 8}
    assert spec.train.batch_size == 8
    raw["train"]["batch_size"] = 32
    with pytest.raises(ModelSpecError, match=r"model.path was built for batches of 8 windows.*set train.batch_size to 8"):
        load_spec(write_spec(tmp_path, raw))


def test_collapse_monitor_measures_a_live_stateful_fit_without_disturbing_it():
    from autofix_lstm import CollapseMonitor

    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 8, 2)).astype("float32")
    y = x[:, -1, :].mean(axis=1)
    model = _live()
    monitor = CollapseMonitor((x[64:], y[64:]))  # 26 validation windows: not a whole number of batches
    history = model.fit(x[:64], y[:64], epochs=2, batch_size=BATCH, shuffle=False, verbose=0, callbacks=[monitor])
    assert len(history.history["loss"]) == 2 and len(monitor.std_ratios) == 2
    assert all(ratio is not None and ratio > 0 for ratio in monitor.std_ratios)
