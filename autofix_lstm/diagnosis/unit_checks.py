"""Detectors that look at the hidden units and their weights: dead units, dropout that silences them,
and weight penalties that pull the weights to zero."""

from __future__ import annotations

import numpy as np

from autofix_lstm.diagnosis.context import Context
from autofix_lstm.diagnosis.findings import Finding, Severity
from autofix_lstm.diagnosis.layer_measures import DEAD_UNIT_STD
from autofix_lstm.modeling.build import recurrent_config
from autofix_lstm.modeling.initializers import custom_initializers
from autofix_lstm.modeling.regularizers import largest_factor, penalties

# Half of a layer's units giving the same value for every sample halves what the layer can carry and
# usually means the rest are close behind (saturated tanh, relu below zero); a quarter is worth a warning.
DEAD_FRACTION_ERROR = 0.5
DEAD_FRACTION_WARNING = 0.25
# Dropout: a rate of 0.7 or more drops most of the signal at every step; a combined keep probability
# below 0.25 along the stack (0.5 twice) leaves a quarter of it; fewer than 2 surviving units of a
# layer that had at least 2 (units x (1 - rate)) leaves nothing to carry the signal (a single input
# feature cannot have 2 survivors whatever the rate: for it the rate alone counts). A rate of 0.5 is
# worth a warning.
DROPOUT_RATE_ERROR = 0.7
DROPOUT_KEEP_ERROR = 0.25
DROPOUT_MIN_SURVIVING = 2.0
DROPOUT_RATE_WARNING = 0.5


def dead_units(ctx: Context) -> Finding | None:
    """Hidden units whose output is the same for every sample.

    Measures: after the brief training, on a batch of training windows, each hidden layer's units
    whose output std across samples (and timesteps) is below ``DEAD_UNIT_STD`` (relu units stuck at
    zero, tanh units saturated at +-1). Error: a layer with at least ``DEAD_FRACTION_ERROR`` dead.
    Warning: at least ``DEAD_FRACTION_WARNING``.
    """
    if ctx.probe is None or not ctx.probe.units:
        return None
    units = ctx.probe.units
    worst_name, worst = max(units.items(), key=lambda kv: kv[1]["fraction"])
    if worst["fraction"] < DEAD_FRACTION_WARNING:
        return None
    severity = Severity.ERROR if worst["fraction"] >= DEAD_FRACTION_ERROR else Severity.WARNING
    fix = (
        "use tanh units, scale the inputs or lower the learning rate" if "relu" in str(worst["activation"])
        else "scale the inputs or lower the learning rate, which drive the units into their flat ends"
    )
    return Finding(
        "dead_units", severity,
        f"{worst['dead']} of the {worst['units']} units of {worst_name} ({worst['activation']}) give the same output "
        f"for every sample, so they carry no information; {fix}.",
        {
            "layers": units,
            "worst_layer": worst_name,
            "dead_fraction": worst["fraction"],
            "dead_unit_std": DEAD_UNIT_STD,
            "saturation_trained": ctx.probe.saturation_trained,
        },
    )


def _dropout_entries(ctx: Context) -> list[dict]:
    """Every dropout rate of the stack with the width it applies to, input side first."""
    width = ctx.dataset.n_features
    entries = []
    for index, layer in enumerate(ctx.spec.model.layers):
        kwargs, name = layer.kwargs, f"{layer.type}_{index}"
        cell = recurrent_config(layer.to_dict())  # a bidirectional's dropout sits on the layer it wraps
        if layer.type == "dropout":
            entries.append({"layer": name, "kind": "rate", "rate": float(kwargs.get("rate", 0.0)), "width": width})
        elif cell is not None:
            units = int(cell.get("units", width))
            entries.append({"layer": name, "kind": "dropout", "rate": float(cell.get("dropout", 0.0) or 0.0), "width": width})
            entries.append({"layer": name, "kind": "recurrent_dropout",
                            "rate": float(cell.get("recurrent_dropout", 0.0) or 0.0), "width": units})
            both_ways = layer.type == "bidirectional" and kwargs.get("merge_mode", "concat") == "concat"
            width = units * 2 if both_ways else units
        elif layer.type == "dense":
            width = int(kwargs.get("units", width))
        elif layer.type == "conv1d":
            width = int(kwargs.get("filters", width))
    return [e for e in entries if e["rate"] > 0]


def excess_dropout(ctx: Context) -> Finding | None:
    """Dropout high enough to wash out the signal for this width.

    Measures (from the spec): every dropout rate (Dropout layers, recurrent layers' ``dropout`` and
    ``recurrent_dropout``), the units that survive it (width x (1 - rate)) and the combined keep
    probability along the stack. Error: a rate of ``DROPOUT_RATE_ERROR`` or more, a keep probability
    under ``DROPOUT_KEEP_ERROR`` or fewer than ``DROPOUT_MIN_SURVIVING`` surviving units of a layer at
    least that wide. Warning: a rate of ``DROPOUT_RATE_WARNING`` or more. The brief training's last training loss (with dropout)
    and validation loss (without) are added to the evidence.
    """
    entries = _dropout_entries(ctx)
    if not entries:
        return None
    keep = 1.0
    for entry in entries:
        entry["surviving_units"] = entry["width"] * (1.0 - entry["rate"])
        keep *= 1.0 - entry["rate"]
    top = max(entries, key=lambda e: e["rate"])
    starved = min(entries, key=lambda e: e["surviving_units"])
    wide_enough = [e for e in entries if e["width"] >= DROPOUT_MIN_SURVIVING]
    starving = any(e["surviving_units"] < DROPOUT_MIN_SURVIVING for e in wide_enough)
    if top["rate"] >= DROPOUT_RATE_ERROR or keep < DROPOUT_KEEP_ERROR or starving:
        severity = Severity.ERROR
    elif top["rate"] >= DROPOUT_RATE_WARNING:
        severity = Severity.WARNING
    else:
        return None
    probe = ctx.probe
    return Finding(
        "excess_dropout", severity,
        f"Dropout keeps only {keep:.0%} of the signal through the stack ({top['layer']} {top['kind']} {top['rate']:g}; "
        f"{starved['surviving_units']:.1f} of {starved['width']} units of {starved['layer']} survive): too much for this "
        "width; lower the dropout.",
        {
            "dropout": entries,
            "keep_probability": keep,
            "last_train_loss": ctx.losses[-1] if ctx.losses else None,
            "last_val_loss": probe.val_loss[-1] if probe and probe.val_loss else None,
        },
    )


# The weight penalty at initialisation against the loss a constant predictor gets: at a tenth of it
# the optimum already trades fit for small weights; at the constant's own loss, all-zero weights (the
# output = the head's bias) cost less than any fit.
PENALTY_SHARE_WARNING = 0.1
PENALTY_SHARE_ERROR = 1.0


def heavy_regularization(ctx: Context) -> Finding | None:
    """An L1/L2 weight penalty heavy enough to pull the weights to zero, so the output settles on the bias.

    Measures: every ``*_regularizer`` set (``modeling.regularizers``) and the penalty of the model at
    initialisation (the brief training's model, ``Probe.initial_penalty``) against the loss a constant predictor gets (regression:
    the variance of the targets the head sees; classification: log K). Reported only when the brief
    training's output collapsed or does not beat a constant (an LSTM under an L2 of 0.5 that still
    reaches r2 0.9 is regularized, not broken). Error: a collapse seen (``Context.collapse_seen``) and
    a penalty of at least ``PENALTY_SHARE_ERROR`` of that loss; warning from ``PENALTY_SHARE_WARNING``.
    """
    layers = [layer.to_dict() for layer in ctx.spec.model.layers or []]
    if largest_factor(layers) <= 0:
        return None
    if ctx.probe is None or not ctx.output_useless:
        return None  # a model that learns under its penalty is regularized, not broken (no crying wolf)
    penalty = ctx.probe.initial_penalty
    if ctx.task == "regression":
        scale = float(np.var(ctx.model_targets)) or 1.0
    else:
        scale = float(np.log(max(2, ctx.dataset.n_classes)))
    share = penalty / scale
    if share < PENALTY_SHARE_WARNING:
        return None
    severity = Severity.ERROR if share >= PENALTY_SHARE_ERROR and ctx.collapse_seen else Severity.WARNING
    factor = largest_factor(layers)
    return Finding(
        "heavy_regularization", severity,
        f"The weight penalties (largest factor {factor:g}) add {penalty:.3g} to the loss at initialisation, "
        f"{share:.0%} of what a constant predictor loses ({scale:.3g}): the cheapest way down is to shrink every "
        "weight towards zero, and a model whose weights are near zero outputs its head's bias for every "
        "sample; lower the factors (0.0001) or remove the regularizers.",
        {"largest_factor": factor, "penalties": penalties(layers), "initial_penalty": penalty,
         "constant_loss": scale, "penalty_share": share, "collapsed": ctx.collapsed},
    )


# The spread of the model's first outputs, as a share of the spread the head must reach, below which
# hand-picked initializers left the output a near constant before any training.
INIT_SPREAD_SHARE = 0.01


def custom_initialization(ctx: Context) -> Finding | None:
    """Hand-picked weight initializers on a model that fails: the start Keras' defaults avoid.

    Measures: every ``*_initializer`` a layer sets instead of Keras' default (``modeling.initializers``),
    the spread of the model's outputs at initialisation (``Probe.output_init``) against the spread the
    head must reach (``Probe.target_spread``), and whether the gradients went NaN/inf. Reported only
    when the brief training's output is useless or its gradients blew up (a model that learns from its
    own initialisation is left alone). Error: a collapse seen and an initial output spread below
    ``INIT_SPREAD_SHARE`` of the target's; warning otherwise.
    """
    layers = [layer.to_dict() for layer in ctx.spec.model.layers or []]
    chosen = custom_initializers(layers)
    probe = ctx.probe
    if not chosen or probe is None:
        return None
    blew_up = probe.nonfinite_gradient_step is not None
    if not (ctx.output_useless or blew_up):
        return None
    start = (probe.output_init or {}).get("std")
    reach = probe.target_spread
    share = start / reach if start is not None and reach else None
    flat_start = share is not None and share < INIT_SPREAD_SHARE
    severity = Severity.ERROR if ctx.collapse_seen and flat_start else Severity.WARNING
    named = ", ".join(sorted({entry["initializer"] for entry in chosen}))
    start_text = (f"; its first outputs spread {share:.2%} as much as the targets the head must reach"
                  if share is not None else "")
    return Finding(
        "custom_initialization", severity,
        f"The layers set their own weight initializers ({named}) instead of Keras' defaults (Glorot-uniform, "
        f"orthogonal recurrent kernels){start_text}{'; its gradients went NaN or infinite' if blew_up else ''}: "
        "remove the *_initializer arguments and let Keras initialise.",
        {"initializers": chosen, "initial_output_spread": start, "target_spread": reach,
         "initial_spread_share": share, "nonfinite_gradient_step": probe.nonfinite_gradient_step,
         "collapsed": ctx.collapsed},
    )
