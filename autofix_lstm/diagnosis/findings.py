"""A finding: one named cause of a collapsed output, with the numbers behind it and the remedies to try."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from autofix_lstm.finding_ids import FINDING_IDS, SEVERITIES
from autofix_lstm.run_dir import jsonable


class Severity(str, Enum):
    """How much a finding weighs: the order findings are listed and acted on in (``SEVERITIES``)."""

    ERROR = "error"  # explains a collapse actually seen
    WARNING = "warning"  # may contribute
    INFO = "info"  # for information, such as a consequence another finding explains

    def __str__(self) -> str:
        return self.value


@dataclass
class Finding:
    """One diagnosed cause.

    Attributes:
        id: one of ``FINDING_IDS``.
        severity: ``error`` (explains a collapse actually seen), ``warning`` (may contribute) or ``info``
            (for information, such as a consequence another finding explains).
        message: one plain sentence a user understands.
        evidence: the measured numbers behind it (JSON-able); ``explained_by`` lists the findings that
            explain this one (see ``agreement``), ``contradicted_by`` names the finding that outweighed it.
        strategies: the remedy strategies to try first: the names of the selected strategy files whose
            ``findings:`` list this id (filled in by ``diagnose``); empty when the fix is in the data spec
            rather than in anything the search changes.
    """

    id: str
    severity: Severity
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    strategies: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.id not in FINDING_IDS:
            raise ValueError(f"unknown finding id {self.id!r}; expected one of {', '.join(FINDING_IDS)}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}; expected one of {', '.join(SEVERITIES)}")
        self.severity = Severity(self.severity)
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
            "severity": self.severity.value,
            "message": self.message,
            "evidence": dict(self.evidence),
            "strategies": list(self.strategies),
        }


__all__ = ["FINDING_IDS", "SEVERITIES", "Finding", "Severity", "jsonable"]
