"""Reading a Keras model back into the spec: a saved ``.keras`` file or a live, compiled ``keras.Model``.

Only what the spec can say is read: the layer stack (a Sequential, or a functional model that is a
linear stack), the optimizer (name, learning rate, clipping, momentum) and the loss; for a model with
stateful layers, the batch size it was built for (``train.batch_size``). Anything the
spec cannot carry is refused with one line naming it (a branch, a custom layer, a loss with
settings), never silently dropped. Nothing here changes the model it reads.
"""

from __future__ import annotations

import inspect
import re
import zipfile
from pathlib import Path
from typing import Any

import keras

from autofix_lstm.errors import ModelSpecError
from autofix_lstm.modeling.build import LAYERS, OPTIMIZERS, WRAPPER_TYPES, check_loss, get_layer_class
from autofix_lstm.modeling.stateful import static_batch_size

_CLASS_TO_TYPE = {cls.__name__: name for name, cls in LAYERS.items()}
_SUPPORTED = ", ".join(sorted(_CLASS_TO_TYPE))
# Config keys that are no setting of the layer's: identity, and a wrapper's own bookkeeping
# (Bidirectional forces ``zero_output_for_mask`` on what it wraps).
_SKIPPED_KEYS = {"name", "dtype", "trainable", "seed"}
_WRAPPED_SKIPPED_KEYS = _SKIPPED_KEYS | {"zero_output_for_mask", "go_backwards"}


def _plain(value: Any) -> Any:
    """A config value as YAML writes it: a one-item tuple as its item (``kernel_size: 3``), tuples as lists."""
    if isinstance(value, (list, tuple)):
        return _plain(value[0]) if len(value) == 1 else [_plain(v) for v in value]
    return value


def _same_setting(value: Any, default: Any) -> bool:
    # a built layer may spell a scalar default as a one-item list (LayerNormalization's axis -1 -> [-1])
    return _plain(value) == _plain(default)


def _portable_object(key: str, value: Any, layer_name: str) -> dict[str, Any] | None:
    """A serialised Keras initializer/regularizer/constraint as ``{class_name, config}`` (None stays None).

    Raises:
        ModelSpecError: it is not one of Keras' own (a custom class the spec cannot describe).
    """
    if not isinstance(value, dict) or "class_name" not in value:
        return None if value is None else value
    module = str(value.get("module") or "keras")
    if not module.startswith("keras"):
        raise ModelSpecError(
            f"holds a custom {key} ({value['class_name']!r} from {module}) in layer {layer_name!r}, which the spec "
            "cannot describe; use one of Keras' own (keras.regularizers, keras.initializers)"
        )
    config = {k: float(f"{v:.7g}") if isinstance(v, float) else _plain(v) for k, v in (value.get("config") or {}).items()}
    return {"class_name": value["class_name"], "config": config}  # float32 factors read back as 0.01, not 0.0099999998


def _type_of(layer: keras.layers.Layer) -> str:
    type_name = _CLASS_TO_TYPE.get(type(layer).__name__)
    if type_name is None or not isinstance(layer, LAYERS[type_name]):
        raise ModelSpecError(
            f"holds a {type(layer).__name__} layer ({layer.name!r}), which the spec cannot describe; "
            f"supported layers are {_SUPPORTED}"
        )
    return type_name


def layer_dict_from_keras(layer: keras.layers.Layer, *, wrapped: bool = False) -> dict[str, Any]:
    """The spec dict for a Keras layer, keeping only arguments that differ from the class defaults.

    A ``Bidirectional`` or ``TimeDistributed`` layer becomes ``{type: ..., layer: {the wrapped layer}}``.

    Raises:
        ModelSpecError: the layer (or the one it wraps) is not a supported type, or a Bidirectional
            runs a different layer backwards.
    """
    type_name = _type_of(layer)
    if type_name == "bidirectional":
        return _bidirectional_dict(layer)
    if type_name == "time_distributed":
        inner = layer_dict_from_keras(layer.layer, wrapped=True)
        if inner["type"] not in WRAPPER_TYPES[type_name]:
            raise ModelSpecError(f"holds a TimeDistributed {inner['type']} layer; it may wrap {', '.join(WRAPPER_TYPES[type_name])}")
        return {"type": type_name, "layer": inner}
    config = layer.get_config()
    cls = get_layer_class(type_name)
    signature = inspect.signature(cls.__init__).parameters
    required = {
        n for n, p in signature.items()
        if n != "self" and p.default is inspect.Parameter.empty and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }
    # A default instance's config spells defaults the way get_config does (activation 'linear', axis [-1]).
    default_config = cls(**{k: config[k] for k in required if k in config}).get_config()
    skipped = _WRAPPED_SKIPPED_KEYS if wrapped else _SKIPPED_KEYS
    out: dict[str, Any] = {"type": type_name}
    for key, value in config.items():
        if key not in signature or key in skipped:
            continue
        if isinstance(value, dict) and "class_name" in value:
            # Initializers, regularizers, constraints: a non-default Keras object is kept as portable YAML
            # ({class_name, config}, which Keras deserialises); a default one stays implicit.
            portable = _portable_object(key, value, layer.name)
            if portable != _portable_object(key, default_config.get(key), layer.name):
                out[key] = portable
            continue
        if key in required or not _same_setting(value, default_config.get(key, signature[key].default)):
            out[key] = _plain(value)
    return out


def _bidirectional_dict(layer: keras.layers.Bidirectional) -> dict[str, Any]:
    forward = layer_dict_from_keras(layer.forward_layer, wrapped=True)
    backward = layer_dict_from_keras(layer.backward_layer, wrapped=True)
    if forward != backward:
        raise ModelSpecError(
            f"holds a Bidirectional layer ({layer.name!r}) whose backward layer differs from its forward one "
            f"({backward} vs {forward}); the spec runs the same layer both ways"
        )
    out: dict[str, Any] = {"type": "bidirectional", "layer": forward}
    if layer.merge_mode != "concat":
        out["merge_mode"] = layer.merge_mode
    return out


def stacked_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers of a Sequential, or of a functional model that is a linear stack, input side first:
    the ones ``layers_from_model`` describes, in its order.

    Raises:
        ModelSpecError: a branch, several inputs or outputs, or a model that does not end at its last layer.
    """
    if isinstance(model, keras.Sequential):
        return list(model.layers)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelSpecError(
            f"has {len(model.inputs)} inputs and {len(model.outputs)} outputs; only a model with one input and "
            "one output (a linear stack of layers) is supported"
        )
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    previous = model.inputs[0]
    for layer in layers:
        inputs = layer.input
        if isinstance(inputs, (list, tuple)) or inputs is not previous:
            raise ModelSpecError(
                f"branches at layer {layer.name!r} ({type(layer).__name__}), which does not read the output of the "
                "layer before it; only a linear stack of layers is supported"
            )
        previous = layer.output
    if model.outputs[0] is not previous:
        raise ModelSpecError("does not end at its last layer; only a linear stack of layers is supported")
    return layers


def layers_from_model(model: keras.Model) -> list[dict[str, Any]]:
    """The spec's layer list for a Sequential or a linear functional model (unchanged by the reading).

    Raises:
        ModelSpecError: a branch, several inputs or outputs, or a layer the spec cannot describe.
    """
    layers = stacked_layers(model)
    if not layers:
        raise ModelSpecError("has no layers")
    return [layer_dict_from_keras(layer) for layer in layers]


def _rounded(value: Any) -> float:
    # float32 variables read back as 0.009999999776; the user wrote 0.01
    return float(f"{float(keras.ops.convert_to_numpy(value)):.7g}")


def optimizer_from_model(model: keras.Model) -> dict[str, Any]:
    """The spec's optimizer section for a compiled model: name, learning rate, clipping, momentum.

    Raises:
        ModelSpecError: not compiled, or an optimizer or setting the spec cannot describe.
    """
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise ModelSpecError("is not compiled; call model.compile(optimizer=..., loss=...) first")
    name = type(optimizer).__name__.lower()
    if name not in OPTIMIZERS or not isinstance(optimizer, OPTIMIZERS[name]):
        raise ModelSpecError(
            f"uses the optimizer {type(optimizer).__name__}; supported optimizers are {', '.join(sorted(OPTIMIZERS))}"
        )
    if isinstance(optimizer.get_config().get("learning_rate"), dict):  # a serialized schedule
        raise ModelSpecError("uses a learning-rate schedule; the spec takes a fixed learning_rate")
    if getattr(optimizer, "global_clipnorm", None) is not None:
        raise ModelSpecError("clips by global_clipnorm; the spec takes clipnorm or clipvalue: compile with one of those")
    out: dict[str, Any] = {"name": name, "learning_rate": _rounded(optimizer.learning_rate)}
    for key in ("clipnorm", "clipvalue"):
        if getattr(optimizer, key, None) is not None:
            out[key] = _rounded(getattr(optimizer, key))
    momentum = getattr(optimizer, "momentum", None)
    if name in ("sgd", "rmsprop") and momentum:
        out["momentum"] = _rounded(momentum)
    return out


def loss_from_model(model: keras.Model) -> str:
    """The spec's loss name for a compiled model (a name, a loss function or a default-configured Loss).

    Raises:
        ModelSpecError: several losses, or a Loss object with settings a name cannot carry (``from_logits``).
    """
    loss = getattr(model, "loss", None)
    if loss is None:
        raise ModelSpecError("is not compiled with a loss; call model.compile(optimizer=..., loss=...) first")
    if isinstance(loss, (list, tuple, dict)):
        raise ModelSpecError("has several losses; only a model with one output and one loss is supported")
    if isinstance(loss, str):
        name = loss
    elif isinstance(loss, keras.losses.Loss):
        config = loss.get_config()
        try:
            default = type(loss)().get_config()
        except TypeError:
            default = {}
        differing = {k: v for k, v in config.items() if k not in ("name", "reduction", "dtype") and default.get(k) != v}
        if differing:
            raise ModelSpecError(
                f"uses the loss {type(loss).__name__} with settings {differing}, which a loss name cannot carry; "
                "compile with its default settings (e.g. a sigmoid head instead of from_logits=True)"
            )
        name = config.get("name") or type(loss).__name__
    else:
        name = getattr(loss, "__name__", str(loss))
    try:
        return check_loss(name)
    except ValueError as err:
        raise ModelSpecError(f"loss {err}") from None


def check_batch_size(built_for: int | None, batch_size: int | None) -> int | None:
    """The spec's ``train.batch_size`` for a model built for batches of ``built_for`` (None: no stateful
    layer): ``batch_size`` when given (None: the model's own).

    Raises:
        ModelSpecError: a stateful model built for another batch size than ``batch_size``.
    """
    if built_for is None:
        return batch_size
    if batch_size is None or int(batch_size) == built_for:
        return built_for
    raise ModelSpecError(
        f"was built for batches of {built_for} windows (keras.Input(batch_shape=({built_for}, ...))), which its "
        f"stateful layers need, but train.batch_size is {batch_size}: set train.batch_size to {built_for}, or "
        "leave it out to take the model's"
    )


def read_layers_from_file(path: Path) -> list[dict[str, Any]]:
    """Read a saved ``.keras`` model (``safe_mode=True``) into the spec's layer list.

    Raises:
        ModelSpecError: the file is missing or unreadable, not a Sequential (or linear functional)
            model, or holds unsupported layers.
    """
    return read_model_file(path)[0]


def read_model_file(path: Path) -> tuple[list[dict[str, Any]], int | None]:
    """Read a saved ``.keras`` model (``safe_mode=True``): the spec's layer list, and the batch size its
    stateful layers were built for (None without stateful layers: ``stateful.static_batch_size``).

    Raises:
        ModelSpecError: as ``read_layers_from_file``.
    """
    import autofix_lstm.data.transforms  # noqa: F401  (registers our serializable layers)

    if not path.is_file():
        raise ModelSpecError(f"not found: expected a saved .keras model at {path}")
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as err:  # Keras raises many types for a bad archive
        raise ModelSpecError(why_unreadable(path, err)) from None
    return layers_from_model(model), static_batch_size(model)


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
                "not supported; describe the model under model.layers with the supported layer types (docs/spec.md)")
    first_line = (str(err).strip().splitlines() or [""])[0][:200]
    return f"{path} cannot be read as a Keras model ({type(err).__name__}: {first_line})"


__all__ = ["check_batch_size", "layer_dict_from_keras", "layers_from_model", "loss_from_model", "optimizer_from_model",
           "read_layers_from_file", "read_model_file", "stacked_layers", "why_unreadable"]
