"""Feeding windows to Keras a batch at a time, so that large window views are never copied whole.

Handed a numpy array, ``model.fit`` turns all of it into one tensor: for windows that are views over
rows (``data.dataset``), that is a full copy of every window, growing with the window length. Up to
``STREAM_ABOVE_BYTES`` the arrays are handed to Keras as they always were (its own shuffling, so
small runs train exactly as before); above it, ``WindowBatches`` gathers each batch from the views.
"""

from __future__ import annotations

import keras
import numpy as np

# Windows (training and validation together, float32) up to this size are handed to Keras whole.
STREAM_ABOVE_BYTES = 64 * 2**20


def logical_bytes(*arrays: np.ndarray) -> int:
    """Bytes the arrays would take if copied whole (a view's ``nbytes`` counts its elements, not its base)."""
    return int(sum(int(np.prod(np.shape(a))) * 4 for a in arrays))


class WindowBatches(keras.utils.PyDataset):
    """Batches ``(x[index], y[index][, sample_weight])`` gathered from (views of) windows.

    Args:
        x, y: windows (samples, timesteps, features) and model-space targets.
        batch_size: samples per batch.
        shuffle: draw a new order every epoch (training); keep time order otherwise (validation).
        seed: the order's random seed.
        class_weight: class id -> weight, given to each sample as its weight.
    """

    def __init__(self, x, y, batch_size: int, *, shuffle: bool = False, seed: int = 0, class_weight: dict | None = None):
        super().__init__()
        self.x, self.y = x, y
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self._rng = np.random.default_rng(seed)
        self.class_weight = class_weight
        self._order = self._rng.permutation(len(y)) if shuffle else np.arange(len(y))

    def __len__(self) -> int:
        return -(-len(self.y) // self.batch_size)

    def __getitem__(self, index: int):
        chosen = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        if not self.shuffle:  # consecutive windows: a slice of the view, copied once into the batch
            part = slice(int(chosen[0]), int(chosen[-1]) + 1)
            x, y = np.ascontiguousarray(self.x[part], dtype=np.float32), np.asarray(self.y[part])
        else:
            x, y = np.asarray(self.x[chosen], dtype=np.float32), np.asarray(self.y[chosen])
        if not self.class_weight:
            return x, y
        labels = np.asarray(y).reshape(len(y), -1)
        labels = labels[:, 0] if labels.shape[1] == 1 else np.argmax(labels, axis=1)
        weights = np.array([self.class_weight.get(int(c), 1.0) for c in labels], np.float32)
        return x, y, weights

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self._order = self._rng.permutation(len(self.y))
