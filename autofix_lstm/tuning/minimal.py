"""The minimal fix: which of the best trial's changes were needed, and which came along by chance.

A search's best trial differs from the user's spec in several fields (the target scaled, the head
made linear, the width, the learning rate, clipping...), where often one or two did the work. After
the search, ``find_minimal_fix`` retrains the best trial's configuration with changes taken out, the
same way and with the same seed as every trial (the driver's ``train_candidate``), and keeps the
smallest set that still fixes:

1. **Ablate one at a time**: the best trial's changes without change ``c``, for each ``c``. A change
   whose removal breaks the fix is necessary; the objective with and without it is what it
   contributes.
2. **Combine** (delta debugging's complement step, one change at a time): starting from all the
   changes, take out the ones step 1 found unnecessary, the least harmful first, keeping each removal
   only while the rest still fixes. Two changes that each fix the problem alone (a scaled target or
   a linear head) are not both dropped: the second removal fails and that change stays.

"Still fixes" (``still_fixes``): not collapsed and beats the constant (``scoring.objective.is_fix``),
with an objective within ``TOLERANCE`` (10%) of the best trial's. A change is a search field
(``remedies.fields``) whose value in the best trial is not the spec's own; its text is the lines it
changes in the spec (``summary.spec_changes``). The trainings count against ``search.max_time``;
changes left untested when time runs out are kept (reported as necessary, ``complete: false``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from autofix_lstm.errors import AutofixError
from autofix_lstm.format import setting
from autofix_lstm.remedies.fields import FIELDS, spec_with_values
from autofix_lstm.run_dir import RunDir, write_text
from autofix_lstm.scoring.metrics import Metrics
from autofix_lstm.scoring.objective import beats_persistence, is_fix, score
from autofix_lstm.spec import Spec
from autofix_lstm.tuning.interrupts import StopNow, StopRequested
from autofix_lstm.tuning.records import TrialRecord, TrialStatus, best_record
from autofix_lstm.tuning.space import SearchSpace, label
from autofix_lstm.tuning.summary import portable_spec, spec_changes
from autofix_lstm.tuning.summary_blocks import Ablation, ChangeEffect

# A subset still fixes when its objective is at most this much (relative) above the best trial's.
TOLERANCE = 0.10

# train(candidate spec, epochs) -> the validation metrics of that training (original units)
Trainer = Callable[[Spec, int], dict]


@dataclass
class Change:
    """One of the best trial's changes: a search field moved off the spec's own value."""

    field: str
    old: Any
    new: Any
    lines: list[str]  # what it changes in the spec, as ``summary.spec_changes`` writes it
    description: str  # "scale the target (standard)"
    objective_without: float | None = None  # the best trial's changes without this one, retrained
    fix_without: bool | None = None
    necessary: bool = True

    def effect(self, objective_with: float | None) -> ChangeEffect:
        """The change as summary.json lists it under ``necessary_changes`` / ``incidental_changes``."""
        return ChangeEffect(change="; ".join(self.lines), field=self.field, old=self.old, new=self.new,
                            description=self.description, objective_with=objective_with,
                            objective_without=self.objective_without, fix_without=self.fix_without)


@dataclass
class MinimalFix:
    """What the ablation found. ``ran`` is False when it did not run (``reason`` says why)."""

    ran: bool
    reason: str | None = None
    changes: list[Change] = field(default_factory=list)
    best_objective: float | None = None
    objective: float | None = None  # of the minimal set (the best trial's own when nothing could go)
    metrics: Metrics | None = None  # of the minimal set
    fixed: bool | None = None  # the minimal set is a fix (not collapsed, beats the constant)
    spec: Spec | None = None
    trainings: int = 0
    reused: int = 0  # subsets a trial of the search had already trained (``trained_subsets``): not trained again
    seconds: float = 0.0
    complete: bool = True

    @property
    def necessary(self) -> list[Change]:
        """The changes the fix needs."""
        return [c for c in self.changes if c.necessary]

    @property
    def incidental(self) -> list[Change]:
        """The changes that did not matter."""
        return [c for c in self.changes if not c.necessary]

    def verdict(self) -> str | None:
        """One sentence leading with the necessary changes (None when the ablation did not run)."""
        if not self.ran:
            return None
        others = len(self.incidental)
        if not self.necessary:
            text = (f"None of the {len(self.changes)} changes was needed: the spec as written is within "
                    f"{TOLERANCE:.0%} of the best objective")
        else:
            text = f"The fix: {_join([c.description for c in self.necessary])}"
            if others == 1:
                text += "; the other change did not matter"
            elif others:
                text += f"; the other {others} changes did not matter"
            text += "." + self._why_kept()
        if not text.endswith("."):
            text += "."
        if not self.complete:
            text += f" ({self.reason}: changes not yet tested were kept.)"
        return text

    def _why_kept(self) -> str:
        """Why each kept change is kept, when more than one is: without it there is no fix, or there is one
        but its objective is more than ``TOLERANCE`` worse (empty when one change, or none was tested)."""
        kept = self.necessary
        if len(kept) < 2 or all(c.fix_without is None for c in kept):
            return ""
        unfixing = [f"'{c.description}'" for c in kept if c.fix_without is False]
        best = self.best_objective or 0.0
        costly = [c for c in kept if c.fix_without is True and c.objective_without is not None and best > 0
                  and c.objective_without > best * (1 + TOLERANCE)]
        standing_in = [f"'{c.description}'" for c in kept if c.fix_without is True and c not in costly]
        parts = []
        if unfixing and len(unfixing) == len(kept):
            parts.append("Without any one of them it is no fix.")
        elif len(unfixing) == 1:
            parts.append(f"Without {unfixing[0]} it is no fix.")
        elif unfixing:
            parts.append(f"Without any one of {_join(unfixing)} it is no fix.")
        if costly:
            worse = [f"'{c.description}' ({c.objective_without / best - 1:.0%} worse without it)" for c in costly]
            parts.append(f"Kept for quality, the objective more than {TOLERANCE:.0%} worse without each: {_join(worse)}.")
        if standing_in:
            parts.append(f"{_join(standing_in)} alone could go, but not together with a change left out: "
                         f"{'it stands' if len(standing_in) == 1 else 'they stand'} in for it.")
        return (" " + " ".join(parts)) if parts else ""

    def necessary_effects(self) -> list[ChangeEffect] | None:
        """summary.json's ``necessary_changes`` (None when the ablation did not run)."""
        return [c.effect(self.best_objective) for c in self.necessary] if self.ran else None

    def incidental_effects(self) -> list[ChangeEffect] | None:
        """summary.json's ``incidental_changes`` (None when the ablation did not run)."""
        return [c.effect(self.best_objective) for c in self.incidental] if self.ran else None

    def ablation(self) -> Ablation:
        """summary.json's ``minimal_fix``: whether it ran, its verdict, and what it cost."""
        return Ablation(
            ran=self.ran, reason=self.reason, complete=self.complete, verdict=self.verdict(),
            changes_full=len(self.changes) if self.ran else None,
            changes_minimal=len(self.necessary) if self.ran else None,
            objective_full=self.best_objective, objective_minimal=self.objective, fixed=self.fixed,
            beats_persistence=None if self.metrics is None else beats_persistence(self.metrics),
            tolerance=TOLERANCE, trainings=self.trainings, seconds=self.seconds, reused_trials=self.reused,
        )


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def describe(name: str, old: Any, new: Any, task: str) -> str:
    """A change in words, for the verdict: ``scale the target (standard)`` (the field's own ``description``)."""
    registered = FIELDS.get(name)
    return registered.description(old, new, task) if registered else f"set {name} to {setting(new)}"


def candidate_spec(spec: Spec, space: SearchSpace, values: dict[str, Any]) -> Spec:
    """The user's spec with field ``values`` (decoded) applied, validated (``remedies.fields.spec_with_values``)."""
    return spec_with_values(spec, values, space.context)


def best_changes(spec: Spec, space: SearchSpace, best: TrialRecord) -> list[Change]:
    """The best trial's changes: its fields whose value is not the spec's own and that change the spec."""
    out = []
    for name in FIELDS:
        if name not in best.values or name not in space.own:
            continue
        old, new = space.own[name], best.values[name]
        if _same(old, new) and new not in FIELDS[name].forced:
            continue
        lines = spec_changes(spec, candidate_spec(spec, space, {name: new}))
        if lines:
            text = describe(name, old, new, space.context["task"])
            if not any(line.startswith("model.loss:") for line in lines):
                text = text.removesuffix(" with a matching loss")
            out.append(Change(name, old, new, lines, text))
    return out


def _same(old: Any, new: Any) -> bool:
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (old, new))
    return math.isclose(float(old), float(new), rel_tol=1e-9) if numbers else label(old) == label(new)


def still_fixes(metrics: Metrics, best_objective: float, min_std_ratio: float) -> bool:
    """A fix (not collapsed, beats the constant) within ``TOLERANCE`` of the best trial's objective."""
    return is_fix(metrics, min_std_ratio) and score(metrics, min_std_ratio) <= best_objective * (1 + TOLERANCE)


def find_minimal_fix(
    spec: Spec,
    space: SearchSpace,
    best: TrialRecord,
    baseline: TrialRecord,
    *,
    train: Trainer,
    epochs: int | None,
    deadline: float | None = None,
    stage: Callable[[str], None] | None = None,
    records: list[TrialRecord] | None = None,
) -> MinimalFix:
    """The smallest subset of the best trial's changes that still fixes (see the module).

    Args:
        spec: the user's spec (the search's own).
        space: the search space (the spec's own values, the task).
        best: the best trial's record; it must be a fix and not the baseline.
        baseline: the spec as written, trained (the empty subset: never retrained).
        train: trains a candidate spec for ``epochs`` the way every trial is trained; its metrics.
        epochs: the best trial's epochs; None: each candidate's own ``train.epochs``.
        deadline: ``time.time()`` after which no new training starts (``search.max_time``).
        stage: told of each training (the progress display's stage line).
        records: the search's trials: a subset one of them already trained is not trained again
            (``trained_subsets``).
    """
    started = time.perf_counter()
    min_ratio = spec.search.min_std_ratio
    changes = best_changes(spec, space, best)
    result = MinimalFix(ran=True, changes=changes, best_objective=best.score)
    # frozenset of kept fields -> the validation metrics of that subset, trained (the full set: the best trial)
    tried: dict[frozenset, Metrics] = {frozenset(c.field for c in changes): best.metrics}
    earlier = trained_subsets(spec, space, changes, records or [], epochs)
    # a spec as written that Keras could not train scores as a failed candidate (the worst tier)
    as_written = baseline.metrics or Metrics.failed(space.context["task"], baseline.message or "cannot train")

    def attempt(kept: list[Change], what: str) -> dict | None:
        key = frozenset(c.field for c in kept)
        if key in tried:
            return tried[key]
        if not key:  # the spec as written: already trained
            return as_written
        if key in earlier:  # a trial of the search trained this very spec, the same way
            result.reused += 1
            tried[key] = earlier[key]
            return tried[key]
        if deadline is not None and time.time() >= deadline:
            raise _OutOfTime("max_time reached")
        if stage is not None:
            stage(f"minimal fix: {what}")
        candidate = candidate_spec(spec, space, {c.field: c.new for c in kept})
        try:
            metrics = train(candidate, epochs)
        except (AutofixError, ValueError) as err:
            # scored as a NaN candidate (the worst tier), like a failed trial
            metrics = Metrics.failed(space.context["task"], f"{type(err).__name__}: {err}")
        result.trainings += 1
        tried[key] = metrics
        return metrics

    kept = list(changes)
    try:
        # 1. one at a time, from the best trial's full set
        for position, change in enumerate(changes, start=1):
            rest = [c for c in changes if c is not change]
            metrics = attempt(rest, f"without '{change.field}' ({position} of {len(changes)})")
            change.objective_without = score(metrics, min_ratio)
            change.fix_without = is_fix(metrics, min_ratio)
        # 2. combine: drop the unneeded ones, least harmful first, while the rest still fixes
        optional = sorted((c for c in changes if _passes(tried, changes, c, best.score, min_ratio)),
                          key=lambda c: c.objective_without)
        for position, change in enumerate(optional, start=1):
            trial = [c for c in kept if c is not change]
            metrics = attempt(trial, f"combining: without '{change.field}' and {len(changes) - len(trial) - 1} others "
                                     f"({position} of {len(optional)})")
            if still_fixes(metrics, best.score, min_ratio):
                kept = trial
    except _OutOfTime as stop:
        result.complete, result.reason = False, str(stop)
    except StopNow:  # a second signal: the search stops at once
        raise
    except (KeyboardInterrupt, StopRequested):
        result.complete, result.reason = False, "interrupted"
    for change in changes:
        change.necessary = change in kept
    final = tried.get(frozenset(c.field for c in kept)) if kept else as_written
    result.metrics, result.objective, result.fixed = final, score(final, min_ratio), is_fix(final, min_ratio)
    result.spec = candidate_spec(spec, space, {c.field: c.new for c in kept})
    result.seconds = time.perf_counter() - started
    return result


def trained_subsets(spec: Spec, space: SearchSpace, changes: list[Change], records: list[TrialRecord],
                    epochs: int | None) -> dict[frozenset, Metrics]:
    """The subsets of ``changes`` a trial of the search already trained, exactly as the ablation would.

    A trial counts when every field holds either the best trial's value or the spec's own, its spec is
    the very spec the ablation would build for that subset, and it trained the same way: finished for
    the same epochs, or pruned (the ablation's trainings are pruned the same way; not under Hyperband,
    whose trials get other epochs). Re-runs of pruned trials (trained without pruning) do not count.
    Trainings are seeded and repeatable (docs/search.md "Repeatability"), so its metrics are the ones a
    retraining would give.
    """
    out: dict[frozenset, Metrics] = {}
    for record in records:
        if (record.rerun_of is not None or record.metrics is None or record.spec is None or record.is_baseline
                or record.status not in (TrialStatus.COMPLETED, TrialStatus.PRUNED)):
            continue
        if spec.search.tuner == "hyperband" and record.status is TrialStatus.PRUNED:
            continue
        own_epochs = (record.spec.get("train") or {}).get("epochs")
        expected = epochs or own_epochs
        if record.status is TrialStatus.COMPLETED and record.epochs_run != expected:
            continue
        if record.status is TrialStatus.PRUNED and own_epochs != expected:
            continue
        kept = _subset_of(space, changes, record.values or {})
        if not kept or kept in out or len(kept) == len(changes):
            continue
        try:
            candidate = candidate_spec(spec, space, {c.field: c.new for c in changes if c.field in kept})
        except (AutofixError, ValueError):
            continue
        if candidate.to_dict() == record.spec:
            out[kept] = record.metrics
    return out


def _subset_of(space: SearchSpace, changes: list[Change], values: dict[str, Any]) -> frozenset | None:
    """The changes a trial's ``values`` keep, when every field is either the change's new value or the spec's own."""
    by_field = {c.field: c for c in changes}
    kept = set()
    for name in space.fields:
        value = values.get(name, space.own[name])
        change = by_field.get(name)
        if change is not None and _same(value, change.new):
            kept.add(name)
        elif not _same(value, space.own[name]):
            return None
    return frozenset(kept)


def _passes(tried: dict, changes: list[Change], change: Change, best_objective: float, min_ratio: float) -> bool:
    metrics = tried.get(frozenset(c.field for c in changes if c is not change))
    return metrics is not None and still_fixes(metrics, best_objective, min_ratio)


class _OutOfTime(Exception):
    """``search.max_time`` ran out during the ablation."""


def write_minimal_spec(minimal: MinimalFix, folder) -> None:
    """Write ``minimal_spec.yaml`` (or remove a stale one when the ablation did not run)."""
    path = RunDir(folder).minimal_spec
    if not minimal.ran or minimal.spec is None:
        path.unlink(missing_ok=True)
        return
    header = (
        "# The best configuration with only the changes the fix needed (autofix-lstm's minimal fix).\n"
        f"# {minimal.verdict()}\n# Reproduce it with: autofix-lstm train minimal_spec.yaml\n"
    )
    write_text(header + portable_spec(minimal.spec, RunDir(folder).root).to_yaml(), path)


def skipped(reason: str) -> MinimalFix:
    """A ``MinimalFix`` that did not run, and why."""
    return MinimalFix(ran=False, reason=reason, complete=False)




def minimal_stage(
    spec: Spec,
    space: SearchSpace,
    baseline: TrialRecord,
    records: list[TrialRecord],
    folder,
    *,
    enabled: bool,
    train: Trainer,
    deadline: float | None = None,
    stage: Callable[[str], None] | None = None,
) -> MinimalFix:
    """The search's minimal-fix stage: ``find_minimal_fix`` on the best record when it applies, then
    ``minimal_spec.yaml``; a ``skipped`` result saying why otherwise (turned off, no fix, nothing changed).
    """
    best = best_record([baseline, *records])
    if not enabled:
        result = skipped("turned off (search.minimize: false, --no-minimize or minimize=False), or the search was "
                         "interrupted")
    elif best is None or not best.fix:
        result = skipped("no fix to minimize")
    elif best.is_baseline:
        result = skipped("the spec as written is the best configuration: nothing changed")
    elif deadline is not None and time.time() >= deadline:
        result = skipped("max_time reached before the ablation")
    else:
        # the best trial's epochs for every subset, unless the fix changed the epochs themselves: then each
        # subset trains for its own (the user's without that change)
        completed = best.status is TrialStatus.COMPLETED and best.epochs_run and "train.epochs" not in best.values
        result = find_minimal_fix(spec, space, best, baseline, train=train, deadline=deadline, stage=stage,
                                  epochs=int(best.epochs_run) if completed else None, records=records)
    write_minimal_spec(result, folder)
    return result


__all__ = ["TOLERANCE", "Change", "MinimalFix", "best_changes", "describe", "find_minimal_fix", "minimal_stage",
           "skipped", "still_fixes", "write_minimal_spec"]
