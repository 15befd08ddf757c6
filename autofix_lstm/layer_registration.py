"""Registering the package's Keras layers as soon as Keras is imported, without importing it first.

A saved ``model.keras`` holds the layers of ``data.transforms`` (input scaling, the target's
inverse), which Keras finds only once they are registered. ``import autofix_lstm`` must not import
TensorFlow (the CLI would take seconds to answer ``--help``), yet docs/metrics.md promises that
``import autofix_lstm; keras.saving.load_model(path)`` works. So ``register_when_keras_loads``
registers the layers at once when Keras is already imported, and otherwise installs a one-shot
import hook that registers them right after Keras' own module has run (PEP 302 finder/loader).
"""

from __future__ import annotations

import importlib
import sys

_KERAS = "keras"
_LAYERS_MODULE = "autofix_lstm.data.transforms"  # its ``register_keras_serializable`` layers


class _RegisterAfterExec:  # a loader (PEP 451); importlib.abc would cost an import of importlib.resources
    """Keras' own loader, with the package's layers registered right after it ran."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _KerasImportHook)]  # done: one shot
        importlib.import_module(_LAYERS_MODULE)

    def __getattr__(self, name: str):  # resource readers, get_source...: Keras' loader answers
        return getattr(self._loader, name)


class _KerasImportHook:  # a meta path finder (PEP 451)
    """Finds ``keras`` through the other finders and wraps its loader."""

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname != _KERAS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _RegisterAfterExec(spec.loader)
                return spec
        return None


def register_when_keras_loads() -> None:
    """Register the package's Keras layers now if Keras is imported, else the moment it is."""
    if _KERAS in sys.modules:
        importlib.import_module(_LAYERS_MODULE)
    elif not any(isinstance(finder, _KerasImportHook) for finder in sys.meta_path):
        sys.meta_path.insert(0, _KerasImportHook())


__all__ = ["register_when_keras_loads"]
