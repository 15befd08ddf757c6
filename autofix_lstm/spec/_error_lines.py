"""Pydantic's validation errors as problem lines naming their field: ``data.window must be >= 1, got 0``."""

from __future__ import annotations

import re

# Parts pydantic adds to an error's location to name a union member or a validator, not a field.
_UNION_TAG = re.compile(r"^(literal|list|dict|tuple|set|union|tagged-union|nullable|is-instance)\[.*\]$|^(str|int|float|bool|none)$")
_VALIDATOR_TAG = re.compile(r"^function-[a-z-]+(\[.*\])?$")
_TYPE_WORDS = {"str": "a string", "int": "a whole number", "float": "a number", "bool": "true or false", "none": "null"}


def _describe_tag(tag: str) -> str:
    """``literal['all']`` -> ``'all'``, ``list[str]`` -> ``a list of strings``,
    ``dict[int,float]`` -> ``a mapping of whole numbers to finite numbers``."""
    if tag.startswith("literal["):
        return tag[len("literal[") : -1].replace(",", " or ")
    if tag.startswith("list["):
        member = tag[len("list[") : -1]
        inner = _TYPE_WORDS.get(member)
        if member.startswith("union[") and "str" in member and "dict[" in member:
            return "a list of strings and mappings"  # search.strategies: names, paths and inline strategies
        return f"a list of {inner.split(' ', 1)[1]}s" if inner and inner.startswith("a ") else "a list"
    if tag.startswith("dict["):
        # the spec's floats are always finite (allow_inf_nan=False), so say so for a mapping's values
        words = [_TYPE_WORDS.get(part.strip(), "") for part in tag[len("dict[") : -1].split(",")]
        if len(words) == 2 and all(w.startswith("a ") for w in words):
            keys, values = (w.split(" ", 1)[1] + "s" for w in words)
            return f"a mapping of {keys} to {'finite ' if values == 'numbers' else ''}{values}"
        return "a mapping"
    return _TYPE_WORDS.get(tag, tag)


def _split_location(loc: tuple) -> tuple[str, str | None]:
    """The dotted field path of ``loc`` and the union member it names, if any."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _VALIDATOR_TAG.match(str(part)) or part == "[key]":
            continue
        elif _UNION_TAG.match(str(part)):
            return out or "spec", str(part)
        else:
            out += ("." if out else "") + str(part)
    return out or "spec", None


def _format_location(loc: tuple) -> str:
    return _split_location(loc)[0]


def _format_problem(error: dict) -> str:
    """One line per problem (a validator's message may hold several lines, each naming its field)."""
    loc = _format_location(tuple(error["loc"]))
    kind = error["type"]
    ctx = error.get("ctx", {}) or {}
    received = error.get("input")
    got = f", got {received!r}"
    if kind == "extra_forbidden":
        return f"{loc} is not a known key; remove it or check its spelling"
    if kind == "missing":
        return f"{loc} is required"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        bound = next(iter(ctx.values()))
        return f"{loc} must be {op} {bound}{got}"
    if kind == "too_short":
        return f"{loc} must hold at least {ctx.get('min_length', 1)} item(s){got}"
    if kind == "literal_error":
        return f"{loc} must be {ctx.get('expected', 'one of the allowed values')}{got}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{loc} must be a whole number{got}"
    if kind == "finite_number":
        return f"{loc} must be a finite number{got}"
    if kind in ("float_parsing", "float_type"):
        return f"{loc} must be a number{got}"
    if kind in ("bool_parsing", "bool_type"):
        return f"{loc} must be true or false{got}"
    if kind in ("string_type",):
        return f"{loc} must be a string{got}"
    if kind in ("list_type",):
        return f"{loc} must be a list{got}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"{loc} must be a mapping of keys to values{got}"
    if kind == "value_error":
        message = str(ctx.get("error", error.get("msg", "")))
        lines = []
        for line in message.splitlines() or [""]:
            if line.startswith((".", "[")):  # names a field under loc
                lines.append(f"{loc}{line}" if loc != "spec" else line.lstrip("."))
            else:
                lines.append(f"{loc} {line}" if loc != "spec" else line)
        return "\n".join(lines)
    return f"{loc}: {error.get('msg', kind)}{got}"


def _format_errors(errors: list[dict]) -> list[str]:
    """Pydantic's errors as problem lines; a value that fits no member of a union gets ONE line."""
    lines: list[str] = []
    unions: dict[str, list] = {}  # field path -> [member descriptions, the value given]
    for error in errors:
        loc, member = _split_location(tuple(error["loc"]))
        if member is None:
            lines.extend(_format_problem(error).splitlines())
            continue
        if loc not in unions:
            unions[loc] = [[], error.get("input")]
            lines.append(loc)  # placeholder, filled in below, keeps the order
        described = _describe_tag(member)
        if described not in unions[loc][0]:
            unions[loc][0].append(described)
        if error["loc"][-1] == member:  # an error on the member itself carries the whole value given
            unions[loc][1] = error.get("input")
    out: list[str] = []
    for line in lines:
        if line in unions:
            members, given = unions.pop(line)
            line = f"{line} must be {' or '.join(members)}, got {given!r}"
        if line not in out:
            out.append(line)
    return out
