"""What every detector receives: the spec, its data, the brief training's measurements and metrics."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from autofix_lstm.data.dataset import Dataset
from autofix_lstm.diagnosis.probes import Probe
from autofix_lstm.modeling.build import head_activation, head_units
from autofix_lstm.modeling.train import Prepared
from autofix_lstm.spec import Spec


@dataclass
class Context:
    """The inputs of a diagnosis. ``probe`` and ``metrics`` are None when the brief training failed."""

    spec: Spec
    prepared: Prepared
    probe: Probe | None = None
    metrics: dict | None = None
    training_error: str | None = None

    @property
    def dataset(self) -> Dataset:
        """The windowed data in original units."""
        return self.prepared.dataset

    @property
    def task(self) -> str:
        """regression, binary or multiclass."""
        return self.dataset.task

    @property
    def head_activation(self) -> str:
        """The activation of the model's output layer ('linear' when none)."""
        return head_activation(self.spec.model).lower()

    @property
    def head_units(self) -> int | None:
        """Units of the Dense head, or None when the last layer is not Dense."""
        return head_units(self.spec.model)

    @property
    def collapsed(self) -> bool:
        """The brief training's collapse verdict (False when it did not run)."""
        return bool(self.metrics and self.metrics.get("collapsed"))

    @cached_property
    def model_targets(self) -> np.ndarray:
        """Regression: the training targets as the head sees them (after the target transform).

        Classification: the class labels 0..K-1. Float64, one value per sample.
        """
        if self.task != "regression":
            return np.asarray(self.dataset.y_train, dtype=np.float64)
        return np.asarray(self.prepared.y_train, dtype=np.float64).reshape(len(self.prepared.y_train), -1)[:, 0]

    @cached_property
    def losses(self) -> list[float]:
        """The finite per-step training losses of the brief training."""
        return [v for v in (self.probe.loss if self.probe else []) if v is not None]
