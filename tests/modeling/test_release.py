"""What ``modeling.release`` relies on in TensorFlow, and that every training gives its graph back.

Keras 3's TensorFlow optimizer registers a custom gradient (in TensorFlow's private, global gradient
registry) each time a train step is traced, and that entry keeps the traced graph alive after the
model and ``clear_session``: a long search grew by about 10 MB a trial (benchmarks/long_memory.py).
These tests pin that behaviour, so a TensorFlow or Keras upgrade that changes it fails here.
"""

from __future__ import annotations

import gc

import keras
import numpy as np
import pytest
from helpers import one_epoch_sine_spec

from autofix_lstm.data.dataset import load_dataset
from autofix_lstm.diagnosis.probes import run_probe
from autofix_lstm.modeling.release import PREFIX, custom_gradient_names, gradient_registry, releasing_custom_gradients
from autofix_lstm.modeling.train import fit_prepared, prepare
from autofix_lstm.spec import load_spec


def _train_step_graphs() -> int:
    """The traced Keras train-step graphs alive now."""
    from tensorflow.python.framework.func_graph import FuncGraph

    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, FuncGraph) and o.name == "one_step_on_data")


def _fit_a_tiny_model() -> None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4, 1)), keras.layers.LSTM(2), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(32, 4, 1)), rng.normal(size=(32, 1)), epochs=1, batch_size=16, verbose=0)


def _forget(names: set[str]) -> None:
    for name in names:
        gradient_registry().pop(name, None)


@pytest.fixture
def spec(tmp_path):
    return load_spec(one_epoch_sine_spec(tmp_path, units=2))


def test_without_the_release_a_fit_keeps_its_graph_after_clear_session():
    """The leak itself: if this fails, TensorFlow or Keras changed and the release may be obsolete."""
    assert gradient_registry() is not None, "TensorFlow's gradient registry moved: update modeling.release"
    keras.backend.clear_session(free_memory=True)
    graphs, names = _train_step_graphs(), custom_gradient_names()
    _fit_a_tiny_model()
    keras.backend.clear_session(free_memory=True)
    leaked = custom_gradient_names() - names
    try:
        assert leaked and all(name.startswith(PREFIX) for name in leaked)
        assert _train_step_graphs() > graphs
    finally:
        _forget(leaked)
    assert _train_step_graphs() == graphs  # dropping the entries frees the graph


def test_the_release_frees_the_graph_and_keeps_earlier_entries():
    keras.backend.clear_session(free_memory=True)
    graphs = _train_step_graphs()
    earlier = f"{PREFIX}an-earlier-one"
    gradient_registry()[earlier] = {"type": lambda *args: None, "location": None}
    before = custom_gradient_names()  # the earlier one, and any an earlier test's own fit left
    try:
        with releasing_custom_gradients():
            _fit_a_tiny_model()
            registered_inside = custom_gradient_names() - before
        keras.backend.clear_session(free_memory=True)
        assert registered_inside  # the fit did register its own
        assert before <= custom_gradient_names()  # what was there before stays
        assert not registered_inside & custom_gradient_names()
    finally:
        _forget({earlier})
    assert _train_step_graphs() == graphs


def test_fit_prepared_releases_what_its_fit_registered_and_its_model_still_works(spec):
    prepared = prepare(spec, load_dataset(spec))
    before = custom_gradient_names()
    first = fit_prepared(spec, prepared)
    second = fit_prepared(spec, prepared)
    assert custom_gradient_names() == before
    assert first.metrics.std_ratio > 0 and second.metrics.std_ratio > 0
    # The model keeps training after its entries are gone (its traced step has its gradients already).
    history = second.core.fit(prepared.x_train, prepared.y_train, epochs=1, batch_size=32, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_the_diagnosis_probe_releases_what_its_train_step_registered(spec):
    prepared = prepare(spec, load_dataset(spec))
    before = custom_gradient_names()
    probe, metrics = run_probe(spec, prepared)
    assert probe.steps > 0 and "std_ratio" in metrics
    assert custom_gradient_names() == before
