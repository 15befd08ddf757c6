"""The search space: Keras Tuner hyperparameters built from the strategies, the spec and the data.

Every hyperparameter is named after the spec field it changes (``preprocessing.target``). Choice
candidates are stored as text labels (Keras Tuner wants one type per Choice, and ``null`` sits
beside numbers), decoded back through ``SearchSpace.decode``. The spec's own value is always a
candidate and the default; candidates that cannot apply to this data (``difference`` without the
target among the features, ``log`` on targets <= -1) are left out, and so are candidates that
would produce the very same spec as another one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import keras_tuner as kt

from autofix_lstm.data.dataset import Dataset
from autofix_lstm.diagnosis.data_checks import PARAMS_PER_SAMPLE_WARNING
from autofix_lstm.diagnosis.findings import Severity
from autofix_lstm.remedies.fields import CONDITIONS, FIELDS, apply_values, spec_with_values
from autofix_lstm.remedies.strategies import FieldSpace, Strategy, strategies_for
from autofix_lstm.spec import Spec


def label(value: Any) -> str:
    """The text label of a candidate value (``None`` -> ``"null"``)."""
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e6:
        return repr(value)
    return value if isinstance(value, str) else json.dumps(value)


@dataclass
class SearchSpace:
    """The hyperparameters and how to turn a trial's values into a spec."""

    hyperparameters: kt.HyperParameters
    own: dict[str, Any]  # field -> the spec's own value
    choices: dict[str, dict[str, Any]] = field(default_factory=dict)  # field -> label -> value
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def fields(self) -> list[str]:
        """The fields being searched."""
        return [hp.name for hp in self.hyperparameters.space]

    def decode(self, values: dict[str, Any]) -> dict[str, Any]:
        """Trial values (labels) to field values; fields not in ``values`` keep the spec's own value."""
        out = {}
        for name in self.fields:
            if name not in values:
                continue
            raw = values[name]
            out[name] = self.choices[name][raw] if name in self.choices else _number(self.hyperparameter(name), raw)
        return out

    def hyperparameter(self, name: str):
        """The Keras Tuner hyperparameter that searches field ``name`` (a range's ``Int`` or ``Float``)."""
        return next(h for h in self.hyperparameters.space if h.name == name)

    def encode(self, field_values: dict[str, Any]) -> dict[str, Any]:
        """Field values to trial values (labels); unknown fields are dropped, missing ones get the own value."""
        out = {}
        for name in self.fields:
            value = field_values.get(name, self.own[name])
            if name in self.choices:
                wanted = label(value)
                if wanted not in self.choices[name]:
                    wanted = label(self.own[name])
                out[name] = wanted
            else:
                hp = self.hyperparameter(name)
                out[name] = _number(hp, min(max(float(value), hp.min_value), hp.max_value))
        return out

    def spec_for(self, spec: Spec, values: dict[str, Any]) -> Spec:
        """The user's spec with a trial's values applied (validated)."""
        return spec_with_values(spec, self.decode(values), self.context)


def build_space(spec: Spec, dataset: Dataset, strategies: list[Strategy]) -> SearchSpace:
    """Keras Tuner hyperparameters for the strategies that apply to this task and model.

    A field two strategies name (a built-in one and yours) is one hyperparameter: lists of values
    are joined (yours add to the built-in's); a range is the first strategy's.
    """
    raw = spec.to_dict()
    ctx = {"task": dataset.task, "n_classes": dataset.n_classes, "n_train": len(dataset.y_train),
           "n_outputs": dataset.n_outputs, "n_features": dataset.n_features}
    hp = kt.HyperParameters()
    space = SearchSpace(hyperparameters=hp, own={}, context=ctx)
    declared: dict[str, FieldSpace] = {}  # field -> its candidates, in the order strategies declare them
    for strategy in strategies:
        if not strategy.applies_to(dataset.task):
            continue
        for name, candidates in strategy.fields.items():
            if candidates.tasks is not None and dataset.task not in candidates.tasks:
                continue
            if candidates.when is not None and not CONDITIONS[candidates.when](raw, ctx):
                continue  # nothing for it to fix in this spec (the strategy file's ``when:``)
            earlier = declared.get(name)
            if earlier is None:
                declared[name] = candidates
            elif earlier.values is not None and candidates.values is not None:
                joined = earlier.values + [v for v in candidates.values if v not in earlier.values]
                declared[name] = earlier.model_copy(update={"values": joined})
    for name, candidates in declared.items():
        spec_field = FIELDS[name]
        own = spec_field.own(raw, ctx)
        if own is None and spec_field.needs_recurrent:
            continue  # no recurrent layer to change
        space.own[name] = own
        if candidates.range is not None:
            low, high = float(candidates.range["min"]), float(candidates.range["max"])
            if own is not None:
                low, high = min(low, float(own)), max(high, float(own))
            sampling = candidates.range.get("sampling", "linear")
            if _whole(candidates.range["min"], candidates.range["max"], own):
                # units, a window, a batch size: whole numbers in, whole numbers out (a float 12.7 fails every trial)
                hp.Int(name, int(low), int(high), sampling=sampling, default=None if own is None else int(own))
            else:
                hp.Float(name, low, high, sampling=sampling, default=float(own))
            continue
        labels: dict[str, Any] = {}
        produced: list[dict] = []
        for value in [own, *candidates.values]:
            if label(value) in labels or not spec_field.allowed(value, dataset):
                continue
            result = apply_values(raw, {name: value}, ctx)
            if result in produced:
                continue  # same spec as a candidate already listed
            produced.append(result)
            labels[label(value)] = value
        if len(labels) < 2:
            space.own.pop(name)
            continue
        space.choices[name] = labels
        hp.Choice(name, list(labels), default=label(own))
    return space


def seed_values(space: SearchSpace, strategies: list[Strategy], findings: list, limit: int) -> list[dict[str, Any]]:
    """Trial values for the first trials, from the strategies the diagnosis recommends.

    A strategy is wanted when its file lists an error or warning finding under ``findings:`` (the
    built-in files and the user's own alike). The first seed merges the default seeds of every
    wanted strategy; the next ones add the finding-specific seeds (e.g. a trend gets
    window-relative inputs and a differenced target). The tuner's own oracle takes over after these.
    """
    by_name = {s.name: s for s in strategies}
    active = [f for f in findings if f.severity in (Severity.ERROR, Severity.WARNING)]
    wanted: list[str] = []
    for finding in active:
        for name in strategies_for(finding.id, strategies):
            if name not in wanted:
                wanted.append(name)
    merged: dict[str, Any] = {}
    for name in wanted:
        merged.update(by_name[name].seed.get("default", {}))
    seeds = [merged] if merged else []
    finding_ids = [f.id for f in active]
    for name in wanted:
        for key, values in by_name[name].seed.items():
            if key != "default" and key in finding_ids:
                seeds.insert(0, {**merged, **values})
    if "too_little_data" in finding_ids and seeds:
        width = capacity_units(space)
        if width is not None:  # one layer as wide as the windows carry, right after the first seed
            seeds.insert(1, {**seeds[0], "architecture.depth": 1, "architecture.units": width})
    encoded: list[dict[str, Any]] = []
    own = space.encode({})
    for seed in seeds:
        values = space.encode(seed)
        if values != own and values not in encoded:
            encoded.append(values)
    return encoded[: max(0, limit)]


def capacity_units(space: SearchSpace) -> int | None:
    """The widest ``architecture.units`` candidate whose one-layer model has at most
    ``PARAMS_PER_SAMPLE_WARNING`` trainable weights per training window (the smallest candidate when
    none has); None when the space searches no width or no depth.

    A one-layer LSTM of ``u`` units on ``f`` features with a dense head of ``o`` outputs has
    ``4u(u + f + 1) + o(u + 1)`` weights.
    """
    if "architecture.units" not in space.choices or "architecture.depth" not in space.fields:
        return None
    n_train = max(int(space.context.get("n_train") or 1), 1)
    features = int(space.context.get("n_features") or 1)
    outputs = int(space.context.get("n_outputs") or 1)
    widths = sorted(int(v) for v in space.choices["architecture.units"].values() if isinstance(v, int) and v > 0)
    if not widths:
        return None
    fitting = [u for u in widths if 4 * u * (u + features + 1) + outputs * (u + 1) <= PARAMS_PER_SAMPLE_WARNING * n_train]
    return fitting[-1] if fitting else widths[0]


def _whole(*values) -> bool:
    """Every value given is an int (a bool is not; None, the spec's own when absent, is left out)."""
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values if v is not None)


def _number(hp, value) -> int | float:
    """A range field's value as its hyperparameter holds it: a whole number for an ``Int``, else a float."""
    return int(round(float(value))) if isinstance(hp, kt.engine.hyperparameters.Int) else float(value)
