"""What every detector receives: the spec, its data, the brief training's measurements and metrics,
and the signal probe's verdict on the data."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from autofix_lstm.data.dataset import Dataset
from autofix_lstm.diagnosis.probes import Probe
from autofix_lstm.diagnosis.trajectory import Trajectory, judge, loss_summary
from autofix_lstm.modeling.build import head_activation, head_units
from autofix_lstm.modeling.train import Prepared
from autofix_lstm.scoring.metrics import Metrics
from autofix_lstm.scoring.objective import beats_constant
from autofix_lstm.scoring.signal import SignalProbe
from autofix_lstm.spec import Spec


@dataclass
class Context:
    """The inputs of a diagnosis. ``probe`` and ``metrics`` are None when the brief training failed;
    ``signal`` (a ``scoring.signal.SignalProbe``) is None when the signal probe did not run."""

    spec: Spec
    prepared: Prepared
    probe: Probe | None = None
    metrics: Metrics | None = None
    training_error: str | None = None
    signal: SignalProbe | None = None

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
        return bool(self.metrics is not None and self.metrics.collapsed)

    @property
    def output_useless(self) -> bool:
        """The brief training's output collapsed, or does not beat a constant predictor (False when it did
        not run): what a cause that only matters when the model fails (few steps, a penalty) waits for."""
        return self.collapsed or (self.metrics is not None and not beats_constant(self.metrics))

    @cached_property
    def trajectory(self) -> Trajectory:
        """Whether the output is still moving off its constant when the brief training ends (``trajectory``)."""
        return judge(self.probe, self.metrics, self.signal)

    @property
    def collapse_seen(self) -> bool:
        """A collapse actually seen: collapsed after the brief training and not still moving.

        Findings that explain a collapse are errors only when this holds; a collapse that was still
        moving is a collapse "during the first steps", which a full training may get past.
        """
        return self.collapsed and not self.trajectory.still_moving

    @cached_property
    def model_targets(self) -> np.ndarray:
        """Regression: the training targets as the head sees them (after the target transform), every
        step's of a multi-step forecast.

        Classification: the class labels 0..K-1. Float64, flat.
        """
        if self.task != "regression":
            return np.asarray(self.dataset.y_train, dtype=np.float64)
        return np.asarray(self.prepared.y_train, dtype=np.float64).reshape(-1)

    @cached_property
    def losses(self) -> list[float]:
        """The finite per-step training losses of the brief training."""
        return [v for v in (self.probe.loss if self.probe else []) if v is not None]

    @cached_property
    def loss_summary(self) -> dict:
        """``trajectory.loss_summary`` of the brief training (empty when it took no finite step)."""
        return loss_summary(self.losses, self.probe.steps if self.probe else 0)
