"""How the findings agree: consequences shown under their cause, contradictions settled, causes ordered.

Each detector judges its own measurement. Read together, some findings are the consequence of
another (inputs in the thousands saturate the gates, which then pass no gradient and give every
window the same output) and some contradict each other (steps too small, gradients exploding).
The whole policy is the table below:

- ``EXPLAINS``: when ``cause`` fires at one of ``cause_severities`` (and ``when`` holds), the
  ``consequence`` is shown as its consequence: severity ``info`` (it explains no collapse of its
  own), ``explained_by`` in its evidence, no strategies of its own (the cause's remedies are the
  ones to try), and a sentence saying why.
- ``CONTRADICTS``: a finding that says the steps are too small and one that says they are too large
  are never both errors. The evidence decides (``_violent_evidence``): a non-finite loss or gradient,
  or a loss that ended above where it started, keeps the "too large" one; otherwise the "too small"
  one stands. The other is lowered to a warning, with ``contradicted_by`` in its evidence.
- ``PRIORITY``: the order of the findings within a severity, the order a fix should take them in:
  first what no training gets past (the answer leaks in, the loss or the head cannot produce the
  targets, no information at all), then the data as the model receives it (a trend before the
  scale: differencing and window-relative inputs also bring the data to scale, scaling leaves the
  trend), then the optimisation (optimizer, learning rate, gradients), then the model (dropout,
  units, the classes' balance, its size for the data); the symptoms (NaN, the collapse) come last,
  after what explains them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from autofix_lstm.diagnosis.context import Context
from autofix_lstm.diagnosis.findings import SEVERITIES, Finding, Severity
from autofix_lstm.diagnosis.stateful_checks import carried_state_grew
from autofix_lstm.diagnosis.training_checks import slow_optimizer_kind


@dataclass(frozen=True)
class Explains:
    """``cause`` explains ``consequence`` (see the module)."""

    cause: str
    consequence: str
    why: str
    cause_severities: tuple[Severity, ...] = (Severity.ERROR,)
    when: Callable[[Context], bool] | None = None


@dataclass(frozen=True)
class Contradicts:
    """``slow`` says the weights move too little, ``violent`` that they move too much (see the module)."""

    slow: str
    violent: str


def _slow_kind(ctx: Context) -> bool:
    return slow_optimizer_kind(ctx) is not None


EXPLAINS: tuple[Explains, ...] = (
    Explains("unscaled_inputs", "vanishing_gradients", "inputs this large saturate the gates, which pass almost no gradient"),
    Explains("unscaled_inputs", "dead_units", "saturated gates give every window the same output"),
    Explains("unscaled_inputs", "exploding_gradients", "a kernel's gradient grows with the inputs it multiplies"),
    Explains("unscaled_target", "vanishing_gradients",
             "the head's gradient grows with the target's size, and the units saturate chasing it"),
    Explains("unscaled_target", "dead_units", "the units saturate pushing the output towards a target this far away"),
    Explains("unscaled_target", "exploding_gradients", "errors this large make gradients this large"),
    Explains("output_activation_range", "vanishing_gradients",
             "a head pinned at its activation's bound passes almost no gradient back"),
    Explains("loss_activation_mismatch", "vanishing_gradients",
             "outputs clipped into the loss's range pass almost no gradient back"),
    Explains("loss_target_mismatch", "vanishing_gradients",
             "a label loss pushes the outputs to its bounds, where they pass almost no gradient back"),
    Explains("custom_initialization", "vanishing_gradients",
             "weights started at (or near) zero pass (almost) no gradient back through the layers"),
    Explains("custom_initialization", "dead_units", "units whose weights start at (or near) zero all output the same"),
    Explains("custom_initialization", "exploding_gradients", "weights started too wide make activations and gradients grow"),
    Explains("too_little_data", "too_few_steps", "with this few windows an epoch is a step or two, whatever the batch",
             cause_severities=(Severity.ERROR, Severity.WARNING)),
    Explains("nan_output", "dead_units", "NaN weights give NaN outputs, which count as dead"),
    Explains("exploding_gradients", "dead_units", "a step thrown by an exploded gradient leaves units in their flat ends"),
    Explains("learning_rate_too_high", "dead_units", "oversized steps throw units into the flat ends of their activation"),
    Explains("slow_optimizer", "learning_rate_too_low",
             "with Adagrad or plain SGD the optimizer, not only its learning rate, keeps the steps small",
             cause_severities=(Severity.ERROR, Severity.WARNING), when=_slow_kind),
    Explains("stateful_state_leak", "exploding_gradients",
             "a state carried from batch to batch grows with every batch, and so do the gradients through it",
             when=carried_state_grew),
    Explains("stateful_state_leak", "learning_rate_too_high",
             "the loss grows with the carried state, not with the step size: the windows read from zero states do not",
             when=carried_state_grew),
    Explains("learning_rate_too_low", "slow_optimizer",
             "with an adaptive optimizer the step size is the learning rate's doing",
             cause_severities=(Severity.ERROR, Severity.WARNING), when=lambda ctx: not _slow_kind(ctx)),
)

CONTRADICTS: tuple[Contradicts, ...] = (
    Contradicts("learning_rate_too_low", "exploding_gradients"),
    Contradicts("learning_rate_too_low", "learning_rate_too_high"),
    Contradicts("slow_optimizer", "exploding_gradients"),
    Contradicts("slow_optimizer", "learning_rate_too_high"),
)

PRIORITY: tuple[str, ...] = (
    "target_leakage",
    "loss_target_mismatch",
    "head_width_mismatch",
    "loss_activation_mismatch",
    "output_activation_range",
    "bottleneck_layer",
    "constant_feature",
    "nonstationary_target",
    "unscaled_target",
    "unscaled_inputs",
    "short_window",
    "stateful_state_leak",
    "too_few_steps",
    "slow_optimizer",
    "learning_rate_too_low",
    "learning_rate_too_high",
    "custom_initialization",
    "exploding_gradients",
    "vanishing_gradients",
    "excess_dropout",
    "heavy_regularization",
    "dead_units",
    "class_imbalance",
    "too_little_data",
    "nan_output",
    "collapsed_output",
)


def _violent_evidence(ctx: Context) -> str | None:
    """Why the "too large" reading stands, or None when the evidence does not back it."""
    probe = ctx.probe
    if probe is None:
        return None
    if probe.nonfinite_loss_step is not None:
        return "the loss became NaN/infinite"
    if probe.nonfinite_gradient_step is not None:
        return "a gradient became NaN/infinite"
    ratio = ctx.loss_summary.get("end_over_start")
    if ratio is not None and ratio > 1.0:
        return f"the loss ended {ratio:.3g} times where it started"
    return None


def _lower(finding: Finding, to: str) -> None:
    if SEVERITIES.index(finding.severity) < SEVERITIES.index(to):
        finding.severity = to


def _settle(findings: dict[str, Finding], ctx: Context) -> None:
    for rule in CONTRADICTS:
        slow, violent = findings.get(rule.slow), findings.get(rule.violent)
        if slow is None or violent is None or Severity.ERROR not in (slow.severity, violent.severity):
            continue
        reason = _violent_evidence(ctx)
        winner, loser = (violent, slow) if reason else (slow, violent)
        reason = reason or "the loss did not rise and no gradient became NaN/infinite"
        if loser.severity == Severity.ERROR:
            loser.message += f" Contradicted by {winner.id}, which the evidence backs ({reason})."
        _lower(loser, Severity.WARNING)
        loser.evidence["contradicted_by"] = winner.id


def _explain(findings: dict[str, Finding], ctx: Context) -> None:
    # Decided on the severities before any rule lowers one, so the table's order does not matter.
    severity = {identifier: f.severity for identifier, f in findings.items()}
    explained: dict[str, list[Explains]] = {}
    for rule in EXPLAINS:
        if rule.cause not in findings or rule.consequence not in findings:
            continue
        if severity[rule.cause] not in rule.cause_severities or severity[rule.consequence] == Severity.INFO:
            continue
        if rule.when is not None and not rule.when(ctx):
            continue
        explained.setdefault(rule.consequence, []).append(rule)
    for identifier, rules in explained.items():
        finding = findings[identifier]
        finding.severity = Severity.INFO
        finding.strategies = []
        finding.evidence = {"explained_by": [rule.cause for rule in rules], **finding.evidence}
        reasons = "; ".join(f"{rule.cause}: {rule.why}" for rule in rules)
        finding.message += f" A consequence of {reasons}."


def reconcile(findings: list[Finding], ctx: Context) -> list[Finding]:
    """Apply ``CONTRADICTS`` then ``EXPLAINS`` to the findings (in place) and order them by severity
    and ``PRIORITY``. Returns the ordered list."""
    by_id = {f.id: f for f in findings}
    _settle(by_id, ctx)
    _explain(by_id, ctx)
    return order(findings)


def order(findings: list[Finding]) -> list[Finding]:
    """Errors first, then warnings, then info; within a severity, in ``PRIORITY`` order (which lists
    every finding id: a test checks it)."""
    return sorted(findings, key=lambda f: (f.rank, PRIORITY.index(f.id)))
