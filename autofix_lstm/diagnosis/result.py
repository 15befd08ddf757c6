"""``DiagnosisResult``: the findings, the brief training's metrics and measurements, for code and for people."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autofix_lstm.diagnosis.findings import SEVERITIES, Finding, jsonable
from autofix_lstm.spec import Spec

_SEVERITY_COLOURS = {"error": "#b00020", "warning": "#b26a00", "info": "#2f5d8a"}


def evidence_lines(evidence: dict, limit: int = 10) -> list[str]:
    """Short ``key: value`` lines for display (nested values as compact JSON)."""
    lines = []
    for key, value in list(evidence.items())[:limit]:
        if isinstance(value, float):
            text = f"{value:.4g}"
        elif isinstance(value, (dict, list)):
            text = json.dumps(_rounded(value), separators=(", ", ": "))
            text = text if len(text) <= 160 else text[:157] + "..."
        else:
            text = str(value)
        lines.append(f"{key}: {text}")
    if len(evidence) > limit:
        lines.append(f"... {len(evidence) - limit} more")
    return lines


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


@dataclass
class DiagnosisResult:
    """What ``diagnose`` found.

    Attributes:
        findings: the findings, errors first, then warnings, then info.
        metrics: the brief training's validation metrics (original units), or None if it could not train.
        probe: the brief training's measurements (loss per step, gradient norms per layer, update
            ratios, gate saturation, dead units...), JSON-able; None if it could not train.
        spec: the validated spec that was diagnosed.
        seconds: wall time of the whole diagnosis.
        training_error: why the brief training crashed, when it did.
        output_path: where ``diagnosis.json`` was written (None with ``save=False``).
    """

    findings: list[Finding]
    metrics: dict | None
    probe: dict | None
    spec: Spec = field(repr=False)
    seconds: float = 0.0
    training_error: str | None = None
    output_path: Path | None = None

    @property
    def errors(self) -> list[Finding]:
        """The error-level findings: the causes that explain a collapse."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        """The warning-level findings: things that may contribute."""
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ids(self) -> list[str]:
        """The ids of the findings, in order."""
        return [f.id for f in self.findings]

    @property
    def collapsed(self) -> bool:
        """The brief training's collapse verdict (True when it could not train at all)."""
        return True if self.metrics is None else bool(self.metrics.get("collapsed"))

    def finding(self, identifier: str) -> Finding | None:
        """The finding with that id, or None when it did not fire."""
        return next((f for f in self.findings if f.id == identifier), None)

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-able data: the shape of ``diagnosis.json`` and of ``diagnose --json``."""
        counts = {severity: sum(f.severity == severity for f in self.findings) for severity in SEVERITIES}
        return {
            "spec": self.spec.source,
            "collapsed": self.collapsed,
            "summary": counts,
            "findings": [f.to_dict() for f in self.findings],
            "metrics": jsonable(self.metrics),
            "probe": jsonable(self.probe),
            "training_error": self.training_error,
            "seconds": round(self.seconds, 3),
        }

    def to_frame(self):
        """The findings as a pandas DataFrame: one row each, columns id, severity, message, evidence, strategies."""
        import pandas as pd

        columns = ["id", "severity", "message", "evidence", "strategies"]
        return pd.DataFrame([f.to_dict() for f in self.findings], columns=columns)

    def _repr_html_(self) -> str:
        rows = []
        for f in self.findings:
            colour = _SEVERITY_COLOURS[f.severity]
            evidence = "<br>".join(html.escape(line) for line in evidence_lines(f.evidence))
            rows.append(
                "<tr>"
                f"<td style='color:{colour};font-weight:bold'>{html.escape(f.severity)}</td>"
                f"<td><code>{html.escape(f.id)}</code></td>"
                f"<td style='text-align:left'>{html.escape(f.message)}</td>"
                f"<td style='text-align:left;font-size:smaller'>{evidence}</td>"
                f"<td>{html.escape(', '.join(f.strategies) or '-')}</td>"
                "</tr>"
            )
        if not rows:
            rows.append("<tr><td colspan='5'>No findings: nothing looks wrong in the brief training.</td></tr>")
        verdict = "collapsed" if self.collapsed else "not collapsed"
        header = "".join(f"<th>{name}</th>" for name in ("severity", "finding", "message", "evidence", "strategies"))
        return (
            f"<div><p><b>Diagnosis</b> ({html.escape(verdict)} after the brief training; "
            f"{len(self.errors)} errors, {len(self.warnings)} warnings)</p>"
            f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        )
