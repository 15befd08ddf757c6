"""The collapse itself, and the plain answer when nothing explains it."""

from __future__ import annotations

from autofix_lstm.diagnosis.context import Context
from autofix_lstm.diagnosis.findings import Finding, Severity
from autofix_lstm.scoring.metrics import COLLAPSE_STD_RATIO, Metrics

# Metrics that put the model next to its trivial baselines, per task.
REGRESSION_BASELINES = ("mse", "constant_mse", "persistence_mse", "r2")
CLASSIFICATION_BASELINES = ("accuracy", "majority_accuracy", "balanced_accuracy", "majority_balanced_accuracy",
                            "macro_f1", "majority_macro_f1")


def baselines(metrics: Metrics) -> dict:
    """The metrics that compare the model with always predicting the mean / majority / last value."""
    return metrics.subset(REGRESSION_BASELINES if metrics.is_regression else CLASSIFICATION_BASELINES)


def _signal_evidence(signal) -> dict:
    """The signal probe's best model and score, for a finding's evidence."""
    if signal is None:
        return {}
    return {"signal_model": signal.model, "signal_metric": signal.metric, "signal_value": signal.value,
            "signal_constant": signal.constant, "signal_beats_constant": signal.beats_constant}


def collapsed_output(ctx: Context) -> Finding | None:
    """The output collapsed to (nearly) a constant after the brief training.

    Measures: the metrics' ``collapsed`` verdict on the validation part (std of the predictions over
    std of the targets below ``COLLAPSE_STD_RATIO``, NaN predictions, or a single predicted class), and
    whether the output was still moving off its constant when the brief training ended (its spread
    rising steadily towards ``COLLAPSE_STD_RATIO`` while the loss fell and the data holds signal:
    ``trajectory.judge``). Error when the collapse was actually seen; warning, "collapsed during the
    first N steps", when it was still moving. When the signal probe beats the constant, its model and
    score are added: the data holds signal this model did not find.
    """
    metrics = ctx.metrics
    if metrics is None or not metrics.collapsed:
        return None
    trajectory = ctx.trajectory
    steps = ctx.probe.steps if ctx.probe else 0
    signal = ctx.signal
    holds_signal = bool(signal is not None and signal.beats_constant)
    evidence = {
        "std_ratio": metrics.std_ratio,
        "collapse_std_ratio": COLLAPSE_STD_RATIO,
        "nan": metrics.nan,
        **({} if metrics.is_regression else {"distinct_predictions": metrics.distinct_predictions}),
        **(_signal_evidence(signal) if holds_signal else {}),
        **trajectory.evidence(),
        "brief_training_steps": steps,
        "full_training_steps": ctx.probe.full_training_steps if ctx.probe else None,
        "baselines": baselines(metrics),
    }
    ratio = metrics.std_ratio
    how = (
        f"the spread of its predictions is {ratio:.1%} of the targets'" if ratio is not None else "its predictions are NaN"
    )
    if metrics.distinct_predictions == 1:
        how = "it predicts the same class for every sample"
    data = f" The data holds signal: {signal.sentence()}." if holds_signal else ""
    if trajectory.still_moving:
        return Finding(
            "collapsed_output", Severity.WARNING,
            f"The output collapsed during the first {steps} steps ({how}), but it is still moving: "
            f"{trajectory.reason}, so a full training may get past it.{data}",
            evidence,
        )
    if metrics.nan or ctx.probe is None or ctx.probe.nonfinite_loss_step is not None:
        return Finding("collapsed_output", Severity.ERROR, f"The output collapsed: {how} after the brief training.{data}", evidence)
    return Finding(
        "collapsed_output", Severity.ERROR,
        f"The output collapsed to a constant: {how} after the brief training, and it is not moving off it "
        f"({trajectory.reason}).{data}",
        evidence,
    )


def _baseline_sentence(metrics: Metrics) -> str:
    if metrics.is_regression:
        text = (f"its validation mse is {_or_nan(metrics.mse):.4g} against {_or_nan(metrics.constant_mse):.4g} "
                "for always predicting the training mean")
        if metrics.persistence_mse is not None:
            text += f" and {metrics.persistence_mse:.4g} for repeating the last value"
        return text
    score = metrics.balanced_accuracy
    score_text = f"{score:.3g}" if score is not None else "undefined"
    return (
        f"its balanced accuracy is {score_text} against {_or_nan(metrics.majority_balanced_accuracy):.3g} "
        "for always predicting the majority class"
    )


def _or_nan(value: float | None) -> float:
    return float("nan") if value is None else value


def explain_collapse(findings: list[Finding], ctx: Context) -> list[Finding]:
    """Record what explains ``collapsed_output``, and say plainly when nothing does.

    Every other error or warning that no other finding explains counts as an explanation; its ids
    are recorded in the collapse's evidence (``explained_by``). Run after ``agreement.reconcile``, so a
    finding shown as another's consequence (info) is not listed. Without one, the message says what
    the signal probe found: no signal (the data may hold none this model can use; the baselines are
    shown), or signal that the model did not find.
    """
    collapse = next((f for f in findings if f.id == "collapsed_output"), None)
    if collapse is None:
        return findings
    causes = [f.id for f in findings if f.id != "collapsed_output" and f.severity in (Severity.ERROR, Severity.WARNING)]
    collapse.evidence = {"explained_by": causes, **collapse.evidence}  # first: what a reader looks for
    if causes:
        return findings
    signal = ctx.signal
    if signal is not None and signal.beats_constant:
        collapse.message += (
            " No check found a cause in the data or the training dynamics, so the model itself (its "
            "architecture, activations or optimizer) is the place to look."
        )
        return findings
    probe_text = f" ({signal.sentence()})" if signal is not None else ""
    collapse.message = (
        "The output collapsed to a constant and no check found a cause: the data may hold no signal this model "
        f"can use ({_baseline_sentence(ctx.metrics)}){', and the signal probe finds none' if signal is not None else ''}"
        f"{probe_text}. Check that the features can predict the target at this horizon before tuning the model."
    )
    collapse.evidence["no_usable_signal"] = True
    if signal is not None:
        collapse.evidence.update(_signal_evidence(signal))
    return findings
