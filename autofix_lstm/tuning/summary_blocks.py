"""The nested blocks of summary.json, typed: pruning, refinement, the minimal fix and its changes.

Each block is a dataclass whose fields are the block's JSON keys in their documented order, so
``to_dict`` writes what summary.json has always held and ``from_dict`` reads a file an earlier
version wrote (a key it lacks reads as the field's default; one it does not know is ignored).
``tuning.search_summary.Summary`` holds them; readers take their attributes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

from autofix_lstm.run_dir import jsonable

B = TypeVar("B", bound="Block")


class Block:
    """A summary.json block: ``to_dict`` / ``from_dict`` over the dataclass's own fields."""

    # field name -> JSON key, where the key is not a Python name (``from``)
    KEYS: dict[str, str] = {}

    def to_dict(self) -> dict[str, Any]:
        """The block as summary.json holds it."""
        return jsonable({self.KEYS.get(f.name, f.name): getattr(self, f.name) for f in dataclasses.fields(self)})

    @classmethod
    def from_dict(cls: type[B], raw: dict[str, Any] | B | None) -> B | None:
        """The block from its JSON data (None stays None; a block is returned as it is).

        Raises:
            TypeError: ``raw`` is not a JSON object.
        """
        if raw is None or isinstance(raw, cls):
            return raw
        if not isinstance(raw, dict):
            raise TypeError(f"{cls.__name__} is a JSON object; got {type(raw).__name__}")
        names = {cls.KEYS.get(f.name, f.name): f.name for f in dataclasses.fields(cls)}
        return cls(**{names[key]: value for key, value in raw.items() if key in names})


@dataclass
class Pruning(Block):
    """What pruning saved (trials and epochs) and what the safety net's full re-runs found."""

    trials_pruned: int = 0
    epochs_saved: int | None = None
    reruns: list[dict[str, Any]] = field(default_factory=list)  # trial_id, rerun_of, fix, objective
    fixes_lost_to_pruning: int = 0


@dataclass
class Refinement(Block):
    """The trials that varied one field of a fix at a time: their budget, count and fixes."""

    budget: int | None = None
    trials: int = 0
    fixes: int = 0
    best_from_refinement: bool = False


@dataclass
class ChangeEffect(Block):
    """One of the best trial's changes, with the objective with every change and without this one."""

    KEYS = {"old": "from", "new": "to"}

    change: str | None = None  # what it changes in the spec, in words of the spec
    field: str | None = None
    old: Any = None
    new: Any = None
    description: str | None = None  # "scale the target (standard)"
    objective_with: float | None = None
    objective_without: float | None = None
    fix_without: bool | None = None

    @property
    def label(self) -> str:
        """How a chart names it: its description, else the spec lines, else the field."""
        return self.description or self.change or self.field or "?"


@dataclass
class Ablation(Block):
    """The minimal fix's figures (summary.json's ``minimal_fix``): whether it ran, its verdict and cost."""

    ran: bool = False
    reason: str | None = None
    complete: bool = True
    verdict: str | None = None
    changes_full: int | None = None
    changes_minimal: int | None = None
    objective_full: float | None = None
    objective_minimal: float | None = None
    fixed: bool | None = None
    beats_persistence: bool | None = None
    tolerance: float | None = None
    trainings: int = 0
    seconds: float = 0.0
    reused_trials: int = 0  # subsets a trial of the search had already trained (not trained again)


def changes_from(raw: list | None) -> list[ChangeEffect] | None:
    """A list of changes from summary.json (None stays None: the ablation did not run)."""
    return None if raw is None else [ChangeEffect.from_dict(item) for item in raw]


__all__ = ["Ablation", "Block", "ChangeEffect", "Pruning", "Refinement", "changes_from"]
