"""Detectors that look at the data as the model receives it: scale, range, leakage, size, balance.

Each detector takes a ``Context`` and returns a ``Finding`` or None. Its docstring names what it
measures and the threshold; the thresholds are the module constants below.
"""

from __future__ import annotations

import numpy as np

from autofix_lstm.data.dataset import bounded_windows
from autofix_lstm.diagnosis.context import Context
from autofix_lstm.diagnosis.findings import Finding, Severity
from autofix_lstm.diagnosis.training_checks import LOSS_NOT_FALLING
from autofix_lstm.format import number

# Standardised features stay within a few units (|x| > 10 is a 10-sigma event); with Glorot-initialised
# kernels, inputs past ~10 push gate pre-activations past the flat ends of sigmoid/tanh.
INPUT_MAGNITUDE_LIMIT = 10.0
# Features this small (99th percentile of |x|) barely move the gate pre-activations at all.
INPUT_TINY_LIMIT = 1e-3
# A quarter of the gate activations in their flat region at the start means a large part of the
# gradient is already blocked before any training (scaled inputs give ~0%).
GATE_SATURATION_LIMIT = 0.25
# The head starts with outputs near 0 with a spread below 1 and Adam moves a weight by about the
# learning rate per step: a target whose mean or spread exceeds 10 is out of reach for thousands of steps.
TARGET_MAGNITUDE_LIMIT = 10.0
# A target spread this small makes the loss and its gradients vanish next to float32 noise.
TARGET_TINY_LIMIT = 1e-3
# Validation targets outside the training range (widened by 5% of its width: small excursions are
# ordinary extrapolation): a third of them means the model is asked to predict where it never saw a target.
NONSTATIONARY_MARGIN = 0.05
NONSTATIONARY_ERROR = 0.3
NONSTATIONARY_WARNING = 0.1
# A feature whose last-row value equals the target in (nearly) every sample is the answer itself.
LEAKAGE_EQUAL_FRACTION = 0.99
# A window needs at least two timesteps for the recurrence to see any history.
MIN_WINDOW = 2
# Input statistics (scale, constant features) look at most this many window values (evenly spaced
# windows beyond it): a stable percentile, without a float64 copy of every window of a large data set.
STATISTICS_VALUES = 2_000_000
# Relative tolerance for "constant" and "equal" (float noise, not signal).
CONSTANT_RTOL = 1e-9
# Fewer training windows than one default batch (32) cannot train an LSTM; under 100 is thin.
MIN_SAMPLES_ERROR = 32
MIN_SAMPLES_WARNING = 100
# Trainable weights per training window: past 20 the model can memorise the training set instead of
# learning a rule; past 200 even memorising needs more steps than a training gives.
PARAMS_PER_SAMPLE_WARNING = 20.0
PARAMS_PER_SAMPLE_ERROR = 200.0
# A majority class holding 80% of the labels (4 to 1) makes "always the majority" a cheap local minimum.
IMBALANCE_SHARE = 0.8
# A milder majority (2 to 1) explains a collapse seen onto it: under unweighted cross-entropy a window
# goes to the minority only where the evidence more than doubles its odds, which a weak signal never
# does. "Onto it": the collapsed model gives the majority class to 90% of the validation windows or more.
IMBALANCE_COLLAPSE_SHARE = 2 / 3
MAJORITY_PREDICTED = 0.9


def _first_recurrent_saturation(ctx: Context) -> tuple[str | None, dict | None]:
    """(layer, gate saturation at initialisation) of the recurrent layer that reads the inputs, if any:
    the first layer, or the first behind layers that pass the inputs on unchanged (masking)."""
    if ctx.probe is None or not ctx.spec.model.layers:
        return None, None
    for index, layer in enumerate(ctx.spec.model.layers):
        name = f"{layer.type}_{index}"
        if name in ctx.probe.saturation_init:
            return name, ctx.probe.saturation_init[name]
        if layer.type != "masking":
            break
    return None, None


def _learning_in_brief_training(ctx: Context) -> bool:
    """The brief training ran and did not collapse, and either its model already beats the constant on
    the validation windows or its loss fell below ``LOSS_NOT_FALLING`` of its start. (The loss alone is
    not enough: a noisy per-batch loss can end above its start on a model that already predicts well.)"""
    if ctx.probe is None or not ctx.metrics or ctx.collapsed:
        return False
    if ctx.trajectory.beats_constant:
        return True
    ratio = ctx.loss_summary.get("end_over_start")
    return ratio is not None and ratio <= LOSS_NOT_FALLING


def unscaled_inputs(ctx: Context) -> Finding | None:
    """Inputs far outside the range LSTM gates work in.

    Measures: per feature, the 99th percentile of |x| the model sees (after ``preprocessing.inputs``),
    and the fraction of the first recurrent layer's gate activations that are saturated at
    initialisation on a batch of training windows. Error: a feature above ``INPUT_MAGNITUDE_LIMIT``,
    saturation at least ``GATE_SATURATION_LIMIT``, and a brief training that did not show the model
    learning (``_learning_in_brief_training``), or no brief training to say. Warning: a feature above
    the limit without that saturation (or no recurrent first layer to measure it); saturated gates on a
    model the brief training shows learning (a wide model can route around them: the inputs are then a
    risk, not the cause of a collapse); or every varying feature below ``INPUT_TINY_LIMIT``.
    """
    x = np.asarray(bounded_windows(ctx.prepared.x_train, STATISTICS_VALUES))  # model inputs may be computed as read
    flat = np.abs(x.reshape(-1, x.shape[2]).astype(np.float64))
    magnitude = np.quantile(flat, 0.99, axis=0)
    spread = np.std(x.reshape(-1, x.shape[2]).astype(np.float64), axis=0)
    names = ctx.dataset.feature_names
    large = [name for name, m in zip(names, magnitude) if m > INPUT_MAGNITUDE_LIMIT]
    varying = [m for m, s in zip(magnitude, spread) if s > 0]
    tiny = bool(varying) and max(varying) < INPUT_TINY_LIMIT
    if not large and not tiny:
        return None
    layer, saturation = _first_recurrent_saturation(ctx)
    saturated = saturation.get("all") if saturation else None
    evidence = {
        "feature_magnitude_p99": dict(zip(names, magnitude)),
        "feature_std": dict(zip(names, spread)),
        "preprocessing_inputs": ctx.spec.preprocessing.inputs,
        "limit": INPUT_MAGNITUDE_LIMIT,
        "gate_saturation_layer": layer,
        "gate_saturation_init": saturation,
        "saturation_limit": GATE_SATURATION_LIMIT,
    }
    if tiny and not large:
        return Finding(
            "unscaled_inputs", Severity.WARNING,
            f"Every input feature is tiny (at most {number(max(varying))} in magnitude), so it barely moves "
            "the LSTM gates; scale the inputs (preprocessing.inputs: standard).",
            evidence,
        )
    top = max(magnitude)
    learning = _learning_in_brief_training(ctx)
    evidence["learning_in_brief_training"] = learning
    if saturated is not None and saturated >= GATE_SATURATION_LIMIT and learning:
        return Finding(
            "unscaled_inputs", Severity.WARNING,
            f"Input features {', '.join(large)} reach {number(top)} in magnitude, far outside the range LSTM gates "
            f"work in: {saturated:.0%} of the gate activations of {layer} are saturated from the start, yet the "
            "brief training did not collapse and learned, so the model is working around them; scaling the "
            "inputs (preprocessing.inputs: standard) is still safer.",
            evidence,
        )
    if saturated is not None and saturated >= GATE_SATURATION_LIMIT:
        return Finding(
            "unscaled_inputs", Severity.ERROR,
            f"Input features {', '.join(large)} reach {number(top)} in magnitude, far outside the range LSTM gates "
            f"work in: {saturated:.0%} of the gate activations of {layer} are saturated from the start, so almost "
            "no gradient flows; scale the inputs (preprocessing.inputs: standard).",
            evidence,
        )
    return Finding(
        "unscaled_inputs", Severity.WARNING,
        f"Input features {', '.join(large)} reach {number(top)} in magnitude, outside the range LSTM gates work in; "
        "scaling the inputs (preprocessing.inputs: standard) is safer.",
        evidence,
    )


def unscaled_target(ctx: Context) -> Finding | None:
    """A regression target far from what the head and its initialisation produce.

    Measures: the mean and std of the training targets as the head sees them (after
    ``preprocessing.target``), next to the head's initial output. Error: ``max(|mean|, std)`` above
    ``TARGET_MAGNITUDE_LIMIT``. Warning: std below ``TARGET_TINY_LIMIT``.
    """
    if ctx.task != "regression":
        return None
    y = ctx.model_targets
    mean, std = float(np.mean(y)), float(np.std(y))
    magnitude = max(abs(mean), std)
    evidence = {
        "target_mean": mean,
        "target_std": std,
        "target_min": float(np.min(y)),
        "target_max": float(np.max(y)),
        "preprocessing_target": ctx.spec.preprocessing.target,
        "initial_output": ctx.probe.output_init if ctx.probe else None,
        "limit": TARGET_MAGNITUDE_LIMIT,
    }
    if magnitude > TARGET_MAGNITUDE_LIMIT:
        start = (ctx.probe.output_init or {}).get("mean") if ctx.probe else None
        where = f" while the head starts near {number(start)}" if start is not None else ""
        return Finding(
            "unscaled_target", Severity.ERROR,
            f"The target the model must output is around {number(mean)} (spread {number(std)}){where}: the optimizer "
            "cannot move the output that far in a training; scale the target (preprocessing.target: standard).",
            evidence,
        )
    if std < TARGET_TINY_LIMIT:
        return Finding(
            "unscaled_target", Severity.WARNING,
            f"The target varies by only {number(std)}, so its errors and gradients are tiny; scale the target "
            "(preprocessing.target: standard).",
            evidence,
        )
    return None


def nonstationary_target(ctx: Context) -> Finding | None:
    """Validation targets largely outside the training range (a trend).

    Measures: the fraction of validation targets (as the head sees them, so ``difference``/``log``
    count) outside the training targets' range widened by ``NONSTATIONARY_MARGIN`` of its width.
    Error: at least ``NONSTATIONARY_ERROR``. Warning: at least ``NONSTATIONARY_WARNING``.
    """
    if ctx.task != "regression":
        return None
    train = ctx.model_targets
    val = np.asarray(ctx.prepared.y_val, dtype=np.float64).reshape(-1)
    low, high = float(np.min(train)), float(np.max(train))
    margin = NONSTATIONARY_MARGIN * (high - low)
    below = float(np.mean(val < low - margin))
    above = float(np.mean(val > high + margin))
    outside = below + above
    if outside < NONSTATIONARY_WARNING:
        return None
    severity = Severity.ERROR if outside >= NONSTATIONARY_ERROR else Severity.WARNING
    return Finding(
        "nonstationary_target", severity,
        f"{outside:.0%} of the validation targets lie outside the range seen in training (a trend), where a "
        "scaled model cannot follow; predict changes instead (preprocessing.target: difference, "
        "preprocessing.inputs: window_relative).",
        {
            "fraction_outside": outside,
            "fraction_above": above,
            "fraction_below": below,
            "train_range": [low, high],
            "validation_range": [float(np.min(val)), float(np.max(val))],
            "preprocessing_target": ctx.spec.preprocessing.target,
            "preprocessing_inputs": ctx.spec.preprocessing.inputs,
        },
    )


def target_leakage(ctx: Context) -> Finding | None:
    """The target is among the inputs at the time it is predicted.

    Measures: whether the target column is a feature with ``horizon: 0`` (the window's last row holds
    the answer), and for every feature, the fraction of samples whose last-row value equals the
    target (relative tolerance ``CONSTANT_RTOL``). Error: horizon 0 with the target as a feature, or a
    feature equal to the target in at least ``LEAKAGE_EQUAL_FRACTION`` of the samples.
    """
    ds = ctx.dataset
    y = np.asarray(ds.y_train, dtype=np.float64)
    y = y[:, 0] if y.ndim == 2 else y  # a forecast: its nearest step is the one a copied input would match
    last = ds.x_train[:, -1, :].astype(np.float64)
    tolerance = CONSTANT_RTOL * (1.0 + np.abs(y))
    equal = {name: float(np.mean(np.abs(last[:, j] - y) <= tolerance)) for j, name in enumerate(ds.feature_names)}
    copies = [name for name, share in equal.items() if share >= LEAKAGE_EQUAL_FRACTION]
    target_now = ds.target_index is not None and ds.horizon == 0
    if not copies and not target_now:
        return None
    evidence = {"horizon": ds.horizon, "target": ds.target_name, "features_equal_to_target": copies,
                "fraction_equal": {name: equal[name] for name in copies}}
    if target_now:
        message = (
            f"The target {ds.target_name!r} is an input feature with horizon 0, so every window already holds "
            "the answer; set data.horizon to 1 or more, or drop the target from data.features."
        )
    else:
        message = (
            f"Feature(s) {', '.join(map(repr, copies))} equal the target in every window's last row: the answer "
            "leaks into the inputs; remove them from data.features."
        )
    return Finding("target_leakage", Severity.ERROR, message, evidence)


def constant_feature(ctx: Context) -> Finding | None:
    """A feature with zero variance in training.

    Measures: each feature's std over all training windows and timesteps (original units). Fires when
    it is 0 up to ``CONSTANT_RTOL``: warning, or error when every feature is constant.
    """
    ds = ctx.dataset
    flat = bounded_windows(ds.x_train, STATISTICS_VALUES).reshape(-1, ds.n_features).astype(np.float64)
    std = np.std(flat, axis=0)
    mean = np.mean(flat, axis=0)
    constant = [(name, float(m)) for name, s, m in zip(ds.feature_names, std, mean) if s <= CONSTANT_RTOL * max(1.0, abs(m))]
    if not constant:
        return None
    every = len(constant) == ds.n_features
    names = ", ".join(repr(name) for name, _ in constant)
    message = (
        f"Every input feature is constant in training ({names}): the model sees no information at all."
        if every else
        f"Feature(s) {names} never change in training: they carry no information; remove them from data.features."
    )
    return Finding(
        "constant_feature", Severity.ERROR if every else Severity.WARNING, message,
        {"constant_features": dict(constant), "n_features": ds.n_features},
    )


def short_window(ctx: Context) -> Finding | None:
    """A window of a single timestep: the model cannot see any history.

    Measures: the number of timesteps per sample. Warning when it is below ``MIN_WINDOW``.
    """
    ds = ctx.dataset
    if ds.window >= MIN_WINDOW:
        return None
    return Finding(
        "short_window", Severity.WARNING,
        "Each sample holds a single timestep, so the LSTM sees no history; use a longer data.window.",
        {"window": ds.window, "horizon": ds.horizon},
    )


def _trainable_params(ctx: Context) -> int:
    if ctx.probe is not None:
        return ctx.probe.trainable_params
    from autofix_lstm.modeling.build import build_core

    core = build_core(ctx.spec.model, ctx.prepared.x_train.shape[1:], batch_size=ctx.spec.train.batch_size)
    return int(sum(int(np.prod(v.shape)) for v in core.trainable_weights))


def too_little_data(ctx: Context) -> Finding | None:
    """Few training samples for the number of trainable weights.

    Measures: training windows and trainable weights per window. Fires below ``MIN_SAMPLES_WARNING``
    windows or above ``PARAMS_PER_SAMPLE_WARNING`` weights per window. Error only when it explains a
    collapse actually seen (``Context.collapse_seen``) and is severe: fewer than ``MIN_SAMPLES_ERROR``
    windows or more than ``PARAMS_PER_SAMPLE_ERROR`` weights per window. Otherwise warning: a big model
    on little data that still learns is a risk of overfitting, not the cause of a collapse.
    """
    n = len(ctx.dataset.x_train)
    params = _trainable_params(ctx)
    ratio = params / max(n, 1)
    severe = n < MIN_SAMPLES_ERROR or ratio > PARAMS_PER_SAMPLE_ERROR
    if not severe and n >= MIN_SAMPLES_WARNING and ratio <= PARAMS_PER_SAMPLE_WARNING:
        return None
    severity = Severity.ERROR if severe and ctx.collapse_seen else Severity.WARNING
    probe = ctx.probe
    if severe and ctx.collapse_seen:
        consequence = "too few to learn a rule from, so the model settles on a constant"
    else:
        consequence = "enough weights to memorise them rather than learn a rule; watch the validation loss"
    return Finding(
        "too_little_data", severity,
        f"{n} training windows are few for a model with {params} trainable weights ({ratio:.0f} per window): "
        f"{consequence}; use a smaller model or more data.",
        {
            "train_samples": n,
            "trainable_params": params,
            "params_per_sample": ratio,
            "collapse_seen": ctx.collapse_seen,
            "last_train_loss": ctx.losses[-1] if ctx.losses else None,
            "last_val_loss": probe.val_loss[-1] if probe and probe.val_loss else None,
        },
    )


def class_imbalance(ctx: Context) -> Finding | None:
    """One class dominates the training labels.

    Measures: each class's share of the training labels, next to the majority-class baseline and the
    brief training's predictions (the share of validation windows given each class). Fires when the
    majority share is at least ``IMBALANCE_SHARE``: error only when it explains a collapse actually
    seen (``Context.collapse_seen``) and no class weights are set; info when class weights are set;
    else warning (a classifier still separating its classes is not collapsed by the imbalance). A
    majority share of at least ``IMBALANCE_COLLAPSE_SHARE`` is an error when, without class weights,
    the collapse seen is onto the majority class (given to at least ``MAJORITY_PREDICTED`` of the
    validation windows), and no finding otherwise.
    """
    ds = ctx.dataset
    if ds.task == "regression":
        return None
    counts = np.bincount(np.asarray(ds.y_train, dtype=np.int64), minlength=ds.n_classes)
    shares = counts / counts.sum()
    majority = int(np.argmax(shares))
    weighted = ctx.spec.preprocessing.class_weight is not None
    predicted = ctx.probe.predicted_shares if ctx.probe is not None else None
    onto_majority = bool(predicted) and predicted[majority] >= MAJORITY_PREDICTED
    if shares[majority] < IMBALANCE_SHARE and not (
        shares[majority] >= IMBALANCE_COLLAPSE_SHARE and not weighted and ctx.collapse_seen and onto_majority
    ):
        return None
    severity = Severity.INFO if weighted else (Severity.ERROR if ctx.collapse_seen else Severity.WARNING)
    metrics = ctx.metrics
    label = ds.classes[majority] if ds.classes else majority
    return Finding(
        "class_imbalance", severity,
        f"Class {label!r} holds {shares[majority]:.0%} of the training labels, so always predicting it is a cheap "
        + ("answer; class weights are set." if weighted else "answer the model falls into; weight the classes (preprocessing.class_weight: balanced)."),
        {
            "class_shares": {str(c): float(s) for c, s in zip(ds.classes or range(len(shares)), shares)},
            "majority_class": label,
            "majority_share": float(shares[majority]),
            "majority_accuracy": metrics.majority_accuracy if metrics else None,
            "balanced_accuracy": metrics.balanced_accuracy if metrics else None,
            "distinct_predictions": metrics.distinct_predictions if metrics else None,
            "predicted_majority_share": predicted[majority] if predicted else None,
            "class_weight": ctx.spec.preprocessing.class_weight,
        },
    )
