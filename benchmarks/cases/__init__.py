"""The benchmark suite: LSTM specs that collapse for one known reason each, plus two controls.

Each case is a folder ``benchmarks/cases/<name>/`` holding the user's ``spec.yaml``, its data
file (made by ``make_cases.py``), a hand-written ``reference_fix.yaml`` for fixable cases, a
``returned_fix.yaml`` where a benchmark search's best was kept (``benchmarks/keep_fixes.py``), and a
``case.yaml`` that records why it collapses and what a good fix achieves. ``list_cases`` reads
them all so a runner can iterate::

    from benchmarks.cases import list_cases

    for case in list_cases():
        print(case.name, case.category, case.spec, case.good_fix)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CASES_DIR = Path(__file__).resolve().parent

CATEGORIES = (
    "unscaled_inputs",
    "unscaled_target",
    "output_activation",
    "vanishing_gradients",
    "exploding_gradients",
    "learning_rate_too_high",
    "learning_rate_too_low",
    "slow_optimizer",
    "excess_dropout",
    "model_size",
    "class_imbalance",
    "trend",
    "loss_mistake",
    "training_length",
    "bottleneck",
    "healthy_control",
    "negative_control",
    "regularization",
    "stateful",
)
CONTROL_CATEGORIES = ("healthy_control", "negative_control")
TASKS = ("regression", "binary", "multiclass")

# case.yaml key -> expected Python type(s)
_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "cause": str,
    "category": str,
    "expect_collapsed_baseline": bool,
    "expect_fixable": bool,
    "good_fix": dict,
    "real_data": bool,
    "data_source": dict,
    "forecasting": bool,
    "task": str,
    "multivariate": bool,
    "remedies": list,
}
_OPTIONAL = {"notes": str}


RETURNED_FIX = "returned_fix.yaml"


class CaseError(ValueError):
    """A case folder or its case.yaml is not usable; the message names the file and the problem."""


@dataclass(frozen=True)
class Case:
    """One benchmark case: where its specs are and what it should do.

    ``good_fix`` maps ``<metric>_min`` / ``<metric>_max`` to a threshold on the foundation's
    validation metrics (``r2_min``, ``balanced_accuracy_min``, ...).
    """

    name: str
    folder: Path
    spec: Path  # the user's spec, as written
    reference_fix: Path | None  # a hand-written fixed spec; None for the controls
    cause: str
    category: str
    expect_collapsed_baseline: bool
    expect_fixable: bool
    good_fix: dict[str, float]
    real_data: bool
    data_source: dict[str, Any]
    forecasting: bool  # True when persistence (predict the last observed value) applies
    task: str
    multivariate: bool
    remedies: tuple[str, ...]  # the strategies the reference fix uses
    notes: str | None = None
    returned_fix: Path | None = None  # the fix a benchmark search returned (benchmarks/keep_fixes.py)

    @property
    def is_control(self) -> bool:
        """True for the healthy and the negative control."""
        return self.category in CONTROL_CATEGORIES

    def good_fix_failures(self, metrics: dict) -> list[str]:
        """The ``good_fix`` thresholds that ``metrics`` misses, as readable lines (empty when all are met).

        A collapsed model never meets the good fix, whatever its other numbers.
        """
        failures = []
        if metrics.get("collapsed", True):
            failures.append("collapsed is true")
        for key, threshold in self.good_fix.items():
            metric, bound = key.rsplit("_", 1)
            value = metrics.get(metric)
            if value is None:
                failures.append(f"{metric} is missing or null (needs {bound} {threshold})")
            elif bound == "min" and value < threshold:
                failures.append(f"{metric} {value:.4g} < {threshold}")
            elif bound == "max" and value > threshold:
                failures.append(f"{metric} {value:.4g} > {threshold}")
        return failures

    def meets_good_fix(self, metrics: dict) -> bool:
        """True when ``metrics`` (a foundation metrics dict) is not collapsed and meets every threshold."""
        return not self.good_fix_failures(metrics)


def _check_fields(raw: Any) -> list[str]:
    if not isinstance(raw, dict):
        return [f"must be a mapping of keys to values, got {type(raw).__name__}"]
    problems = []
    for key, kind in _REQUIRED.items():
        if key not in raw:
            problems.append(f"{key} is required")
        elif not isinstance(raw[key], kind):
            problems.append(f"{key} must be a {kind.__name__}, got {raw[key]!r}")
    for key in sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL)):
        problems.append(f"{key} is not a known key; remove it or check its spelling")
    if isinstance(raw.get("category"), str) and raw["category"] not in CATEGORIES:
        problems.append(f"category must be one of {', '.join(CATEGORIES)}, got {raw['category']!r}")
    if isinstance(raw.get("task"), str) and raw["task"] not in TASKS:
        problems.append(f"task must be one of {', '.join(TASKS)}, got {raw['task']!r}")
    for key, value in (raw.get("good_fix") or {}).items():
        if not str(key).endswith(("_min", "_max")):
            problems.append(f"good_fix.{key} must end in _min or _max")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"good_fix.{key} must be a number, got {value!r}")
    return problems


def load_case(folder: str | Path) -> Case:
    """Read one case folder.

    Raises:
        CaseError: case.yaml or spec.yaml is missing, or case.yaml breaks the schema (one line per problem).
    """
    folder = Path(folder).resolve()
    source = folder / "case.yaml"
    if not source.is_file():
        raise CaseError(f"{source}: not found; every case folder needs a case.yaml")
    spec = folder / "spec.yaml"
    if not spec.is_file():
        raise CaseError(f"{spec}: not found; every case folder needs the user's spec.yaml")
    raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    problems = _check_fields(raw)
    if problems:
        raise CaseError(f"{source}: " + "; ".join(problems))
    fix = folder / "reference_fix.yaml"
    if raw["expect_fixable"] and not fix.is_file():
        raise CaseError(f"{source}: expect_fixable is true but {fix.name} is missing; add the hand-written fixed spec")
    return Case(
        name=folder.name,
        folder=folder,
        spec=spec,
        reference_fix=fix if fix.is_file() else None,
        cause=raw["cause"],
        category=raw["category"],
        expect_collapsed_baseline=raw["expect_collapsed_baseline"],
        expect_fixable=raw["expect_fixable"],
        good_fix={k: float(v) for k, v in raw["good_fix"].items()},
        real_data=raw["real_data"],
        data_source=dict(raw["data_source"]),
        forecasting=raw["forecasting"],
        task=raw["task"],
        multivariate=raw["multivariate"],
        remedies=tuple(raw["remedies"]),
        notes=raw.get("notes"),
        returned_fix=folder / RETURNED_FIX if (folder / RETURNED_FIX).is_file() else None,
    )


def list_cases(names: list[str] | None = None) -> list[Case]:
    """Every case in ``benchmarks/cases/`` sorted by name, or just the ``names`` given (in that order).

    Raises:
        CaseError: a named case does not exist (the message lists the valid names), or a case is malformed.
    """
    available = sorted(p.name for p in CASES_DIR.iterdir() if (p / "case.yaml").is_file())
    if names is None:
        return [load_case(CASES_DIR / name) for name in available]
    unknown = [n for n in names if n not in available]
    if unknown:
        raise CaseError(f"unknown case {', '.join(map(repr, unknown))}; expected one of {', '.join(available)}")
    return [load_case(CASES_DIR / name) for name in names]


def get_case(name: str) -> Case:
    """The case called ``name``; raises ``CaseError`` naming the valid ones."""
    return list_cases([name])[0]


__all__ = ["CASES_DIR", "CATEGORIES", "Case", "CaseError", "get_case", "list_cases", "load_case"]
