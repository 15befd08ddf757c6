"""Remedy strategies: the declarative files in ``strategies/`` (built in) and the user's own.

A strategy file (YAML) names the spec fields it changes, their candidate values or range, the
tasks it applies to, the diagnosis findings that make it a priority (``findings:``: the one place
that link is declared, for built-in and user files alike), and the seed values the first trials
try. A strategy file may only name fields registered in ``autofix_lstm.remedies.fields`` and
finding ids in ``autofix_lstm.finding_ids``. The built-in files are package data, read through
``autofix_lstm.resources.builtin_strategy_texts``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from autofix_lstm.errors import SpecError
from autofix_lstm.finding_ids import FINDING_IDS
from autofix_lstm.remedies.fields import CONDITIONS, FIELDS
from autofix_lstm.resources import builtin_strategy_texts
from autofix_lstm.spec import safe_load_unique
from autofix_lstm.spec._paths import expand_user

TASKS = ("regression", "binary", "multiclass")


class FieldSpace(BaseModel):
    """The candidates of one field: a list of ``values`` or a numeric ``range``; ``when`` (optional) names
    the condition under which the field is searched at all (``remedies.fields.CONDITIONS``)."""

    model_config = ConfigDict(extra="forbid")

    values: list[Any] | None = None
    range: dict[str, Any] | None = None
    tasks: list[Literal["regression", "binary", "multiclass"]] | None = None
    when: str | None = None

    @field_validator("when")
    @classmethod
    def _known_condition(cls, value: str | None) -> str | None:
        if value is not None and value not in CONDITIONS:
            raise ValueError(f"must be one of {', '.join(CONDITIONS)}, got {value!r}")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> FieldSpace:
        if (self.values is None) == (self.range is None):
            raise ValueError("give exactly one of 'values' (a list) or 'range' ({min, max, sampling})")
        if self.values is not None and not self.values:
            raise ValueError("values must list at least one candidate, got []; add the values to try, or remove the field")
        if self.range is not None:
            unknown = set(self.range) - {"min", "max", "sampling"}
            if unknown or not {"min", "max"} <= set(self.range):
                raise ValueError(f"range needs min and max (and optional sampling: linear|log), got {self.range}")
            if self.range.get("sampling", "linear") not in ("linear", "log"):
                raise ValueError(f"range.sampling must be linear or log, got {self.range['sampling']!r}")
            if not float(self.range["min"]) < float(self.range["max"]):
                raise ValueError(f"range.min must be < range.max, got {self.range}")
        return self


class Strategy(BaseModel):
    """One remedy strategy, as declared in its file."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    tasks: list[Literal["regression", "binary", "multiclass"]] = Field(default_factory=lambda: list(TASKS))
    findings: list[str] = Field(default_factory=list)
    fields: dict[str, FieldSpace]
    seed: dict[str, dict[str, Any]] = Field(default_factory=dict)
    _file: str | None = PrivateAttr(default=None)  # where the user's came from, for messages (None: built in)

    @model_validator(mode="after")
    def _known_fields(self) -> Strategy:
        if not self.fields:
            raise ValueError(
                f"fields must name at least one field to change, got {{}}; known fields are {sorted(FIELDS)}"
            )
        unknown = sorted(set(self.fields) - set(FIELDS))
        if unknown:
            raise ValueError(f"fields {unknown} are not known; known fields are {sorted(FIELDS)}")
        stray_ids = sorted(set(self.findings) - set(FINDING_IDS))
        if stray_ids:
            raise ValueError(f"findings {stray_ids} are not finding ids; known ids are {', '.join(FINDING_IDS)}")
        for key, values in self.seed.items():
            stray = sorted(set(values) - set(self.fields))
            if stray:
                raise ValueError(f"seed.{key} sets {stray}, which are not among this strategy's fields")
        return self

    def applies_to(self, task: str) -> bool:
        """True when the strategy is for ``task``."""
        return task in self.tasks

    def answers(self, finding_id: str) -> bool:
        """True when this strategy's file names ``finding_id`` among the findings it remedies."""
        return finding_id in self.findings


def _load_file(path_or_text: Path | str, origin: str) -> Strategy:
    try:
        raw = safe_load_unique(path_or_text)  # a key given twice is refused, as in the spec
    except yaml.YAMLError as err:
        raise SpecError(f"strategy file {origin} is not valid YAML: {err}") from None
    if raw is None:
        raise SpecError(f"strategy file {origin} is empty; it needs at least 'name' and 'fields' (the fields it changes)")
    return _validated(raw, f"strategy file {origin}")


def _validated(raw: Any, origin: str) -> Strategy:
    """A strategy from its mapping, refused naming ``origin`` and each key that is wrong."""
    try:
        return Strategy.model_validate(raw)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            where = ".".join(map(str, e["loc"]))
            problems.append(f"{origin}: {where + ' ' if where else ''}{e['msg'].removeprefix('Value error, ')}")
        raise SpecError(problems) from None


def builtin_strategies() -> dict[str, Strategy]:
    """The strategies shipped with the package, by name."""
    out = {}
    for file_name, text in builtin_strategy_texts().items():
        strategy = _load_file(text, file_name)
        out[strategy.name] = strategy
    return out


def get_strategy(name: str) -> Strategy:
    """A built-in strategy by name; fails naming the valid ones."""
    known = builtin_strategies()
    if name not in known:
        raise SpecError(f"search.strategies names unknown strategy {name!r}; expected one of {', '.join(known)} or a .yaml path")
    return known[name]


def resolve_strategies(selection: str | list, base_dir: Path) -> list[Strategy]:
    """The strategies ``search.strategies`` selects: ``all``, or a list of names, paths to files and
    strategies written inline (a mapping, as a file holds it; checked the same way).

    ``all`` in a list stands for every built-in strategy, so ``[all, mine.yaml]`` adds your file to
    them; a strategy of yours whose ``name`` is a built-in's takes that built-in's place.
    """
    if selection == "all":
        return list(builtin_strategies().values())
    out = []
    for position, item in enumerate(selection):
        if isinstance(item, dict):
            origin = f"search.strategies[{position}]"
            strategy = _validated(item, origin)
            strategy._file = origin  # the user's: its values are checked against the spec (check_candidates)
            out.append(strategy)
            continue
        if item == "all":
            out.extend(builtin_strategies().values())
            continue
        if item.endswith((".yaml", ".yml")):
            path = expand_user(item, "search.strategies names")
            path = path if path.is_absolute() else base_dir / path
            if not path.is_file():
                raise SpecError(f"search.strategies names {item!r}, but no file is at {path}")
            try:  # as for the spec file: bytes that are not UTF-8 text are refused, not a traceback
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as err:
                raise SpecError(f"search.strategies names {item!r}, but the strategy file {path} cannot be read: {err}; "
                                "save it as UTF-8 text") from None
            strategy = _load_file(text, str(path))
            strategy._file = f"strategy file {path}"
            out.append(strategy)
        else:
            out.append(get_strategy(item))
    return _one_per_name(out)


def _one_per_name(strategies: list[Strategy]) -> list[Strategy]:
    """The strategies, one per name: the last one given with a name wins, in the place of the first."""
    last = {strategy.name: strategy for strategy in strategies}
    out: list[Strategy] = []
    for strategy in strategies:
        if last[strategy.name] not in out:
            out.append(last[strategy.name])
    return out


def strategies_for(finding_id: str, strategies: list[Strategy]) -> list[str]:
    """The names of the strategies (in the order given) whose files list ``finding_id`` under ``findings:``."""
    return [s.name for s in strategies if s.answers(finding_id)]


def check_candidates(strategies: list[Strategy], spec, dataset) -> None:
    """Refuse a user's strategy file whose candidate values make no valid spec (``units: [lol]``).

    Each value (a range's two ends) is applied to ``spec`` alone and the result validated, as a
    trial would; a value that cannot apply to this data (``allowed``) is skipped, as the search skips
    it. The built-in files are held to this by their contract test instead (it would cost every run).

    Raises:
        SpecError: one line per bad value, naming the file, the field, the value and why.
    """
    from autofix_lstm.remedies.fields import spec_with_values

    ctx = {"task": dataset.task, "n_classes": dataset.n_classes, "n_train": len(dataset.y_train),
           "n_outputs": dataset.n_outputs}
    problems = []
    for strategy in strategies:
        if strategy._file is None or not strategy.applies_to(dataset.task):
            continue
        for name, space in strategy.fields.items():
            values = space.values if space.values is not None else [space.range["min"], space.range["max"]]
            for value in values:
                try:
                    if FIELDS[name].allowed(value, dataset):
                        spec_with_values(spec, {name: value}, ctx)
                except SpecError as err:
                    why = "; ".join(getattr(err, "problems", None) or [str(err)])
                    problems.append(f"{strategy._file}: fields.{name} value {value!r} makes no valid "
                                    f"spec: {why}")
                except (TypeError, ValueError, KeyError, AttributeError) as err:  # a value the field cannot write
                    problems.append(f"{strategy._file}: fields.{name} value {value!r} cannot be "
                                    f"applied ({type(err).__name__}: {err}); give values of the field's kind")
    if problems:
        raise SpecError(problems)
