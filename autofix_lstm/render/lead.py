"""The report's first section: what to change in the user's spec, in plain words, before any evidence.

``what_to_change`` reads the search's ``Summary`` (its minimal fix: the changes the fix needs, each
with the objective with and without it) and the text of minimal_spec.yaml, and returns plain values
for the template: one headline sentence, the changes to make (each in words, as the spec lines it
changes, and what leaving it out costs), the changes that did not matter, and the spec to train.

Where there is no minimal fix it says why in the same place: the search found no fix, the spec as
written was already the best, or the minimal fix was not worked out (turned off, interrupted, out of
time), in which case the best configuration's changes are listed as they are. A spec Keras could
not train at all gets a sentence saying so, with Keras' reason.
"""

from __future__ import annotations

from typing import Any

from autofix_lstm.format import number, plural
from autofix_lstm.scoring.objective import ModelState
from autofix_lstm.tuning.records import BASELINE_ID
from autofix_lstm.tuning.search_summary import Summary
from autofix_lstm.tuning.summary import cannot_train_reason
from autofix_lstm.tuning.summary_blocks import ChangeEffect


def _effect(change: ChangeEffect, tolerance: float | None) -> str:
    """What leaving ``change`` out did, in words, its objectives rounded to 3 significant digits."""
    with_all, without = number(change.objective_with), number(change.objective_without)
    if change.objective_without is None:
        return "not tested before time ran out: kept"
    if change.fix_without is False:
        return f"without it there is no fix (objective {without} instead of {with_all})"
    limit = "" if tolerance is None else f" (more than {tolerance:.0%})"
    return f"without it the model is worse{limit}: objective {without} instead of {with_all}"


def _change(change: ChangeEffect, tolerance: float | None) -> dict[str, Any]:
    return {"words": change.label, "spec": change.change, "effect": _effect(change, tolerance)}


def _untrainable(summary: Summary, baseline: dict | None) -> str | None:
    """The sentence for a spec Keras could not train at all (its before/after column is empty)."""
    if summary.baseline_state is not ModelState.CANNOT_TRAIN:
        return None
    reason = cannot_train_reason((baseline or {}).get("message"))
    return (f"Your spec as written could not be trained at all ({reason}), so it has no metrics to compare "
            "against: its column in the table below is empty.")


def _without_minimal(summary: Summary, best_spec_name: str) -> dict[str, Any]:
    """The headline and change list when the minimal fix did not run (or an older search had none)."""
    reason = None if summary.minimal_fix is None else summary.minimal_fix.reason
    if not summary.best_works:
        return {"headline": "No fix to apply: the search found no configuration that works (see the verdict).",
                "changes": [], "note": None}
    if str(summary.best_trial) == BASELINE_ID or not summary.changes:
        return {"headline": "Nothing to change: your spec as written is the best configuration found.",
                "changes": [], "note": None}
    headline = (f"The best configuration changes {plural(len(summary.changes), 'setting')} of your spec; "
                f"all of them are in {best_spec_name}.")
    note = ("Which of these changes the fix needs was not worked out"
            + (f" ({reason})." if reason else " (this search has no minimal fix).")
            + " Run the search again with search.minimize on, and time to spare, to find out.")
    return {"headline": headline, "changes": [{"words": None, "spec": line, "effect": None} for line in summary.changes],
            "note": note}


def what_to_change(summary: Summary | None, *, minimal_spec: str | None, baseline: dict | None,
                   minimal_spec_name: str, best_spec_name: str) -> dict[str, Any] | None:
    """The first section's content, or None without a summary (the verdict says the search has not finished).

    Args:
        summary: the search's summary.
        minimal_spec: minimal_spec.yaml's text, or None when it is not in the folder.
        baseline: baseline.json's content (its ``message`` says why Keras could not train the spec), or None.
        minimal_spec_name, best_spec_name: the file names, as the run folder spells them.

    Returns:
        ``headline`` (a sentence), ``minimal`` (True when it is the minimal fix's verdict), ``changes`` (each
        with ``words``, ``spec`` and ``effect``; None where unknown), ``others`` (the changes that did not
        matter, in words), ``note``, ``untrainable``, ``spec`` (minimal_spec.yaml's text), ``spec_name``
        and ``spec_note`` (why the spec is not shown).
    """
    if summary is None:
        return None
    out: dict[str, Any] = {"minimal": False, "others": [], "spec": None, "spec_name": minimal_spec_name,
                           "spec_note": None, "untrainable": _untrainable(summary, baseline)}
    ablation = summary.minimal_fix
    if ablation is None or not ablation.ran:
        out.update(_without_minimal(summary, best_spec_name))
    else:
        tolerance = ablation.tolerance
        out.update(
            minimal=True,
            headline=ablation.verdict or "The minimal fix ran but wrote no verdict.",
            changes=[_change(c, tolerance) for c in summary.necessary_changes or []],
            others=[c.label for c in summary.incidental_changes or []],
            note=None,
            spec=minimal_spec,
            spec_note=None if minimal_spec is not None else f"{minimal_spec_name} is missing from the folder.",
        )
    if summary.interrupted:
        out["note"] = " ".join(filter(None, ["The search was interrupted: this is the best it found before it "
                                             "stopped.", out["note"]]))
    return out


__all__ = ["what_to_change"]
