"""Detectors that look at the output layer: can it reach the targets, and does the loss fit it?"""

from __future__ import annotations

import math
import re

import keras
import numpy as np

from autofix_lstm.diagnosis.context import Context
from autofix_lstm.diagnosis.findings import Finding, Severity
from autofix_lstm.diagnosis.probes import layer_names
from autofix_lstm.format import first_line
from autofix_lstm.modeling.build import hidden_dense_indices
from autofix_lstm.spec import is_class_label_loss, output_layer

INF = math.inf
# activation -> (lowest, highest) value it can output (bounds count as reachable: a minmax-scaled
# target of exactly 0 or 1 is fine for a sigmoid). Unlisted activations (linear, ...) reach everything.
ACTIVATION_RANGES = {
    "sigmoid": (0.0, 1.0),
    "hard_sigmoid": (0.0, 1.0),
    "tanh": (-1.0, 1.0),
    "hard_tanh": (-1.0, 1.0),
    "softsign": (-1.0, 1.0),
    "relu": (0.0, INF),
    "relu6": (0.0, 6.0),
    "softplus": (0.0, INF),
    "exponential": (0.0, INF),
    "elu": (-1.0, INF),
    "selu": (-1.7581, INF),
    "gelu": (-0.17, INF),
    "silu": (-0.2785, INF),
    "swish": (-0.2785, INF),
    "softmax": (0.0, 1.0),
}
# Activations whose every unit can die: below zero for every input, they output exactly 0 and pass no
# gradient back, so nothing brings them back. A head like that outputs 0 whatever the data.
DYING_ACTIVATIONS = {"relu", "relu6"}

# Out-of-reach targets: a tenth of them pins the output at the activation's bound for a tenth of the
# data, which drags every prediction there; even 1% is worth a warning.
OUT_OF_RANGE_ERROR = 0.1
OUT_OF_RANGE_WARNING = 0.01

# canonical Keras loss name -> kind
BINARY_LOSSES = {"binary_crossentropy", "binary_focal_crossentropy"}
CATEGORICAL_LOSSES = {"categorical_crossentropy", "categorical_focal_crossentropy", "sparse_categorical_crossentropy"}
REGRESSION_LOSSES = {
    "mean_squared_error", "mean_absolute_error", "huber", "log_cosh",
    "mean_squared_logarithmic_error", "mean_absolute_percentage_error",
}
PROBABILITY_ACTIVATIONS = {"sigmoid", "hard_sigmoid"}
# A hidden Dense layer of at most this share of the numbers the head needs (or of one unit) squeezes
# the samples hard enough to explain a collapse; any narrower than the head needs is worth a warning.
BOTTLENECK_SEVERE_SHARE = 0.5


def canonical_loss(name: str) -> str:
    """The Keras function name behind a loss identifier (``mse`` -> ``mean_squared_error``)."""
    try:
        loss = keras.losses.get(name)
    except (ValueError, TypeError):
        return name.lower()
    found = getattr(loss, "__name__", None) or type(loss).__name__
    return re.sub(r"(?<!^)(?=[A-Z])", "_", found).lower()


def _head_targets(ctx: Context) -> np.ndarray | None:
    """The values a single-output head must produce: model-space targets or class labels; None for K units."""
    if ctx.task != "regression" and (ctx.head_units or 1) > 1:
        return None
    return ctx.model_targets


def _dead_head(ctx: Context) -> str | None:
    """When the head's activation (``DYING_ACTIVATIONS``) outputs exactly 0 for every sample: "at
    initialisation" or "after the brief training"; else None."""
    if ctx.head_activation not in DYING_ACTIVATIONS or ctx.probe is None:
        return None
    for when, stats in (("at initialisation", ctx.probe.output_init), ("after the brief training", ctx.probe.output_trained)):
        if stats and stats.get("mean") == 0.0 and stats.get("std") == 0.0:
            return when
    return None


def output_activation_range(ctx: Context) -> Finding | None:
    """The head's activation cannot reach the targets.

    Measures: the fraction of training targets (as the head sees them; class labels for a one-unit
    classifier) outside the range of the head's activation (``ACTIVATION_RANGES``); a softmax over a
    single unit always outputs 1; a dead head (``DYING_ACTIVATIONS``: every output exactly 0, at
    initialisation or after the brief training) reaches nothing but 0. Error: softmax over one unit,
    a dead head, or at least ``OUT_OF_RANGE_ERROR`` outside. Warning: at least ``OUT_OF_RANGE_WARNING`` outside.
    """
    activation, units = ctx.head_activation, ctx.head_units
    evidence = {"head_activation": activation, "head_units": units, "task": ctx.task}
    dead = _dead_head(ctx)
    if dead is not None:
        evidence.update(dead_head=True, initial_output=ctx.probe.output_init, trained_output=ctx.probe.output_trained)
        return Finding(
            "output_activation_range", Severity.ERROR,
            f"The head's {activation} outputs exactly 0 for every sample {dead}: every input to it is below zero, "
            "where it passes no gradient back, so no training moves it whatever the targets' scale; make the head "
            "linear (or give it a bias that starts above zero).",
            evidence,
        )
    if activation == "softmax" and units == 1:
        return Finding(
            "output_activation_range", Severity.ERROR,
            "The head is a softmax over a single unit, which always outputs 1 whatever the input; use sigmoid "
            "(binary), softmax over one unit per class (multiclass) or linear (regression).",
            evidence,
        )
    reach = ACTIVATION_RANGES.get(activation)
    targets = _head_targets(ctx)
    if reach is None or targets is None:
        return None
    low, high = reach
    below = float(np.mean(targets < low))
    above = float(np.mean(targets > high))
    outside = below + above
    if outside < OUT_OF_RANGE_WARNING:
        return None
    evidence.update(
        activation_range=[low, high if math.isfinite(high) else None],
        target_range=[float(np.min(targets)), float(np.max(targets))],
        fraction_outside=outside, fraction_below=below, fraction_above=above,
    )
    severity = Severity.ERROR if outside >= OUT_OF_RANGE_ERROR else Severity.WARNING
    upper = "" if not math.isfinite(high) else f" to {high:g}"
    what = "class labels" if ctx.task != "regression" else "targets"
    return Finding(
        "output_activation_range", severity,
        f"The head's {activation} can only output {low:g}{upper or ' and above'}, but {outside:.0%} of the "
        f"{what} it must produce lie outside that range (they span {targets.min():.3g} to {targets.max():.3g}); "
        "use a linear head for regression, or scale the target into the activation's range.",
        evidence,
    )


def loss_activation_mismatch(ctx: Context) -> Finding | None:
    """The loss does not fit the output layer or the labels.

    Measures (from the spec and the labels, no threshold): a binary cross-entropy needs a sigmoid head
    and labels in {0, 1}; a categorical cross-entropy needs a softmax over one unit per class and class
    labels; a regression loss on a multiclass task treats class ids as numbers (warning). Error for
    the first two. A brief training that crashed on the loss is reported as evidence.
    """
    if ctx.task == "regression" and is_class_label_loss(ctx.spec.model.loss):
        return None  # the loss itself is wrong for the target: ``loss_target_mismatch``
    loss = canonical_loss(ctx.spec.model.loss)
    activation, units = ctx.head_activation, ctx.head_units
    ds = ctx.dataset
    labels = np.unique(np.asarray(ds.y_train))
    problems: list[str] = []
    warnings: list[str] = []
    if loss in BINARY_LOSSES:
        if activation not in PROBABILITY_ACTIVATIONS:
            problems.append(
                f"binary cross-entropy expects probabilities, but the head's activation is {activation} "
                "(its outputs are clipped into [0, 1], where their gradient is zero)"
            )
        if ds.task == "regression" or ds.n_classes > 2 or not set(labels.tolist()) <= {0, 1}:
            problems.append(
                f"binary cross-entropy needs labels 0 and 1, but the {ds.task} target has "
                f"{len(labels)} distinct values ({', '.join(f'{v:g}' for v in labels[:5])}{'...' if len(labels) > 5 else ''})"
            )
        if units is not None and units > 1:
            problems.append(f"binary cross-entropy scores one probability, but the head has {units} units")
    elif loss in CATEGORICAL_LOSSES:
        if ds.task == "regression":
            problems.append("a categorical cross-entropy needs class labels, but the task is regression")
        if units == 1:
            problems.append("a categorical cross-entropy over a single unit has one class and nothing to learn")
        elif units is not None and ds.n_classes and units != ds.n_classes:
            problems.append(f"the head has {units} units for {ds.n_classes} classes")
        if activation != "softmax":
            problems.append(f"a categorical cross-entropy expects a softmax head, but its activation is {activation}")
    elif loss in REGRESSION_LOSSES and ds.task == "multiclass":
        warnings.append(f"the regression loss {ctx.spec.model.loss} treats the {ds.n_classes} class ids as numbers")
    if not problems and not warnings:
        return None
    evidence = {
        "loss": ctx.spec.model.loss, "loss_function": loss, "head_activation": activation, "head_units": units,
        "task": ds.task, "labels": [v.item() if hasattr(v, "item") else v for v in labels[:10]],
        "training_error": ctx.training_error,
    }
    severity = Severity.ERROR if problems else Severity.WARNING
    detail = "; ".join(problems or warnings)
    return Finding(
        "loss_activation_mismatch", severity,
        f"The loss does not fit the output layer: {detail}. Use sigmoid + binary_crossentropy (binary), softmax "
        "over one unit per class + sparse_categorical_crossentropy (multiclass) or linear + mse (regression).",
        evidence,
    )


# What a class-label loss does to a real-valued target, by the loss' kind.
_LOSS_ON_REAL_TARGET = {
    "binary": "it scores each output as the probability of a label 0 or 1, so it pushes every output towards "
              "one bound whatever the target",
    "categorical": "Keras reads each target as a class index, which a real value is not",
    "hinge": "it scores only the sign of each target against a margin of 1, not its value",
}


def _loss_kind(loss: str) -> str:
    name = canonical_loss(loss)
    return "hinge" if "hinge" in name else "binary" if "binary" in name else "categorical"


def loss_target_mismatch(ctx: Context) -> Finding | None:
    """The loss scores class labels (a cross-entropy or a hinge) but the target is real-valued.

    Measures (from the spec and the target, no threshold): the loss against the task the data has
    (regression: a numeric target with more than two values); evidence: the target's range and
    number of distinct values, and the brief training's crash when Keras could not train it at all.
    Always an error: no training teaches a label loss a real value; the fix is a regression loss
    (mse, huber, mae) with a linear head, or ``data.task`` when the target does hold class labels.
    """
    loss = ctx.spec.model.loss
    if ctx.task != "regression" or not is_class_label_loss(loss):
        return None
    y = np.asarray(ctx.dataset.y_train, dtype=np.float64)
    values = np.unique(y)
    kind = _loss_kind(loss)
    crash = first_line(ctx.training_error)
    return Finding(
        "loss_target_mismatch", Severity.ERROR,
        f"model.loss {loss} is a loss for class labels, but the target is real-valued ({len(values)} distinct "
        f"values from {values.min():.3g} to {values.max():.3g}): {_LOSS_ON_REAL_TARGET[kind]}"
        f"{'; Keras cannot train it at all' if crash else ''}. Use mse, huber or mae with a linear head, or set "
        "data.task to binary or multiclass if the target holds class labels.",
        {"loss": loss, "loss_function": canonical_loss(loss), "loss_kind": kind, "task": ctx.task,
         "target_range": [float(values.min()), float(values.max())], "distinct_values": int(len(values)),
         "head_activation": ctx.head_activation, "head_units": ctx.head_units, "training_error": crash},
    )


def head_width_mismatch(ctx: Context) -> Finding | None:
    """The output layer's width does not fit the target: several units for a one-value regression, one
    (or another count) for an H-step forecast, or a classifier head neither one unit nor one per class.

    Measures (from the spec and the labels, no threshold): the width of the layer that sets the
    model's output (``spec.output_layer``, Dense or a recurrent layer left as the last one) against
    1, or H for a forecast of H steps (regression), or 1 or K (K classes). Always an error: Keras
    cannot train it (the shapes do not match, or labels fall outside the units), trains outputs nobody
    reads, or (one unit on H steps) broadcasts one value to every step: a forecast flat by construction.
    """
    out = output_layer(ctx.spec.model)
    if out is None:
        return None
    steps = ctx.dataset.n_outputs
    expected = (steps,) if ctx.task == "regression" else (1, ctx.dataset.n_classes)
    if out.units in expected:
        return None
    name = layer_names(ctx.spec)[out.index]
    crash = first_line(ctx.training_error)
    if ctx.task == "regression" and steps > 1:
        need = (f"each sample's target is a {steps}-step forecast"
                + (": one unit predicts the same value for every step" if out.units == 1 else ""))
        fix = (f"set the repeat_vector's n to {steps} and the TimeDistributed Dense's units to 1"
               if out.kind == "time_distributed dense" else
               f"give it units: {steps} (or add a Dense({steps}) head after the recurrent layers)")
    elif ctx.task == "regression":
        need = "a regression predicts one value per sample"
        fix = "give it units: 1 (or add a Dense(1) head after the recurrent layers)"
    else:
        need = f"the target has {ctx.dataset.n_classes} classes"
        fix = f"give it {ctx.dataset.n_classes} units (softmax) or 1 unit" + (" (sigmoid)" if ctx.task == "binary" else "")
    return Finding(
        "head_width_mismatch", Severity.ERROR,
        f"{name} ({out.kind}, {out.units} units) is the output layer, but {need}"
        f"{': Keras cannot train it (' + crash + ')' if crash else ''}; {fix}.",
        {"layer": name, "layer_type": out.kind, "units": out.units, "expected_units": list(expected),
         "task": ctx.task, "n_classes": ctx.dataset.n_classes or None, "training_error": crash},
    )


def _head_must_separate(ctx: Context) -> tuple[int, str]:
    """How many independent numbers the head needs from the layer before it, and what they are for.

    A softmax over K classes needs K - 1 (its logits matter up to a shared shift); a head of H
    outputs (several steps or targets) needs H; one output needs 1.
    """
    units = ctx.head_units or 1
    if ctx.task == "multiclass" and units > 1:
        return units - 1, f"the {units} classes of its softmax"
    return units, f"its {units} outputs" if units > 1 else "its single output"


def bottleneck_layer(ctx: Context) -> Finding | None:
    """A hidden Dense layer between the recurrent stack and the head is narrower than the head needs.

    Measures (from the spec, and the brief training's unit spreads): the narrowest hidden Dense layer
    after the last recurrent layer, against what the head must tell apart (``_head_must_separate``:
    K - 1 numbers for a softmax over K classes, H for H outputs). Every sample passes through that
    layer, so the head can only combine that many numbers. Error: one unit, or at most
    ``BOTTLENECK_SEVERE_SHARE`` of what the head needs, and a collapse seen (``Context.collapse_seen``) or the layer's units dead
    (``dead_units``' measure). Warning: narrower than the head needs.
    """
    layers = [layer.to_dict() for layer in ctx.spec.model.layers]
    hidden = hidden_dense_indices(layers)
    if not hidden:
        return None
    index = min(hidden, key=lambda i: int(layers[i].get("units", 1)))
    width = int(layers[index].get("units", 1))
    needed, what = _head_must_separate(ctx)
    if width >= needed:
        return None
    name = layer_names(ctx.spec)[index]
    measured = (ctx.probe.units.get(name) if ctx.probe is not None else None) or {}
    dead = measured.get("fraction") == 1.0
    severe = width == 1 or width <= BOTTLENECK_SEVERE_SHARE * needed
    severity = Severity.ERROR if severe and (ctx.collapse_seen or dead) else Severity.WARNING
    activation = layers[index].get("activation") or "linear"
    return Finding(
        "bottleneck_layer", severity,
        f"Every sample passes through {name}, a Dense layer of {width} unit{'s' if width != 1 else ''} "
        f"({activation}) between the recurrent layers and the head, but the head needs {needed} numbers to tell "
        f"apart {what}; {'its units give the same output for every sample, and ' if dead else ''}"
        "widen that layer or remove it.",
        {
            "layer": name, "units": width, "activation": activation, "needed_width": needed,
            "head_units": ctx.head_units, "task": ctx.task, "hidden_dense": [layer_names(ctx.spec)[i] for i in hidden],
            "layer_measured": measured or None, "collapse_seen": ctx.collapse_seen,
        },
    )
