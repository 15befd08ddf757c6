"""``DiagnosisResult``: the findings, the brief training's metrics and measurements, for code and for people."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markupsafe import Markup

from autofix_lstm.diagnosis.findings import SEVERITIES, Finding, Severity
from autofix_lstm.format import evidence_lines
from autofix_lstm.run_dir import jsonable
from autofix_lstm.scoring.metrics import Metrics
from autofix_lstm.scoring.signal import SignalProbe
from autofix_lstm.spec import Spec

_SEVERITY_COLOURS = {"error": "#b00020", "warning": "#b26a00", "info": "#2f5d8a"}
# The notebook table; Markup.format escapes every value it fills in.
_ROW = Markup(
    "<tr><td style='color:{};font-weight:bold'>{}</td><td><code>{}</code></td>"
    "<td style='text-align:left'>{}</td><td style='text-align:left;font-size:smaller'>{}</td><td>{}</td></tr>"
)
_TABLE = Markup(
    "<div><p><b>Diagnosis</b> ({} after the brief training; {} errors, {} warnings)</p>{}<table><thead><tr>"
    "<th>severity</th><th>finding</th><th>message</th><th>evidence</th><th>strategies</th>"
    "</tr></thead><tbody>{}</tbody></table></div>"
)
_SIGNAL = Markup("<p><b>Signal probe</b>: {}</p>")


@dataclass
class DiagnosisResult:
    """What ``diagnose`` found.

    Attributes:
        findings: the findings, errors first, then warnings, then info; within a severity the causes
            in the order a fix should take them, the symptoms (NaN, collapse) last
            (``agreement.PRIORITY``). A finding another one explains is ``info``, with
            ``explained_by`` in its evidence.
        metrics: the brief training's validation metrics (original units), or None if it could not train.
        probe: the brief training's measurements (loss per step, gradient norms per layer, update
            ratios, gate saturation, dead units...), JSON-able; None if it could not train.
        spec: the validated spec that was diagnosed.
        seconds: wall time of the whole diagnosis.
        training_error: why the brief training crashed, when it did.
        output_path: where ``diagnosis.json`` was written (None with ``save=False``).
        signal_probe: the signal probe on the same windows (``scoring.signal.SignalProbe``: does a
            linear or gradient-boosted model beat the constant?), or None when it did not run.
    """

    findings: list[Finding]
    metrics: Metrics | None
    probe: dict | None
    spec: Spec = field(repr=False)
    seconds: float = 0.0
    training_error: str | None = None
    output_path: Path | None = None
    signal_probe: SignalProbe | None = None

    @property
    def errors(self) -> list[Finding]:
        """The error-level findings: the causes that explain a collapse."""
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        """The warning-level findings: things that may contribute."""
        return [f for f in self.findings if f.severity is Severity.WARNING]

    @property
    def ids(self) -> list[str]:
        """The ids of the findings, in order."""
        return [f.id for f in self.findings]

    @property
    def collapsed(self) -> bool:
        """The brief training's collapse verdict (True when it could not train at all)."""
        return True if self.metrics is None else bool(self.metrics.collapsed)

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
            "metrics": None if self.metrics is None else self.metrics.to_dict(),
            "probe": jsonable(self.probe),
            "training_error": self.training_error,
            "seconds": round(self.seconds, 3),
            "signal_probe": jsonable(self.signal_probe.to_dict()) if self.signal_probe else None,
        }

    def signal_sentence(self) -> str | None:
        """The signal probe's verdict in one line, or None when it did not run."""
        probe = self.signal_probe
        if probe is None:
            return None
        verdict = "the data holds signal" if probe.beats_constant else "no signal found"
        return f"{verdict}: {probe.sentence()}; {probe.rows} windows, {probe.seconds:.2f}s"

    def to_frame(self):
        """The findings as a pandas DataFrame: one row each, columns id, severity, message, evidence, strategies."""
        import pandas as pd

        columns = ["id", "severity", "message", "evidence", "strategies"]
        return pd.DataFrame([f.to_dict() for f in self.findings], columns=columns)

    def _repr_html_(self) -> str:
        # Markup.format escapes every value it fills in; Markup.join escapes every line it joins.
        rows = [
            _ROW.format(_SEVERITY_COLOURS[f.severity], f.severity, f.id, f.message,
                        Markup("<br>").join(evidence_lines(f.evidence)), ", ".join(f.strategies) or "-")
            for f in self.findings
        ]
        if not rows:
            rows.append(Markup("<tr><td colspan='5'>No findings: nothing looks wrong in the brief training.</td></tr>"))
        verdict = "collapsed" if self.collapsed else "not collapsed"
        sentence = self.signal_sentence()
        signal = _SIGNAL.format(sentence) if sentence else Markup("")
        return str(_TABLE.format(verdict, len(self.errors), len(self.warnings), signal, Markup("").join(rows)))

