"""Diagnosis: why an LSTM output collapsed, from a brief instrumented training.

``diagnose(spec)`` probes the data for signal (``scoring.signal``), trains the spec's model briefly
(``probes``), runs every detector registered in ``registry.DETECTORS`` (one small function per finding
id, grouped by what it reads: ``data_checks``, ``head_checks``, ``training_checks``, ``unit_checks``,
``output_checks``; whether a collapse is still moving is ``trajectory``), makes the findings agree
(``agreement``: consequences under their cause, contradictions settled, causes ordered) and returns a
``DiagnosisResult`` whose findings name the cause, the evidence and the remedy strategies.
"""

from autofix_lstm.diagnosis.findings import FINDING_IDS, SEVERITIES, Finding
from autofix_lstm.diagnosis.registry import DETECTORS, get
from autofix_lstm.diagnosis.result import DiagnosisResult
from autofix_lstm.diagnosis.runner import diagnose

__all__ = [
    "DETECTORS",
    "FINDING_IDS",
    "SEVERITIES",
    "DiagnosisResult",
    "Finding",
    "diagnose",
    "get",
]
