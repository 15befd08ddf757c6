"""The data files the package ships, read through ``autofix_lstm.resources``, are the repository's own.

The strategy files live in the top-level ``strategies/`` folder and reach the package through the
``autofix_lstm/strategies`` symlink; these tests build nothing, they read what the installed
package (editable here) sees.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autofix_lstm.resources import builtin_strategy_texts, schema_text

ROOT = Path(__file__).resolve().parents[1]


def test_builtin_strategies_are_the_strategies_folder():
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in (ROOT / "strategies").glob("*.yaml")}
    assert on_disk, "no strategies/*.yaml in the repository"
    texts = builtin_strategy_texts()
    assert list(texts) == sorted(on_disk), "not the same files, or not sorted by file name"
    assert texts == on_disk


def test_diagnosis_schema_parses_as_json():
    schema = json.loads(schema_text("diagnosis.schema.json"))
    assert schema["type"] == "object" and "$schema" in schema


def test_unknown_schema_names_the_known_ones():
    with pytest.raises(FileNotFoundError, match="diagnosis.schema.json"):
        schema_text("nope.schema.json")
    with pytest.raises(ValueError, match="plain file name"):
        schema_text("../pyproject.toml")


def test_the_gpu_extra_brings_the_cuda_build_of_the_pinned_tensorflow():
    import re

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    (requirement,) = extras["gpu"]
    pinned = re.search(r"^tensorflow[-_]cpu==(\S+)$", (ROOT / "constraints.txt").read_text(), re.M | re.I)
    assert pinned, "constraints.txt pins tensorflow-cpu"
    assert requirement.startswith(f"tensorflow[and-cuda]=={pinned.group(1)};")
