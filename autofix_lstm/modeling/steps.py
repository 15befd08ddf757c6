"""How many optimizer steps a training takes, and when they are too few to train an LSTM.

One place for the count, so the diagnosis (``too_few_steps``) and the search (the ``training``
strategy's fields, searched only ``when: few_steps``) agree on what "few" means.
"""

from __future__ import annotations

import math

# A whole training of fewer optimizer steps than this rarely moves an LSTM off its initial constant:
# a batch of 450 on 900 windows for 20 epochs is 40 steps.
FEW_STEPS = 100
# Fewer passes over the data than this: every window is seen once or twice, however many steps that is.
FEW_EPOCHS = 2


def steps_per_epoch(train_windows: int, batch_size: int) -> int:
    """The optimizer steps of one epoch: ``ceil(windows / batch_size)``."""
    return math.ceil(max(0, train_windows) / max(1, batch_size))


def training_steps(train_windows: int, batch_size: int, epochs: int) -> int:
    """The optimizer steps of a whole training: ``steps_per_epoch * epochs``."""
    return steps_per_epoch(train_windows, batch_size) * max(0, epochs)


def few_steps(train_windows: int, batch_size: int, epochs: int) -> bool:
    """True when the training takes fewer than ``FEW_STEPS`` steps or fewer than ``FEW_EPOCHS`` epochs."""
    return training_steps(train_windows, batch_size, epochs) < FEW_STEPS or epochs < FEW_EPOCHS
