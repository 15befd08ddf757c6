"""A finding: one named cause of a collapsed output, with the numbers behind it and the remedies to try."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# The finding ids are a public contract: the search, the report and users' scripts key on them.
FINDING_IDS = (
    "collapsed_output",
    "nan_output",
    "unscaled_inputs",
    "unscaled_target",
    "output_activation_range",
    "loss_activation_mismatch",
    "vanishing_gradients",
    "exploding_gradients",
    "learning_rate_too_high",
    "learning_rate_too_low",
    "dead_units",
    "excess_dropout",
    "too_little_data",
    "class_imbalance",
    "nonstationary_target",
    "target_leakage",
    "constant_feature",
    "short_window",
)

# Most severe first; findings are sorted in this order.
SEVERITIES = ("error", "warning", "info")

# The remedy strategies of strategies/*.yaml, by name.
STRATEGIES = ("scaling", "gradient_clipping", "learning_rate", "architecture", "dropout", "class_weights", "activations")


@dataclass
class Finding:
    """One diagnosed cause.

    Attributes:
        id: one of ``FINDING_IDS``.
        severity: ``error`` (explains a collapse), ``warning`` (may contribute) or ``info``.
        message: one plain sentence a user understands.
        evidence: the measured numbers behind it (JSON-able).
        strategies: the remedy strategies to try first, by their names in ``strategies/``; empty when
            the fix is in the data spec rather than in anything the search changes.
    """

    id: str
    severity: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    strategies: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.id not in FINDING_IDS:
            raise ValueError(f"unknown finding id {self.id!r}; expected one of {', '.join(FINDING_IDS)}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}; expected one of {', '.join(SEVERITIES)}")
        unknown = [s for s in self.strategies if s not in STRATEGIES]
        if unknown:
            raise ValueError(f"unknown strategies {unknown}; expected names from {', '.join(STRATEGIES)}")
        self.evidence = jsonable(self.evidence)
        self.strategies = list(self.strategies)

    @property
    def rank(self) -> int:
        """0 for errors, 1 for warnings, 2 for info: the sort key."""
        return SEVERITIES.index(self.severity)

    def to_dict(self) -> dict[str, Any]:
        """The finding as plain JSON-able data (the shape of ``diagnosis.schema.json``'s findings)."""
        return {
            "id": self.id,
            "severity": self.severity,
            "message": self.message,
            "evidence": dict(self.evidence),
            "strategies": list(self.strategies),
        }


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars/arrays turned into Python ones and NaN/inf floats into None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value
