"""The detector contract: every registered detector fires on the case built for it, with its
evidence, and stays silent on every healthy case. A new detector is tested the moment it is
registered (the test fails until it has a trigger case)."""

from __future__ import annotations

import inspect

import pytest
from diagnosis_cases import HEALTHY, TRIGGER_CASES, TRIGGERS, run_case

from autofix_lstm.diagnosis import DETECTORS, FINDING_IDS, Finding, get
from autofix_lstm.remedies.strategies import builtin_strategies


def test_every_finding_id_has_exactly_one_detector():
    assert list(DETECTORS) == list(FINDING_IDS)


def test_the_registry_names_an_id_without_a_detector_or_with_two():
    from types import ModuleType

    from autofix_lstm.diagnosis.registry import _collect

    def some_finding(ctx):
        return None

    one, two = ModuleType("one_checks"), ModuleType("two_checks")
    one.some_finding = some_finding
    assert _collect(("some_finding",), (one, two)) == {"some_finding": some_finding}
    with pytest.raises(ImportError, match="'other_finding' needs exactly one detector.*none of one_checks, two_checks"):
        _collect(("other_finding",), (one, two))
    two.some_finding = some_finding
    with pytest.raises(ImportError, match="found in one_checks, two_checks"):
        _collect(("some_finding",), (one, two))


def test_every_detector_has_a_trigger_case():
    assert set(TRIGGERS) == set(DETECTORS)
    assert {t.case for t in TRIGGERS.values()} <= set(TRIGGER_CASES)


@pytest.mark.parametrize("identifier", list(DETECTORS))
def test_detector_documents_its_measurement_and_threshold(identifier):
    doc = inspect.getdoc(get(identifier)) or ""
    assert "Measures" in doc, f"{identifier}'s docstring must say what it measures"
    module = inspect.getmodule(get(identifier))
    constants = [name for name, value in vars(module).items() if name.isupper() and isinstance(value, (int, float))]
    uses_threshold = any(name in doc for name in constants) or "no threshold" in doc
    assert uses_threshold, f"{identifier}'s docstring must name its threshold constant"


@pytest.mark.parametrize("identifier", list(DETECTORS))
def test_detector_fires_on_its_case_with_evidence(identifier):
    trigger = TRIGGERS[identifier]
    result = run_case(trigger.case)
    finding = result.finding(identifier)
    assert finding is not None, f"{identifier} did not fire on {trigger.case}: {result.ids}"
    assert finding.severity == trigger.severity
    assert finding.message.strip().endswith(".")
    missing = [key for key in trigger.evidence if key not in finding.evidence]
    assert not missing, f"{identifier} evidence lacks {missing}: {finding.evidence}"
    assert trigger.check(finding.evidence), finding.evidence
    assert set(finding.strategies) <= set(builtin_strategies())


@pytest.mark.parametrize("case", list(HEALTHY))
@pytest.mark.parametrize("identifier", list(DETECTORS))
def test_detector_is_silent_on_healthy_case(identifier, case):
    finding = run_case(case).finding(identifier)
    assert finding is None or finding.severity == "info", f"false alarm on {case}: {finding}"


@pytest.mark.parametrize("case", list(HEALTHY))
def test_healthy_cases_learn_and_report_no_error(case):
    result = run_case(case)
    assert not result.collapsed, result.metrics
    assert result.errors == []


def test_no_signal_says_so_plainly_with_the_baselines():
    result = run_case("no_signal")
    assert result.ids == ["collapsed_output"]
    collapse = result.findings[0]
    assert collapse.severity == "error"
    assert "no signal" in collapse.message
    assert "always predicting the training mean" in collapse.message
    assert collapse.evidence["no_usable_signal"] is True
    assert collapse.evidence["explained_by"] == []
    assert {"mse", "constant_mse", "r2"} <= set(collapse.evidence["baselines"])


def test_an_explained_collapse_names_its_causes():
    collapse = run_case("unscaled").finding("collapsed_output")
    assert collapse is not None and collapse.severity == "error"
    assert {"unscaled_inputs", "unscaled_target"} <= set(collapse.evidence["explained_by"])
    assert "no_usable_signal" not in collapse.evidence


def test_get_fails_loudly_naming_the_valid_ids():
    with pytest.raises(ValueError, match=r"unknown detector 'gradients'.*collapsed_output.*short_window"):
        get("gradients")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"id": "made_up", "severity": "error"}, "unknown finding id 'made_up'"),
        ({"id": "dead_units", "severity": "fatal"}, "unknown severity 'fatal'"),
    ],
)
def test_finding_rejects_names_outside_the_contract(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Finding(message="m.", **kwargs)
