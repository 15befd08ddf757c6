"""The L1/L2 weight penalties in a spec's layers: read their factors, set or remove them.

A layer argument ending in ``_regularizer`` holds one: a Keras name (``l2``: factor 0.01, Keras'
default), or ``{class_name: L2, config: {l2: 0.1}}`` as ``Spec.from_model`` writes it (``L1``, ``L2``,
``L1L2``). Wrapped layers (a bidirectional LSTM) are read and written too.
"""

from __future__ import annotations

from typing import Any

# Keras' factor for a regularizer given by name
_NAMED = {"l1": {"l1": 0.01}, "l2": {"l2": 0.01}, "l1_l2": {"l1": 0.01, "l2": 0.01}}
_CLASS_OF_NAME = {"l1": "L1", "l2": "L2", "l1_l2": "L1L2"}


def _factors(value: Any) -> dict[str, float]:
    """``{"l1": ..., "l2": ...}`` of one regularizer setting (empty for None or a kind not read here)."""
    if isinstance(value, str):
        return dict(_NAMED.get(value.lower(), {}))
    if isinstance(value, dict) and isinstance(value.get("config"), dict):
        return {k: float(v) for k, v in value["config"].items() if k in ("l1", "l2") and isinstance(v, (int, float))}
    return {}


def _regularized(layer: dict):
    """Yield ``(mapping, key)`` for every ``*_regularizer`` argument set in ``layer`` and the layers it wraps."""
    for key, value in layer.items():
        if key.endswith("_regularizer") and value is not None:
            yield layer, key
        elif isinstance(value, dict) and "type" in value:
            yield from _regularized(value)


def largest_factor(layers: list[dict]) -> float:
    """The largest L1 or L2 factor in any layer; 0.0 when no layer is regularized."""
    return max((f for layer in layers for owner, key in _regularized(layer) for f in _factors(owner[key]).values()),
               default=0.0)


def penalties(layers: list[dict]) -> list[dict[str, Any]]:
    """Every penalty set: ``{"layer": index, "argument": key, "l1": .., "l2": ..}``, for evidence."""
    return [{"layer": index, "argument": key, **_factors(owner[key])}
            for index, layer in enumerate(layers) for owner, key in _regularized(layer)]


def set_factor(layers: list[dict], factor: float) -> None:
    """Set every penalty's nonzero factors to ``factor`` (in place); 0 removes the penalties."""
    for layer in layers:
        for owner, key in list(_regularized(layer)):
            if factor == 0:
                del owner[key]
                continue
            current = _factors(owner[key])
            if not current:
                continue  # a kind this does not read (an activity regularizer of another class): left as it is
            name = owner[key].lower() if isinstance(owner[key], str) else None
            class_name = _CLASS_OF_NAME.get(name) if name else owner[key].get("class_name")
            owner[key] = {"class_name": class_name,
                          "config": {k: (float(factor) if v else 0.0) for k, v in current.items()}}
