"""The search objective: validation loss in ORIGINAL units, ranked behind the collapse verdict.

``score = tier + r / (1 + r)``, minimised, where ``r`` is the validation loss relative to the
best constant (regression: ``mse / variance of the validation targets``, i.e. ``1 - r2``;
classification: ``log_loss / log_loss of the class-prior predictor``), squashed into [0, 1), and
``tier`` is

* 0: not collapsed and beats the constant baseline (a fix),
* 1: not collapsed, but no better than a constant,
* 2: collapsed (``std_ratio`` below ``search.min_std_ratio``, or a single predicted class),
* 3: NaN/inf predictions, or a training loss that went NaN/inf (``score`` is exactly 3.0).

Among fixes (tier 0), a regression fix that does not beat persistence (repeating the last observed
value, where it applies: the target is a feature and ``horizon >= 1``) ranks behind every fix that
does: its score is ``PERSISTENCE_TIER + (r / (1 + r)) / 2``, in [0.5, 0.75), while a fix's
``r / (1 + r)`` is below 0.49 (a fix has ``r2 >= BEAT_MARGIN``, so ``r <= 0.95``). A forecaster that
loses to "tomorrow = today" is of no use to its users, however well it beats the mean.

Among fixes (tier 0), a classifier's score is ``1 - balanced_accuracy`` (the loss ratio breaks ties,
with weight ``TIE_WEIGHT``): users judge a classifier on balanced accuracy, and with class weights
the validation loss does not order candidates by it. A regression fix keeps the loss ratio (the
mse in original units over the variance).

So a collapsed candidate can never outrank a live one, and a live one that does not beat a
constant can never outrank a fix, whatever their losses.

Beating the constant baseline (``BEAT_MARGIN`` = 5%): for regression, the mse must be at least
5% below BOTH the training-mean constant (``constant_mse``) and the best constant in hindsight
(the validation variance, i.e. ``r2 >= 0.05``); for classification, the balanced accuracy must
be at least 0.05 above the majority-class predictor's. The margin keeps a lucky draw on a
series with no signal from being reported as a fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from autofix_lstm.scoring.metrics import COLLAPSE_STD_RATIO, Metrics, is_collapsed

BEAT_MARGIN = 0.05
TIE_WEIGHT = 1e-3  # among classifier fixes, the loss's weight: it decides only between equal balanced accuracies
TIER_FIX, TIER_LIVE, TIER_COLLAPSED, TIER_NAN, TIER_CANNOT_TRAIN = 0, 1, 2, 3, 4
PERSISTENCE_TIER = 0.5  # where the fixes that lose to persistence start, inside tier 0


class ModelState(str, Enum):
    """What a trained model did, in one word: the verdicts, ``train`` and summary.json use it.

    One state per objective tier: ``cannot_train`` (tier 4: the spec as written, when Keras refused to
    train it; its record has no metrics), ``diverged`` (tier 3), ``collapsed`` (2), ``live`` (1: not
    collapsed, but no better than a constant) and ``working`` (0: not collapsed and beats the
    constant baseline). A diverged model is never "not collapsed": its weights are garbage even
    when its outputs stay finite.
    """

    WORKING = "working"
    LIVE = "live"
    COLLAPSED = "collapsed"
    DIVERGED = "diverged"
    CANNOT_TRAIN = "cannot_train"  # Keras could not train it at all (the loss, head and target do not fit)

    def __str__(self) -> str:
        return self.value


_STATE_OF_TIER = {TIER_FIX: ModelState.WORKING, TIER_LIVE: ModelState.LIVE, TIER_COLLAPSED: ModelState.COLLAPSED,
                  TIER_NAN: ModelState.DIVERGED}


def beats_constant(metrics: Metrics) -> bool:
    """True when the model beats the best constant predictor by ``BEAT_MARGIN``."""
    if metrics.nan:
        return False
    if metrics.is_regression:
        if metrics.mse is None or metrics.r2 is None or metrics.constant_mse is None:
            return False
        return metrics.mse <= (1 - BEAT_MARGIN) * metrics.constant_mse and metrics.r2 >= BEAT_MARGIN
    balanced, majority = metrics.balanced_accuracy, metrics.majority_balanced_accuracy
    return balanced is not None and majority is not None and balanced >= majority + BEAT_MARGIN


def beats_persistence(metrics: Metrics) -> bool | None:
    """True/False against 'predict the last observed value'; None where persistence does not apply."""
    if metrics.persistence_mse is None:
        return None
    return metrics.mse is not None and metrics.mse < metrics.persistence_mse


def relative_loss(metrics: Metrics) -> float | None:
    """Validation loss over the best constant's (regression: 1 - r2; classification: log-loss ratio)."""
    if metrics.is_regression:
        return None if metrics.r2 is None else max(0.0, 1.0 - metrics.r2)
    if metrics.log_loss is None or not metrics.prior_log_loss:
        return None
    return metrics.log_loss / metrics.prior_log_loss


def tier(metrics: Metrics, min_std_ratio: float) -> int:
    """0 fix, 1 live but no better than a constant, 2 collapsed, 3 NaN (or a loss that diverged)."""
    if metrics.nan or metrics.loss_diverged:
        return TIER_NAN
    if is_collapsed(metrics, min_std_ratio):
        return TIER_COLLAPSED
    return TIER_FIX if beats_constant(metrics) else TIER_LIVE


def model_state(metrics: Metrics, min_std_ratio: float = COLLAPSE_STD_RATIO) -> ModelState:
    """The model's state: diverged (NaN/inf loss or predictions), collapsed, live or working."""
    return _STATE_OF_TIER[tier(metrics, min_std_ratio)]


def score(metrics: Metrics, min_std_ratio: float) -> float:
    """The objective to minimise (see the module docstring)."""
    level = tier(metrics, min_std_ratio)
    r = relative_loss(metrics)
    if level == TIER_NAN or r is None:
        return float(TIER_NAN)
    squashed = r / (1.0 + r)
    if level == TIER_FIX and beats_persistence(metrics) is False:
        return PERSISTENCE_TIER + squashed / 2.0
    if level == TIER_FIX and not metrics.is_regression and metrics.balanced_accuracy is not None:
        # Among fixes, a classifier is judged on what its users judge it on: balanced accuracy,
        # the loss only breaking ties (with class weights the loss does not order them the same way).
        return (1.0 - TIE_WEIGHT) * (1.0 - float(metrics.balanced_accuracy)) + TIE_WEIGHT * squashed
    return level + squashed


def is_fix(metrics: Metrics, min_std_ratio: float) -> bool:
    """Not collapsed and beats the constant baseline: what ``fixed: true`` means."""
    return tier(metrics, min_std_ratio) == TIER_FIX


@dataclass(frozen=True)
class Judgment:
    """Every verdict on one trained model, computed once here and carried on its record.

    ``score`` is the objective; ``state`` the model's state in one word; ``fix`` whether it is a
    fix (``state`` is working); ``beats_constant``/``beats_persistence`` the two comparisons the
    verdicts quote (``beats_persistence`` is None where persistence does not apply).
    """

    score: float
    state: ModelState
    fix: bool
    beats_constant: bool
    beats_persistence: bool | None


def judge(metrics: Metrics, min_std_ratio: float = COLLAPSE_STD_RATIO) -> Judgment:
    """The objective and every verdict on ``metrics``, at the search's collapse floor."""
    state = model_state(metrics, min_std_ratio)
    return Judgment(score=score(metrics, min_std_ratio), state=state, fix=state is ModelState.WORKING,
                    beats_constant=beats_constant(metrics), beats_persistence=beats_persistence(metrics))
