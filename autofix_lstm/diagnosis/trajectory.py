"""Is a collapsed output still moving? What the brief training says about a full one.

The brief training is a few dozen steps of a training ten or more times longer, so an output that
is still nearly constant when it ends has either settled on a constant (a collapse actually seen)
or has not had time to leave it yet. It is "still moving" when its predictions, narrow as they
are, already beat the constant baseline by the margin a fix needs (``scoring.objective.beats_constant``:
a classifier whose outputs straddle its threshold and already separate the classes better than the
majority class, a regression that already tracks the target), or when all of these hold:

- the output spread on the validation windows (``Probe.spread_ratios``: the std of the outputs over
  the std of what they should be) grew at every measurement of the second half of the brief
  training: a steady rise, not noise;
- at the rate it grew over that second half, it reaches ``COLLAPSE_STD_RATIO`` (the collapse
  verdict's own threshold) within the rest of the full training;
- the training loss ended below where it started (learning, not diverging);
- the data holds signal for it to move towards (``scoring.signal.probe_signal`` beats the constant),
  when the signal probe ran: without signal a growing spread is the model fitting noise, and the
  constant is the right answer.

A falling loss alone is not evidence: a classifier's loss falls while it learns the majority class
(and its spread then shrinks), a regression's while its head crawls towards the target's mean, and
a model of a trend fits its training windows while the validation ones stay flat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autofix_lstm.diagnosis.probes import Probe
from autofix_lstm.scoring.metrics import COLLAPSE_STD_RATIO, Metrics
from autofix_lstm.scoring.objective import beats_constant

# The starting loss is the median of the first 3 steps (one batch is noisy); the end is the mean
# over the last quarter of the steps.
START_STEPS = 3


def loss_summary(losses: list[float], steps: int) -> dict:
    """Start (median of the first ``START_STEPS``), end (mean of the last quarter), max and their ratios."""
    if not losses:
        return {}
    start = float(np.median(losses[:START_STEPS]))
    end = float(np.mean(losses[-max(1, len(losses) // 4):]))
    return {
        "start_loss": start,
        "end_loss": end,
        "max_loss": float(max(losses)),
        "end_over_start": end / start if start > 0 else None,
        "max_over_start": max(losses) / start if start > 0 else None,
        "steps": steps,
    }


@dataclass(frozen=True)
class Trajectory:
    """The brief training's evidence about a longer one. ``still_moving`` is the verdict."""

    still_moving: bool
    reason: str  # why, in a clause a message can quote
    spread_ratio_mid: float | None = None  # output spread / target spread halfway through the brief training
    spread_ratio_end: float | None = None  # ... at its end
    projected_spread_ratio: float | None = None  # ... at the end of the full training, at the second half's rate
    loss_fell: bool | None = None
    signal: bool | None = None  # the signal probe beat the constant (None: it did not run)
    beats_constant: bool | None = None  # the brief-trained model's own predictions beat the constant

    def evidence(self) -> dict:
        """The numbers behind the verdict, for a finding's evidence."""
        return {
            "still_moving": self.still_moving,
            "predictions_beat_constant": self.beats_constant,
            "spread_ratio_mid": self.spread_ratio_mid,
            "spread_ratio_end": self.spread_ratio_end,
            "projected_spread_ratio": self.projected_spread_ratio,
            "loss_fell": self.loss_fell,
        }


def _beating(metrics: Metrics) -> str:
    if metrics.is_regression:
        return f"r2 {metrics.r2:.3g} against 0 for the training mean"
    return (f"balanced accuracy {metrics.balanced_accuracy:.3g} against "
            f"{metrics.majority_balanced_accuracy:.3g} for the majority class")


def judge(probe: Probe | None, metrics: Metrics | None = None, signal=None) -> Trajectory:
    """Whether the output is still moving off its constant when the brief training ends (see the module).

    Args:
        probe: the brief training's measurements (None when it did not run: not moving).
        metrics: the brief-trained model's validation metrics (None when it did not run).
        signal: a ``scoring.signal.SignalProbe`` or None when the signal probe did not run.
    """
    if probe is None or metrics is None or probe.nonfinite_loss_step is not None or metrics.nan:
        return Trajectory(False, "the brief training did not finish")
    beats_now = beats_constant(metrics)
    points = [(s, r) for s, r in zip(probe.spread_steps, probe.spread_ratios()) if r is not None]
    if len(points) < 3 or probe.steps < 2:
        if beats_now:
            return Trajectory(True, f"its predictions, narrow as they are, already beat the constant "
                                    f"({_beating(metrics)})", beats_constant=True)
        return Trajectory(False, "too few measurements of the output spread", beats_constant=False)
    second = [(s, r) for s, r in points if s >= probe.steps / 2]
    (mid_step, mid), (end_step, end) = second[0], points[-1]
    summary = loss_summary([v for v in probe.loss if v is not None], probe.steps)
    loss_fell = summary.get("end_over_start") is not None and summary["end_over_start"] < 1.0
    signal_found = None if signal is None else bool(signal.beats_constant)
    rising = len(second) >= 2 and all(b > a for (_, a), (_, b) in zip(second, second[1:]))
    slope = (end - mid) / (end_step - mid_step) if end_step > mid_step else 0.0
    projected = end + max(slope, 0.0) * max(0, probe.full_training_steps - probe.steps)
    common = {"spread_ratio_mid": mid, "spread_ratio_end": end, "projected_spread_ratio": projected,
              "loss_fell": loss_fell, "signal": signal_found, "beats_constant": beats_now}
    half = "over the second half of the brief training"
    if beats_now:
        return Trajectory(True, f"its predictions, narrow as they are, already beat the constant "
                                f"({_beating(metrics)})", **common)
    if not rising:
        reason = (f"its spread shrank from {mid:.1%} to {end:.1%} of the targets' {half}" if end < mid
                  else f"its spread stayed near {end:.1%} of the targets' {half}")
        return Trajectory(False, reason, **common)
    if projected < COLLAPSE_STD_RATIO:
        return Trajectory(False, f"its spread grew only from {mid:.1%} to {end:.1%} of the targets', too slowly to reach "
                                 f"{COLLAPSE_STD_RATIO:.0%} in the full training", **common)
    if not loss_fell:
        return Trajectory(False, "the loss did not fall", **common)
    if signal_found is False:
        return Trajectory(False, "its spread grows but the signal probe finds no signal to grow towards", **common)
    return Trajectory(
        True,
        f"its spread grew from {mid:.1%} to {end:.1%} of the targets' {half} and the loss fell; at that rate it "
        f"reaches {COLLAPSE_STD_RATIO:.0%} within the full training's {probe.full_training_steps} steps",
        **common,
    )
