"""Writing a benchmark's page: its command line, ``<stem>.json`` and ``<stem>.md`` side by side."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def command_line(module: str, argv: list[str] | None) -> str:
    """``python -m <module> <arguments>``, as the page records what produced it."""
    return ("python -m " + module + " " + " ".join(argv if argv is not None else sys.argv[1:])).strip()


def write_page(folder: Path, stem: str, command: str, rows: list[dict], text: str) -> str:
    """Write ``{"command", "cases": rows}`` to ``<stem>.json`` and ``text`` to ``<stem>.md``; return ``text``."""
    (folder / f"{stem}.json").write_text(json.dumps({"command": command, "cases": rows}, indent=1) + "\n")
    (folder / f"{stem}.md").write_text(text)
    return text
