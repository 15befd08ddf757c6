"""Property-based fuzzing of the CLI's input handling: bad specs, data files and run folders must be refused cleanly.

Each example starts from a small valid input (a spec and its data: a regression, binary or multiclass
table as CSV or Parquet, or already windowed ``.npz`` arrays) and applies ONE fault drawn by
hypothesis from one family (``FAMILIES``; ``--families`` picks some):

- the first campaign's: a spec value of the wrong type or out of range, a key deleted, unknown or
  given twice, a junk or truncated spec or data file, NaN/inf/text placed in any cell or array (under
  each ``data.missing`` mode), a data path that is a folder or names nothing;
- the robustness issue's: YAML lists/mappings nested 100..5,000 deep and "billion laughs" alias bombs
  of various widths and depths, or an alias inside the node it names (in the spec, one of its fields,
  or a strategy file); the spec, data, strategy file or output path as a symlink loop, a link to
  nothing or a chain of 45 links; latin-1, cp1252, UTF-16/32, BOM and random bytes in the spec, a
  strategy file and the CSV data; degenerate ``.npz`` arrays (0 timesteps/features/samples, the
  wrong rank, complex, object, string, datetime, structured dtypes, float64 beyond float32, y of the
  wrong length); a NUL byte, /proc, /dev/null, a name past 255 bytes, a path past PATH_MAX, an unknown
  ``~user`` as each path; a CSV or Parquet header repeating a column name; .nan/.inf/-.inf (in several
  YAML spellings) and out-of-range values in every numeric spec field, layer arguments (dropout
  rates, regularizers, initializers, constraints) included; and one file of a finished tiny run
  folder truncated, garbled or replaced before ``search`` resumes there.

The example then runs ``autofix-lstm check`` (the validation every command does, without training),
and ``train`` or ``diagnose`` as well where ``check`` refused it, where the fault is in the output
folder, or, for a sample of the accepted inputs, to see them run (1 epoch on tiny data). Most run
in-process through typer's CliRunner under a watchdog; YAML nesting and bombs run in a subprocess
each (``ISOLATED_TIMEOUT``, 4 GiB), and a damaged run folder is a copy of one finished tiny search
(built once per campaign, about 30 s) resumed by ``search`` in a subprocess (``RESUME_TIMEOUT``).

Each run must either succeed (exit 0) or be refused with exit 2 or 3 and only error lines on stderr,
one line per problem (a single fault can make several); deep nesting, big bombs and self-referring
aliases in exactly one line, exit 2, within ``SLOW_REFUSAL`` seconds; a damaged run folder with exit 0
and readable outputs, or exit 3 in one line naming the damaged file. A traceback (an uncaught
exception, or exit 4), another exit code, a hang past the time limit, or anything else on stderr is a
violation; so is a fault that must be refused (a key given twice, an unknown key, a count above its
limit, NaN in a used column under ``missing: error``, a non-finite number, a repeated column that is
used, a complex ``.npz``...) but ran.

    .venv/bin/python -m benchmarks.fuzz [--examples 300] [--seed 0] [--run-accepted 0.2] [--families a,b]
                                        [--results DIR]

writes ``fuzz.json`` (every outcome, and each violation with its input) and ``fuzz.md``. The fast
subset in the test suite is ``tests/test_fuzz.py`` (the first campaign's families and a few examples
of each new one, ``check`` and refusals only).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime as _dt
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
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
MARKER = "__FUZZ_HOLE__"  # a spec value replaced by raw YAML text once the spec is dumped
# Per-input time limits: past them an example counts as a hang, and the campaign goes on.
IN_PROCESS_TIMEOUT = {"check": 60.0, "train": 240.0, "diagnose": 240.0}  # a watchdog (SIGALRM) in this process
ISOLATED_TIMEOUT = 30.0  # a subprocess per command: YAML nesting and alias bombs
RESUME_TIMEOUT = 300.0  # a subprocess `search` resuming a damaged run folder
SLOW_REFUSAL = 20.0  # a YAML bomb or deep nesting refused slower than this is a violation (refused, but not quickly)

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
    # --- the robustness families (see "the robustness families" below) ---
    family: str = ""  # the family that drew it (--families); filled in by fuzz_cases
    spec_arg: str | None = None  # the spec argument as given: relative to the folder, or absolute / "~..."; None: spec.yaml
    spec_encoding: str | None = None  # the spec file's encoding (None: UTF-8)
    spec_bytes_insert: tuple | None = None  # (fraction of the encoded spec, raw bytes) inserted there
    strategy: str | bytes | None = None  # mine.yaml's content, when not the default strategy file
    files: list = field(default_factory=list)  # after writing: ("symlink", name, target) | ("bytes", name, content)
    #   | ("transcode", name, encoding) | ("replace_bytes", name, old bytes, new bytes) | ("rename", name, new name)
    #   | ("mkdir", name)
    isolated: bool = False  # run each command in a subprocess under ISOLATED_TIMEOUT (it may take the interpreter down)
    always_run: bool = False  # run the drawn command even where check accepts (check does not look at the output folder)
    refused_by: tuple = ()  # the commands must_refuse binds (empty: every one); check does not look at the output
    #   folder, and only check (and search) read the strategy files
    one_line: bool = False  # a refusal must be exactly one error line
    refuse_codes: tuple = (2, 3)  # the exit codes a refusal may have
    damage: tuple | None = None  # run_folder: (file pattern in the output folder, kind, argument, which match)

    def describe(self) -> str:
        if self.damage is not None:
            return f"{self.command} (resume) tiny finished run: {self.detail}"
        return f"{self.command} {self.base} missing={self.missing}: {self.detail}"


def _set_path(raw: Any, dotted: str, value: Any, delete: bool = False, insert: bool = False) -> None:
    """Set (or delete) ``a.b[0].c`` inside nested dicts/lists; ``[-1]`` is the last item; ``insert``
    puts ``value`` into a list before the item at that index."""
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
        if isinstance(node, list) and insert:
            node.insert(last, value)
        elif isinstance(node, list) and node:
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
        _set_path(raw, dotted, value, delete=op == "delete", insert=op == "insert")
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
    if op[0] == "substitute":  # raw YAML for the value a spec edit set to MARKER (a spelling safe_dump never writes)
        assert MARKER in text, (case.spec_edits, text)
        return text.replace(MARKER, op[1], 1)
    if op[0] == "append":
        return text + op[1]
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
        if case.data_op and case.data_op[0] == "table":  # columns named as written, repeated names kept
            _write_table(frame, case.data_op[1], case.data_op[2], path)
            return
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


def _write_table(frame: pd.DataFrame, names: list[str], sources: list[str], path: Path) -> None:
    """Write the columns ``sources`` of ``frame`` under the header ``names`` (which may repeat a name)."""
    columns = [frame[source].to_numpy() for source in sources]
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_arrays([pa.array(c) for c in columns], names=names), path)
        return
    body = pd.DataFrame(dict(enumerate(columns))).to_csv(index=False, header=False)
    path.write_text(",".join(names) + "\n" + body, encoding="utf-8")


def _apply_files(case: FuzzCase, folder: Path) -> None:
    """The example's file operations, once the spec, the data and the strategy file are written."""
    for op in case.files:
        path = folder / op[1]
        if op[0] == "symlink":
            if path.is_symlink() or path.is_file():
                path.unlink()
            path.symlink_to(op[2])
        elif op[0] == "bytes":
            path.write_bytes(op[2])
        elif op[0] == "transcode":  # the UTF-8 text the file holds, in another encoding
            path.write_bytes(path.read_text(encoding="utf-8").encode(op[2]))
        elif op[0] == "replace_bytes":
            path.write_bytes(path.read_bytes().replace(op[2], op[3], 1))
        elif op[0] == "rename":
            path.rename(folder / op[2])
        elif op[0] == "mkdir":
            path.mkdir(parents=True, exist_ok=True)
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


# --- the robustness families -------------------------------------------------------------------------
# Each draws ONE fault of a kind the robustness issue lists: YAML nested past any sense or blown up by
# aliases (run in a subprocess: they could take the interpreter down), symlink loops and links to
# nothing, files that are not UTF-8 text, degenerate .npz arrays, NUL bytes and special paths, repeated
# column names, non-finite and out-of-range numbers in every numeric spec field, and damaged files in a
# finished run folder that `search` then resumes from.

_WRITERS = ("train", "diagnose", "search")  # the commands that write to the output folder (check does not look at it)
_STRATEGY_READERS = ("check", "search")  # the commands that read search.strategies (train and diagnose ignore it)
STRATEGY_TEXT = "name: mine\ndescription: d\ntasks: [regression]\nfields:\n  architecture.units: {values: [4, 8]}\n"
_STRATEGY_HEAD = "name: mine\ndescription: d\ntasks: [regression, binary, multiclass]\nfields:\n"
_YAML_PLACES = ("whole spec", "data.features", "model.layers", "model.layers[0].units", "train.epochs",
                "an extra top-level key", "strategy file")
_FLOW_NESTINGS = ("flow list", "flow mapping", "flow list of mappings")
_BLOCK_NESTINGS = ("block list", "block mapping")


def nested_yaml(style: str, depth: int) -> str:
    """YAML holding one value nested ``depth`` levels deep (flow styles fit on one line)."""
    if style == "flow list":
        return "[" * depth + "1" + "]" * depth
    if style == "flow mapping":
        return "{a: " * depth + "1" + "}" * depth
    if style == "flow list of mappings":
        return "[{a: " * (depth // 2) + "1" + "}]" * (depth // 2)
    if style == "block list":
        return "- " * depth + "1\n"
    if style == "block mapping":  # one more space per level
        return "".join(" " * level + "a:\n" for level in range(depth - 1)) + " " * (depth - 1) + "a: 1\n"
    raise ValueError(style)


def alias_bomb(width: int, depth: int, mapping: bool, flow: bool) -> tuple[str, int]:
    """A "billion laughs": level i holds ``width`` aliases of level i-1; returns the text and how many
    values it stands for once every alias is replaced by what it refers to."""
    size = 1 + width  # level 0: a list of `width` scalars
    levels = ["[" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, depth + 1):
        if mapping:
            levels.append("{" + ", ".join(f"k{j}: *a{level - 1}" for j in range(width)) + "}")
            size = 1 + width * (1 + size)
        else:
            levels.append("[" + ", ".join([f"*a{level - 1}"] * width) + "]")
            size = 1 + width * size
    if flow:
        return "[" + ", ".join(f"&a{level} {text}" for level, text in enumerate(levels)) + "]", size
    return "".join(f"a{level}: &a{level} {text}\n" for level, text in enumerate(levels)), size


_SELF_ALIASES = ["&s [*s]", "&s [1, [2, [3, *s]]]", "&s {k: *s}", "&s {<<: *s}", "&s {k: [*s]}", "[&s [&t [*s, *t]]]",
                 "&s {a: 1, b: {c: *s}}"]


def _placed_yaml(place: str, flow: str, block: str | None) -> dict:
    """FuzzCase fields putting the YAML ``flow`` (one line) or ``block`` (a document) at ``place``."""
    if place == "whole spec":
        return {"spec_text_op": ("replace", block or flow)}
    if place == "an extra top-level key":
        body = "\n".join("  " + line for line in block.splitlines()) + "\n" if block else f" {flow}\n"
        return {"spec_text_op": ("append", "deep:" + ("\n" if block else "") + body)}
    if place == "strategy file":
        strategy = block if block else _STRATEGY_HEAD + f"  architecture.units: {{values: {flow}}}\n"
        return {"strategy": strategy, "spec_edits": [("set", "search.strategies", ["mine.yaml"])],
                "refused_by": _STRATEGY_READERS}
    return {"spec_edits": [("set", place, MARKER)], "spec_text_op": ("substitute", flow)}


@st.composite
def yaml_depth_fault(draw, base: str) -> FuzzCase:
    """Lists or mappings nested 100..5,000 deep: refused in one line (exit 2), never a RecursionError."""
    place = draw(st.sampled_from(_YAML_PLACES))
    whole = place in ("whole spec", "an extra top-level key", "strategy file")
    style = draw(st.sampled_from(_FLOW_NESTINGS + (_BLOCK_NESTINGS if whole else ())))
    depth = draw(st.integers(100, 2_000 if style == "block mapping" else 5_000))  # a block mapping grows as depth**2
    text = nested_yaml(style, depth)
    block = text if style in _BLOCK_NESTINGS else None
    return FuzzCase(base, "yaml nested deep", f"{style} {depth} deep in {place}", **_placed_yaml(place, text, block),
                    must_refuse=True, isolated=True, one_line=True, refuse_codes=(2,))


@st.composite
def yaml_alias_fault(draw, base: str) -> FuzzCase:
    """A billion-laughs alias bomb of some width and depth, or an alias inside the node it names."""
    place = draw(st.sampled_from(_YAML_PLACES))
    if draw(st.booleans()):
        text = draw(st.sampled_from(_SELF_ALIASES))
        return FuzzCase(base, "yaml alias in itself", f"{text} in {place}", **_placed_yaml(place, text, None),
                        must_refuse=True, isolated=True, one_line=True, refuse_codes=(2,))
    width, depth, mapping = draw(st.integers(2, 12)), draw(st.integers(1, 12)), draw(st.booleans())
    flow = place not in ("whole spec", "strategy file") or draw(st.booleans())
    text, size = alias_bomb(width, depth, mapping, flow)
    from autofix_lstm.spec._loading import MAX_YAML_VALUES  # past it the loader refuses the bomb itself

    return FuzzCase(base, "yaml alias bomb",
                    f"{'mapping' if mapping else 'list'} bomb width {width} depth {depth} ({size:.3g} values, "
                    f"{'flow' if flow else 'block'}) in {place}",
                    **_placed_yaml(place, text, None if flow else text), must_refuse=True, isolated=True,
                    one_line=size > MAX_YAML_VALUES, refuse_codes=(2,))


_LINK_KINDS = {
    "a symlink loop (a link to itself)": lambda name: [("symlink", name, name)],
    "a symlink loop (two links to each other)": lambda name: [("symlink", name, name + ".other"), ("symlink", name + ".other", name)],
    "a symlink to nothing": lambda name: [("symlink", name, "nothing_here")],
    "a symlink into a missing folder": lambda name: [("symlink", name, "missing/deeper/" + name)],
    "a chain of 45 symlinks (past the kernel's 40)": lambda name: [
        ("rename", name, name + ".real"), *[("symlink", f"{name}.{i}", f"{name}.{i + 1}") for i in range(44)],
        ("symlink", f"{name}.44", name + ".real"), ("symlink", name, f"{name}.0")],
}


@st.composite
def link_fault(draw, base: str) -> FuzzCase:
    """The spec, the data, a strategy file or the output folder is a symlink loop or a link to nothing."""
    which = draw(st.sampled_from(["spec", "data", "strategy file", "output"]))
    kind = draw(st.sampled_from(sorted(_LINK_KINDS)))
    detail = f"the {which} path is {kind}"
    broken = "chain" not in kind  # a chain ends at the real file: read through its resolved path, it may run
    if which == "spec":
        return FuzzCase(base, "symlinks", detail, spec_arg="spec_link.yaml",
                        files=_link_ops(kind, "spec_link.yaml", "spec.yaml"), must_refuse=broken)
    if which == "data":
        return FuzzCase(base, "symlinks", detail, files=_LINK_KINDS[kind](_data_name(base)), must_refuse=broken)
    if which == "strategy file":
        return FuzzCase(base, "symlinks", detail, spec_edits=[("set", "search.strategies", ["mine.yaml"])],
                        files=_LINK_KINDS[kind]("mine.yaml"), must_refuse=broken, refused_by=_STRATEGY_READERS)
    # the output folder: check does not look at it (it writes nothing), train does; a link to nothing may be
    # made to lead somewhere (its target created)
    files = _LINK_KINDS[kind]("out_link")
    if files[0][0] == "rename":
        files = [("mkdir", "out_link"), *files]
    return FuzzCase(base, "symlinks", detail, command="train", spec_edits=[("set", "output", "out_link/run")],
                    files=files, always_run=True, refused_by=_WRITERS, must_refuse="loop" in kind)


def _link_ops(kind: str, name: str, real: str) -> list:
    """``_LINK_KINDS[kind]`` for a link ``name`` beside the real file ``real`` (which stays)."""
    ops = _LINK_KINDS[kind](name)
    if ops[0][0] == "rename":  # the chain ends at the real file, under its own name
        ops = [op if op[2] != name + ".real" else (op[0], op[1], real) for op in ops[1:]]
    return ops


_NON_ASCII = "# données: température (°C), débit, naïve café\n"


def _random_bytes(draw) -> bytes:
    """A few random bytes that are never UTF-8 (they hold 0xff)."""
    return draw(st.binary(min_size=0, max_size=12)) + b"\xff" + draw(st.binary(min_size=0, max_size=4))


@st.composite
def encoding_fault(draw, base: str) -> FuzzCase:
    """The spec, a strategy file or the CSV data in latin-1, UTF-16/32, with a BOM, or holding random bytes."""
    where = draw(st.sampled_from(["spec", "strategy file", "csv data"]))
    encoding = draw(st.sampled_from(["latin-1", "cp1252", "utf-16", "utf-16-le", "utf-32", "utf-8-sig", "random bytes"]))
    if where == "spec":
        if encoding == "random bytes":
            at, junk = draw(st.floats(0, 1)), _random_bytes(draw)
            return FuzzCase(base, "encodings", f"spec holds {junk!r} at {at:.0%}", spec_bytes_insert=(at, junk),
                            must_refuse=True)  # not UTF-8 text: no reading of it is the user's spec
        return FuzzCase(base, "encodings", f"spec in {encoding}, with accents in a comment",
                        spec_text_op=("insert", 0, _NON_ASCII), spec_encoding=encoding)
    if where == "strategy file":
        text = _STRATEGY_HEAD.replace("description: d", "description: température élevée, naïve") + \
            "  architecture.units: {values: [4, 8]}\n"
        if encoding == "random bytes":
            at, junk = draw(st.floats(0, 1)), _random_bytes(draw)
            cut = int(len(text) * at)
            content = text[:cut].encode() + junk + text[cut:].encode()
            detail, must = f"strategy file holds {junk!r} at {at:.0%}", True
        else:
            content, detail, must = text.encode(encoding), f"strategy file in {encoding}, with accents", False
        return FuzzCase(base, "encodings", detail, strategy=content, spec_edits=[("set", "search.strategies",
                        ["mine.yaml"])], must_refuse=must, refused_by=_STRATEGY_READERS)
    base = base if base.endswith("csv") else "regression_csv"
    name = _data_name(base)
    if encoding == "random bytes":
        row, column, junk = draw(st.integers(0, ROWS - 1)), draw(st.sampled_from(["t", "x", "y"])), _random_bytes(draw)
        return FuzzCase(base, "encodings", f"csv cell ({row}, {column}) holds {junk!r}",
                        cell_edits=[(row, column, "ZZBYTESZZ")], files=[("replace_bytes", name, b"ZZBYTESZZ", junk)],
                        must_refuse=column == "x")  # bytes in the feature x: not a number, whatever the decoding
    used = draw(st.booleans())  # the accented name is a feature (the spec names it, in UTF-8) or an unused column
    names = ["t", "débit", "y"] if used else ["température", "x", "y"]
    edits = [("set", "data.features", ["débit", "y"] if base.startswith("regression") else ["débit"])] if used else []
    return FuzzCase(base, "encodings", f"csv in {encoding}, column {names[0 if not used else 1]!r} "
                    f"{'a feature' if used else 'unused'}", spec_edits=edits,
                    data_op=("table", names, ["t", "x", "y"]), files=[("transcode", name, encoding)])


def _x64(a: dict, index: tuple, value: float) -> dict:
    x = a["x"].astype(np.float64)
    x[index] = value
    return {**a, "x": x}


def _y64(a: dict, index: int, value: float) -> dict:
    y = a["y"].astype(np.float64)
    y[index] = value
    return {**a, "y": y}


def _objects(values) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


# name -> (the arrays from the base ones, whether it must be refused)
_NPZ_DEGENERATE: dict[str, tuple[Any, bool]] = {
    "0 timesteps": (lambda a: {**a, "x": a["x"][:, :0, :]}, True),
    "0 features": (lambda a: {**a, "x": a["x"][:, :, :0]}, True),
    "0 samples": (lambda a: {"x": a["x"][:0], "y": a["y"][:0]}, True),
    "x of shape (0, 0, 0)": (lambda a: {"x": np.zeros((0, 0, 0), np.float32), "y": np.zeros(0)}, True),
    "0-D x": (lambda a: {**a, "x": np.float32(1.5)}, True),
    "1-D x": (lambda a: {**a, "x": a["x"][:, 0, 0]}, True),
    "2-D x": (lambda a: {**a, "x": a["x"][:, :, 0]}, True),
    "4-D x": (lambda a: {**a, "x": a["x"][..., None]}, True),
    "5-D x": (lambda a: {**a, "x": a["x"][..., None, None]}, True),
    "complex64 x": (lambda a: {**a, "x": a["x"].astype(np.complex64)}, True),
    "complex128 x, imaginary parts 0": (lambda a: {**a, "x": a["x"].astype(np.complex128)}, True),
    "complex y": (lambda a: {**a, "y": a["y"].astype(np.complex64) + 1j}, True),
    "object x (pickled windows)": (lambda a: {**a, "x": _objects(a["x"])}, True),
    "object y (pickled)": (lambda a: {**a, "y": _objects(a["y"].tolist())}, True),
    "float64 x holding 1e308": (lambda a: _x64(a, (3, 2, 1), 1e308), True),
    "float64 x holding -1e308": (lambda a: _x64(a, (70, 7, 0), -1e308), True),
    "float64 x holding 3.5e38 (just past float32)": (lambda a: _x64(a, (0, 0, 0), 3.5e38), True),
    "float64 y holding 1e308": (lambda a: _y64(a, 5, 1e308), True),
    "float64 x, all within float32": (lambda a: {**a, "x": a["x"].astype(np.float64)}, False),
    "boolean x": (lambda a: {**a, "x": a["x"] > 0}, False),
    "boolean y": (lambda a: {**a, "y": a["y"] > 0}, False),
    "string x": (lambda a: {**a, "x": a["x"].astype(str)}, True),
    "bytes x": (lambda a: {**a, "x": a["x"].astype("S12")}, True),
    "string y": (lambda a: {**a, "y": np.array(["up", "down"] * 40)}, False),  # class labels, as documented
    "datetime64 x": (lambda a: {**a, "x": np.zeros(a["x"].shape, dtype="datetime64[s]")}, True),
    "structured x": (lambda a: {**a, "x": np.zeros(a["x"].shape, dtype=[("a", "f4"), ("b", "f4")])}, True),
    "float16 x": (lambda a: {**a, "x": a["x"].astype(np.float16)}, False),
    "int8 x": (lambda a: {**a, "x": (a["x"] * 10).astype(np.int8)}, False),
    "y longer than x": (lambda a: {**a, "y": np.concatenate([a["y"], a["y"][:5]])}, True),
    "y shorter than x": (lambda a: {**a, "y": a["y"][:-1]}, True),
    "y of 1 value": (lambda a: {**a, "y": a["y"][:1]}, True),
    "0-D y": (lambda a: {**a, "y": np.float64(0.5)}, True),
    "y of shape (n, 3)": (lambda a: {**a, "y": np.stack([a["y"]] * 3, axis=1)}, True),
    "y of shape (n, 1)": (lambda a: {**a, "y": a["y"][:, None]}, False),
    "2 samples": (lambda a: {"x": a["x"][:2], "y": a["y"][:2]}, True),
    "x and y of 80 NaN windows": (lambda a: {**a, "x": np.full_like(a["x"], np.nan)}, True),
}


@st.composite
def npz_fault(draw, base: str) -> FuzzCase:
    """A degenerate ``.npz``: empty axes, the wrong rank, a dtype a model cannot take, y of the wrong length."""
    name = draw(st.sampled_from(sorted(_NPZ_DEGENERATE)))
    make, must = _NPZ_DEGENERATE[name]
    return FuzzCase("windows_npz", "npz degenerate", name, data_op=("arrays", make), must_refuse=must)


_LONG = "n" * 300  # one name past the 255 bytes a file name may hold
_DEEP = "a/" * 2100  # a path past the 4,096 bytes of PATH_MAX
_NO_USER = "~fuzz_no_such_user"
# which path -> (value, must be refused). The spec path is a command-line argument, which no shell can
# give a NUL byte (argv holds C strings): that one is tried only inside the files (data.path, output, ...).
_SPECIAL_PATHS: dict[str, list[tuple[str, bool]]] = {
    "spec": [("/proc/self/status", True), ("/proc/version", True), ("/proc/self/cmdline", True),
             ("/proc/nope/spec.yaml", True), ("/proc", True), ("/dev/null", True), (_LONG + ".yaml", True),
             (_DEEP + "spec.yaml", True), (f"{_NO_USER}/spec.yaml", True), ("spec\n.yaml", True), ("", True)],
    "data": [("data\x00.csv", True), ("/proc/self/status", True), ("/proc/cpuinfo", True), ("/proc/nope/data.csv", True),
             ("/proc/self/fd", True), ("/dev/null", True), (_LONG + ".csv", True), (_DEEP + "data.csv", True),
             (f"{_NO_USER}/data.csv", True), ("data\n.csv", True)],
    "data file": [("/dev/null", True), ("/proc/self/status", True), ("/proc/self/cmdline", True)],  # data.csv links there
    "strategy file": [("mine\x00.yaml", True), ("/proc/self/status.yaml", True), ("/proc/nope.yaml", True),
                      ("/dev/null", True), (_LONG + ".yaml", True), (_DEEP + "mine.yaml", True),
                      (f"{_NO_USER}/mine.yaml", True), ("mine\n.yaml", True)],
    "output": [("out\x00put", True), ("/proc/nope", True), ("/proc/self/out", True), ("/proc/self/status", True),
               ("/dev/null", True), ("/dev/null/out", True), (_LONG, True), (_DEEP + "out", True),
               (f"{_NO_USER}/out", False), ("out\nput", False)],
}


@st.composite
def special_path_fault(draw, base: str) -> FuzzCase:
    """A path with a NUL byte, under /proc, /dev/null, a name past 255 bytes or a path past PATH_MAX, an unknown ~user."""
    which = draw(st.sampled_from(sorted(_SPECIAL_PATHS)))
    value, must = draw(st.sampled_from(_SPECIAL_PATHS[which]))
    shown = value if len(value) < 80 else f"{value[:20]}...({len(value)} characters)"
    detail = f"{which} path = {shown!r}"
    if which == "spec":
        return FuzzCase(base, "special paths", detail, spec_arg=value, must_refuse=must)
    if which == "data":
        return FuzzCase(base, "special paths", detail, spec_edits=[("set", "data.path", value)], must_refuse=must)
    if which == "data file":
        return FuzzCase(base, "special paths", f"the data file is a symlink to {value}",
                        files=[("symlink", _data_name(base), value)], must_refuse=must)
    if which == "strategy file":
        return FuzzCase(base, "special paths", detail, spec_edits=[("set", "search.strategies", [value])],
                        must_refuse=must, refused_by=_STRATEGY_READERS)
    return FuzzCase(base, "special paths", detail, command="train", spec_edits=[("set", "output", value)],
                    always_run=True, refused_by=_WRITERS, must_refuse=must)


# name -> (header as written, the base columns under it, data.features (None: the base's), must be refused)
_DUPLICATE_HEADERS: dict[str, tuple[list, list, Any, bool]] = {
    "x,x,y": (["x", "x", "y"], ["t", "x", "y"], None, True),
    "x,x,x,y": (["x", "x", "x", "y"], ["t", "t", "x", "y"], None, True),
    "t,y,y (the target twice)": (["t", "y", "y"], ["t", "x", "y"], ["t"], True),
    "x,x,y and no data.features (every column)": (["x", "x", "y"], ["t", "x", "y"], "delete", True),
    "x,x,y and data.features [x.1] (pandas' name for the second x)": (["x", "x", "y"], ["t", "x", "y"], ["x.1"], True),
    "t,t,x,y (an unused column twice)": (["t", "t", "x", "y"], ["t", "t", "x", "y"], None, False),
    "x,X,y (names that differ in case)": (["x", "X", "y"], ["x", "t", "y"], None, False),
    "x, x,y (a leading space)": (["x", " x", "y"], ["x", "t", "y"], None, False),
}


@st.composite
def duplicate_column_fault(draw, base: str) -> FuzzCase:
    """A header repeating a column name that data.features or data.target names (or one that no one uses)."""
    base = base if base != "windows_npz" else "regression_csv"
    name = draw(st.sampled_from(sorted(_DUPLICATE_HEADERS)))
    names, sources, features, must = _DUPLICATE_HEADERS[name]
    edits: list = []
    if features == "delete":
        edits = [("delete", "data.features", None)]
    elif features is not None:
        edits = [("set", "data.features", features + (["y"] if base.startswith("regression") and features != ["t"]
                                                      else []))]
    return FuzzCase(base, "duplicate columns", f"header {name}", spec_edits=edits,
                    data_op=("table", names, sources), must_refuse=must)


_NONFINITE = [math.nan, math.inf, -math.inf]
_RAW_NONFINITE = [".NaN", ".NAN", ".Inf", "+.inf", "-.INF", "1.0e+400", "-1.0e+400"]  # YAML spellings of nan/inf


def _layer_arg(arg: str, make) -> Any:
    return lambda value: [("set", f"model.layers[0].{arg}", make(value))]


# field -> (the spec edits that put a value there, out-of-range values that must be refused, the base it needs)
_NUMERIC_FIELDS: dict[str, tuple[Any, list, str | None]] = {
    "data.window": (None, [0, -1, 2.5], "table"),
    "data.horizon": (None, [-1, 1.5], "table"),
    "data.validation_split": (None, [0.0, 1.0, -0.2, 1.5], None),
    "model.layers[0].units": (None, [0, -4, 0.5], None),
    "model.layers[-1].units": (None, [0, -1], None),
    "model.layers[0].dropout": (None, [1.0, -0.1, 1.5, 100], None),
    "model.layers[0].recurrent_dropout": (None, [1.0, -0.5], None),
    "a dropout layer's rate": (lambda v: [("insert", "model.layers[1]", {"type": "dropout", "rate": v})],
                               [1.0, -0.1, 2], None),
    "a wrapped lstm's dropout": (lambda v: [("set", "model.layers[0]", {
        "type": "bidirectional", "layer": {"type": "lstm", "units": 4, "dropout": v}})], [1.0, -0.3], None),
    "kernel_regularizer L2 l2": (_layer_arg("kernel_regularizer", lambda v: {"class_name": "L2", "config": {"l2": v}}),
                                 [-1.0], None),
    "recurrent_regularizer L1L2 l1": (_layer_arg("recurrent_regularizer", lambda v: {
        "class_name": "L1L2", "config": {"l1": v, "l2": 0.0}}), [-0.5], None),
    "bias_regularizer L1 l1": (_layer_arg("bias_regularizer", lambda v: {"class_name": "L1", "config": {"l1": v}}),
                               [-2.0], None),
    "activity_regularizer L2 l2": (_layer_arg("activity_regularizer", lambda v: {"class_name": "L2",
                                                                                  "config": {"l2": v}}), [-1e-3], None),
    "kernel_initializer Constant value": (_layer_arg("kernel_initializer", lambda v: {
        "class_name": "Constant", "config": {"value": v}}), [], None),
    "recurrent_initializer RandomNormal stddev": (_layer_arg("recurrent_initializer", lambda v: {
        "class_name": "RandomNormal", "config": {"mean": 0.0, "stddev": v}}), [], None),
    "kernel_constraint MaxNorm max_value": (_layer_arg("kernel_constraint", lambda v: {
        "class_name": "MaxNorm", "config": {"max_value": v}}), [], None),
    "model.optimizer.learning_rate": (None, [0.0, -0.01], None),
    "model.optimizer.clipnorm": (None, [0.0, -1.0], None),
    "model.optimizer.clipvalue": (None, [0.0, -1.0], None),
    "model.optimizer.momentum (sgd)": (lambda v: [("set", "model.optimizer.name", "sgd"),
                                                  ("set", "model.optimizer.momentum", v)], [1.0, -0.1, 2.0], None),
    "preprocessing.class_weight": (lambda v: [("set", "preprocessing.class_weight", {0: v, 1: 1.0})],
                                   [0.0, -1.0], "binary_csv"),
    "train.epochs": (None, [0, -1, 1.5], None),
    "train.batch_size": (None, [0, -1, 0.5], None),
    "train.seed": (None, [-1, 0.5], None),
    "search.max_trials": (None, [0, -1, 1.5], None),
    "search.min_std_ratio": (None, [0.0, 1.0, -0.1, 1.5], None),
    "search.prune_after": (None, [0, -1], None),
    "search.rerun_pruned": (None, [-1, 21, 2.5], None),
    "search.max_time": (None, ["-1h", "-5m", "nan", "inf", "infh", "NaNs", "1" + "0" * 400 + "s", "1e400s"], None),
}


@st.composite
def nonfinite_spec_fault(draw, base: str) -> FuzzCase:
    """.nan, .inf, -.inf (in several YAML spellings) or an out-of-range value in one numeric spec field."""
    name = draw(st.sampled_from(sorted(_NUMERIC_FIELDS)))
    edit, out_of_range, needs = _NUMERIC_FIELDS[name]
    if needs == "table" and base == "windows_npz":
        base = "regression_csv"
    elif needs not in (None, "table"):
        base = needs
    kind = draw(st.sampled_from(["non-finite", "raw spelling"] + (["out of range"] if out_of_range else [])))
    value: Any = draw(st.sampled_from({"non-finite": _NONFINITE, "raw spelling": _RAW_NONFINITE,
                                       "out of range": out_of_range}[kind]))
    put = edit or (lambda v: [("set", name, v)])
    if kind == "raw spelling":
        return FuzzCase(base, "spec numbers", f"{name} = {value} (as written in the YAML)", spec_edits=put(MARKER),
                        spec_text_op=("substitute", value), must_refuse=True)
    return FuzzCase(base, "spec numbers", f"{name} = {value!r}", spec_edits=put(value), must_refuse=True)


# a run folder's files (patterns under the output folder) -> the kind of file
RUN_FILES = {
    "search_state.json": "json", "baseline.json": "json", "summary.json": "json", "best_trial.json": "json",
    "diagnosis.json": "json", "events.jsonl": "jsonl", "tuner/autofix/oracle.json": "json",
    "tuner/autofix/tuner0.json": "json", "tuner/autofix/trial_*/trial.json": "json",
    "tuner/autofix/trial_*/autofix_trial.json": "json", "tuner/autofix/trial_*/model.keras": "keras",
    "best_model.keras": "keras", "baseline_model.keras": "keras", "best_spec.yaml": "yaml", "trials.csv": "csv",
    "report.html": "html",
}
_JUNK_CONTENT = {
    "any": [b"", b"\x00" * 64, b"\xff\xfe\x00 garbage \x80\x81", b"not what this file holds\n"],
    "json": [b"[]", b"{}", b"null", b'"text"', b"1e999", b'{"trial_id": 5, "status": []}', b"{" * 5000],
    "jsonl": [b'{"event": "start"\n', b"[]\n"],
    "keras": [b"PK\x03\x04 not a zip", b"PK\x05\x06" + b"\x00" * 18],
    "yaml": [b"[", b"data: [", b"a: &a [*a]\n", b"- " * 3000 + b"1\n", b"{}\n"],
    "csv": [b"trial_id\n", b"a,b\n1\n"],
    "html": [b"<html>"],
}


@st.composite
def run_folder_fault(draw, base: str) -> FuzzCase:
    """One file of a finished tiny run folder truncated, garbled or replaced, then `search` resumes there."""
    pattern = draw(st.sampled_from(sorted(RUN_FILES)))
    kind = RUN_FILES[pattern]
    how = draw(st.sampled_from(["truncate", "garble", "junk"] + (["partial last line"] if kind == "jsonl" else [])))
    if how == "truncate":
        arg: Any = draw(st.sampled_from([0.0, 0.1, 0.5, 0.9, 0.99]))
        detail = f"cut to {arg:.0%} of its bytes"
    elif how == "garble":
        arg = (round(draw(st.floats(0, 1)), 3), draw(st.integers(1, 64)))
        detail = f"{arg[1]} random bytes at {arg[0]:.1%}"
    elif how == "junk":
        arg = draw(st.sampled_from(_JUNK_CONTENT["any"] + _JUNK_CONTENT[kind]))
        detail = f"replaced by {arg[:24]!r}" + ("..." if len(arg) > 24 else "")
    else:
        arg, detail = None, "its last line cut in half (no newline)"
    pick = draw(st.integers(0, 9))
    return FuzzCase("regression_csv", "run folder damaged", f"{pattern} {detail}", command="search",
                    damage=(pattern, how, arg, pick))


# family (for --families) -> its strategy, and what it covers
FAMILIES: dict[str, Any] = {
    "spec_value": spec_value_fault, "spec_key": spec_key_fault, "spec_text": spec_text_fault, "data": data_fault,
    "yaml_depth": yaml_depth_fault, "yaml_alias": yaml_alias_fault, "links": link_fault, "encodings": encoding_fault,
    "npz": npz_fault, "special_paths": special_path_fault, "duplicate_columns": duplicate_column_fault,
    "spec_numbers": nonfinite_spec_fault, "run_folder": run_folder_fault,
}
CLASSIC_FAMILIES = ("spec_value", "spec_key", "spec_text", "data")  # the first campaign's (tests/test_fuzz.py draws these)


@st.composite
def fuzz_cases(draw, families: Sequence[str] | None = None) -> FuzzCase:
    """A base input with one fault from one of ``families`` (default: every one in FAMILIES), and the command
    to run it through."""
    family = draw(st.sampled_from(sorted(families or FAMILIES)))
    base = draw(st.sampled_from(BASES))
    case = draw(FAMILIES[family](base))
    case.family = family
    if case.damage is None and not case.always_run:  # those name their command (search; train, which writes)
        case.command = draw(st.sampled_from(COMMANDS))
    return case


# --- running one example ---------------------------------------------------------------------------


@dataclass
class Invocation:
    """One CLI command run on an example, and how it ended."""

    command: str
    exit_code: int  # -1: it did not end within its time limit (a hang)
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
    family: str = ""

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


class _Hang(BaseException):
    """Raised by the watchdog in the command it interrupts: a BaseException, so that neither the CLI's
    handlers (they catch Exception) nor CliRunner (likewise) take it for the command's own error."""


@contextlib.contextmanager
def _watchdog(seconds: float) -> Iterator[None]:
    """Raise ``_Hang`` in this (main) thread after ``seconds``; a no-op elsewhere."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def fire(signum, frame):
        raise _Hang

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _judge(case: FuzzCase, command: str, exit_code: int, stderr: str, seconds: float, *, crashed: BaseException | None = None,
           trace: str | None = None, timeout: float = 0.0) -> Invocation:
    """The Invocation of one command that ended with ``exit_code`` (or ``crashed``, or ran past ``timeout``)."""
    must_refuse = case.must_refuse and (not case.refused_by or command in case.refused_by)
    violation = None
    if exit_code == -1:
        violation = f"hang: no exit within {timeout:.0f} s"
    elif crashed is not None:
        message = str(crashed).strip().splitlines()
        violation = f"traceback: {type(crashed).__name__}: {message[0][:300] if message else ''}"
    elif exit_code == 4:  # the CLI caught a bug (cli.EXIT_BUG): its line, then the traceback, on stderr
        bug = next((line for line in stderr.splitlines() if line.startswith("error (bug): ")), "")
        violation = "traceback: " + bug.removeprefix("error (bug): ").split(" -- ")[0][:300]
        trace = stderr
    elif "Traceback (most recent call last)" in stderr or "RecursionError" in stderr:
        violation = f"traceback on stderr (exit {exit_code})"
        trace = stderr
    elif exit_code not in (0, 2, 3):
        violation = f"exit code {exit_code}"
    elif exit_code in (2, 3):
        lines = [line for line in stderr.splitlines() if line.strip()]
        violation = _refusal_violation(stderr)
        if violation is None and exit_code not in case.refuse_codes:
            violation = f"refused with exit {exit_code}; this input is {'bad input (2)' if 2 in case.refuse_codes else 'exit 3'}"
        if violation is None and case.one_line and len(lines) != 1:
            violation = f"refused in {len(lines)} lines; one line was expected"
        if violation is None and case.isolated and seconds > SLOW_REFUSAL:
            violation = f"refused, but only after {seconds:.0f} s"
    elif exit_code == 0 and must_refuse:
        violation = "ran, but this input must be refused"
    return Invocation(command, exit_code, stderr.strip()[-2000:], round(seconds, 2), trace, violation)


def _invoke(command: str, spec_arg: str, case: FuzzCase) -> Invocation:
    """Run ``autofix-lstm command spec_arg`` in this process (through typer's CliRunner), under the watchdog."""
    from typer.testing import CliRunner

    from autofix_lstm.cli import app

    timeout = IN_PROCESS_TIMEOUT[command]
    started = time.perf_counter()
    try:
        with _watchdog(timeout):
            result = CliRunner().invoke(app, [command, spec_arg], catch_exceptions=True)
    except _Hang:
        return _judge(case, command, -1, "", time.perf_counter() - started, timeout=timeout)
    seconds = time.perf_counter() - started
    if command != "check" and result.exit_code == 0:
        import keras

        keras.backend.clear_session()  # a model trained: free it (slow under load, so only then)
    crashed = result.exception if result.exception is not None and not isinstance(result.exception, SystemExit) else None
    trace = "".join(traceback.format_exception(*result.exc_info)) if crashed is not None and result.exc_info else None
    return _judge(case, command, result.exit_code, result.stderr, seconds, crashed=crashed, trace=trace)


def _subprocess(args: list[str], cwd: Path, timeout: float, memory: int | None = None) -> tuple[int, str, str, float]:
    """Run ``python -m autofix_lstm *args`` in ``cwd``: (exit code, stdout, stderr, seconds); exit code -1 past
    ``timeout`` (its whole process group is killed). ``memory``: a cap on its address space, in bytes."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}

    def limits() -> None:
        if memory:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "autofix_lstm", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True,
                               preexec_fn=limits)
    try:
        out, err = process.communicate(timeout=timeout)
        code = process.returncode
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        code = -1
    return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), time.perf_counter() - started


def _invoke_isolated(command: str, spec_arg: str, folder: Path, case: FuzzCase) -> Invocation:
    """``_invoke`` in a subprocess of at most ISOLATED_TIMEOUT seconds and 4 GiB (a bomb that got through is
    caught by the clock or the memory cap, not by this machine)."""
    code, _, err, seconds = _subprocess([command, spec_arg], folder, ISOLATED_TIMEOUT, memory=4 << 30)
    return _judge(case, command, code, err, seconds, timeout=ISOLATED_TIMEOUT)


def run_case(case: FuzzCase, folder: Path, *, run_accepted: bool = False) -> Outcome:
    """Write ``case``'s files into ``folder`` and run the CLI on them (in-process, or in a subprocess when
    ``case.isolated``; a damaged run folder goes to ``run_damaged``).

    ``check`` runs first (it validates everything the commands validate, and trains nothing). The
    drawn command (``train`` or ``diagnose``) then runs too when ``check`` refused the input (it must
    be refused as cleanly there, and that costs no training), when the fault is in the output folder
    (which only the command looks at), or when ``run_accepted`` is set (an accepted input must then
    run: 1 epoch on tiny data, still seconds to a minute on a busy machine).
    """
    if case.damage is not None:
        return run_damaged(case, folder)
    folder.mkdir(parents=True, exist_ok=True)
    text = spec_text(case)
    spec_path = folder / "spec.yaml"
    encoding = case.spec_encoding or "utf-8"
    content = text.encode(encoding, "surrogatepass" if encoding == "utf-8" else "strict") if isinstance(text, str) else text
    if case.spec_bytes_insert is not None:
        at = int(len(content) * case.spec_bytes_insert[0])
        content = content[:at] + case.spec_bytes_insert[1] + content[at:]
    spec_path.write_bytes(content)
    write_data(case, folder)
    (folder / "model.keras").write_bytes(b"not a keras archive")
    strategy = STRATEGY_TEXT if case.strategy is None else case.strategy
    (folder / "mine.yaml").write_bytes(strategy.encode("utf-8") if isinstance(strategy, str) else strategy)
    _apply_files(case, folder)
    spec_arg = str(spec_path)
    if case.spec_arg is not None:
        spec_arg = case.spec_arg if case.spec_arg.startswith(("/", "~")) or not case.spec_arg else str(folder / case.spec_arg)
    if case.isolated:
        runs = [_invoke_isolated("check", spec_arg, folder, case)]
        if runs[0].exit_code != 0 or run_accepted or case.always_run:
            runs.append(_invoke_isolated(case.command, spec_arg, folder, case))
    else:
        runs = [_invoke("check", spec_arg, case)]
        if runs[0].exit_code != 0 or run_accepted or case.always_run:
            runs.append(_invoke(case.command, spec_arg, case))
    shown = text if isinstance(text, str) else repr(text)
    if len(shown) > 4000:  # a deep nesting or a bomb: its start and end are enough to see it
        shown = f"{shown[:1500]}\n... ({len(shown)} characters) ...\n{shown[-500:]}"
    return Outcome(case.describe(), case.fault, shown, runs, case.family)


# --- the damaged run folder --------------------------------------------------------------------------

# The spec of the finished tiny search each campaign builds once (``base_run_folder``) and copies per
# example: a collapsing LSTM (targets around 5,000 into a sigmoid), 1 epoch, 2 trials, nothing after them.
RUN_SPEC = {
    "data": {"path": "data.csv", "target": "y", "features": ["x", "y"], "window": 8, "horizon": 1},
    "model": {"layers": [{"type": "lstm", "units": 4}, {"type": "dense", "units": 1, "activation": "sigmoid"}],
              "optimizer": {"name": "adam", "learning_rate": 0.01}, "loss": "mse"},
    "train": {"epochs": 1, "batch_size": 32, "seed": 0},
    "search": {"max_trials": 2, "confirm": False, "minimize": False},
    "output": "out",
}
BASE_RUN_TIMEOUT = 900.0
_BASE_RUNS: dict[str, tuple[Path, int, str]] = {}  # campaign folder -> (finished run's folder, its exit code, its stderr)
_DAMAGE_OUTCOMES: dict[tuple, Outcome] = {}  # (campaign folder, damaged file, how, argument) -> what the resume did


def base_run_folder(root: Path) -> tuple[Path, int, str]:
    """The finished tiny search under ``root`` (built by the first call, in a subprocess: about 30 s)."""
    key = str(root)
    if key not in _BASE_RUNS:
        folder = root / "_base_run"
        folder.mkdir(parents=True, exist_ok=True)
        t = np.arange(160, dtype=np.float64)
        noise = 0.05 * np.random.default_rng(0).normal(size=len(t))
        pd.DataFrame({"t": t, "x": np.sin(2 * np.pi * t / 16 + np.pi / 2),
                      "y": 5000 + 1000 * (np.sin(2 * np.pi * t / 16) + noise)}).to_csv(folder / "data.csv", index=False)
        (folder / "spec.yaml").write_text(yaml.safe_dump(RUN_SPEC, sort_keys=False), encoding="utf-8")
        code, out, err, _ = _subprocess(["search", "spec.yaml"], folder, BASE_RUN_TIMEOUT)
        _BASE_RUNS[key] = (folder, code, (err.strip() or out.strip())[-1500:])
    return _BASE_RUNS[key]


def damage_file(path: Path, how: str, arg: Any) -> None:
    """Truncate, garble or replace ``path`` (see ``run_folder_fault``)."""
    content = path.read_bytes()
    if how == "truncate":
        content = content[: int(len(content) * arg)]
    elif how == "garble":
        at, length = arg  # the bytes follow from where and how many: a repeated draw is the same input
        start = min(int(len(content) * at), max(0, len(content) - 1))
        junk = np.random.default_rng([int(at * 1000), length]).integers(0, 256, size=length, dtype=np.uint8).tobytes()
        content = content[:start] + junk + content[start + length:]
    elif how == "junk":
        content = arg
    elif how == "partial last line":
        lines = content.rstrip(b"\n").split(b"\n")
        content = b"\n".join(lines[:-1] + [lines[-1][: len(lines[-1]) // 2]])
    else:
        raise ValueError(how)
    path.write_bytes(content)


def _parses(path: Path, kind: str) -> bool:
    """Whether ``path`` reads as a file of its ``kind`` (a JSON object, a YAML mapping, a Keras zip...)."""
    try:
        if kind == "json":
            return isinstance(json.loads(path.read_text(encoding="utf-8")), dict)
        if kind == "yaml":
            return isinstance(yaml.safe_load(path.read_text(encoding="utf-8")), dict)
        if kind == "keras":
            with zipfile.ZipFile(path) as archive:
                return archive.testzip() is None and "config.json" in archive.namelist()
        if kind == "csv":
            return len(pd.read_csv(path).columns) > 1
        return path.stat().st_size > 0
    except Exception:  # noqa: BLE001 - any failure to read it is the answer
        return False


def run_folder_problems(out: Path, damaged: Path, kind: str, damaged_content: bytes, events_before: bytes) -> list[str]:
    """What is wrong with a run folder a resumed search left with exit 0: its outputs must read, and the
    file that was damaged must not be left damaged (the next resume would meet it again)."""
    problems = [f"{name} is missing or unreadable" for name, kind_ in (
        ("summary.json", "json"), ("search_state.json", "json"), ("baseline.json", "json"), ("best_trial.json", "json"),
        ("best_spec.yaml", "yaml"), ("best_model.keras", "keras"), ("baseline_model.keras", "keras"),
        ("trials.csv", "csv"), ("report.html", "html")) if not _parses(out / name, kind_)]
    events = (out / "events.jsonl").read_bytes() if (out / "events.jsonl").is_file() else b""
    added = events[len(events_before):] if events.startswith(events_before) else events
    for number, line in enumerate(added.decode("utf-8", "replace").splitlines(), 1):
        try:
            if line.strip():
                json.loads(line)
        except ValueError:
            problems.append(f"events.jsonl: line {number} of what this run wrote is not JSON: {line[:80]!r}")
            break
    if kind in ("json", "yaml", "keras") and damaged.is_file() and damaged.read_bytes() == damaged_content \
            and not _parses(damaged, kind):
        problems.append(f"{damaged.relative_to(out)} was left damaged")
    return problems


def run_damaged(case: FuzzCase, folder: Path) -> Outcome:
    """Copy the campaign's finished tiny run folder to ``folder``, damage one file, and resume the search
    there in a subprocess: it must end with exit 0 and readable outputs, or exit 3 with one line naming
    the damaged file (and within RESUME_TIMEOUT)."""
    pattern, how, arg, pick = case.damage
    base, base_code, base_err = base_run_folder(folder.parent)
    if base_code not in (0, 1):
        run = Invocation("search", base_code, base_err, 0.0, None,
                         f"the base run folder could not be built (search exit {base_code})")
        return Outcome(case.describe(), case.fault, "", [run], case.family)
    shutil.copytree(base, folder, symlinks=True)
    out = folder / "out"
    (out / "search.lock").unlink(missing_ok=True)
    matches = sorted(out.glob(pattern))
    if not matches:
        run = Invocation("search", 0, "", 0.0, None, f"harness: the base run folder holds no {pattern}")
        return Outcome(case.describe(), case.fault, "", [run], case.family)
    damaged = matches[pick % len(matches)]
    relative = str(damaged.relative_to(out))
    key = (str(folder.parent), relative, how, repr(arg))
    if key in _DAMAGE_OUTCOMES:  # hypothesis draws some inputs again: the same damage resumes the same way
        shutil.rmtree(folder, ignore_errors=True)
        return copy.deepcopy(_DAMAGE_OUTCOMES[key])
    events_file = out / "events.jsonl"
    damage_file(damaged, how, arg)
    damaged_content = damaged.read_bytes()
    events_before = events_file.read_bytes() if events_file.is_file() else b""
    code, stdout, err, seconds = _subprocess(["search", "spec.yaml"], folder, RESUME_TIMEOUT)
    lines = [line for line in err.splitlines() if line.strip()]
    trace = None
    violation = None
    if code == -1:
        violation = f"hang: no exit within {RESUME_TIMEOUT:.0f} s"
    elif code == 4 or "Traceback (most recent call last)" in err:
        bug = next((line for line in lines if line.startswith("error (bug): ")), lines[0] if lines else "")
        violation, trace = "traceback: " + bug.removeprefix("error (bug): ").split(" -- ")[0][:300], err
    elif code == 3:
        if len(lines) != 1 or not lines[0].startswith("error"):
            violation = f"exit 3 in {len(lines)} lines; one error line naming {relative} was expected"
        elif damaged.name not in lines[0]:
            violation = f"exit 3 without naming the damaged file {relative}"
    elif code == 0 or code == base_code:
        problems = run_folder_problems(out, damaged, RUN_FILES[pattern], damaged_content, events_before)
        if problems:
            violation = f"exit {code}, but " + "; ".join(problems)
    else:
        violation = f"exit code {code} (a damaged run folder is exit 0 or 3)"
    shown = f"{relative}: {case.detail.split(' ', 1)[1]}"  # the damage, where the spec text goes for the others
    run = Invocation("search", code, (err.strip() or stdout.strip())[-2000:], round(seconds, 2), trace, violation)
    shutil.rmtree(folder, ignore_errors=True)  # a copy of a run folder per example adds up
    _DAMAGE_OUTCOMES[key] = Outcome(case.describe().replace(pattern, relative, 1), case.fault, shown, [run], case.family)
    return copy.deepcopy(_DAMAGE_OUTCOMES[key])


# --- the campaign ----------------------------------------------------------------------------------


def campaign(examples: int, seed: int, work: Path, *, run_accepted: float = 0.0, on_outcome=None,
             families: Sequence[str] | None = None) -> list[Outcome]:
    """Run ``examples`` hypothesis-generated cases (no shrinking: every outcome is kept) from ``families``
    (default: all of FAMILIES).

    ``run_accepted``: the fraction of the inputs ``check`` accepts that also run the real command
    (every 1/fraction-th accepted one, so the choice does not depend on timing).
    """
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    outcomes: list[Outcome] = []

    @hypothesis_seed(seed)
    @settings(max_examples=examples, phases=[Phase.generate], deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=fuzz_cases(families))
    def collect(case: FuzzCase) -> None:
        accepted = sum(o.runs[0].command == "check" and o.runs[0].exit_code == 0 for o in outcomes)
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
        "by_family": {family: {"examples": sum(o.family == family for o in outcomes),
                               "violations": sum(not o.ok for o in outcomes if o.family == family)}
                      for family in sorted({o.family for o in outcomes})},
        "max_seconds_by_fault": {fault: max(run.seconds for o in outcomes if o.fault == fault for run in o.runs)
                                 for fault in sorted({o.fault for o in outcomes})},
        "tracebacks": sum(run.traceback is not None or (run.violation or "").startswith("traceback") for run in runs),
        "hangs": sum(run.exit_code == -1 for run in runs),
        "nonsense_accepted": sum(run.violation == "ran, but this input must be refused" for run in runs),
        "multi_line_refusals": sum(run.exit_code in (2, 3) and len(run.stderr.strip().splitlines()) > 1 for run in runs),
        "violations": [
            {"case": o.case, "fault": o.fault, "spec": o.spec, **asdict(run)}
            for o in outcomes for run in o.runs if run.violation is not None
        ],
        "outcomes": [{"case": o.case, "fault": o.fault, "family": o.family,
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
        f"in {summary['seconds']} s; {summary['tracebacks']} tracebacks, {summary.get('hangs', 0)} hangs, "
        f"{summary.get('nonsense_accepted', 0)} bad inputs accepted, {len(summary['violations'])} violations. "
        f"{summary['multi_line_refusals']} refusals named several problems, one error line each.",
        "",
        "Every example runs `check`; the drawn command (`train` or `diagnose`) runs too when `check` refused it, "
        "when the fault is in the output folder (only the command writes there), and for a sample of the accepted "
        "ones. YAML nesting and alias bombs run in a subprocess each (a hang past "
        f"{ISOLATED_TIMEOUT:.0f} s, 4 GiB of memory at most); a damaged run folder is a copy of one finished tiny "
        "search, resumed by `search` in a subprocess; the rest run in-process under a watchdog.",
        "",
        "| family | examples | with a violation |",
        "|---|---|---|",
        *[f"| {family or '(not recorded)'} | {counts['examples']} | {counts['violations']} |"
          for family, counts in summary.get("by_family", {}).items()],
        "",
        "| command | exit codes (count) |",
        "|---|---|",
        *[f"| {c} | {', '.join(f'{k}: {n}' for k, n in codes.items())} |" for c, codes in summary["by_command"].items()],
        "",
        "| exit code of the last command run | examples |",
        "|---|---|",
        *[f"| {code} | {count} |" for code, count in summary["by_exit_code"].items()],
        "",
        "| fault | exit codes (count) | slowest command (s) |",
        "|---|---|---|",
        *[f"| {fault} | {', '.join(f'{c}: {n}' for c, n in codes.items())} | "
          f"{summary.get('max_seconds_by_fault', {}).get(fault, '')} |" for fault, codes in summary["by_fault"].items()],
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
    parser.add_argument("--families", default=",".join(FAMILIES),
                        help=f"comma-separated families to draw from (default: all): {', '.join(FAMILIES)}")
    parser.add_argument("--rejudge", action="store_true", help="re-judge the results' fuzz.json with the current rules")
    args = parser.parse_args(argv)
    if args.rejudge:
        summary = rejudge(args.results)
        print(f"{len(summary['violations'])} violations after re-judging -> {args.results / 'fuzz.md'}")
        return 1 if summary["violations"] else 0
    families = [name.strip() for name in args.families.split(",") if name.strip()]
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown or not families:
        parser.error(f"unknown families {unknown}; known: {', '.join(FAMILIES)}")
    command = f"python -m benchmarks.fuzz --examples {args.examples} --seed {args.seed} --run-accepted {args.run_accepted}"
    if set(families) != set(FAMILIES):
        command += f" --families {','.join(families)}"
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="autofix_fuzz_") as work:
        def show(outcome: Outcome) -> None:
            mark = "ok " if outcome.ok else "BAD"
            runs = " ".join(f"{r.command}:{r.exit_code}({r.seconds:.1f}s)" for r in outcome.runs)
            print(f"{mark} {runs:34} {outcome.case[:140]}", flush=True)
            for run in outcome.runs:
                if run.violation:
                    print(f"    -> {run.command}: {run.violation}", flush=True)

        outcomes = campaign(args.examples, args.seed, Path(work), run_accepted=args.run_accepted, on_outcome=show,
                            families=families)
    summary = summarize(outcomes, time.perf_counter() - started, command)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "fuzz.json").write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    write_markdown(summary, args.results / "fuzz.md")
    print(f"{summary['examples']} examples, exit codes {summary['by_exit_code']}, {summary['tracebacks']} tracebacks, "
          f"{summary['hangs']} hangs, {summary['nonsense_accepted']} bad inputs accepted, "
          f"{len(summary['violations'])} violations -> {args.results / 'fuzz.md'}")
    return 1 if summary["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
