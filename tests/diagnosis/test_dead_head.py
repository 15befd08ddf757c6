"""A dead ReLU head (every output exactly 0) is named for what it is, ahead of an unscaled target."""

from __future__ import annotations

from diagnosis_cases import run_case


def test_a_dead_relu_head_is_the_first_error_not_the_unscaled_target():
    # Issue 25 (7): the head output exactly 0 everywhere and the diagnosis blamed unscaled_target.
    result = run_case("dead_relu_head")
    first = result.findings[0]
    assert first.id == "output_activation_range" and first.severity.value == "error"
    assert first.evidence["dead_head"] is True and first.evidence["initial_output"] == {"mean": 0.0, "std": 0.0}
    assert "outputs exactly 0 for every sample at initialisation" in first.message
    assert "activations" in first.strategies  # the head made linear: what revives it
    assert "unscaled_target" in result.ids  # still true, and still said, after the cause
