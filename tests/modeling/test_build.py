"""Building the user's model from the layer list, and reading a saved Sequential into one."""

from __future__ import annotations

import keras
import pytest
from helpers import spec_dict, write_spec

from autofix_lstm.errors import ModelSpecError
from autofix_lstm.modeling.build import (
    LAYERS,
    OPTIMIZERS,
    RECURRENT_TYPES,
    build_core,
    get_layer_class,
    head_activation,
    head_units,
    make_optimizer,
)
from autofix_lstm.modeling.reading import read_layers_from_file
from autofix_lstm.spec import load_spec


def _model_spec(layers, **model):
    return load_spec(spec_dict("s.csv", model={"layers": layers, **model})).model


def test_registries_hold_the_issue_layer_types():
    assert {"lstm", "gru", "dense", "dropout", "layer_normalization", "batch_normalization"} <= set(LAYERS)
    assert set(RECURRENT_TYPES) <= set(LAYERS)
    assert get_layer_class("LSTM") is keras.layers.LSTM
    with pytest.raises(ModelSpecError, match="unknown layer type 'conv2d'; expected one of average_pooling1d"):
        get_layer_class("conv2d")


def test_build_core_is_the_users_stack():
    layers = [
        {"type": "lstm", "units": 6, "return_sequences": True},
        {"type": "dropout", "rate": 0.1},
        {"type": "gru", "units": 5},
        {"type": "layer_normalization"},
        {"type": "batch_normalization"},
        {"type": "dense", "units": 3, "activation": "relu"},
        {"type": "dense", "units": 1},
    ]
    model = build_core(_model_spec(layers), (8, 2))
    assert isinstance(model, keras.Sequential)
    assert [type(layer).__name__ for layer in model.layers] == [
        "LSTM", "Dropout", "GRU", "LayerNormalization", "BatchNormalization", "Dense", "Dense"]
    assert model.input_shape == (None, 8, 2) and model.output_shape == (None, 1)
    assert model.layers[0].units == 6 and model.layers[0].return_sequences
    # LSTM: 4 * (units * (inputs + units) + units) weights
    assert model.layers[0].count_params() == 4 * (6 * (2 + 6) + 6)


def test_input_shape_on_the_first_layer_is_ignored():
    """Keras code often carries input_shape; the input comes from the data windows instead."""
    spec = _model_spec([{"type": "lstm", "units": 4, "input_shape": [30, 5]}, {"type": "dense", "units": 1}])
    assert build_core(spec, (8, 2)).input_shape == (None, 8, 2)


def test_build_core_rejects_sequence_output():
    with pytest.raises(ModelSpecError, match="one vector per timestep; set return_sequences: false"):
        build_core(_model_spec([{"type": "lstm", "units": 4, "return_sequences": True}]), (8, 2))


def test_head_units_and_activation():
    spec = _model_spec([{"type": "lstm", "units": 4}, {"type": "dense", "units": 3, "activation": "softmax"},
                        {"type": "dropout", "rate": 0.2}])
    assert head_units(spec) == 3 and head_activation(spec) == "softmax"
    spec = _model_spec([{"type": "lstm", "units": 4}, {"type": "dense", "units": 1}])
    assert head_units(spec) == 1 and head_activation(spec) == "linear"
    spec = _model_spec([{"type": "lstm", "units": 4}])
    assert head_units(spec) is None and head_activation(spec) == "tanh"
    spec = _model_spec([{"type": "gru", "units": 4, "activation": "relu"}, {"type": "layer_normalization"}])
    assert head_units(spec) is None and head_activation(spec) == "relu"


@pytest.mark.parametrize("clip", [{"clipnorm": 1.5}, {"clipvalue": 0.5}])
def test_make_optimizer_passes_clipping(clip):
    spec = _model_spec([{"type": "dense", "units": 1}], optimizer={"name": "sgd", "learning_rate": 0.05, **clip})
    optimizer = make_optimizer(spec.optimizer)
    assert isinstance(optimizer, OPTIMIZERS["sgd"])
    assert float(optimizer.learning_rate) == pytest.approx(0.05)
    assert (optimizer.clipnorm, optimizer.clipvalue) == (clip.get("clipnorm"), clip.get("clipvalue"))


def _saved_sequential(path):
    model = keras.Sequential([
        keras.Input(shape=(8, 2)),
        keras.layers.LSTM(6, return_sequences=True, dropout=0.1),
        keras.layers.Dropout(0.2),
        keras.layers.GRU(4),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.save(path)
    return model


def test_model_path_is_read_into_the_layer_list(tmp_path, series_csv):
    original = _saved_sequential(tmp_path / "mine.keras")
    spec = load_spec(write_spec(tmp_path, spec_dict(series_csv.name, model={"layers": None, "path": "mine.keras"})))
    layers = [layer.to_dict() for layer in spec.model.layers]
    assert layers == [
        {"type": "lstm", "units": 6, "return_sequences": True, "dropout": 0.1},
        {"type": "dropout", "rate": 0.2},
        {"type": "gru", "units": 4},
        {"type": "batch_normalization"},
        {"type": "dense", "units": 1, "activation": "sigmoid"},
    ]
    assert spec.model.path is None  # replaced by the layers
    rebuilt = build_core(spec.model, (8, 2))
    assert rebuilt.count_params() == original.count_params()
    assert head_activation(spec.model) == "sigmoid"
    assert load_spec(spec.to_dict()).to_dict() == spec.to_dict()


def test_read_layers_from_file_errors(tmp_path):
    with pytest.raises(ModelSpecError, match="not found"):
        read_layers_from_file(tmp_path / "none.keras")
    inputs = keras.Input(shape=(4, 1))
    keras.Model(inputs, keras.layers.Dense(1)(keras.layers.LSTM(2)(inputs))).save(tmp_path / "f.keras")
    assert read_layers_from_file(tmp_path / "f.keras") == [{"type": "lstm", "units": 2}, {"type": "dense", "units": 1}]
    branch = keras.layers.Concatenate()([keras.layers.LSTM(2)(inputs), keras.layers.Flatten()(inputs)])
    keras.Model(inputs, keras.layers.Dense(1)(branch)).save(tmp_path / "b.keras")
    with pytest.raises(ModelSpecError, match="branches at layer 'flatten(_[0-9]+)?' \\(Flatten\\)"):
        read_layers_from_file(tmp_path / "b.keras")


# every registered layer type, so a new one is checked the moment it is added to LAYERS
_MINIMAL_KWARGS = {"dense": {"units": 2}, "dropout": {"rate": 0.1}}
# layer type -> a small stack that holds it where such a layer goes (input side, or on a sequence)
_STACKS = {
    "conv1d": [{"type": "conv1d", "filters": 4, "kernel_size": 2, "activation": "relu"},
               {"type": "lstm", "units": 3}, {"type": "dense", "units": 1}],
    "max_pooling1d": [{"type": "max_pooling1d"}, {"type": "lstm", "units": 3}, {"type": "dense", "units": 1}],
    "average_pooling1d": [{"type": "average_pooling1d", "pool_size": 3, "padding": "same"},
                          {"type": "lstm", "units": 3}, {"type": "dense", "units": 1}],
    "global_average_pooling1d": [{"type": "lstm", "units": 3, "return_sequences": True},
                                 {"type": "global_average_pooling1d"}, {"type": "dense", "units": 1}],
    "flatten": [{"type": "lstm", "units": 3, "return_sequences": True}, {"type": "flatten"},
                {"type": "dense", "units": 1}],
    "masking": [{"type": "masking", "mask_value": -1.0}, {"type": "lstm", "units": 3}, {"type": "dense", "units": 1}],
    "bidirectional": [{"type": "bidirectional", "layer": {"type": "lstm", "units": 3}, "merge_mode": "sum"},
                      {"type": "dense", "units": 1}],
    "time_distributed": [{"type": "lstm", "units": 3, "return_sequences": True},
                         {"type": "time_distributed", "layer": {"type": "dense", "units": 2, "activation": "relu"}},
                         {"type": "flatten"}, {"type": "dense", "units": 1}],
    # an encoder-decoder's bridge, read back here in a one-value model: repeat, decode, one value out
    "repeat_vector": [{"type": "lstm", "units": 3}, {"type": "repeat_vector", "n": 4},
                      {"type": "lstm", "units": 3}, {"type": "dense", "units": 1}],
}


def _stack_with(type_name: str) -> list[dict]:
    if type_name in _STACKS:
        return _STACKS[type_name]
    if type_name in RECURRENT_TYPES:
        return [{"type": type_name, "units": 3}, {"type": "dense", "units": 1}]
    return [{"type": "lstm", "units": 3}, {"type": type_name, **_MINIMAL_KWARGS.get(type_name, {})},
            {"type": "dense", "units": 1}]


@pytest.mark.parametrize("type_name", sorted(LAYERS))
def test_every_layer_type_builds_and_survives_a_saved_model(tmp_path, type_name):
    layers = _stack_with(type_name)
    core = build_core(_model_spec(layers), (5, 2))
    assert core.output_shape == (None, 1)
    assert any(isinstance(layer, LAYERS[type_name]) for layer in core.layers)
    core.save(tmp_path / "m.keras")
    assert read_layers_from_file(tmp_path / "m.keras") == layers
