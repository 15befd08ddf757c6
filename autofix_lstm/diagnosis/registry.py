"""The detectors, by finding id: an explicit registry and a ``get`` that fails loudly.

A detector is a function ``Context -> Finding | None`` whose finding carries the detector's id. To add
one: write it in the module of its group, with a docstring naming its measurement and threshold,
add its id to ``autofix_lstm.finding_ids.FINDING_IDS`` and register it here; the contract test picks
it up.
"""

from __future__ import annotations

from collections.abc import Callable

from autofix_lstm.diagnosis import data_checks, head_checks, output_checks, training_checks, unit_checks
from autofix_lstm.diagnosis.context import Context
from autofix_lstm.diagnosis.findings import Finding

Detector = Callable[[Context], Finding | None]

# finding id -> detector, in the order they run (``agreement.PRIORITY`` orders the findings)
DETECTORS: dict[str, Detector] = {
    "collapsed_output": output_checks.collapsed_output,
    "nan_output": training_checks.nan_output,
    "unscaled_inputs": data_checks.unscaled_inputs,
    "unscaled_target": data_checks.unscaled_target,
    "output_activation_range": head_checks.output_activation_range,
    "loss_activation_mismatch": head_checks.loss_activation_mismatch,
    "vanishing_gradients": training_checks.vanishing_gradients,
    "exploding_gradients": training_checks.exploding_gradients,
    "learning_rate_too_high": training_checks.learning_rate_too_high,
    "learning_rate_too_low": training_checks.learning_rate_too_low,
    "slow_optimizer": training_checks.slow_optimizer,
    "dead_units": unit_checks.dead_units,
    "excess_dropout": unit_checks.excess_dropout,
    "too_little_data": data_checks.too_little_data,
    "class_imbalance": data_checks.class_imbalance,
    "nonstationary_target": data_checks.nonstationary_target,
    "target_leakage": data_checks.target_leakage,
    "constant_feature": data_checks.constant_feature,
    "short_window": data_checks.short_window,
}


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
