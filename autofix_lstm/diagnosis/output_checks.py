"""The collapse itself, and the plain answer when nothing explains it."""

from __future__ import annotations

import numpy as np

from autofix_lstm.diagnosis.context import Context
from autofix_lstm.diagnosis.findings import Finding
from autofix_lstm.scoring.metrics import COLLAPSE_STD_RATIO

# The loss is "still falling" when the mean over the last quarter of the brief training is 20% below
# the mean over the quarter before: a longer training may still lift the output off its constant.
STILL_FALLING = 0.2

# Metrics that put the model next to its trivial baselines, per task.
REGRESSION_BASELINES = ("mse", "constant_mse", "persistence_mse", "r2")
CLASSIFICATION_BASELINES = ("accuracy", "majority_accuracy", "balanced_accuracy", "majority_balanced_accuracy",
                            "macro_f1", "majority_macro_f1")


def _still_falling(ctx: Context) -> tuple[bool, float | None]:
    losses = ctx.losses
    quarter = len(losses) // 4
    if quarter < 2:
        return False, None
    last = float(np.mean(losses[-quarter:]))
    before = float(np.mean(losses[-2 * quarter : -quarter]))
    if before <= 0:
        return False, None
    drop = 1.0 - last / before
    return drop > STILL_FALLING, drop


def baselines(metrics: dict) -> dict:
    """The metrics that compare the model with always predicting the mean / majority / last value."""
    keys = REGRESSION_BASELINES if metrics.get("task") == "regression" else CLASSIFICATION_BASELINES
    return {k: metrics.get(k) for k in keys if k in metrics}


def collapsed_output(ctx: Context) -> Finding | None:
    """The output collapsed to (nearly) a constant after the brief training.

    Measures: the metrics' ``collapsed`` verdict on the validation part (std of the predictions over
    std of the targets below ``COLLAPSE_STD_RATIO``, NaN predictions, or a single predicted class).
    Error, or warning when the training loss was still falling by more than ``STILL_FALLING`` over the
    last quarter of the brief training (a full training may get past it).
    """
    metrics = ctx.metrics
    if not metrics or not metrics.get("collapsed"):
        return None
    falling, drop = _still_falling(ctx)
    evidence = {
        "std_ratio": metrics.get("std_ratio"),
        "collapse_std_ratio": COLLAPSE_STD_RATIO,
        "nan": metrics.get("nan"),
        "baselines": baselines(metrics),
        "loss_drop_last_quarter": drop,
        "brief_training_steps": ctx.probe.steps if ctx.probe else None,
    }
    if "distinct_predictions" in metrics:
        evidence["distinct_predictions"] = metrics["distinct_predictions"]
    ratio = metrics.get("std_ratio")
    how = (
        f"the spread of its predictions is {ratio:.1%} of the targets'" if ratio is not None else "its predictions are NaN"
    )
    if metrics.get("distinct_predictions") == 1:
        how = "it predicts the same class for every sample"
    if falling:
        return Finding(
            "collapsed_output", "warning",
            f"The output is still nearly constant after the brief training ({how}), but the loss was still "
            f"falling ({drop:.0%} over the last quarter): a full training may get past it.",
            evidence,
        )
    return Finding(
        "collapsed_output", "error",
        f"The output collapsed to a constant: {how} after the brief training.",
        evidence,
    )


def _baseline_sentence(metrics: dict) -> str:
    if metrics.get("task") == "regression":
        text = f"its validation mse is {metrics.get('mse', float('nan')):.4g} against {metrics['constant_mse']:.4g} for always predicting the training mean"
        if metrics.get("persistence_mse") is not None:
            text += f" and {metrics['persistence_mse']:.4g} for repeating the last value"
        return text
    score = metrics.get("balanced_accuracy")
    score_text = f"{score:.3g}" if score is not None else "undefined"
    return (
        f"its balanced accuracy is {score_text} against {metrics.get('majority_balanced_accuracy', float('nan')):.3g} "
        "for always predicting the majority class"
    )


def explain_collapse(findings: list[Finding], ctx: Context) -> list[Finding]:
    """Say plainly when ``collapsed_output`` is the only finding and nothing explains it.

    Any other error or warning counts as an explanation; its ids are recorded in the collapse's
    evidence (``explained_by``). Without one, the message says the data may hold no usable signal
    and shows the baselines.
    """
    collapse = next((f for f in findings if f.id == "collapsed_output"), None)
    if collapse is None:
        return findings
    causes = [f.id for f in findings if f.id != "collapsed_output" and f.severity in ("error", "warning")]
    collapse.evidence["explained_by"] = causes
    if causes:
        return findings
    collapse.message = (
        "The output collapsed to a constant and no check found a cause: the data may hold no signal this model "
        f"can use ({_baseline_sentence(ctx.metrics or {})}). Check that the features can predict the target "
        "at this horizon before tuning the model."
    )
    collapse.evidence["no_usable_signal"] = True
    return findings
