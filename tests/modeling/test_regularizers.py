"""L1/L2 penalties in a spec's layers: read from names and Keras' dicts, set, removed (issue 24, point 3)."""

from __future__ import annotations

from autofix_lstm.modeling.regularizers import largest_factor, penalties, set_factor


def _layers():
    return [
        {"type": "bidirectional", "layer": {"type": "lstm", "units": 8, "kernel_regularizer": "l2"}},
        {"type": "lstm", "units": 8, "recurrent_regularizer": {"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.3}}},
        {"type": "dense", "units": 1, "bias_regularizer": {"class_name": "L1", "config": {"l1": 0.05}}},
    ]


def test_factors_are_read_from_keras_names_and_dicts_inside_wrappers_too():
    layers = _layers()
    assert largest_factor(layers) == 0.3
    assert penalties(layers) == [
        {"layer": 0, "argument": "kernel_regularizer", "l2": 0.01},  # Keras' default for "l2"
        {"layer": 1, "argument": "recurrent_regularizer", "l1": 0.0, "l2": 0.3},
        {"layer": 2, "argument": "bias_regularizer", "l1": 0.05},
    ]
    assert largest_factor([{"type": "lstm", "units": 4}]) == 0.0


def test_setting_a_factor_keeps_each_penalty_kind_and_zero_removes_them():
    layers = _layers()
    set_factor(layers, 0.001)
    assert layers[0]["layer"]["kernel_regularizer"] == {"class_name": "L2", "config": {"l2": 0.001}}
    assert layers[1]["recurrent_regularizer"] == {"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.001}}
    assert largest_factor(layers) == 0.001
    set_factor(layers, 0)
    assert largest_factor(layers) == 0.0 and "kernel_regularizer" not in layers[0]["layer"]
    assert all(not key.endswith("_regularizer") for layer in layers[1:] for key in layer)
