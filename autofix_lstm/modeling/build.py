"""Building the user's model from the layer list.

Layer types, optimizers and losses are resolved through plain registries whose ``get`` fails
loudly, naming the bad identifier and the valid ones (as Keras does for optimizers). A wrapper
(``bidirectional``, ``time_distributed``) holds the layer it wraps under ``layer``, as a spec
layer of its own: ``{type: bidirectional, layer: {type: lstm, units: 32}, merge_mode: concat}``.
Reading a Keras model (a saved file or a live object) back into a layer list is ``modeling.reading``.
"""

from __future__ import annotations

import inspect
from typing import Any

import keras

from autofix_lstm.errors import ModelSpecError

# spec layer type -> Keras layer class
LAYERS: dict[str, type] = {
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
    "simple_rnn": keras.layers.SimpleRNN,
    "dense": keras.layers.Dense,
    "dropout": keras.layers.Dropout,
    "layer_normalization": keras.layers.LayerNormalization,
    "batch_normalization": keras.layers.BatchNormalization,
    "conv1d": keras.layers.Conv1D,
    "max_pooling1d": keras.layers.MaxPooling1D,
    "average_pooling1d": keras.layers.AveragePooling1D,
    "global_average_pooling1d": keras.layers.GlobalAveragePooling1D,
    "flatten": keras.layers.Flatten,
    "masking": keras.layers.Masking,
    "bidirectional": keras.layers.Bidirectional,
    "time_distributed": keras.layers.TimeDistributed,
    # an encoder-decoder's bridge: the encoder's last state repeated once per forecast step
    "repeat_vector": keras.layers.RepeatVector,
}
RECURRENT_TYPES = ("lstm", "gru", "simple_rnn")
# Wrappers hold the layer they wrap under ``layer`` (a spec layer dict); which types each may wrap.
WRAPPER_TYPES: dict[str, tuple[str, ...]] = {
    "bidirectional": RECURRENT_TYPES,
    "time_distributed": ("dense", "dropout", "layer_normalization", "batch_normalization"),
}
# Layers that leave the sample's values as they are (besides training-time noise or a mask): a head
# or a recurrent layer behind them still reads what came before.
PASS_THROUGH_TYPES = ("dropout", "layer_normalization", "batch_normalization", "masking")

# spec optimizer name -> Keras optimizer class
OPTIMIZERS: dict[str, type] = {
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "nadam": keras.optimizers.Nadam,
    "adamax": keras.optimizers.Adamax,
    "rmsprop": keras.optimizers.RMSprop,
    "sgd": keras.optimizers.SGD,
    "adagrad": keras.optimizers.Adagrad,
}

_BASE_LAYER_KWARGS = {"name", "dtype", "trainable"}
# Keras code often puts the input shape on the first layer; here the input comes from the data windows.
_INPUT_SHAPE_KWARGS = {"input_shape", "batch_input_shape", "input_dim"}
# Constructor arguments the spec cannot carry: initial weights, and a backward layer of its own
# (a Bidirectional here runs the same layer both ways).
_UNSUPPORTED_KWARGS = {"weights", "backward_layer"}


def get_layer_class(type_name: str) -> type:
    """The Keras class for a spec layer ``type``; raises ``ModelSpecError`` naming the valid ones."""
    try:
        return LAYERS[type_name.lower()]
    except KeyError:
        raise ModelSpecError(
            f"unknown layer type {type_name!r}; expected one of {', '.join(sorted(LAYERS))}"
        ) from None


def _accepted_kwargs(cls: type) -> set[str]:
    params = inspect.signature(cls.__init__).parameters
    accepted = {n for n, p in params.items() if n != "self" and p.kind is not p.VAR_KEYWORD} | _BASE_LAYER_KWARGS
    return accepted - _UNSUPPORTED_KWARGS


def _wrapped_layer(type_name: str, inner: Any) -> keras.layers.Layer:
    """The layer a wrapper holds, built from its spec dict (``{type: lstm, units: 32}``)."""
    allowed = WRAPPER_TYPES[type_name]
    if hasattr(inner, "to_dict"):  # a LayerSpec
        inner = inner.to_dict()
    if not isinstance(inner, dict) or "type" not in inner:
        raise ModelSpecError(
            f"{type_name} needs 'layer': the layer it wraps, as a mapping such as "
            f"{{type: {allowed[0]}, units: 32}}; got {inner!r}"
        )
    if str(inner["type"]).lower() not in allowed:
        raise ModelSpecError(f"{type_name} wraps one of {', '.join(allowed)}; got layer type {inner['type']!r}")
    try:
        return make_layer(inner["type"], {k: v for k, v in inner.items() if k != "type"})
    except ModelSpecError as err:
        raise ModelSpecError(f"{type_name}.layer: {err.problems[0]}") from None


def make_layer(type_name: str, kwargs: dict[str, Any]) -> keras.layers.Layer:
    """Instantiate one layer, turning Keras' complaints into a ``ModelSpecError``.

    ``input_shape``, ``batch_input_shape`` and ``input_dim`` are accepted and ignored: the model's
    input is built from the data's (timesteps, features). A wrapper's ``layer`` is the spec dict of
    the layer it wraps, built the same way.
    """
    cls = get_layer_class(type_name)
    kwargs = {k: v for k, v in kwargs.items() if k not in _INPUT_SHAPE_KWARGS}
    if type_name.lower() in WRAPPER_TYPES:
        kwargs = {**kwargs, "layer": _wrapped_layer(type_name.lower(), kwargs.get("layer"))}
    unknown = sorted(set(kwargs) - _accepted_kwargs(cls))
    if unknown:
        raise ModelSpecError(
            f"{type_name} has no argument {', '.join(map(repr, unknown))}; "
            f"it accepts {', '.join(sorted(_accepted_kwargs(cls) - {'kwargs'}))}"
        )
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise ModelSpecError(f"{type_name} rejected its arguments {kwargs}: {err}") from None


def check_layers(layers: list) -> None:
    """Check that every layer of a spec layer list can be built.

    Raises:
        ValueError: one ``[i] problem`` line per bad layer; the spec turns them into ``model.layers[i] ...``.
    """
    problems = []
    for index, layer in enumerate(layers):
        try:
            make_layer(layer.type, layer.kwargs)  # a wrapper's ``layer`` is among its kwargs
        except ModelSpecError as err:
            problems.append(f"[{index}] {err.problems[0]}")
    if problems:
        raise ValueError("\n".join(problems))


def check_loss(name: str) -> str:
    """Validate a loss name against Keras' registry; return it unchanged."""
    try:
        keras.losses.get(name)
    except (ValueError, TypeError):
        raise ValueError(
            f"must be a Keras loss name such as mse, mae, huber, binary_crossentropy, "
            f"sparse_categorical_crossentropy; got {name!r}"
        ) from None
    return name


def make_optimizer(spec_optimizer) -> keras.optimizers.Optimizer:
    """A fresh Keras optimizer from an ``OptimizerSpec``."""
    cls = OPTIMIZERS[spec_optimizer.name]
    kwargs: dict[str, Any] = {"learning_rate": spec_optimizer.learning_rate}
    if spec_optimizer.clipnorm is not None:
        kwargs["clipnorm"] = spec_optimizer.clipnorm
    if spec_optimizer.clipvalue is not None:
        kwargs["clipvalue"] = spec_optimizer.clipvalue
    if getattr(spec_optimizer, "momentum", None) is not None:
        kwargs["momentum"] = spec_optimizer.momentum
    return cls(**kwargs)


def is_stateful(model_spec) -> bool:
    """Whether a ``ModelSpec`` has a stateful recurrent layer (a bidirectional's included): it needs a static
    batch size (``modeling.stateful``)."""
    return any((recurrent_config(layer.to_dict()) or {}).get("stateful") is True for layer in model_spec.layers)


def build_core(model_spec, input_shape: tuple[int, int], *, name: str = "core",
               batch_size: int | None = None) -> keras.Sequential:
    """The user's Sequential model on model-space inputs of ``input_shape`` (timesteps, features), uncompiled.

    A model with a stateful recurrent layer is built on batches of exactly ``batch_size`` windows (Keras
    needs a static batch size to hold its states; ``modeling.stateful``); any other on any number.

    Raises:
        ModelSpecError: the layers do not produce one vector per sample (or, after a ``repeat_vector``,
            one value per forecast step); a stateful layer without ``batch_size``.
    """
    if not is_stateful(model_spec):
        layers = [keras.Input(shape=input_shape)]
    elif batch_size is None:
        raise ModelSpecError("a stateful recurrent layer needs a fixed batch size (train.batch_size) to build on")
    else:
        layers = [keras.Input(batch_shape=(int(batch_size), *input_shape))]
    layers += [make_layer(layer.type, layer.kwargs) for layer in model_spec.layers]
    try:
        model = keras.Sequential(layers, name=name)
    except (ValueError, TypeError) as err:
        raise ModelSpecError(f"the layers cannot be stacked on inputs of shape {input_shape}: {err}") from None
    per_step = any(layer.type == "repeat_vector" for layer in model_spec.layers) and model.output_shape[-1] == 1
    if len(model.output_shape) != 2 and not (per_step and len(model.output_shape) == 3):
        # (an encoder-decoder's (steps, 1) output is one value per forecast step: a vector per sample)
        raise ModelSpecError(
            f"the model outputs shape {model.output_shape}, one vector per timestep; "
            "set return_sequences: false on the last recurrent layer, or add a flatten or "
            "global_average_pooling1d layer before the head"
        )
    return model


def compile_core(model: keras.Model, model_spec) -> keras.Model:
    """Compile ``model`` with the spec's optimizer and loss."""
    model.compile(optimizer=make_optimizer(model_spec.optimizer), loss=model_spec.loss)
    return model


def recurrent_config(layer: dict[str, Any]) -> dict[str, Any] | None:
    """The settings of the recurrent layer ``layer`` is or wraps (a bidirectional's ``layer``), else None.

    ``layer`` is a spec layer dict (``{type: ..., **kwargs}``); the dict returned is part of it, so
    setting a key there sets it on the recurrent layer.
    """
    if layer.get("type") in RECURRENT_TYPES:
        return layer
    inner = layer.get("layer")
    if layer.get("type") == "bidirectional" and isinstance(inner, dict) and inner.get("type") in RECURRENT_TYPES:
        return inner
    return None


def _acting_config(layer: dict[str, Any]) -> dict[str, Any]:
    """The dict that holds a layer's units and activation: the wrapped layer of a wrapper, else the layer."""
    inner = layer.get("layer")
    return inner if layer.get("type") in WRAPPER_TYPES and isinstance(inner, dict) else layer


def hidden_dense_indices(layers: list[dict[str, Any]]) -> list[int]:
    """Indices of the hidden Dense layers between the last recurrent layer and the head.

    ``layers``: spec layer dicts. The head is the last Dense layer (behind it only pass-through
    layers such as dropout); without a head, or with nothing recurrent before it, there are none.
    """
    head = None
    for index in range(len(layers) - 1, -1, -1):
        if layers[index].get("type") == "dense":
            head = index
            break
        if layers[index].get("type") not in PASS_THROUGH_TYPES:
            return []
    recurrent = [i for i, layer in enumerate(layers) if recurrent_config(layer) is not None]
    if head is None or not recurrent:
        return []
    return [i for i in range(recurrent[-1] + 1, head) if layers[i].get("type") == "dense"]


def head_units(model_spec) -> int | None:
    """Units of the last Dense layer (the head), or None when the last layer is not Dense (an
    encoder-decoder's TimeDistributed Dense included: its units are per step)."""
    for layer in reversed(model_spec.layers):
        if layer.type == "dense":
            return int(layer.kwargs.get("units", 1))
        if layer.type not in PASS_THROUGH_TYPES:
            return None
    return None


def encoder_end(layers: list[dict[str, Any]]) -> int | None:
    """The index of an encoder-decoder's ``repeat_vector`` (the layers before it are the encoder), else None."""
    return next((i for i, layer in enumerate(layers) if layer.get("type") == "repeat_vector"), None)


# layer type -> its activation when none is given
_DEFAULT_ACTIVATION = {"dense": "linear", "conv1d": "linear", **{kind: "tanh" for kind in RECURRENT_TYPES}}


def head_activation(model_spec) -> str:
    """The activation of the model's last layer that has one ('linear' when none is given)."""
    for layer in reversed(model_spec.layers):
        config = _acting_config(layer.to_dict())
        default = _DEFAULT_ACTIVATION.get(config.get("type"))
        if default is not None:
            activation = config.get("activation", default)
            return "linear" if activation is None else str(activation)
    return "linear"
