"""The findings agree with each other and do not cry wolf: consequences shown under their cause,
contradictions settled by the evidence, errors kept for collapses actually seen, causes before symptoms."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest
from diagnosis_cases import run_case

from autofix_lstm.diagnosis import DETECTORS, FINDING_IDS, Finding
from autofix_lstm.diagnosis.agreement import CONTRADICTS, EXPLAINS, PRIORITY, reconcile
from autofix_lstm.scoring.metrics import Metrics


def test_priority_orders_every_finding_id_once():
    assert sorted(PRIORITY) == sorted(FINDING_IDS)
    assert PRIORITY[-2:] == ("nan_output", "collapsed_output")  # the symptoms come after what explains them


def test_the_rule_table_names_registered_findings_only():
    for rule in EXPLAINS:
        assert {rule.cause, rule.consequence} <= set(DETECTORS), rule
        assert rule.why and not rule.why.endswith("."), rule  # a clause, quoted in a sentence
        assert "collapsed_output" not in (rule.cause, rule.consequence), rule  # explain_collapse's job
    for rule in CONTRADICTS:
        assert {rule.slow, rule.violent} <= set(DETECTORS), rule
    # Two findings explaining each other would cancel out: a pair may only appear both ways under
    # conditions that exclude each other (the optimizer's kind).
    pairs = {(r.cause, r.consequence): r for r in EXPLAINS}
    for (cause, consequence), rule in pairs.items():
        back = pairs.get((consequence, cause))
        if back is not None:
            assert rule.when is not None and back.when is not None, (rule, back)


def test_consequences_are_info_under_their_cause_with_no_remedy_of_their_own():
    result = run_case("unscaled")  # targets around 5,000 and the raw target as an input
    for identifier in ("vanishing_gradients", "dead_units", "exploding_gradients"):
        finding = result.finding(identifier)
        assert finding is not None, result.ids
        assert finding.severity == "info"
        assert set(finding.evidence["explained_by"]) <= {"unscaled_inputs", "unscaled_target"}
        assert finding.strategies == []
        assert "A consequence of unscaled_" in finding.message and finding.message.endswith(".")
    # The collapse is explained by the causes, not by their consequences; the causes come first.
    collapse = result.finding("collapsed_output")
    assert set(collapse.evidence["explained_by"]) == {"unscaled_inputs", "unscaled_target"}
    assert [f.id for f in result.errors] == ["unscaled_target", "unscaled_inputs", "collapsed_output"]


def _finding(identifier: str, severity: str = "error") -> Finding:
    return Finding(identifier, severity, f"{identifier}.", {}, ["learning_rate"])


def _ctx(*, loss_ratio: float, nonfinite: bool = False, optimizer: str = "adam", momentum=None):
    """Just what the rule table reads from a ``Context``."""
    return SimpleNamespace(
        probe=SimpleNamespace(nonfinite_loss_step=3 if nonfinite else None, nonfinite_gradient_step=None),
        loss_summary={"end_over_start": loss_ratio},
        spec=SimpleNamespace(model=SimpleNamespace(optimizer=SimpleNamespace(name=optimizer, momentum=momentum))),
    )


@pytest.mark.parametrize(
    "ctx, stands, lowered",
    [
        (_ctx(loss_ratio=1.7), "exploding_gradients", "learning_rate_too_low"),  # the loss rose
        (_ctx(loss_ratio=0.95, nonfinite=True), "exploding_gradients", "learning_rate_too_low"),
        (_ctx(loss_ratio=0.95), "learning_rate_too_low", "exploding_gradients"),  # flat loss, nothing blew up
    ],
)
def test_contradicting_findings_are_never_both_errors(ctx, stands, lowered):
    findings = reconcile([_finding("learning_rate_too_low"), _finding("exploding_gradients")], ctx)
    by_id = {f.id: f for f in findings}
    assert by_id[stands].severity == "error" and "contradicted_by" not in by_id[stands].evidence
    assert by_id[lowered].severity == "warning"
    assert by_id[lowered].evidence["contradicted_by"] == stands
    assert f"Contradicted by {stands}" in by_id[lowered].message
    assert [f.id for f in findings][0] == stands


@pytest.mark.parametrize(
    "optimizer, momentum, cause, consequence",
    [
        ("adagrad", None, "slow_optimizer", "learning_rate_too_low"),
        ("sgd", None, "slow_optimizer", "learning_rate_too_low"),
        ("sgd", 0.9, "learning_rate_too_low", "slow_optimizer"),
        ("adam", None, "learning_rate_too_low", "slow_optimizer"),
    ],
)
def test_slow_steps_are_blamed_on_the_optimizer_or_on_its_learning_rate(optimizer, momentum, cause, consequence):
    ctx = _ctx(loss_ratio=0.98, optimizer=optimizer, momentum=momentum)
    findings = reconcile([_finding("learning_rate_too_low"), _finding("slow_optimizer", "warning")], ctx)
    by_id = {f.id: f for f in findings}
    assert by_id[cause].severity in ("error", "warning") and "explained_by" not in by_id[cause].evidence
    assert by_id[consequence].severity == "info"
    assert by_id[consequence].evidence["explained_by"] == [cause]


def test_adagrad_on_a_learnable_task_is_a_slow_optimizer_error():
    result = run_case("adagrad")
    slow = result.finding("slow_optimizer")
    assert slow.severity == "error" and slow.evidence["slow_by_kind"] is True
    assert "Adagrad" in slow.message and "Adam" in slow.message
    assert slow.strategies == ["optimizer"]
    assert result.errors[0].id == "slow_optimizer"
    assert result.finding("collapsed_output").evidence["explained_by"] == ["slow_optimizer"]


def test_a_tiny_learning_rate_with_adam_is_the_learning_rates_doing():
    result = run_case("lr_low")  # Adam at 1e-5
    assert result.finding("learning_rate_too_low").severity == "error"
    slow = result.finding("slow_optimizer")
    assert slow is not None and slow.severity == "info"
    assert slow.evidence["explained_by"] == ["learning_rate_too_low"]


@pytest.mark.parametrize("case", ["lr_high", "exploding"])
def test_plain_sgd_that_moves_fast_is_not_a_slow_optimizer(case):
    assert run_case(case).finding("slow_optimizer") is None


def test_a_collapse_still_moving_is_a_warning_about_the_first_steps():
    result = run_case("separates_late")  # balanced accuracy 0.95 after its full training
    assert result.collapsed and result.errors == []
    collapse = result.finding("collapsed_output")
    steps = result.probe["steps"]
    assert collapse.severity == "warning"
    assert f"collapsed during the first {steps} steps" in collapse.message
    assert collapse.evidence["still_moving"] is True
    assert collapse.evidence["spread_ratio_end"] > collapse.evidence["spread_ratio_mid"]
    assert collapse.evidence["projected_spread_ratio"] >= collapse.evidence["collapse_std_ratio"]
    # The imbalance did not collapse it (yet): a warning, not an error.
    assert result.finding("class_imbalance").severity == "warning"


def test_a_collapse_actually_seen_makes_the_imbalance_an_error():
    result = run_case("imbalanced")  # the spread rises, then shrinks back as it settles on the majority
    collapse = result.finding("collapsed_output")
    assert collapse.severity == "error" and collapse.evidence["still_moving"] is False
    assert collapse.evidence["spread_ratio_end"] < collapse.evidence["spread_ratio_mid"]
    assert result.finding("class_imbalance").severity == "error"
    assert collapse.evidence["explained_by"] == ["class_imbalance"]


def test_too_little_data_is_an_error_only_when_it_explains_a_collapse_seen():
    learns = run_case("little_data")  # 30 windows of a sine: the model learns them
    assert learns.finding("too_little_data").severity == "warning" and learns.errors == []
    settles = run_case("little_noise")  # 30 windows of noise: it settles on the mean
    assert settles.finding("too_little_data").severity == "error"
    assert settles.finding("collapsed_output").evidence["explained_by"] == ["too_little_data"]


def test_the_data_holding_signal_is_said_when_the_output_collapses():
    collapse = run_case("adagrad").finding("collapsed_output")
    assert collapse.evidence["signal_beats_constant"] is True
    assert collapse.evidence["signal_model"] in ("linear", "gradient_boosting")
    assert collapse.evidence["signal_metric"] == "balanced_accuracy" and collapse.evidence["signal_value"] > 0.6
    assert "The data holds signal" in collapse.message
    no_signal = run_case("no_signal").finding("collapsed_output")
    assert no_signal.evidence["signal_beats_constant"] is False and no_signal.evidence["no_usable_signal"] is True
    assert "the signal probe finds none" in no_signal.message


def _probe(spreads: list[float], losses: list[float], full_steps: int = 640):
    from autofix_lstm.diagnosis.probes import Probe

    steps = len(losses)
    probe = Probe(epochs=3, steps=steps, batch_size=32, full_training_steps=full_steps, loss=losses)
    probe.spread_steps = [round(steps * k / (len(spreads) - 1)) for k in range(len(spreads))]
    probe.output_spread, probe.target_spread = spreads, 1.0
    return probe


COLLAPSED = Metrics(task="regression", nan=False, collapsed=True, std_ratio=0.05, mse=1.0, constant_mse=1.0, r2=0.0)
FALLING = [1.0 - 0.004 * i for i in range(48)]


@pytest.mark.parametrize(
    "spreads, losses, metrics, signal, moving",
    [
        ([0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08], FALLING, COLLAPSED, True, True),  # steady rise, on course
        ([0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08], FALLING, COLLAPSED, False, False),  # growing on noise
        ([0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08], FALLING[::-1], COLLAPSED, True, False),  # loss rose
        ([0.02, 0.05, 0.08, 0.07, 0.06, 0.05, 0.04], FALLING, COLLAPSED, True, False),  # rose, then shrank back
        ([0.02, 0.03, 0.04, 0.05, 0.05, 0.06, 0.05], FALLING, COLLAPSED, True, False),  # not a steady rise
        ([0.010, 0.011, 0.012, 0.013, 0.014, 0.015, 0.016], FALLING, COLLAPSED, True, False),  # too slow to matter
        ([0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05], FALLING,
         dataclasses.replace(COLLAPSED, mse=0.9, r2=0.1), True, True),  # narrow, but already beats the constant
    ],
)
def test_a_collapse_is_still_moving_only_on_the_evidence(spreads, losses, metrics, signal, moving):
    from autofix_lstm.diagnosis.trajectory import judge

    verdict = judge(_probe(spreads, losses), metrics, SimpleNamespace(beats_constant=signal))
    assert verdict.still_moving is moving, verdict.reason
    assert verdict.evidence()["spread_ratio_end"] == spreads[-1]


def _inputs_ctx(*, collapsed: bool, beats_constant: bool, loss_ratio: float, brief_training: bool = True):
    """What ``unscaled_inputs`` reads: one feature up to ~86, 35% of the first LSTM's gates saturated."""
    import numpy as np

    x = np.linspace(0.0, 86.0, 400 * 5, dtype=np.float32).reshape(400, 5, 1)
    return SimpleNamespace(
        prepared=SimpleNamespace(x_train=x),
        dataset=SimpleNamespace(feature_names=["rentals"]),
        spec=SimpleNamespace(model=SimpleNamespace(layers=[SimpleNamespace(type="lstm")]),
                             preprocessing=SimpleNamespace(inputs="none")),
        probe=SimpleNamespace(saturation_init={"lstm_0": {"all": 0.35}}) if brief_training else None,
        metrics=Metrics("regression", collapsed=collapsed) if brief_training else None,
        collapsed=collapsed,
        trajectory=SimpleNamespace(beats_constant=beats_constant),
        loss_summary={"end_over_start": loss_ratio},
    )


@pytest.mark.parametrize(
    "collapsed, beats_constant, loss_ratio, brief_training, severity",
    [
        (True, False, 1.0, True, "error"),  # saturated and collapsed: the cause of the collapse
        (False, False, 0.98, True, "error"),  # not collapsed, but not learning either
        (False, True, 1.12, True, "warning"),  # already beats the constant (a noisy batch loss ended high)
        (False, False, 0.5, True, "warning"),  # the loss fell by half
        (False, False, 1.0, False, "warning"),  # no brief training: no saturation measured, a risk only
    ],
)
def test_unscaled_inputs_is_an_error_only_where_the_brief_training_does_not_learn(
        collapsed, beats_constant, loss_ratio, brief_training, severity):
    from autofix_lstm.diagnosis.data_checks import unscaled_inputs

    finding = unscaled_inputs(_inputs_ctx(collapsed=collapsed, beats_constant=beats_constant,
                                          loss_ratio=loss_ratio, brief_training=brief_training))
    assert finding is not None and finding.severity == severity, finding and finding.message
    assert finding.evidence["feature_magnitude_p99"]["rentals"] > 80
