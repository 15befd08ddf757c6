"""Detectors that read the brief training: NaNs, gradient norms, the loss trajectory, update sizes.

All return None when the brief training did not run (``ctx.probe`` is None).
"""

from __future__ import annotations

import numpy as np

from autofix_lstm.diagnosis.context import Context
from autofix_lstm.diagnosis.findings import Finding, Severity
from autofix_lstm.diagnosis.probes import EARLY_STEPS
from autofix_lstm.modeling.steps import FEW_EPOCHS, FEW_STEPS, steps_per_epoch, training_steps
from autofix_lstm.scoring.objective import beats_constant

# Input-side layers whose early gradient norm is a thousandth of the head's learn a thousand times
# slower than the head: in our healthy models the ratio is 0.3-3. Below a hundredth is worth a warning.
VANISHING_RATIO_ERROR = 1e-3
VANISHING_RATIO_WARNING = 1e-2
# Gradient norms this small everywhere (while the loss is not) move no weight in float32.
VANISHING_ABSOLUTE = 1e-7
# The other direction: input-side gradients a thousand times the head's accumulate through time.
EXPLODING_RATIO = 1e3
# A layer's gradient norm growing a hundredfold over the first epochs (healthy ones stay within ~3x)
# is the feedback loop of exploding gradients.
EXPLODING_GROWTH = 100.0
# Early gradient norms above this are huge next to the usual clipnorm of 1; with Adam, which
# normalises step sizes, that alone does not throw the weights, hence only a warning.
EXPLODING_NORM = 1e3
# The loss trajectory is ``trajectory.loss_summary``: the start is the median of the first steps, the
# end the mean over the last quarter of the steps.
# Loss ending above twice its start: diverged. A single step above ten times its start: a spike the
# optimizer threw the weights into. Ending above 90% of its start: the loss did not fall.
LOSS_DIVERGED = 2.0
LOSS_SPIKE = 10.0
LOSS_NOT_FALLING = 0.9
# Update/weight ratio ||dW|| / ||W|| of the kernels per step. A rule of thumb puts healthy training
# near 1e-3 (Adam's first steps run higher: 0.02-0.13 in our healthy and lr=0.1 models). Above 0.2
# over the first steps, each step rewrites a fifth of the weights; below 1e-4, a whole training
# moves them by a few percent.
UPDATE_RATIO_HIGH = 0.2
UPDATE_RATIO_LOW = 1e-4
# Adagrad (whose steps shrink as its squared gradients accumulate) and SGD without momentum (which
# never speeds up along a direction the gradients agree on) stay as slow as they start. Below the
# rule of thumb's 1e-3 per step they are too slow for the training given: plain SGD at lr 1e-3 moves
# an LSTM's kernels by 1-5e-4 per step and a classifier stays collapsed through its full training,
# where SGD at 1e-2 (5e-3 per step) and Adam learn.
SLOW_OPTIMIZER_RATIO = 1e-3
# Optimizers that are slow by kind: Adagrad always, SGD when it has no momentum.
SLOW_OPTIMIZERS = ("adagrad",)


def _loss_summary(ctx: Context) -> dict:
    return dict(ctx.loss_summary)


def _median_update_ratio(ctx: Context) -> float | None:
    """Median update/weight ratio of the kernels over every brief-training step, exact zeros left out."""
    values = [v for series in ctx.probe.update_ratios.values() for v in series if v is not None and v > 0]
    return float(np.median(values)) if values else None


def _early_update_ratios(ctx: Context) -> dict[str, float]:
    """layer -> median update/weight ratio over the first ``EARLY_STEPS`` steps."""
    out = {}
    for name, series in ctx.probe.update_ratios.items():
        values = [v for v in series[:EARLY_STEPS] if v is not None]
        if values:
            out[name] = float(np.median(values))
    return out


def nan_output(ctx: Context) -> Finding | None:
    """NaN or infinite loss or predictions.

    Measures: the first brief-training step whose loss is NaN/inf (training stops there) and whether
    any validation prediction is NaN/inf. Error when either happens (no threshold: one is enough).
    """
    probe = ctx.probe
    if probe is None:
        return None
    nan_predictions = bool(ctx.metrics is not None and ctx.metrics.nan)
    if probe.nonfinite_loss_step is None and not nan_predictions:
        return None
    where = (
        f"the training loss became NaN/infinite at step {probe.nonfinite_loss_step + 1}"
        if probe.nonfinite_loss_step is not None else "the predictions are NaN/infinite"
    )
    return Finding(
        "nan_output", Severity.ERROR,
        f"The model produces no numbers at all: {where}; clip the gradients, lower the learning rate or scale the data.",
        {
            "nonfinite_loss_step": probe.nonfinite_loss_step,
            "nonfinite_gradient_step": probe.nonfinite_gradient_step,
            "nan_predictions": nan_predictions,
            "last_finite_loss": ctx.losses[-1] if ctx.losses else None,
            "early_grad_norms": probe.early_grad_norms(),
        },
    )


def _older_half_share(probe) -> float | None:
    """The largest input gradient the older half of the window gets, as a share of the largest overall."""
    values = probe.temporal_grad
    if len(values) < 2:
        return None
    older = [v for v in values[: len(values) // 2] if v is not None]
    return max(older) if older else None


def vanishing_gradients(ctx: Context) -> Finding | None:
    """The input-side layers, or the older timesteps of the window, get (almost) no gradient.

    Measures: each layer's gradient norm (median over the first ``EARLY_STEPS`` steps) divided by the
    head's (through depth), and after the brief training, the gradient of the loss with respect to the
    input at each timestep, the older half of the window's largest over the largest overall (through
    time). Error: a layer below the head with a ratio under ``VANISHING_RATIO_ERROR``, every norm under
    ``VANISHING_ABSOLUTE`` while the loss is not, or a collapse actually seen while the older half of the
    window gets under ``VANISHING_RATIO_ERROR`` of the gradient. Warning: a layer ratio under
    ``VANISHING_RATIO_WARNING``, or that older-half share with a collapse that was still moving. Without a
    collapse the through-time share alone is no finding: a model may rightly ignore old timesteps.
    """
    probe = ctx.probe
    if probe is None:
        return None
    norms = probe.early_grad_norms()
    ratios = {k: v for k, v in probe.grad_norm_ratios().items() if k != probe.head_layer and v is not None}
    finite = [v for v in norms.values() if v is not None]
    start = _loss_summary(ctx).get("start_loss")
    all_tiny = bool(finite) and max(finite) < VANISHING_ABSOLUTE and start is not None and start > VANISHING_ABSOLUTE
    lowest = min(ratios.items(), key=lambda kv: kv[1]) if ratios else None
    older = _older_half_share(probe)
    through_time = older is not None and older < VANISHING_RATIO_ERROR and ctx.collapsed
    if all_tiny:
        severity = Severity.ERROR
        message = (
            f"The gradients vanish everywhere (largest layer norm {max(finite):.2g}) while the loss is "
            f"{start:.3g}: no weight moves."
        )
    elif lowest is not None and lowest[1] < VANISHING_RATIO_WARNING:
        severity = Severity.ERROR if lowest[1] < VANISHING_RATIO_ERROR else Severity.WARNING
        share = "no gradient at all" if lowest[1] == 0 else f"{lowest[1]:.2g} times the head's gradient"
        message = (
            f"The gradients vanish on the way to the input side: {lowest[0]} gets {share} in the first steps, "
            "so it barely learns."
        )
    elif through_time:
        severity = Severity.ERROR if ctx.collapse_seen else Severity.WARNING
        window = len(probe.temporal_grad)
        message = (
            f"The gradients vanish through time: the older half of the {window}-step window gets at most "
            f"{older:.2g} of the gradient the most recent steps get, so the model cannot link the output to "
            "anything more than a few steps back."
        )
    else:
        return None
    return Finding(
        "vanishing_gradients", severity,
        message + " Scale the inputs, use tanh cells, or a shallower stack of tanh/LSTM layers.",
        {
            "early_grad_norms": norms,
            "ratio_to_head": probe.grad_norm_ratios(),
            "head_layer": probe.head_layer,
            "early_steps": min(EARLY_STEPS, probe.steps),
            "ratio_limit": VANISHING_RATIO_ERROR,
            "older_half_gradient_share": older,
            "window": len(probe.temporal_grad) or None,
        },
    )


def exploding_gradients(ctx: Context) -> Finding | None:
    """Gradients that blow up.

    Measures: per layer, the early gradient norm (median over the first ``EARLY_STEPS`` steps), its
    ratio to the head's, its growth (largest norm in the brief training over the larger of its own and
    the head's early norm), and
    NaN/inf gradients. Error: a NaN/inf gradient, growth above ``EXPLODING_GROWTH`` or a ratio above
    ``EXPLODING_RATIO``. Warning: an early norm above ``EXPLODING_NORM``.
    """
    probe = ctx.probe
    if probe is None:
        return None
    norms = probe.early_grad_norms()
    ratios = probe.grad_norm_ratios()
    # Growth is measured from the larger of the layer's and the head's early norm: a layer waking up
    # from a near-zero gradient (saturated at the start) is not exploding.
    head = norms.get(probe.head_layer) or 0.0
    growth = {}
    for name, series in probe.grad_norms.items():
        finite = [v for v in series if v is not None]
        base = max(norms.get(name) or 0.0, head)
        if finite and base > 1e-12:
            growth[name] = max(finite) / base
    evidence = {
        "early_grad_norms": norms, "ratio_to_head": ratios, "growth": growth,
        "nonfinite_gradient_step": probe.nonfinite_gradient_step,
        "clipnorm": ctx.spec.model.optimizer.clipnorm, "clipvalue": ctx.spec.model.optimizer.clipvalue,
    }
    biggest_growth = max(growth.items(), key=lambda kv: kv[1]) if growth else None
    high_ratio = max(((k, v) for k, v in ratios.items() if v is not None), key=lambda kv: kv[1], default=None)
    largest = max(((k, v) for k, v in norms.items() if v is not None), key=lambda kv: kv[1], default=None)
    if probe.nonfinite_gradient_step is not None:
        reason = f"the gradient became NaN/infinite at step {probe.nonfinite_gradient_step + 1}"
    elif biggest_growth and biggest_growth[1] > EXPLODING_GROWTH:
        reason = f"the gradient norm of {biggest_growth[0]} grew {biggest_growth[1]:.3g}-fold during the brief training"
    elif high_ratio and high_ratio[1] > EXPLODING_RATIO:
        reason = f"{high_ratio[0]} gets {high_ratio[1]:.3g} times the head's gradient"
    elif largest and largest[1] > EXPLODING_NORM:
        return Finding(
            "exploding_gradients", Severity.WARNING,
            f"The gradients are huge from the first steps ({largest[0]}: norm {largest[1]:.3g}); clipping them "
            "(model.optimizer.clipnorm: 1.0) or scaling the data keeps one step from throwing the weights.",
            evidence,
        )
    else:
        return None
    return Finding(
        "exploding_gradients", Severity.ERROR,
        f"The gradients explode: {reason}; clip them (model.optimizer.clipnorm: 1.0) or lower the learning rate.",
        evidence,
    )


def learning_rate_too_high(ctx: Context) -> Finding | None:
    """The learning rate throws the weights around instead of descending.

    Measures: the loss trajectory (start: median of the first steps; end: mean of the last quarter;
    spikes) and the kernels' update/weight ratio over the first ``EARLY_STEPS`` steps. Fires when the
    loss ends above ``LOSS_DIVERGED`` times its start, a step's loss exceeds ``LOSS_SPIKE`` times the
    start, or a layer's early update ratio exceeds ``UPDATE_RATIO_HIGH``. Error when the loss diverged
    or became NaN, a collapse was actually seen (``Context.collapse_seen``) or the loss did not fall;
    otherwise warning.
    """
    probe = ctx.probe
    if probe is None or not ctx.losses:
        return None
    summary = _loss_summary(ctx)
    updates = _early_update_ratios(ctx)
    top_update = max(updates.items(), key=lambda kv: kv[1]) if updates else None
    diverged = (summary["end_over_start"] or 0) > LOSS_DIVERGED
    spiked = (summary["max_over_start"] or 0) > LOSS_SPIKE
    jumpy = top_update is not None and top_update[1] > UPDATE_RATIO_HIGH
    if not (diverged or spiked or jumpy):
        return None
    not_falling = (summary["end_over_start"] or 0) > LOSS_NOT_FALLING
    nonfinite = probe.nonfinite_loss_step is not None
    severity = Severity.ERROR if diverged or nonfinite or ctx.collapse_seen or not_falling else Severity.WARNING
    reasons = []
    if diverged:
        reasons.append(f"the loss ended {summary['end_over_start']:.3g} times higher than it started")
    elif spiked:
        reasons.append(f"the loss jumped to {summary['max_over_start']:.3g} times its start")
    if jumpy:
        reasons.append(f"each early step changed {top_update[0]}'s weights by {top_update[1]:.0%}")
    if nonfinite:
        reasons.append("the loss became NaN")
    return Finding(
        "learning_rate_too_high", severity,
        f"The learning rate {ctx.spec.model.optimizer.learning_rate:g} is too high for the gradients it meets: "
        f"{'; '.join(reasons)}; "
        "lower it or clip the gradients.",
        {
            **summary, "learning_rate": ctx.spec.model.optimizer.learning_rate,
            "optimizer": ctx.spec.model.optimizer.name, "early_update_ratios": updates,
            "update_ratio_limit": UPDATE_RATIO_HIGH, "nonfinite_loss_step": probe.nonfinite_loss_step,
        },
    )


def learning_rate_too_low(ctx: Context) -> Finding | None:
    """The learning rate is too small for the weights to move.

    Measures: the median update/weight ratio of the kernels over all brief-training steps, leaving
    out exact zeros (no gradient reached the kernel, which is not the learning rate's doing). Fires
    below ``UPDATE_RATIO_LOW``: error when a collapse was actually seen (``Context.collapse_seen``) or
    the loss did not fall (end above ``LOSS_NOT_FALLING`` of its start), otherwise warning. With
    Adagrad or plain SGD, ``slow_optimizer`` carries the error and this one is shown as explained by it
    (``agreement``).
    """
    probe = ctx.probe
    if probe is None or not ctx.losses:
        return None
    median = _median_update_ratio(ctx)
    if median is None or median >= UPDATE_RATIO_LOW:
        return None
    summary = _loss_summary(ctx)
    not_falling = (summary["end_over_start"] or 0) > LOSS_NOT_FALLING
    severity = Severity.ERROR if ctx.collapse_seen or not_falling else Severity.WARNING
    return Finding(
        "learning_rate_too_low", severity,
        f"The learning rate {ctx.spec.model.optimizer.learning_rate:g} is too low: each step changes the weights "
        f"by {median:.2g} of their size, so a whole training barely moves them; raise it.",
        {
            **summary, "learning_rate": ctx.spec.model.optimizer.learning_rate,
            "optimizer": ctx.spec.model.optimizer.name, "median_update_ratio": median,
            "update_ratio_limit": UPDATE_RATIO_LOW,
        },
    )


def slow_optimizer_kind(ctx: Context) -> str | None:
    """'Adagrad' or 'plain SGD' (SGD without momentum) when the spec's optimizer is slow by kind, else None."""
    optimizer = ctx.spec.model.optimizer
    if optimizer.name in SLOW_OPTIMIZERS:
        return "Adagrad"
    if optimizer.name == "sgd" and not optimizer.momentum:
        return "plain SGD"
    return None


def slow_optimizer(ctx: Context) -> Finding | None:
    """The optimizer moves the weights too slowly for the training given.

    Measures: the median update/weight ratio of the kernels over the brief training (exact zeros left
    out, as for ``learning_rate_too_low``) and the optimizer's kind. Fires for Adagrad or SGD without
    momentum whose ratio is under ``SLOW_OPTIMIZER_RATIO``, and for any optimizer under
    ``UPDATE_RATIO_LOW``. Error when the optimizer is Adagrad or plain SGD and a collapse was actually
    seen (``Context.collapse_seen``) or the loss did not fall (end above ``LOSS_NOT_FALLING`` of its
    start); otherwise warning (with Adam and the like a tiny ratio is the learning rate's doing, and
    ``learning_rate_too_low`` explains this one).
    """
    probe = ctx.probe
    if probe is None or not ctx.losses:
        return None
    median = _median_update_ratio(ctx)
    if median is None:
        return None
    kind = slow_optimizer_kind(ctx)
    limit = SLOW_OPTIMIZER_RATIO if kind else UPDATE_RATIO_LOW
    if median >= limit:
        return None
    summary = _loss_summary(ctx)
    not_falling = (summary["end_over_start"] or 0) > LOSS_NOT_FALLING
    severity = Severity.ERROR if kind and (ctx.collapse_seen or not_falling) else Severity.WARNING
    optimizer = ctx.spec.model.optimizer
    why = {"Adagrad": "its steps only shrink as it goes", "plain SGD": "without momentum it never speeds up"}
    fix = ("use Adam, RMSprop or SGD with momentum 0.9" if kind
           else "raise the learning rate")
    return Finding(
        "slow_optimizer", severity,
        f"{kind or optimizer.name} at learning rate {optimizer.learning_rate:g} moves the weights by {median:.2g} of "
        f"their size per step{f' ({why[kind]})' if kind else ''}, too slowly for a training of "
        f"{probe.full_training_steps} steps; {fix}.",
        {
            **summary, "optimizer": optimizer.name, "momentum": optimizer.momentum,
            "learning_rate": optimizer.learning_rate, "median_update_ratio": median,
            "update_ratio_limit": limit, "slow_by_kind": bool(kind),
        },
    )


def too_few_steps(ctx: Context) -> Finding | None:
    """The whole training takes too few optimizer steps, or too few passes over the data, to train.

    Measures (from the spec and the data, before anything trains): the steps of a full training,
    ``ceil(training windows / batch_size) * epochs`` (``modeling.steps``), against ``FEW_STEPS``, and
    the epochs against ``FEW_EPOCHS``. Reported only when the brief training's output collapsed or
    does not beat a constant (a short training that learns is not a problem). Error when it collapsed
    and the brief training already covered the whole training (its steps are at least the full
    training's): the collapse seen is then the final state, not a slow start. Otherwise warning.
    """
    train = ctx.spec.train
    windows = len(ctx.dataset.x_train)
    steps = training_steps(windows, train.batch_size, train.epochs)
    few, single = steps < FEW_STEPS, train.epochs < FEW_EPOCHS
    if (not few and not single) or not ctx.output_useless:
        return None
    probe = ctx.probe
    covered = probe is not None and probe.steps >= steps
    severity = Severity.ERROR if covered and ctx.collapsed else Severity.WARNING
    per_epoch = steps_per_epoch(windows, train.batch_size)
    if few:
        what = (f"The whole training takes {steps} optimizer steps ({train.epochs} epoch"
                f"{'s' if train.epochs != 1 else ''} of {per_epoch} batch{'es' if per_epoch != 1 else ''} of "
                f"{train.batch_size} from {windows} windows), too few to move an LSTM off its first constant")
    else:
        what = (f"The training makes one pass over the data ({train.epochs} epoch of {steps} steps, batch "
                f"{train.batch_size}): every window is seen once, and the last steps decide the weights")
    return Finding(
        "too_few_steps", severity,
        f"{what}; train with a smaller batch (train.batch_size 32) and more epochs (train.epochs 20 or more).",
        {"steps": steps, "steps_per_epoch": per_epoch, "epochs": train.epochs, "batch_size": train.batch_size,
         "train_samples": windows, "few_steps_limit": FEW_STEPS, "few_epochs_limit": FEW_EPOCHS,
         "brief_training_steps": probe.steps if probe is not None else None, "collapsed": ctx.collapsed,
         "beats_constant": None if ctx.metrics is None else beats_constant(ctx.metrics)},
    )
