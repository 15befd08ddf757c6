"""CollapseMonitor: a callback in the user's own ``model.fit`` that warns once the output has collapsed."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest

import autofix_lstm
from autofix_lstm import CollapseMonitor, CollapseWarning
from autofix_lstm.diagnosis.monitor import CHEAP_CHECKS
from autofix_lstm.errors import SpecError
from autofix_lstm.modeling.callbacks import RECOVERY_FACTOR
from autofix_lstm.scoring.metrics import COLLAPSE_STD_RATIO


def _windows(n: int = 300, window: int = 8):
    """A clean sine cut into windows: x (n, window, 1) and the next value as y."""
    s = np.sin(2 * np.pi * np.arange(n + window) / 16)
    x = np.stack([s[i : i + window] for i in range(n)])[..., None].astype("float32")
    return x, s[window : n + window]


def _model(head: str) -> keras.Model:
    model = keras.Sequential([keras.Input((8, 1)), keras.layers.LSTM(8), keras.layers.Dense(1, activation=head)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model


def _fit(model, x, y, monitor, epochs: int):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x[:240], y[:240], epochs=epochs, batch_size=32, verbose=0, callbacks=[monitor])
    return history, [w for w in caught if issubclass(w.category, CollapseWarning)]


@pytest.mark.slow
def test_warns_once_within_patience_on_a_collapsing_fit_and_names_the_causes():
    x, y = _windows()
    y = 500 + 100 * y  # a target in the hundreds into a sigmoid head: the output pins at 1
    monitor = CollapseMonitor((x[240:], y[240:]), patience=2)
    history, caught = _fit(_model("sigmoid"), x, y, monitor, epochs=4)
    assert len(history.history["loss"]) == 4  # warning does not stop the fit by default
    assert monitor.warned_at == 2 and monitor.collapsed_epochs[:2] == [1, 2]
    assert all(ratio < 0.01 for ratio in monitor.std_ratios)
    assert len(caught) == 1  # once, not every epoch after
    text = str(caught[0].message)
    assert "output collapsed" in text and "autofix_lstm.search(model" in text
    ids = [f.id for f in monitor.findings]
    assert "output_activation_range" in ids and "unscaled_target" in ids


def _sunspot_like(n: int = 320, window: int = 12):
    """An 11-step cycle whose peaks vary, with noise, standard-scaled: x (n, window, 1) and the next value."""
    rng = np.random.default_rng(0)
    t = np.arange(n + window)
    s = 80 * (np.sin(2 * np.pi * t / 11) + 1) ** 2 * (1 + 0.3 * np.sin(2 * np.pi * t / 97)) + rng.normal(0, 10, n + window)
    s = (s - s.mean()) / s.std()
    x = np.stack([s[i : i + window] for i in range(n)])[..., None].astype("float32")
    return x, s[window:]


@pytest.mark.slow
def test_silent_on_a_slow_starter_whose_spread_grows_every_epoch():
    """Collapsed for its first epochs, but its spread grows by more than RECOVERY_FACTOR each epoch: the
    search's pruning would spare it, and the monitor does not cry wolf (it used to warn at epoch 2)."""
    x, y = _sunspot_like()
    model = keras.Sequential([keras.Input((12, 1)), keras.layers.LSTM(32), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(5e-4), loss="mse")
    monitor = CollapseMonitor((x[240:], y[240:]), patience=2)
    _, caught = _fit(model, x, y, monitor, epochs=4)
    ratios = monitor.std_ratios
    assert ratios == pytest.approx([0.053, 0.072, 0.093, 0.115], abs=0.005)  # seen with the fixed seeds
    assert monitor.collapsed_epochs == [1, 2, 3] and ratios[2] < COLLAPSE_STD_RATIO  # 3 collapsed epochs in a row
    # ... each one's spread more than RECOVERY_FACTOR times the last (1.36x, then 1.29x)
    assert all(later > RECOVERY_FACTOR * earlier for earlier, later in zip(ratios[:2], ratios[1:3]))
    assert monitor.moving_epochs == [1, 2, 3]
    assert caught == [] and monitor.warned_at is None


@pytest.mark.slow
def test_the_monitor_names_what_diagnose_names_on_the_same_arrays():
    """Same arrays through diagnose and the monitor: the same ids, severities, remedy strategies and
    feature names for the checks both run (the learning-rate ones read each training's own steps)."""
    rng = np.random.default_rng(0)
    series = 300 + 50 * np.sin(np.arange(130) / 8) + rng.normal(0, 5, 130)  # inputs and target in the hundreds
    x = np.stack([series[i : i + 8] for i in range(120)])[..., None].astype("float32")
    y = series[8:128].astype("float32")
    model = _model("sigmoid")
    diagnosis = autofix_lstm.diagnose(model, x=x, y=y, validation_data=(x, y), save=False, epochs=3)
    monitor = CollapseMonitor((x, y), patience=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CollapseWarning)
        model.fit(x, y, epochs=3, batch_size=32, verbose=0, callbacks=[monitor])
    shared = set(CHEAP_CHECKS) - {"learning_rate_too_high", "learning_rate_too_low", "slow_optimizer"}

    def view(findings):
        return {f.id: (str(f.severity), f.strategies) for f in findings if f.id in shared}

    assert view(monitor.findings) == view(diagnosis.findings)
    assert {"unscaled_inputs", "unscaled_target", "output_activation_range"} <= set(view(monitor.findings))
    assert all(severity == "error" and strategies for severity, strategies in view(monitor.findings).values())
    inputs = [next(f for f in found if f.id == "unscaled_inputs") for found in (monitor.findings, diagnosis.findings)]
    assert [list(f.evidence["feature_magnitude_p99"]) for f in inputs] == [["f0"], ["f0"]]
    assert "Remedies the search tries: scaling" in monitor.message


@pytest.mark.slow
def test_silent_on_a_healthy_fit():
    x, y = _windows()
    monitor = CollapseMonitor((x[240:], y[240:]), patience=2)
    _, caught = _fit(_model("linear"), x, y, monitor, epochs=3)
    assert caught == [] and monitor.warned_at is None
    assert monitor.std_ratios[-1] > 0.5


@pytest.mark.slow
def test_stop_training_stops_the_fit_at_the_warning():
    x, y = _windows()
    y = 500 + 100 * y
    monitor = CollapseMonitor((x[240:], y[240:]), patience=2, stop_training=True)
    history, caught = _fit(_model("sigmoid"), x, y, monitor, epochs=6)
    assert len(history.history["loss"]) == 2 and len(caught) == 1
    assert "Training was stopped" in str(caught[0].message)


@pytest.mark.slow
def test_a_classifier_predicting_one_class_is_collapsed():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6, 2)).astype("float32")
    y = (rng.random(200) < 0.1).astype("float32")  # 90% one class, no signal: it predicts the majority
    model = keras.Sequential([keras.Input((6, 2)), keras.layers.LSTM(4), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    monitor = CollapseMonitor((x[150:], y[150:]), patience=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CollapseWarning)
        model.fit(x[:150], y[:150], epochs=6, verbose=0, callbacks=[monitor])
    # Collapsed from the first epoch; spared while the pruning's evidence says it may still move (the
    # first look, then predictions on both sides of the threshold that beat the majority answer on
    # these 50 windows), warned once that evidence is gone.
    assert monitor.collapsed_epochs[:5] == [1, 2, 3, 4, 5] and monitor.moving_epochs == [1, 2, 3, 4]
    assert monitor.warned_at == 5
    assert "output collapsed" in monitor.message
    assert "class_imbalance" in [f.id for f in monitor.findings]


def test_refuses_validation_data_that_is_not_windows_and_targets():
    with pytest.raises(SpecError, match=r"\(x_val, y_val\) tuple"):
        CollapseMonitor(np.zeros((4, 3, 1)))
    with pytest.raises(SpecError, match="windows"):
        CollapseMonitor((np.zeros((4, 3)), np.zeros(4)))


@pytest.mark.slow
def test_a_learning_rate_too_low_is_read_from_the_update_ratios():
    x, y = _windows()
    y = 500 + 100 * y
    model = keras.Sequential([keras.Input((8, 1)), keras.layers.LSTM(8), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-6), loss="mse")
    monitor = CollapseMonitor((x[240:], y[240:]), patience=2)
    _fit(model, x, y, monitor, epochs=2)
    # 3 sampled steps an epoch, per kernel-bearing layer; Adam at 1e-6 moves the kernels by ~5e-6 a step
    assert [len(ratios) for ratios in monitor.update_ratios.values()] == [6, 6]  # the LSTM and the Dense head
    assert all(0 < ratio < 1e-4 for ratios in monitor.update_ratios.values() for ratio in ratios)
    ids = [f.id for f in monitor.findings]
    assert "learning_rate_too_low" in ids and "unscaled_target" in ids


def test_the_monitor_leaves_keras_free_to_dispatch_batch_end_hooks_asynchronously():
    """No batch-end hook: on backends with async callback dispatch (JAX, torch), a callback that
    overrides one makes every step of the user's fit wait for its callbacks."""
    from keras.src.callbacks.callback_list import CallbackList
    from keras.src.utils.python_utils import is_default

    monitor = CollapseMonitor((np.zeros((4, 3, 1), np.float32), np.arange(4.0)))
    assert is_default(monitor.on_train_batch_end) and is_default(monitor.on_batch_end)
    callbacks = CallbackList([monitor])
    if keras.backend.backend() != "tensorflow" and hasattr(callbacks, "_async_train"):
        assert callbacks._async_train


@pytest.mark.slow
def test_the_monitor_names_a_stateful_models_state_leak_as_diagnose_does():
    """A stateful LSTM (fixed batch of 16) fit with shuffled batches and states never reset: the monitor
    reports stateful_state_leak with diagnose's severity and strategy, beside the other causes both find."""
    rng = np.random.default_rng(0)
    series = 300 + 50 * np.sin(np.arange(140) / 8) + rng.normal(0, 5, 140)  # in the hundreds: a sigmoid head pins
    x = np.stack([series[i : i + 8] for i in range(128)])[..., None].astype("float32")
    y = series[8:136].astype("float32")
    model = keras.Sequential([keras.Input(batch_shape=(16, 8, 1)), keras.layers.LSTM(8, stateful=True),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    diagnosis = autofix_lstm.diagnose(model, x=x, y=y, validation_data=(x, y), save=False, epochs=3)
    monitor = CollapseMonitor((x, y), patience=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CollapseWarning)
        model.fit(x, y, epochs=3, batch_size=16, shuffle=True, verbose=0, callbacks=[monitor])
    assert monitor.warned_at == 2 and max(monitor.std_ratios) < 1e-6

    shared = set(CHEAP_CHECKS) - {"learning_rate_too_high", "learning_rate_too_low", "slow_optimizer"}

    def view(findings):
        return {f.id: (str(f.severity), f.strategies) for f in findings if f.id in shared}

    assert view(monitor.findings)["stateful_state_leak"] == ("error", ["stateful"])
    assert view(monitor.findings) == view(diagnosis.findings)
    leak = [next(f for f in found if f.id == "stateful_state_leak") for found in (monitor.findings, diagnosis.findings)]
    assert [(f.evidence["stateful_layers"], f.evidence["batch_size"], f.evidence["reset_states"]) for f in leak] == [
        (["lstm_0"], 16, "never")] * 2
    assert "shuffle=False" in leak[0].message and "stateful_state_leak" in monitor.message
