"""Refinement: the trials spent near a good configuration before the oracle explores far away.

``neighbours`` lists the trial values that differ from a configuration in one field each, nearest
first. ``Refinement`` is how the search refines in this run: which fields come first (the capacity
fields on little data, the learning rate, width and regularisation around a spec that already works),
which fields try a smaller value before a larger one, and how far a continuous step goes. Around a fix
far below what a simple model reaches on the same windows, the capacity fields come first, larger
values first: the search widens before it settles. A step that brought no gain either way is halved
(on a log scale: x3 becomes x1.73) and queued once, after every other field's nearest neighbour, so a
fix found early can reach its neighbour's optimum instead of stopping at the x3 grid, without the
learning rate taking the whole refinement budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autofix_lstm.diagnosis.findings import Severity
from autofix_lstm.tuning.space import SearchSpace, _number, label

RATE_STEP = 3.0  # a refinement moves a continuous field by this factor up and down
NARROWEST_STEP = 1.5  # a step narrowed below this is not tried: the rest is noise between seeds

# Too many weights for the windows (``too_little_data``): depth and width reductions come first.
CAPACITY_FIELDS = ("architecture.depth", "architecture.units")
# Around a spec that already works: its own learning rate, width and regularisation first.
NEAR_WORKING_FIELDS = ("model.optimizer.learning_rate", "architecture.units", "dropout.rate",
                       "dropout.recurrent", "regularization.factor")
# A fix far below what the signal probe reaches (``scoring.signal.far_below``): more capacity first.
WIDEN_FIELDS = ("architecture.units", "architecture.depth", "architecture.hidden_dense_units")


def _alternatives(space: SearchSpace, name: str, current: Any, step: float, smaller_first: bool) -> list[Any]:
    """Values of field ``name`` next to ``current``, nearest first (smaller ones first if ``smaller_first``)."""
    if name not in space.choices:
        hp = space.hyperparameter(name)
        out = []
        moves = (1 / step, step) if smaller_first else (step, 1 / step)
        for factor in moves:
            value = _number(hp, min(max(float(current) * factor, hp.min_value), hp.max_value))
            if not np.isclose(value, float(current)) and value not in out:
                out.append(value)
        return out
    values = list(space.choices[name].values())
    others = [v for v in values if label(v) != label(current)]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    if numeric and isinstance(current, (int, float)):
        above = sorted(v for v in others if v > current)
        below = sorted((v for v in others if v < current), reverse=True)
        if smaller_first:  # every reduction, nearest first, before any increase
            return below + above
        out = []
        for index in range(max(len(above), len(below))):
            out += [side[index] for side in (above, below) if index < len(side)]
        return out
    own = space.own[name]
    if label(current) != label(own):
        others = [v for v in others if label(v) != label(own)] + [own]  # the user's own value: last
    return others


def neighbours(space: SearchSpace, values: dict[str, Any], *, step: float = RATE_STEP,
               first: tuple[str, ...] = (), smaller_first: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Trial values that differ from a configuration's ``values`` (field values) in one field each.

    Continuous fields (the learning rate) come first, moved by ``step`` both ways; then the fields
    named in ``first``; then the fields the configuration still holds at the spec's own value
    (incidental values a seed carried, like a recurrent dropout of 0.9 kept from the spec); then the
    rest. Within a group the nearest alternative of every field is tried before any field's second
    one; a field in both ``first`` and ``smaller_first`` offers only its smaller values (nearest first)
    up front, its larger ones with the rest.
    """
    current = {name: values.get(name, space.own[name]) for name in space.fields}

    def rank(name: str) -> int:
        if name not in space.choices:
            return 0
        if name in first:
            return 1
        return 2 if label(current[name]) == label(space.own[name]) else 3

    order = sorted(space.fields, key=rank)  # stable: registry order within a rank
    options = {name: _alternatives(space, name, current[name], step, name in smaller_first) for name in order}
    # Continuous fields offer both directions at once; then the ``first`` fields, then the others, each
    # group's nearest alternatives before any second one. A ``smaller_first`` choice field's increases
    # wait with the other fields: its reductions are what comes first.
    queue = []
    for position, name in enumerate(order):
        group = min(rank(name), 2)
        if group == 1 and name in smaller_first and _is_number(current[name]):
            smaller = [v for v in options[name] if _is_number(v) and v < current[name]]
            larger = [v for v in options[name] if v not in smaller]
            queue += [(1, depth, position, v) for depth, v in enumerate(smaller)]
            queue += [(2, depth, position, v) for depth, v in enumerate(larger)]
            continue
        queue += [(group, 0 if group == 0 else depth, position, v) for depth, v in enumerate(options[name])]
    out: list[dict[str, Any]] = []
    own = space.encode(current)
    for *_, position, value in sorted(queue, key=lambda item: item[:3]):
        candidate = space.encode({**current, order[position]: value})
        if candidate not in out and candidate != own:
            out.append(candidate)
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def narrower_steps(space: SearchSpace, values: dict[str, Any], name: str, step: float) -> list[dict[str, Any]]:
    """Continuous field ``name`` moved by ``sqrt(step)`` both ways from ``values`` (field values); none
    when that step is below ``NARROWEST_STEP`` or ``name`` is a choice."""
    narrower = math.sqrt(step)
    if name in space.choices or narrower < NARROWEST_STEP:
        return []
    return neighbours_of_field(space, values, name, narrower)


@dataclass
class Refinement:
    """How this search refines: fields first, fields whose smaller values come first, the step."""

    first: tuple[str, ...] = ()
    smaller_first: tuple[str, ...] = ()
    step: float = RATE_STEP
    narrowed: set[str] = field(default_factory=set)  # continuous fields already narrowed around the centre
    nearest: list[dict[str, Any]] = field(default_factory=list)  # each field's nearest neighbour of the centre

    def around(self, space: SearchSpace, values: dict[str, Any], *, widen: bool = False) -> list[dict[str, Any]]:
        """The neighbourhood of ``values`` (field values) this search tries, nearest first; with ``widen``
        (a fix far below the signal probe) the capacity fields come first, larger values before smaller."""
        self.narrowed = set()
        first, smaller = (WIDEN_FIELDS, ()) if widen else (self.first, self.smaller_first)
        out = neighbours(space, values, step=self.step, first=first, smaller_first=smaller)
        own = space.encode({n: values.get(n, space.own[n]) for n in space.fields})
        changed = [_changed_field(space, own, c) for c in out]
        first_of: dict[str, int] = {}
        for index, name in enumerate(changed):
            first_of.setdefault(name, index)
        self.nearest = [c for i, (c, name) in enumerate(zip(out, changed))
                        if first_of[name] == i or name not in space.choices]
        return out

    def insert_at(self, queue: list[dict[str, Any]]) -> int:
        """Where narrowed steps go in the refinement ``queue``: after every field's nearest neighbour still
        queued (a narrower learning rate waits until the other fields had their first try)."""
        positions = [i for i, c in enumerate(queue) if c in self.nearest]
        return positions[-1] + 1 if positions else 0

    def narrow(self, space: SearchSpace, centre: dict[str, Any], finished: list[dict[str, Any]],
               tried: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Once a continuous field's ``step`` was tried both ways from ``centre`` (field values), the
        centre still the best, its narrower steps (``narrower_steps``) not yet tried, each field once per
        centre; ``finished`` and ``tried`` hold the trial values that ended and that started."""
        out = []
        for name in space.fields:
            if name in space.choices or name in self.narrowed:
                continue
            wide = neighbours_of_field(space, centre, name, self.step)
            if wide and all(candidate in finished for candidate in wide):
                self.narrowed.add(name)
                out += [c for c in narrower_steps(space, centre, name, self.step) if c not in tried]
        return out


def _changed_field(space: SearchSpace, own: dict[str, Any], candidate: dict[str, Any]) -> str | None:
    """The field a neighbour changes from the centre's trial values ``own``."""
    return next((name for name in space.fields if candidate.get(name) != own.get(name)), None)


def neighbours_of_field(space: SearchSpace, values: dict[str, Any], name: str, step: float) -> list[dict[str, Any]]:
    """The trial values that move only continuous field ``name`` by ``step`` both ways from ``values``."""
    current = {n: values.get(n, space.own[n]) for n in space.fields}
    own = space.encode(current)
    return [c for c in (space.encode({**current, name: v})
                        for v in _alternatives(space, name, current[name], step, smaller_first=False)) if c != own]


def refinement_for(findings: list, baseline_works: bool) -> Refinement:
    """The refinement a search with these diagnosis ``findings`` uses: capacity reductions first when
    the model has too many weights for its windows (``too_little_data``), the learning-rate, width
    and regularisation neighbourhood first around a spec that already works."""
    active = {f.id for f in findings if f.severity in (Severity.ERROR, Severity.WARNING)}
    if "too_little_data" in active:
        return Refinement(first=CAPACITY_FIELDS, smaller_first=CAPACITY_FIELDS)
    if baseline_works:
        return Refinement(first=NEAR_WORKING_FIELDS)
    return Refinement()
