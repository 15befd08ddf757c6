"""Building the user's model from the layer list, and reading a saved Sequential back into one.

Layer types, optimizers and losses are resolved through plain registries whose ``get`` fails
loudly, naming the bad identifier and the valid ones (as Keras does for optimizers).
"""

from __future__ import annotations

import inspect
import re
import zipfile
from pathlib import Path
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
}
RECURRENT_TYPES = ("lstm", "gru", "simple_rnn")

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
_CLASS_TO_TYPE = {cls.__name__: name for name, cls in LAYERS.items()}


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
    return {n for n, p in params.items() if n != "self" and p.kind is not p.VAR_KEYWORD} | _BASE_LAYER_KWARGS


def make_layer(type_name: str, kwargs: dict[str, Any]) -> keras.layers.Layer:
    """Instantiate one layer, turning Keras' complaints into a ``ModelSpecError``.

    ``input_shape``, ``batch_input_shape`` and ``input_dim`` are accepted and ignored: the model's
    input is built from the data's (timesteps, features).
    """
    cls = get_layer_class(type_name)
    kwargs = {k: v for k, v in kwargs.items() if k not in _INPUT_SHAPE_KWARGS}
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
            make_layer(layer.type, layer.kwargs)
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


def build_core(model_spec, input_shape: tuple[int, int], *, name: str = "core") -> keras.Sequential:
    """The user's Sequential model on model-space inputs of ``input_shape`` (timesteps, features), uncompiled.

    Raises:
        ModelSpecError: the layers do not produce one vector per sample.
    """
    layers = [keras.Input(shape=input_shape)]
    layers += [make_layer(layer.type, layer.kwargs) for layer in model_spec.layers]
    try:
        model = keras.Sequential(layers, name=name)
    except (ValueError, TypeError) as err:
        raise ModelSpecError(f"the layers cannot be stacked on inputs of shape {input_shape}: {err}") from None
    if len(model.output_shape) != 2:
        raise ModelSpecError(
            f"the model outputs shape {model.output_shape}, one vector per timestep; "
            "set return_sequences: false on the last recurrent layer"
        )
    return model


def compile_core(model: keras.Model, model_spec) -> keras.Model:
    """Compile ``model`` with the spec's optimizer and loss."""
    model.compile(optimizer=make_optimizer(model_spec.optimizer), loss=model_spec.loss)
    return model


def head_units(model_spec) -> int | None:
    """Units of the last Dense layer (the head), or None when the last layer is not Dense."""
    for layer in reversed(model_spec.layers):
        if layer.type == "dense":
            return int(layer.kwargs.get("units", 1))
        if layer.type not in ("dropout", "layer_normalization", "batch_normalization"):
            return None
    return None


def head_activation(model_spec) -> str:
    """The activation of the model's last layer that has one ('linear' when none is given)."""
    for layer in reversed(model_spec.layers):
        if layer.type == "dense" or layer.type in RECURRENT_TYPES:
            default = "linear" if layer.type == "dense" else "tanh"
            activation = layer.kwargs.get("activation", default)
            return "linear" if activation is None else str(activation)
    return "linear"


def layer_dict_from_keras(layer: keras.layers.Layer) -> dict[str, Any]:
    """The spec dict for a Keras layer, keeping only arguments that differ from the class defaults."""
    type_name = _CLASS_TO_TYPE.get(type(layer).__name__)
    if type_name is None:
        raise ModelSpecError(
            f"holds a {type(layer).__name__} layer; supported layers are "
            f"{', '.join(sorted(c.__name__ for c in LAYERS.values()))}"
        )
    config = layer.get_config()
    cls = get_layer_class(type_name)
    signature = inspect.signature(cls.__init__).parameters
    required = {
        n for n, p in signature.items()
        if n != "self" and p.default is inspect.Parameter.empty and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }
    # A default instance's config spells defaults the way get_config does (activation 'linear', axis [-1]).
    default_config = cls(**{k: config[k] for k in required if k in config}).get_config()
    out: dict[str, Any] = {"type": type_name}
    for key, value in config.items():
        if key not in signature or key in ("name", "dtype", "trainable", "seed"):
            continue
        if isinstance(value, dict) and "class_name" in value:
            # Initializers/regularizers: keep defaults implicit; a non-default object is not portable YAML.
            continue
        if key in required or not _same_setting(value, default_config.get(key, signature[key].default)):
            out[key] = value
    return out


def _same_setting(value: Any, default: Any) -> bool:
    # a built layer may spell a scalar default as a one-item list (LayerNormalization's axis -1 -> [-1])
    if isinstance(value, (list, tuple)) and not isinstance(default, (list, tuple)) and len(value) == 1:
        value = value[0]
    return value == default


def why_unreadable(path: Path, err: Exception) -> str:
    """One line on why Keras could not load the model file ``path``, in place of its own message.

    Keras says "File not found" for a file that is there but not a zip archive, and dumps the whole
    model config (kilobytes) for a layer class it cannot locate.
    """
    if not zipfile.is_zipfile(path):
        return (f"{path} is not a Keras model file (a .keras file is a zip archive; this one is not): save the "
                "model with model.save('model.keras'), or describe it under model.layers")
    messages = " ".join(str(e) for e in (err, err.__cause__, err.__context__) if e is not None)
    custom = re.search(r"Could not locate (class|function) '([^']+)'", messages)
    if custom:
        return (f"{path} holds the custom {custom.group(1)} {custom.group(2)!r}: custom layers and objects are "
                f"not supported; describe the model under model.layers with the layer types {', '.join(LAYERS)}")
    first_line = (str(err).strip().splitlines() or [""])[0][:200]
    return f"{path} cannot be read as a Keras model ({type(err).__name__}: {first_line})"


def read_layers_from_file(path: Path) -> list[dict[str, Any]]:
    """Read a saved ``.keras`` Sequential model (``safe_mode=True``) into the spec's layer list.

    Raises:
        ModelSpecError: the file is missing, unreadable, not Sequential or holds unsupported layers.
    """
    import autofix_lstm.data.transforms  # noqa: F401  (registers our serializable layers)

    if not path.is_file():
        raise ModelSpecError(f"not found: expected a saved .keras model at {path}")
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as err:  # Keras raises many types for a bad archive
        raise ModelSpecError(why_unreadable(path, err)) from None
    if not isinstance(model, keras.Sequential):
        raise ModelSpecError(
            f"is a {type(model).__name__}, not a Sequential model; rebuild it as keras.Sequential "
            "or describe it under model.layers"
        )
    return [layer_dict_from_keras(layer) for layer in model.layers]
