"""How numbers and values are written for people: the one set of formatters every message uses.

Verdicts, change lists, findings, the CLI's tables and the HTML report all write numbers through
these functions, so the same value reads the same everywhere. Plain text only (no markup): the
caller escapes for HTML or rich.
"""

from __future__ import annotations

import math
from typing import Any

MISSING = "-"


def as_number(value: Any) -> float | None:
    """``value`` as a finite float, or None (CSV blanks, NaN, None, text)."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def number(value: Any, digits: int = 3) -> str:
    """A number to ``digits`` significant digits; a dash for None, NaN or inf."""
    finite = as_number(value)
    return MISSING if finite is None else f"{finite:.{digits}g}"


def cell(value: Any) -> str:
    """A table cell, rounded for reading: 3 significant digits (0.937, 12.3, 0.000316), whole numbers with
    thousands separators from 1,000 up (18,978, never 1.898e+04), yes/no for booleans, a dash for None/NaN,
    text as it is."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        finite = as_number(value)
        if finite is not None and abs(finite) >= 1000:
            return f"{finite:,.0f}"
        return number(value, 3)
    return str(value)


def first_line(text: str | None, limit: int = 240) -> str | None:
    """The first non-empty line of ``text``, cut to ``limit`` characters with "..." (None for no text)."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        return None
    return lines[0] if len(lines[0]) <= limit else lines[0][: limit - 3] + "..."


def plural(count: Any, word: str, many: str | None = None) -> str:
    """``1 trial``, ``2 trials``, ``0 trials``; a dash for an unknown count (``- trials``)."""
    if count is None:
        return f"{MISSING} {many or word + 's'}"
    return f"{count} {word if count == 1 else many or word + 's'}"


def setting(value: Any) -> str:
    """A spec value as YAML would read it: ``null`` for None, 4 significant digits for floats."""
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _evidence_value(value: Any) -> str:
    """One evidence value: leaves as ``cell`` writes them, dicts as ``{key: value}``, lists as ``[a, b]``."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_evidence_value(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_evidence_value(item) for item in value) + "]"
    return cell(value)


def evidence_lines(evidence: dict, limit: int | None = 10, width: int = 160) -> list[str]:
    """A finding's evidence as ``key: value`` lines, the one way the CLI, the notebook and the report show it.

    Numbers have 4 significant digits (``cell``), nested values are written compactly and cut to
    ``width`` characters with ``...``; past ``limit`` keys (None: no limit) one ``... N more`` line
    says how many were left out.
    """
    items = list(evidence.items())
    shown = items if limit is None else items[:limit]
    lines = []
    for key, value in shown:
        text = _evidence_value(value)
        if len(text) > width:
            text = text[: max(width - 3, 0)] + "..."
        lines.append(f"{key}: {text}")
    if len(items) > len(shown):
        lines.append(f"... {len(items) - len(shown)} more")
    return lines
