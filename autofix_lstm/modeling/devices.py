"""Where trainings run: the device TensorFlow trains on, and the strategy ``search.distribution`` names.

``training_device()`` is what a search records (summary.json's ``device``, the report): "CPU", or
the name of the GPU TensorFlow places a model on by default (the first visible one).

``distribution_scope("mirrored")`` is the scope a trial's model is built, compiled and fit in: a
``tf.distribute.MirroredStrategy`` over every visible GPU (on a machine without one, over the CPU
alone: the same code path, one replica). Keras Tuner's own ``Tuner`` takes such a strategy as
``distribution_strategy`` and enters its scope around its model building and fitting; our trials
are trained by our runner (``tuning.trials.train_candidate``), which enters the same scope.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass

import tensorflow as tf

from autofix_lstm.errors import CannotTrainError
from autofix_lstm.modeling.build import is_stateful

DEFAULT = "default"
MIRRORED = "mirrored"


def gpu_names() -> list[str]:
    """The names of the GPUs TensorFlow sees (e.g. "NVIDIA H200"), in its order; empty on a CPU."""
    names = []
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            details = tf.config.experimental.get_device_details(gpu)
        except (ValueError, RuntimeError):  # pragma: no cover - a device TensorFlow cannot describe
            details = {}
        names.append(str(details.get("device_name") or gpu.name))
    return names


def training_device() -> str:
    """The device a training runs on: the first visible GPU's name, or "CPU"."""
    names = gpu_names()
    return names[0] if names else "CPU"


@dataclass(frozen=True)
class Placement:
    """Where a search's trials train: the device, the strategy and its replicas."""

    device: str  # "CPU" or the first GPU's name
    distribution: str  # "default" or "mirrored"
    replicas: int  # devices each training is split over (1 unless mirrored over several GPUs)
    devices: tuple[str, ...]  # the devices the trainings use

    def to_dict(self) -> dict:
        """As summary.json and events.jsonl hold it."""
        return {"device": self.device, "distribution": self.distribution, "replicas": self.replicas,
                "devices": list(self.devices)}


def placement(distribution: str = DEFAULT) -> Placement:
    """Where trainings under ``distribution`` ("default" or "mirrored") run."""
    device = training_device()
    if distribution != MIRRORED:
        return Placement(device, DEFAULT, 1, (device,))
    strategy = mirrored_strategy()
    names = tuple(gpu_names()) or ("CPU",)
    return Placement(device, MIRRORED, int(strategy.num_replicas_in_sync), names)


@functools.cache
def mirrored_strategy() -> tf.distribute.MirroredStrategy:
    """One MirroredStrategy over every visible GPU (the CPU when there is none), made once per process."""
    return tf.distribute.MirroredStrategy()


@contextlib.contextmanager
def distribution_scope(distribution: str = DEFAULT) -> Iterator[None]:
    """Within, models are built and trained under ``distribution``'s strategy ("default": as they are)."""
    if distribution != MIRRORED:
        yield
        return
    with mirrored_strategy().scope():
        yield


def require_one_replica_if_stateful(spec, distribution: str = DEFAULT) -> None:
    """A model with stateful layers trains under ``mirrored`` only over one replica (a GPU, or the CPU).

    A MirroredStrategy splits each batch across its replicas, and a stateful layer is built for exactly
    ``train.batch_size`` windows per call: over several GPUs Keras fails inside the layer, on a shape.

    Raises:
        CannotTrainError: ``spec`` has a stateful layer and ``distribution`` mirrors over several replicas.
    """
    if distribution != MIRRORED or not is_stateful(spec.model):
        return
    replicas = int(mirrored_strategy().num_replicas_in_sync)
    if replicas < 2:
        return
    size = spec.train.batch_size
    reason = (f"search.distribution: mirrored splits each batch of train.batch_size ({size}) windows across {replicas} "
              f"replicas, and a stateful layer is built for exactly {size} windows per batch")
    raise CannotTrainError(f"cannot train: {reason}; use search.distribution: default for a stateful model, or make "
                           "the recurrent layers stateless (stateful: false)", spec.source, reason=reason)


__all__ = ["DEFAULT", "MIRRORED", "Placement", "distribution_scope", "gpu_names", "mirrored_strategy", "placement",
           "require_one_replica_if_stateful", "training_device"]
