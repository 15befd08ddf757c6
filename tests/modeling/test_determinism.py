"""Repeatable trainings: the same spec and seed give the same model, and ``train.deterministic`` turns on
TensorFlow's deterministic kernels (for a GPU; ``benchmarks/determinism.py`` measures both on this machine)."""

from __future__ import annotations

import numpy as np
from helpers import one_epoch_sine_spec

from autofix_lstm.data.dataset import load_dataset
from autofix_lstm.modeling import train as train_module
from autofix_lstm.modeling.train import train
from autofix_lstm.spec import load_spec


def _predictions(spec):
    dataset = load_dataset(spec)
    result = train(spec, dataset, save=False)
    return np.asarray(result.model.predict(dataset.x_val, verbose=0)), result.metrics.mse


def test_the_same_spec_and_seed_train_to_the_same_predictions_and_another_seed_does_not(tmp_path):
    spec = load_spec(one_epoch_sine_spec(tmp_path, units=4))
    first, mse = _predictions(spec)
    again, mse_again = _predictions(spec)
    assert np.array_equal(first, again) and mse == mse_again  # bit for bit, in one process
    other, _ = _predictions(spec.updated({"train.seed": 1}))
    assert not np.array_equal(first, other)


def test_deterministic_turns_on_tensorflows_deterministic_kernels_and_is_written_only_when_true(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(train_module, "enable_determinism", lambda: calls.append(True))  # process-wide in TF
    spec = load_spec(one_epoch_sine_spec(tmp_path, units=4))
    assert "deterministic" not in spec.to_dict()["train"]  # specs written before it read the same
    _predictions(spec)
    assert calls == []
    strict = spec.updated({"train.deterministic": True})
    assert strict.to_dict()["train"]["deterministic"] is True
    _predictions(strict)
    assert calls == [True]
