"""The detectors, by finding id: a registry built from the id list, and a ``get`` that fails loudly.

A detector is a function ``Context -> Finding | None`` named after the finding id it reports, in the
``*_checks`` module of what it reads. The registry finds each id of ``autofix_lstm.finding_ids.FINDING_IDS``
(the public list, in the order they run) among those modules, so adding a finding is: its id in
``FINDING_IDS``, its function in a checks module, its trigger case in ``tests/diagnosis_cases.py``
(CONTRIBUTING: "Add a detector"). An id without a detector, or one named in two modules, stops the
import with a message naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from autofix_lstm.diagnosis import (
    data_checks,
    head_checks,
    output_checks,
    stateful_checks,
    training_checks,
    unit_checks,
)
from autofix_lstm.diagnosis.context import Context
from autofix_lstm.diagnosis.findings import Finding
from autofix_lstm.finding_ids import FINDING_IDS

Detector = Callable[[Context], Finding | None]

CHECK_MODULES: tuple[ModuleType, ...] = (output_checks, training_checks, data_checks, head_checks, unit_checks,
                                         stateful_checks)


def _collect(ids: tuple[str, ...], modules: tuple[ModuleType, ...]) -> dict[str, Detector]:
    """finding id -> the function of that name in ``modules``, in the order of ``ids``.

    Raises:
        ImportError: an id has no detector, or more than one module defines one.
    """
    found: dict[str, Detector] = {}
    for identifier in ids:
        owners = [m for m in modules if callable(getattr(m, identifier, None))]
        if len(owners) != 1:
            where = ", ".join(m.__name__ for m in owners) or "none of " + ", ".join(m.__name__ for m in modules)
            raise ImportError(f"finding id {identifier!r} needs exactly one detector function of that name; "
                              f"found in {where}")
        found[identifier] = getattr(owners[0], identifier)
    return found


# finding id -> detector, in the order they run (``agreement.PRIORITY`` orders the findings)
DETECTORS: dict[str, Detector] = _collect(FINDING_IDS, CHECK_MODULES)


def get(identifier: str) -> Detector:
    """The detector registered under ``identifier``.

    Raises:
        ValueError: no detector has that id; the message lists the valid ones.
    """
    try:
        return DETECTORS[identifier]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown detector {identifier!r}; expected one of {', '.join(DETECTORS)}"
        ) from None


def run_detectors(ctx: Context) -> list[Finding]:
    """Every registered detector on ``ctx``; the findings in registry order.

    Raises:
        RuntimeError: a detector returned a finding under another id (a bug in that detector).
    """
    findings = []
    for identifier, detector in DETECTORS.items():
        finding = detector(ctx)
        if finding is None:
            continue
        if finding.id != identifier:
            raise RuntimeError(f"detector {identifier!r} returned a finding with id {finding.id!r}")
        findings.append(finding)
    return findings
