"""Data files shipped inside the package: the built-in remedy strategies, the JSON schemas and the demo's example.

All are read through ``importlib.resources``. The strategy files' one source is the repository's
top-level ``strategies/`` folder: a wheel carries copies of them in ``autofix_lstm/remedies/builtin``
(``BUILTIN_STRATEGIES``; setup.py's build step copies them), and an editable install or a source
checkout on ``sys.path``, which run the package from the repository, read that folder itself. This
module imports nothing heavy.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

PACKAGE = "autofix_lstm"
# Where a built package carries the built-in strategy files (setup.py copies strategies/*.yaml there).
BUILTIN_STRATEGIES = "remedies/builtin"
# The bundled collapsed example (``autofix-lstm demo``): a spec and its data, declared as package data in pyproject.toml.
DEMO_DATA = "demo_data"
DEMO_FILES = ("energy.yaml", "energy.csv")  # the spec first; its data.path names the second


def _strategies_folder() -> Traversable:
    shipped = resources.files(PACKAGE) / BUILTIN_STRATEGIES
    if shipped.is_dir():
        return shipped
    # Run from the repository (an editable install or a source checkout): the files' own folder.
    checkout = Path(__file__).resolve().parent.parent / "strategies"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"no built-in strategies: {shipped} is not a folder; the installation is incomplete")


def builtin_strategy_texts() -> dict[str, str]:
    """The built-in strategy files: file name -> YAML text, sorted by file name.

    Raises:
        FileNotFoundError: the strategies folder is missing or holds no ``*.yaml`` file.
    """
    folder = _strategies_folder()
    entries = sorted((e for e in folder.iterdir() if e.name.endswith(".yaml") and e.is_file()), key=lambda e: e.name)
    if not entries:
        raise FileNotFoundError(f"no built-in strategies: {folder} holds no .yaml file; the installation is incomplete")
    return {entry.name: entry.read_text(encoding="utf-8") for entry in entries}


def schema_text(name: str) -> str:
    """The text of the JSON schema ``autofix_lstm/schemas/<name>`` (e.g. ``diagnosis.schema.json``).

    Raises:
        ValueError: ``name`` is not a plain file name.
        FileNotFoundError: there is no such schema; the message lists the ones there are.
    """
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise ValueError(f"schema name must be a plain file name, got {name!r}")
    folder = resources.files(PACKAGE) / "schemas"
    entry = folder / name
    if not entry.is_file():
        known = sorted(e.name for e in folder.iterdir() if e.name.endswith(".json")) if folder.is_dir() else []
        raise FileNotFoundError(f"no schema {name!r} in {PACKAGE}/schemas; there are: {', '.join(known) or 'none'}")
    return entry.read_text(encoding="utf-8")


def demo_texts() -> dict[str, str]:
    """The bundled example's files (``autofix_lstm/demo_data``): file name -> text, the spec first.

    Raises:
        FileNotFoundError: a file is missing; the installation is incomplete.
    """
    folder = resources.files(PACKAGE) / DEMO_DATA
    missing = [name for name in DEMO_FILES if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"no {', '.join(missing)} in {folder}: the installation is incomplete")
    return {name: (folder / name).read_text(encoding="utf-8") for name in DEMO_FILES}
