"""The weight initializers a spec's layers set: read them, and put Keras' defaults back.

A layer argument ending in ``_initializer`` holds one: a Keras name (``he_normal``) or
``{class_name: RandomUniform, config: {minval: -0.05, maxval: 0.05}}`` as ``Spec.from_model`` writes
it. Without one a layer uses Keras' defaults (Glorot-uniform kernels, orthogonal recurrent kernels,
zero biases, the LSTM's forget-gate bias of one), which keep an LSTM's activations and gradients at a
trainable size; a hand-picked one (a narrow uniform range, a normal of the wrong width, for ``relu``
cells) can leave the output near a constant or the gradients exploding. Wrapped layers (a
bidirectional LSTM) are read and written too.
"""

from __future__ import annotations

from typing import Any

_SUFFIX = "_initializer"


def _set(layer: dict):
    """Yield ``(mapping, key)`` for every ``*_initializer`` argument set in ``layer`` and the layers it wraps."""
    for key, value in layer.items():
        if key.endswith(_SUFFIX) and value is not None:
            yield layer, key
        elif isinstance(value, dict) and "type" in value:
            yield from _set(value)


def describe(value: Any) -> str:
    """An initializer setting in words: ``RandomUniform(minval=-0.05, maxval=0.05)``, ``he_normal``."""
    if isinstance(value, dict):
        config = value.get("config") or {}
        arguments = ", ".join(f"{k}={v}" for k, v in config.items() if k != "seed" and v is not None)
        return f"{value.get('class_name', '?')}({arguments})"
    return str(value)


def custom_initializers(layers: list[dict]) -> list[dict[str, Any]]:
    """Every initializer a layer sets instead of Keras' default: ``{"layer": i, "argument": ..., "initializer": ...}``."""
    return [{"layer": index, "argument": key, "initializer": describe(owner[key])}
            for index, layer in enumerate(layers) for owner, key in _set(layer)]


def reset_initializers(layers: list[dict]) -> None:
    """Remove every initializer setting (in place): each layer takes Keras' default again."""
    for layer in layers:
        for owner, key in list(_set(layer)):
            del owner[key]
