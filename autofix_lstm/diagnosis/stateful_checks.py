"""Detectors that read how the model carries state: stateful recurrent layers on independent windows.

Read from the spec and the data, before anything trains (they also run when the brief training could not).
"""

from __future__ import annotations

import numpy as np

from autofix_lstm.diagnosis.context import Context
from autofix_lstm.diagnosis.findings import Finding, Severity
from autofix_lstm.modeling.stateful import full_batches, is_stateful, stateful_indices

# A training loss that ends more than this many times above where it started, while the loss on the
# validation windows (predicted from zero states) does not grow as much, is the carried state growing
# from batch to batch: the model reads a fresh window well and the windows after a carried state badly.
CARRIED_GROWTH = 2.0
# A validation loss that ends more than this many times above where it started (or goes NaN/infinite) while the
# training loss does not grow past ``CARRIED_GROWTH``: the validation windows are read batch after batch, each
# batch's states carried into the next, and that carried state diverges (relu cells: nothing bounds it). No step
# size or overfitting takes a loss on standardised targets up a hundredfold while the training loss falls.
CARRIED_DIVERGED = 100.0


def carried_state_grew(ctx: Context) -> bool:
    """The brief training's loss grew past ``CARRIED_GROWTH`` times its start (or went NaN/infinite) while the
    validation loss, from zero states, did not: what a state carried from batch to batch does, not the step size."""
    probe = ctx.probe
    if probe is None or not is_stateful(ctx.spec.model):
        return False
    ratio = ctx.loss_summary.get("end_over_start")
    grew = probe.nonfinite_loss_step is not None or (ratio is not None and ratio > CARRIED_GROWTH)
    fresh = [v for v in probe.val_loss if v is not None]
    return grew and bool(fresh) and fresh[-1] <= CARRIED_GROWTH * fresh[0]


def carried_state_diverged(ctx: Context) -> bool:
    """The brief training's validation loss ended past ``CARRIED_DIVERGED`` times its first value (or NaN/infinite
    after a finite start) while its training loss did not grow past ``CARRIED_GROWTH`` times its start: the states
    carried from one validation batch to the next diverge, though the weights train."""
    probe = ctx.probe
    if probe is None or not is_stateful(ctx.spec.model):
        return False
    ratio = ctx.loss_summary.get("end_over_start")
    if probe.nonfinite_loss_step is not None or ratio is None or ratio > CARRIED_GROWTH:
        return False
    val = probe.val_loss
    if len(val) < 2 or val[0] is None or val[0] <= 0:
        return False
    return val[-1] is None or val[-1] > CARRIED_DIVERGED * val[0]


def _carried_offset(ctx: Context) -> int | None:
    """Rows between the first row of a training window and that of the window its state comes from
    (``train.batch_size`` samples earlier): the median over the training windows; None for windows given
    as arrays (no rows) or fewer windows than two batches."""
    ds, size = ctx.dataset, ctx.spec.train.batch_size
    n = len(ds.y_train)
    if ds.starts is None or n <= size:
        return None
    starts = np.asarray(ds.starts[:n], dtype=np.int64)
    return int(np.median(starts[size:] - starts[:-size]))


def _where_from(offset: int | None, window: int) -> str:
    """Where the state carried into a window comes from, in words."""
    if offset is None:
        return ("these samples are windows given as arrays, each complete on its own, so the state carried into one "
                "comes from an unrelated sample")
    if offset == window:
        return (f"the state carried into a window comes from the window just before it (train.batch_size equals "
                f"data.window, {window}), the one layout where it continues the series; any other windows (the "
                "validation part, new data given to the saved model) start from a state they were not trained with")
    how = (f"which shares {window - offset} of its {window} rows" if offset < window
           else f"which ended {offset - window} rows before it starts")
    return (f"these samples are overlapping sliding windows, each complete on its own: the state carried into a window "
            f"comes from the window {offset} rows earlier, {how}, a summary of another stretch of the series")


def stateful_state_leak(ctx: Context) -> Finding | None:
    """Stateful recurrent layers on windows that are independent samples.

    A stateful layer starts each batch from the states the batch before left (sample j from sample j), which
    only means something when sample j of each batch continues sample j of the last one. This tool's samples
    are sliding windows, each holding its whole history; the state carried into one is another window's.

    Measures (from the spec and the data): the stateful recurrent layers, the rows between a training window
    and the one its state comes from (``train.batch_size`` samples earlier; the median), their overlap, the
    reset policy and the training windows left out of whole batches; no threshold: any stateful layer fires.
    Error when it explains what the brief training shows: a collapse actually seen (``Context.collapse_seen``),
    a training loss grown past ``CARRIED_GROWTH`` times its start while the validation windows, read from zero
    states, did not (``carried_state_grew``), a validation loss grown past ``CARRIED_DIVERGED`` times its start
    while the training loss did not grow (``carried_state_diverged``: the states carried from one validation
    batch to the next diverge), or no training at all (fewer training windows than one batch).
    Otherwise warning.
    """
    layers = [layer.to_dict() for layer in ctx.spec.model.layers]
    indices = stateful_indices(layers)
    if not indices:
        return None
    train, ds = ctx.spec.train, ctx.dataset
    n_train, window = len(ds.y_train), ds.window
    offset = _carried_offset(ctx)
    # Only when nothing trained: ``CollapseMonitor`` reads a validation sample that may be under one batch
    # of a fit that runs (the training windows it cannot see).
    no_batch = ctx.probe is None and n_train < train.batch_size
    grew = carried_state_grew(ctx)
    diverged = carried_state_diverged(ctx)
    severity = Severity.ERROR if ctx.collapse_seen or no_batch or grew or diverged else Severity.WARNING
    names = [f"{layers[i]['type']}_{i}" for i in indices]
    named = ", ".join(f"model.layers[{i}] ({layers[i]['type']})" for i in indices)
    reset = ("its states are never reset (train.reset_states: never, as Keras' fit does), so they also carry from "
             "one epoch into the next" if train.reset_states == "never" else "its states are reset each epoch only")
    if no_batch:
        what = (f"it trains on whole batches of {train.batch_size} windows and the training part holds {n_train}, "
                "so it cannot train at all")
    else:
        what = f"{_where_from(offset, window)}; {reset}"
    if grew:
        what += (f". In the brief training the training loss ended {_growth(ctx)} where it started while the "
                 "validation windows, read from zero states, did not diverge: the carried state grows from batch to batch")
    if diverged:
        what += (f". In the brief training the validation loss ended {_val_growth(ctx)} where it started while the "
                 "training loss did not grow: the validation windows are read batch after batch from zero states, "
                 "each batch's states carried into the next, and that carried state diverges")
    message = (
        f"{named} {'is' if len(indices) == 1 else 'are'} stateful: each batch starts from the states the batch "
        f"before left, sample j from sample j. {what[0].upper()}{what[1:]}. Keras' fit also shuffles by default, "
        "which carries states between windows at random: a stateful model must be fit with shuffle=False (this "
        "tool's own trainings are). Make the recurrent layers stateless (stateful: false): each window holds the history the "
        "model reads."
    )
    return Finding("stateful_state_leak", severity, message, {
        "stateful_layers": names, "batch_size": train.batch_size, "window": window,
        "reset_states": train.reset_states, "sliding_windows": ds.starts is not None,
        "carried_from_rows_back": offset,
        "overlap_rows": None if offset is None else max(0, window - offset),
        "train_windows": n_train, "windows_left_out": n_train - full_batches(n_train, train.batch_size),
        "collapsed": ctx.collapsed, "carried_state_grew": grew, "carried_state_diverged": diverged,
        "val_loss_end_over_start": _val_ratio(ctx),
        "loss_end_over_start": ctx.loss_summary.get("end_over_start") if ctx.probe is not None else None,
    })


def _growth(ctx: Context) -> str:
    ratio = ctx.loss_summary.get("end_over_start")
    return "NaN/infinite, far from" if ctx.probe.nonfinite_loss_step is not None or ratio is None else f"{ratio:.3g} times"


def _val_ratio(ctx: Context) -> float | None:
    """The brief training's last validation loss over its first (None without two finite values)."""
    val = [] if ctx.probe is None else ctx.probe.val_loss
    if len(val) < 2 or not val[0] or val[-1] is None:
        return None
    return float(val[-1] / val[0])


def _val_growth(ctx: Context) -> str:
    ratio = _val_ratio(ctx)
    return "NaN/infinite, far from" if ratio is None else f"{ratio:.3g} times"
