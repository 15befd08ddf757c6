"""Property-based fuzzing of the CLI's input handling: bad specs and data files must be refused cleanly.

Each example starts from a small valid input (a spec and its data: a regression, binary or multiclass
table as CSV or Parquet, or already windowed ``.npz`` arrays) and applies ONE fault drawn by
hypothesis: a spec value of the wrong type or out of range, a key deleted, unknown or given twice, a
junk or truncated spec or data file, NaN/inf/text placed in any cell or array (under each
``data.missing`` mode), a data path that is a folder or names nothing. The example then runs
``autofix-lstm check`` in-process through typer's CliRunner (the validation every command does,
without training), and ``train`` or ``diagnose`` as well where ``check`` refused it or, for a
sample of the accepted inputs, to see them run (1 epoch on tiny data). Each run must either
succeed (exit 0) or be refused with exit 2 or 3 and only error lines on stderr, one line per
problem (a single fault can make several). A traceback (an uncaught exception), another exit code
or anything else on stderr is a violation; so is a fault that must be refused (a key given twice,
an unknown key, a count above its limit, NaN in a used column under ``missing: error``) but ran.

    .venv/bin/python -m benchmarks.fuzz [--examples 300] [--seed 0] [--run-accepted 0.2] [--results DIR]

writes ``fuzz.json`` (every outcome, and each violation with its input) and ``fuzz.md``. The
fast subset in the test suite is ``tests/test_fuzz.py`` (30 examples, ``check`` and refusals only).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ROWS = 96  # rows in a base table: 60 training / 15 validation windows of 8, enough for every check
WINDOW = 8
BASES = ("regression_csv", "binary_csv", "multiclass_csv", "regression_parquet", "windows_npz")
MISSING_MODES = ("error", "drop", "ffill", "interpolate")
COMMANDS = ("train", "train", "train", "diagnose")  # run after `check`; diagnose on a quarter of the examples

# --- the valid starting points ---------------------------------------------------------------------


def base_frame(base: str) -> pd.DataFrame:
    """The base table: t, a driver x and a target y (a sine; its sign; three bands of it)."""
    t = np.arange(ROWS, dtype=np.float64)
    x = np.sin(2 * np.pi * t / 16 + np.pi / 2)
    y = np.sin(2 * np.pi * t / 16) + 0.05 * np.random.default_rng(0).normal(size=ROWS)
    if base == "binary_csv":
        y = (y > 0).astype(int)
    elif base == "multiclass_csv":
        y = np.digitize(y, [-0.5, 0.5])
    return pd.DataFrame({"t": t, "x": x, "y": y})


def base_arrays() -> dict[str, np.ndarray]:
    """The base ``.npz`` content: 80 standard-normal windows (8 steps, 2 features) and their last-row means."""
    x = np.random.default_rng(0).normal(size=(80, WINDOW, 2)).astype(np.float32)
    return {"x": x, "y": x[:, -1, :].mean(axis=1)}


def base_spec(base: str) -> dict:
    """A tiny valid spec for ``base``: LSTM 4 and a head that fits the task, 1 epoch."""
    head = {"type": "dense", "units": 1}
    loss = "mse"
    data: dict[str, Any] = {"path": _data_name(base)}
    if base != "windows_npz":
        data.update(target="y", features=["x", "y"] if base.startswith("regression") else ["x"], window=WINDOW, horizon=1)
    if base == "binary_csv":
        head, loss = {"type": "dense", "units": 1, "activation": "sigmoid"}, "binary_crossentropy"
        data["task"] = "binary"
    elif base == "multiclass_csv":
        head, loss = {"type": "dense", "units": 3, "activation": "softmax"}, "sparse_categorical_crossentropy"
        data["task"] = "multiclass"
    return {
        "data": data,
        "model": {"layers": [{"type": "lstm", "units": 4}, head], "optimizer": {"name": "adam", "learning_rate": 0.01},
                  "loss": loss},
        "preprocessing": {"inputs": "standard"},
        "train": {"epochs": 1, "batch_size": 32, "seed": 0},
        "search": {"max_trials": 2},
        "output": "out",
    }


def _data_name(base: str) -> str:
    return {"regression_parquet": "data.parquet", "windows_npz": "data.npz"}.get(base, "data.csv")


# --- one example -----------------------------------------------------------------------------------


@dataclass
class FuzzCase:
    """One generated input: a base, ONE fault, the ``data.missing`` mode and the command to run."""

    base: str
    fault: str  # the kind of fault (a group in the results)
    detail: str  # what exactly was done, readable
    command: str = "train"
    missing: str = "error"
    spec_edits: list = field(default_factory=list)  # [("set"|"delete", dotted path, value)]
    spec_text_op: tuple | None = None  # ("truncate", n) | ("insert", offset, text) | ("replace", text) | ("duplicate", i, value)
    cell_edits: list = field(default_factory=list)  # [(row, column, value)] on the base table
    array_edits: list = field(default_factory=list)  # [(array name, flat index, value)] on the .npz arrays
    data_op: tuple | None = None  # ("truncate", fraction) | ("junk", bytes) | ("rows", n) | ("drop_column", name) | ...
    must_refuse: bool = False  # the fault is bad input in every reading: exit 0 is a violation

    def describe(self) -> str:
        return f"{self.command} {self.base} missing={self.missing}: {self.detail}"


def _set_path(raw: Any, dotted: str, value: Any, delete: bool = False) -> None:
    """Set (or delete) ``a.b[0].c`` inside nested dicts/lists; ``[-1]`` is the last item."""
    parts: list[Any] = []
    for piece in dotted.split("."):
        name, _, rest = piece.partition("[")
        if name:
            parts.append(name)
        if rest:
            parts.append(int(rest.rstrip("]")))
    node = raw
    for part in parts[:-1]:
        if isinstance(part, int):
            if not isinstance(node, list) or not node:
                return
            node = node[part]
        else:
            if not isinstance(node, dict):
                return
            node = node.setdefault(part, {})
    last = parts[-1]
    if isinstance(last, int):
        if isinstance(node, list) and node:
            if delete:
                node.pop(last)
            else:
                node[last] = value
    elif isinstance(node, dict):
        if delete:
            node.pop(last, None)
        else:
            node[last] = value


def spec_text(case: FuzzCase) -> str | bytes:
    """The spec file's content for ``case``."""
    raw = base_spec(case.base)
    raw["data"]["missing"] = case.missing
    for op, dotted, value in case.spec_edits:
        _set_path(raw, dotted, value, delete=op == "delete")
    text = yaml.safe_dump(raw, sort_keys=False, default_flow_style=False)
    op = case.spec_text_op
    if op is None:
        return text
    if op[0] == "truncate":
        return text[: op[1] % (len(text) + 1)]
    if op[0] == "insert":
        at = op[1] % (len(text) + 1)
        return text[:at] + op[2] + text[at:]
    if op[0] == "replace":
        return op[1]
    if op[0] == "duplicate":
        return duplicate_a_key(text, op[1], op[2])
    raise ValueError(op)


def duplicate_a_key(text: str, pick: int, value: Any) -> str:
    """``text`` with one ``key: value`` line repeated right after itself with another value (same mapping)."""
    lines = text.splitlines()
    candidates = []
    for number, line in enumerate(lines):
        stripped = line.lstrip(" ")
        dash = stripped.startswith("- ")
        content = stripped[2:] if dash else stripped
        key, sep, _ = content.partition(":")
        if sep and key and " " not in key:
            candidates.append((number, len(line) - len(stripped) + (2 if dash else 0), key))
    number, column, key = candidates[pick % len(candidates)]
    rendered = yaml.safe_dump({key: value}, default_flow_style=True).strip()[1:-1]  # "{k: v}" -> "k: v"
    lines.insert(number + 1, " " * column + rendered)
    return "\n".join(lines) + "\n"


def write_data(case: FuzzCase, folder: Path) -> None:
    """Write the base data with ``case``'s edits into ``folder``."""
    name = _data_name(case.base)
    path = folder / name
    if case.base == "windows_npz":
        arrays = base_arrays()
        for array, index, value in case.array_edits:
            flat = arrays[array].reshape(-1)  # a view: the edit lands in the array
            flat[index % flat.size] = value
        if case.data_op and case.data_op[0] == "arrays":
            arrays = {k: v for k, v in case.data_op[1](arrays).items() if v is not None}
        np.savez(path, **arrays)
    else:
        frame = base_frame(case.base).astype(object) if case.cell_edits else base_frame(case.base)
        for row, column, value in case.cell_edits:
            frame.loc[row % ROWS, column] = value
        if case.data_op and case.data_op[0] == "frame":
            frame = case.data_op[1](frame)
        if name.endswith(".parquet"):
            for column in frame.columns:  # numbers stay numbers; a column holding text is stored as text
                if frame[column].dtype == object:
                    try:
                        frame[column] = pd.to_numeric(frame[column])
                    except (ValueError, TypeError):
                        frame[column] = frame[column].astype(str)
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
    op = case.data_op
    if op is None or op[0] in ("frame", "arrays"):
        return
    content = path.read_bytes()
    if op[0] == "truncate":
        path.write_bytes(content[: int(len(content) * op[1])])
    elif op[0] == "junk":
        path.write_bytes(op[1])
    elif op[0] == "folder":
        path.unlink()
        path.mkdir()
    elif op[0] == "absent":
        path.unlink()
    else:
        raise ValueError(op)


# --- the faults, as hypothesis strategies ----------------------------------------------------------

JUNK_VALUES = [None, True, False, 0, -1, 1.5, -0.5, 10**12, 2**32, 2**40, -(2**63), math.nan, math.inf, -math.inf,
               "", "abc", "1e3", "☃", "../../etc/passwd", [], [1, "a"], {}, {"a": 1}]
# dotted path -> values a user might plausibly write (valid or not), beyond the junk above. Kept cheap:
# no valid value trains long (units and epochs stay small; large counts are out of bounds).
SPEC_VALUES: dict[str, list] = {
    "data.path": ["nope.csv", "data.txt", "data", "/", "data.CSV", "data.parquet", "data.npz", "data.csv"],
    "data.target": ["x", "t", "nope", "Y", 0],
    "data.features": [["x"], ["t", "x", "y"], ["nope"], [], ["x", "x"], "x", [0]],
    "data.window": [1, 2, 95, 96, 97, 100_000, 100_001, 10**9],
    "data.horizon": [0, 2, 50, 100_001],
    "data.task": ["regression", "binary", "multiclass", "classification"],
    "data.validation_split": [0.0, 0.01, 0.5, 0.99, 1.0, 2],
    "data.missing": list(MISSING_MODES) + ["zero", "Drop"],
    "model.layers": [[{"type": "dense", "units": 1}], [{"type": "lstm", "units": 2}], [{"type": "nope"}], ["lstm"],
                     [{"units": 4}], [{"type": "dense", "units": 1}] * 101],
    "model.layers[0].type": ["gru", "simple_rnn", "dense", "dropout", "GRU", "transformer", "lstm "],
    "model.layers[0].units": [1, 2, 8192, 8193, 10**9, 2.5, "4"],
    "model.layers[0].return_sequences": [True, "yes", 1],
    "model.layers[0].dropout": [0.5, 1.0, 1.5, -0.1],
    "model.layers[0].recurrent_dropout": [0.5, 1.5],
    "model.layers[0].activation": ["relu", "softmax", "nope", "sigmoid"],
    "model.layers[0].kernel_initializer": ["zeros", "nope", {"class_name": "Nope"}, {"class_name": "Constant"}],
    "model.layers[0].input_shape": [[8, 2], "x"],
    "model.layers[0].colour": ["blue"],
    "model.layers[-1].units": [1, 2, 3, 4, 0, 8193],
    "model.layers[-1].activation": ["linear", "sigmoid", "softmax", "relu", "tanh", "nope"],
    "model.optimizer.name": ["sgd", "RMSprop", "adagrad", "lbfgs", "Adam"],
    "model.optimizer.learning_rate": [1e-9, 0.5, 10.0, 1e30],
    "model.optimizer.clipnorm": [1.0, 1e-30],
    "model.optimizer.clipvalue": [0.5],
    "model.optimizer.momentum": [0.9, 1.0],
    "model.loss": ["mae", "huber", "binary_crossentropy", "hinge", "categorical_crossentropy",
                   "sparse_categorical_crossentropy", "kld", "poisson", "cosine_similarity", "nope", "MSE"],
    "model.path": ["model.keras", "nope.keras", "data.csv"],
    "preprocessing.inputs": ["minmax", "robust", "window_relative", "log"],
    "preprocessing.target": ["standard", "log", "difference", "minmax", "robust"],
    "preprocessing.class_weight": ["balanced", {0: 1.0, 1: 3.0}, {5: 1.0}, {0: -1.0}, {0: math.nan}, "auto"],
    "train.epochs": [2, 10_000 + 1, 10**12],
    "train.batch_size": [1, 7, 65_536, 65_537, 10**12],
    "train.seed": [1, 2**32 - 1, 2**32, 2**40, -1],
    "search.tuner": ["random", "hyperband", "grid"],
    "search.max_trials": [1, 10_000, 10_001, 10**12],
    "search.max_time": ["90s", "2h", "30d", "31d", "forever", 90],
    "search.strategies": [["scaling"], ["nope"], ["mine.yaml"], "scaling"],
    "search.min_std_ratio": [0.5, 1.0],
    "search.prune_after": [None, 1, 10_001],
    "search.refine": [False, "no"],
    "search.rerun_pruned": [0, 21],
    "output": ["", "data.csv", "/proc/nope", "out/deeper"],
}
# a valid value above these is refused whatever else the spec says
_OVER_LIMIT = {("data.window", 100_001), ("data.window", 10**9), ("data.horizon", 100_001),
               ("model.layers[0].units", 8193), ("model.layers[0].units", 10**9), ("model.layers[-1].units", 8193),
               ("train.epochs", 10_001), ("train.epochs", 10**12), ("train.batch_size", 65_537),
               ("train.batch_size", 10**12), ("train.seed", 2**32), ("train.seed", 2**40), ("train.seed", -1),
               ("search.max_trials", 10_001), ("search.max_trials", 10**12), ("search.max_time", "31d"),
               ("search.prune_after", 10_001), ("search.rerun_pruned", 21)}
_SECTIONS = ("data", "model", "model.optimizer", "preprocessing", "train", "search", "model.layers[0]")
_TEXT_JUNK = ["\t", ":", "[", "{", "}", "- ", "&a ", "*b", "!!python/object/apply:os.system ['true']", "\x00", "\ufeff",
              "%YAML 9.9\n", "---\n", "...\n", "? ", "'", '"', "|\n", "  ", "\n  bad: indent\n", "#"]
_CELL_VALUES = [math.nan, math.inf, -math.inf, "", "abc", "1e400", 1e308, -1e308, "NaN", "inf", " ", "1,5"]
_ARRAY_VALUES = [math.nan, math.inf, -math.inf, 1e38, -1e38]


_ARRAY_SHAPES = {
    "x 2-D": lambda a: {**a, "x": a["x"][:, :, 0]},
    "x 4-D": lambda a: {**a, "x": a["x"][..., None]},
    "y 2-D (2 columns)": lambda a: {**a, "y": np.stack([a["y"], a["y"]], axis=1)},
    "y shorter than x": lambda a: {**a, "y": a["y"][:-3]},
    "no y": lambda a: {**a, "y": None},
    "no x": lambda a: {**a, "x": None},
    "arrays named X, Y": lambda a: {"X": a["x"], "Y": a["y"]},
    "empty x and y": lambda a: {"x": a["x"][:0], "y": a["y"][:0]},
    "3 samples": lambda a: {"x": a["x"][:3], "y": a["y"][:3]},
    "constant y": lambda a: {**a, "y": np.zeros_like(a["y"])},
    "text y": lambda a: {**a, "y": np.array(["a", "b"] * 40)},
    "boolean x": lambda a: {**a, "x": a["x"] > 0},
    "complex x": lambda a: {**a, "x": a["x"].astype(np.complex64)},
    "object x (pickled)": lambda a: {**a, "x": np.array([a["x"][0], None], dtype=object)},
    "zero timesteps": lambda a: {**a, "x": a["x"][:, :0, :]},
}
_FRAME_OPS = {
    "drop column y": lambda f: f.drop(columns=["y"]),
    "drop column x": lambda f: f.drop(columns=["x"]),
    "header only": lambda f: f.iloc[:0],
    "5 rows": lambda f: f.iloc[:5],
    "12 rows": lambda f: f.iloc[:12],
    "constant target": lambda f: f.assign(y=1),
    "all-NaN target": lambda f: f.assign(y=math.nan),
    "all-NaN feature x": lambda f: f.assign(x=math.nan),
    "text feature x": lambda f: f.assign(x="a"),
    "boolean target": lambda f: f.assign(y=f["y"].astype(float) > 0),
    "duplicate column names": lambda f: f.rename(columns={"t": "x"}),
    "every other row NaN": lambda f: f.assign(y=[v if i % 2 else math.nan for i, v in enumerate(f["y"])]),
    "only the first 10 targets": lambda f: f.assign(y=[v if i < 10 else math.nan for i, v in enumerate(f["y"])]),
    "one target class": lambda f: f.assign(y=[0] * (len(f) - 1) + [1]),
}
_JUNK_FILES = [b"", b"\x00\x01\x02\xff" * 50, b"PK\x03\x04 not a zip", "x,y\n1,2\n".encode("utf-16"),
               b"t;x;y\n1;2;3\n", b"<html>not data</html>", b"\xef\xbb\xbf" + b"t,x,y\n" + b"1,2,3\n" * 3]


@st.composite
def spec_value_fault(draw, base: str) -> FuzzCase:
    """One spec field set to a junk value or to one of its plausible values."""
    path = draw(st.sampled_from(sorted(SPEC_VALUES)))
    value = draw(st.one_of(st.sampled_from(SPEC_VALUES[path]), st.sampled_from(JUNK_VALUES)))
    over_limit = any(path == p and type(value) is type(v) and value == v for p, v in _OVER_LIMIT)
    return FuzzCase(base, "spec value", f"set {path} = {value!r}", spec_edits=[("set", path, value)],
                    must_refuse=over_limit)


@st.composite
def spec_key_fault(draw, base: str) -> FuzzCase:
    """A key deleted, an unknown key added, or a whole section replaced by junk."""
    kind = draw(st.sampled_from(["delete", "unknown", "section"]))
    if kind == "delete":
        path = draw(st.sampled_from(sorted({p for p in SPEC_VALUES if not p.endswith(("colour", "input_shape"))}
                                           | set(_SECTIONS) | {"data", "model"})))
        return FuzzCase(base, "spec key deleted", f"delete {path}", spec_edits=[("delete", path, None)])
    section = draw(st.sampled_from(_SECTIONS[:-1]))
    if kind == "unknown":
        key = draw(st.sampled_from(["colour", "epoch", "lr", "windows", "Data", "learning-rate"]))
        return FuzzCase(base, "spec key unknown", f"add {section}.{key}", spec_edits=[("set", f"{section}.{key}", 1)],
                        must_refuse=True)
    value = draw(st.sampled_from(JUNK_VALUES))
    defaults = value is None or value == {}  # an empty optional section means its defaults
    return FuzzCase(base, "spec section junk", f"set section {section} = {value!r}", spec_edits=[("set", section, value)],
                    must_refuse=not defaults or section in ("data", "model"))


@st.composite
def spec_text_fault(draw, base: str) -> FuzzCase:
    """The spec file's text: a key given twice, truncated, junk inserted, or replaced entirely."""
    kind = draw(st.sampled_from(["duplicate", "truncate", "insert", "replace"]))
    if kind == "duplicate":
        pick = draw(st.integers(0, 60))
        value = draw(st.sampled_from([0, 5, "x", None, [1], True]))
        return FuzzCase(base, "spec key twice", f"duplicate key #{pick} with {value!r}",
                        spec_text_op=("duplicate", pick, value), must_refuse=True)
    if kind == "truncate":
        at = draw(st.integers(0, 2000))
        return FuzzCase(base, "spec truncated", f"cut the spec after {at} characters (mod length)",
                        spec_text_op=("truncate", at))
    if kind == "insert":
        at, junk = draw(st.integers(0, 2000)), draw(st.sampled_from(_TEXT_JUNK))
        return FuzzCase(base, "spec junk inserted", f"insert {junk!r} at {at} (mod length)", spec_text_op=("insert", at, junk))
    text = draw(st.sampled_from(["", "\n", "null", "[]", "42", "data", "- data\n- model\n", "data: 1\nmodel: 2\n",
                                 "{data: {path: data.csv}}", "\x00\x01", "a: b: c", "data:\n\tpath: x\n"]))
    return FuzzCase(base, "spec replaced", f"spec text = {text!r}", spec_text_op=("replace", text), must_refuse=True)


@st.composite
def data_fault(draw, base: str) -> FuzzCase:
    """The data: bad values in cells or arrays, a changed shape, or a junk, truncated, absent file."""
    missing = draw(st.sampled_from(MISSING_MODES))
    kind = draw(st.sampled_from(["cells", "shape", "truncate", "junk", "folder", "absent"]))
    if kind == "cells" and base == "windows_npz":
        edits = draw(st.lists(st.tuples(st.sampled_from(["x", "y"]), st.integers(0, 10**6), st.sampled_from(_ARRAY_VALUES)),
                              min_size=1, max_size=4))
        return FuzzCase(base, "data values", f"arrays {edits}", missing=missing, array_edits=edits,
                        must_refuse=missing == "error" and any(not math.isfinite(v) for _, _, v in edits))
    if kind == "cells":
        edits = draw(st.lists(st.tuples(st.integers(0, ROWS - 1), st.sampled_from(["t", "x", "y"]),
                                        st.sampled_from(_CELL_VALUES)), min_size=1, max_size=4))
        # x and y are used by every base, t by none; pandas reads "", "NaN", "inf" and "1e400" as NaN/inf.
        # Text in the feature x is refused; text in the target y makes it a text (class) target, as documented.
        used = [v for _, column, v in edits if column != "t"]
        missing_values = [v for v in used if v in ("", "NaN", "inf", "1e400") or isinstance(v, float) and not math.isfinite(v)]
        text = [v for _, column, v in edits if column == "x" and v in ("abc", " ", "1,5")]
        return FuzzCase(base, "data values", f"cells {edits}", missing=missing, cell_edits=edits,
                        must_refuse=base.endswith("csv") and (bool(text) or missing == "error" and bool(missing_values)))
    if kind == "shape":
        if base == "windows_npz":
            name = draw(st.sampled_from(sorted(_ARRAY_SHAPES)))
            return FuzzCase(base, "data shape", name, missing=missing, data_op=("arrays", _ARRAY_SHAPES[name]))
        name = draw(st.sampled_from(sorted(_FRAME_OPS)))
        return FuzzCase(base, "data shape", name, missing=missing, data_op=("frame", _FRAME_OPS[name]))
    if kind == "truncate":
        fraction = draw(st.sampled_from([0.0, 0.01, 0.1, 0.37, 0.5, 0.9, 0.999]))
        return FuzzCase(base, "data file truncated", f"cut to {fraction:.1%} of its bytes", missing=missing,
                        data_op=("truncate", fraction))
    if kind == "junk":
        junk = draw(st.sampled_from(_JUNK_FILES))
        return FuzzCase(base, "data file junk", f"file bytes = {junk[:24]!r}", missing=missing, data_op=("junk", junk),
                        must_refuse=True)
    return FuzzCase(base, "data path", f"data file is a {kind}", missing=missing, data_op=(kind,), must_refuse=True)


@st.composite
def fuzz_cases(draw) -> FuzzCase:
    """A base input with one fault, and the command to run it through."""
    base = draw(st.sampled_from(BASES))
    case = draw(st.one_of(spec_value_fault(base), spec_key_fault(base), spec_text_fault(base), data_fault(base)))
    case.command = draw(st.sampled_from(COMMANDS))
    return case


# --- running one example ---------------------------------------------------------------------------


@dataclass
class Invocation:
    """One CLI command run on an example, and how it ended."""

    command: str
    exit_code: int
    stderr: str
    seconds: float
    traceback: str | None = None
    violation: str | None = None  # why this run breaks the contract; None when it keeps it


@dataclass
class Outcome:
    """What the CLI did with one example: ``check`` always, then the drawn command (see ``run_case``)."""

    case: str
    fault: str
    spec: str
    runs: list[Invocation]

    @property
    def ok(self) -> bool:
        return all(run.violation is None for run in self.runs)

    @property
    def exit_code(self) -> int:
        """The exit code of the last command run (the real command when it ran, else ``check``)."""
        return self.runs[-1].exit_code


def _refusal_violation(stderr: str) -> str | None:
    """What is wrong with a refusal's stderr: it must be error lines only, one per problem (the README's contract).

    One fault can make several problems (a truncated spec loses several keys): each gets its line.
    """
    lines = [line for line in stderr.splitlines() if line.strip()]
    if not lines:
        return "refused with nothing on stderr"
    if "Traceback" in stderr or not all(line.startswith("error") for line in lines):
        return "stderr holds more than error lines"
    return None


def _invoke(command: str, spec_path: Path, must_refuse: bool) -> Invocation:
    from typer.testing import CliRunner

    from autofix_lstm.cli import app

    started = time.perf_counter()
    result = CliRunner().invoke(app, [command, str(spec_path)], catch_exceptions=True)
    seconds = time.perf_counter() - started
    if command != "check" and result.exit_code == 0:
        import keras

        keras.backend.clear_session()  # a model trained: free it (slow under load, so only then)
    stderr = result.stderr
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    trace = "".join(traceback.format_exception(*result.exc_info)) if crashed and result.exc_info else None
    violation = None
    if crashed:
        message = str(result.exception).strip().splitlines()
        violation = f"traceback: {type(result.exception).__name__}: {message[0][:300] if message else ''}"
    elif result.exit_code == 4:  # the CLI caught a bug (cli.EXIT_BUG): its line, then the traceback, on stderr
        bug = next((line for line in stderr.splitlines() if line.startswith("error (bug): ")), "")
        violation = "traceback: " + bug.removeprefix("error (bug): ").split(" -- ")[0][:300]
        trace = stderr
    elif result.exit_code not in (0, 2, 3):
        violation = f"exit code {result.exit_code}"
    elif result.exit_code in (2, 3):
        violation = _refusal_violation(stderr)
    elif result.exit_code == 0 and must_refuse:
        violation = "ran, but this input must be refused"
    return Invocation(command, result.exit_code, stderr.strip()[-2000:], round(seconds, 2), trace, violation)


def run_case(case: FuzzCase, folder: Path, *, run_accepted: bool = False) -> Outcome:
    """Write ``case``'s files into ``folder`` and run the CLI on them in-process.

    ``check`` runs first (it validates everything the commands validate, and trains nothing). The
    drawn command (``train`` or ``diagnose``) then runs too when ``check`` refused the input (it must
    be refused as cleanly there, and that costs no training) or when ``run_accepted`` is set (an
    accepted input must then run: 1 epoch on tiny data, still seconds to a minute on a busy machine).
    """
    folder.mkdir(parents=True, exist_ok=True)
    text = spec_text(case)
    spec_path = folder / "spec.yaml"
    spec_path.write_bytes(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    write_data(case, folder)
    (folder / "model.keras").write_bytes(b"not a keras archive")
    (folder / "mine.yaml").write_text("name: mine\ndescription: d\ntasks: [regression]\nfields:\n"
                                      "  architecture.units: {values: [4, 8]}\n")
    runs = [_invoke("check", spec_path, case.must_refuse)]
    if runs[0].exit_code != 0 or run_accepted:
        runs.append(_invoke(case.command, spec_path, case.must_refuse))
    return Outcome(case.describe(), case.fault, text if isinstance(text, str) else repr(text), runs)


# --- the campaign ----------------------------------------------------------------------------------


def campaign(examples: int, seed: int, work: Path, *, run_accepted: float = 0.0, on_outcome=None) -> list[Outcome]:
    """Run ``examples`` hypothesis-generated cases (no shrinking: every outcome is kept).

    ``run_accepted``: the fraction of the inputs ``check`` accepts that also run the real command
    (every 1/fraction-th accepted one, so the choice does not depend on timing).
    """
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    outcomes: list[Outcome] = []

    @hypothesis_seed(seed)
    @settings(max_examples=examples, phases=[Phase.generate], deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=fuzz_cases())
    def collect(case: FuzzCase) -> None:
        accepted = sum(o.runs[0].exit_code == 0 for o in outcomes)
        every = round(1 / run_accepted) if run_accepted > 0 else 0
        outcome = run_case(case, work / f"example_{len(outcomes):04d}", run_accepted=bool(every) and accepted % every == 0)
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    collect()
    return outcomes


def summarize(outcomes: list[Outcome], seconds: float, command: str) -> dict:
    """The figures written to fuzz.json."""
    runs = [run for o in outcomes for run in o.runs]
    by_command: dict[str, dict[str, int]] = {}
    for run in runs:
        counts = by_command.setdefault(run.command, {})
        counts[str(run.exit_code)] = counts.get(str(run.exit_code), 0) + 1
    return {
        "command": command,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "examples": len(outcomes),
        "distinct_inputs": len({(o.case, o.spec) for o in outcomes}),  # hypothesis repeats its simplest draws
        "cli_runs": len(runs),
        "seconds": round(seconds, 1),
        "by_exit_code": dict(sorted(Counter(str(o.exit_code) for o in outcomes).items())),
        "by_command": {c: dict(sorted(v.items())) for c, v in sorted(by_command.items())},
        "by_fault": {fault: dict(sorted(Counter(str(o.exit_code) for o in outcomes if o.fault == fault).items()))
                     for fault in sorted({o.fault for o in outcomes})},
        "tracebacks": sum(run.traceback is not None for run in runs),
        "multi_line_refusals": sum(run.exit_code in (2, 3) and len(run.stderr.strip().splitlines()) > 1 for run in runs),
        "violations": [
            {"case": o.case, "fault": o.fault, "spec": o.spec, **asdict(run)}
            for o in outcomes for run in o.runs if run.violation is not None
        ],
        "outcomes": [{"case": o.case, "fault": o.fault,
                      "runs": [{k: v for k, v in asdict(run).items() if k != "traceback"} for run in o.runs]}
                     for o in outcomes],
    }


def write_markdown(summary: dict, path: Path) -> None:
    """fuzz.md: the counts and every violation with its input."""
    lines = [
        "# Fuzzing the CLI's input handling",
        "",
        f"`{summary['command']}` on {summary['date']}: {summary['examples']} examples "
        f"({summary['distinct_inputs']} distinct, {summary['cli_runs']} CLI runs) "
        f"in {summary['seconds']} s; {summary['tracebacks']} tracebacks, {len(summary['violations'])} violations. "
        f"{summary['multi_line_refusals']} refusals named several problems, one error line each.",
        "",
        "Every example runs `check`; the drawn command (`train` or `diagnose`) runs too when `check` refused it, "
        "and for a sample of the accepted ones.",
        "",
        "| command | exit codes (count) |",
        "|---|---|",
        *[f"| {c} | {', '.join(f'{k}: {n}' for k, n in codes.items())} |" for c, codes in summary["by_command"].items()],
        "",
        "| exit code of the last command run | examples |",
        "|---|---|",
        *[f"| {code} | {count} |" for code, count in summary["by_exit_code"].items()],
        "",
        "| fault | exit codes (count) |",
        "|---|---|",
        *[f"| {fault} | {', '.join(f'{c}: {n}' for c, n in codes.items())} |" for fault, codes in summary["by_fault"].items()],
        "",
        "## Violations",
        "",
    ]
    if not summary["violations"]:
        lines.append("None.")
    for number, v in enumerate(summary["violations"], 1):
        lines += [f"### {number}. {v['violation']}", "", f"- input: {v['case']}",
                  f"- command `{v['command']}`, exit code {v['exit_code']}",
                  "", "stderr:", "", "```", v["stderr"][-1500:] or "(empty)", "```", ""]
        if v["traceback"]:
            lines += ["traceback (last lines):", "", "```", *v["traceback"].strip().splitlines()[-8:], "```", ""]
        lines += ["spec.yaml:", "", "```yaml", v["spec"][:1500], "```", ""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def rejudge(results: Path) -> dict:
    """Re-read ``fuzz.json`` and drop the violations the current rules accept: refusals of several error lines.

    The first campaign counted any refusal of more than one line as a violation; a fault that makes
    several problems gets one error line per problem, as the README says, which ``_refusal_violation``
    now accepts.
    """
    summary = json.loads((results / "fuzz.json").read_text(encoding="utf-8"))
    kept = []
    for violation in summary["violations"]:
        if violation["violation"].endswith("lines on stderr") and _refusal_violation(violation["stderr"]) is None:
            continue
        kept.append(violation)
    for outcome in summary["outcomes"]:
        for run in outcome["runs"]:
            if (run["violation"] or "").endswith("lines on stderr") and _refusal_violation(run["stderr"]) is None:
                run["violation"] = None
    summary["violations"] = kept
    summary["multi_line_refusals"] = sum(
        run["exit_code"] in (2, 3) and len(run["stderr"].strip().splitlines()) > 1
        for outcome in summary["outcomes"] for run in outcome["runs"])
    summary["distinct_inputs"] = len({v["case"] for v in summary["outcomes"]})  # the spec text is kept for violations only
    summary["rejudged"] = "refusals of several error lines accepted (python -m benchmarks.fuzz --rejudge)"
    (results / "fuzz.json").write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    write_markdown(summary, results / "fuzz.md")
    return summary


def main(argv: list[str] | None = None) -> int:
    """Run the campaign; exit 1 when any example broke the contract."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-accepted", type=float, default=0.2,
                        help="fraction of the inputs check accepts that also run train/diagnose (they train)")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--rejudge", action="store_true", help="re-judge the results' fuzz.json with the current rules")
    args = parser.parse_args(argv)
    if args.rejudge:
        summary = rejudge(args.results)
        print(f"{len(summary['violations'])} violations after re-judging -> {args.results / 'fuzz.md'}")
        return 1 if summary["violations"] else 0
    command = f"python -m benchmarks.fuzz --examples {args.examples} --seed {args.seed} --run-accepted {args.run_accepted}"
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="autofix_fuzz_") as work:
        def show(outcome: Outcome) -> None:
            mark = "ok " if outcome.ok else "BAD"
            runs = " ".join(f"{r.command}:{r.exit_code}({r.seconds:.1f}s)" for r in outcome.runs)
            print(f"{mark} {runs:34} {outcome.case[:140]}", flush=True)
            for run in outcome.runs:
                if run.violation:
                    print(f"    -> {run.command}: {run.violation}", flush=True)

        outcomes = campaign(args.examples, args.seed, Path(work), run_accepted=args.run_accepted, on_outcome=show)
    summary = summarize(outcomes, time.perf_counter() - started, command)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "fuzz.json").write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    write_markdown(summary, args.results / "fuzz.md")
    print(f"{summary['examples']} examples, exit codes {summary['by_exit_code']}, "
          f"{summary['tracebacks']} tracebacks, {len(summary['violations'])} violations -> {args.results / 'fuzz.md'}")
    return 1 if summary["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
