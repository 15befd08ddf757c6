"""Giving back what TensorFlow keeps after a training: the custom gradients its traced steps register.

Keras 3's TensorFlow optimizer sums the gradients through the replica context's ``all_reduce``,
which inside a traced function (``model.fit``'s train step) goes through ``tf.custom_gradient``. In
graph mode that registers a gradient closure under a new name (``CustomGradient-<uid>``) in
TensorFlow's global gradient registry and never removes it. The closure holds tensors of the traced
graph, so every ``fit`` of a new model pins its whole train-step graph (a 2-unit LSTM's: about 1,200
graph operations, 8 MB of resident memory) for the life of the process, and
``keras.backend.clear_session`` does not remove it (tensorflow/tensorflow#97697, #80895). A search
trains hundreds of models in one process; ``releasing_custom_gradients`` around each training
removes the entries that training registered, so its graph goes with its model.

Removing them is safe: a traced train step computes its gradients while it is traced, so the
registry entry is never looked up again (a retrace registers a new one). Only the entries
registered inside the block are removed; any registered before it (a user's own) stay. One caveat:
an entry that another thread of the same process registers while the block runs goes too (a user
tracing their own custom-gradient function in parallel with a search); its function would need
retracing.

The registry is private to TensorFlow (``ops._gradient_registry._registry``); this module is its one
user, and tests/modeling/test_release.py pins the behaviour, so a TensorFlow upgrade that changes it
fails a test rather than silently leaking again. Where the registry is not there (another backend,
another TensorFlow), the block does nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

PREFIX = "CustomGradient-"  # the names tf.custom_gradient registers in graph mode


def gradient_registry() -> dict | None:
    """TensorFlow's global gradient registry (name -> entry), or None where it is not available."""
    try:
        from tensorflow.python.framework import ops
    except ImportError:
        return None
    registry = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    return registry if isinstance(registry, dict) else None


def custom_gradient_names() -> set[str]:
    """The custom gradients registered now (empty where the registry is not available)."""
    registry = gradient_registry()
    return {name for name in list(registry) if name.startswith(PREFIX)} if registry is not None else set()


@contextlib.contextmanager
def releasing_custom_gradients() -> Iterator[None]:
    """On leaving the block, remove the custom gradients registered inside it (see the module docstring)."""
    before = custom_gradient_names()
    try:
        yield
    finally:
        registry = gradient_registry()
        if registry is not None:
            for name in custom_gradient_names() - before:
                registry.pop(name, None)


__all__ = ["custom_gradient_names", "releasing_custom_gradients"]
