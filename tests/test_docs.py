"""The documentation: a short README that opens with the two make commands and the notebook path, and
``docs/*.md`` pages that hold the reference, each contract documented where the README points.

What the package promises by name (finding ids, summary.json keys, searchable fields, commands) is
checked against the page that documents it, so a new name cannot ship undocumented; every relative
link and anchor in the README and the pages must resolve. The exit codes' table: test_cli_exit_codes.py.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from autofix_lstm import cli
from autofix_lstm.finding_ids import FINDING_IDS
from autofix_lstm.remedies.fields import FIELDS
from autofix_lstm.tuning.search_summary import Summary

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
# [text](target): the link's target, without a title
LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens (code blocks skipped)."""
    anchors, in_code = set(), False
    for line in _text(path).splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            heading = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", heading).replace(" ", "-"))
    return anchors


def _section(path: Path, heading: str) -> str:
    return _text(path).split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_opens_with_the_make_commands_then_the_notebook_path_with_a_live_model():
    lines = _text(README).splitlines()
    assert "make demo" in "\n".join(lines[:6]) and "make test" in "\n".join(lines[:6])
    first_screen = "\n".join(lines[:40])
    assert "pip install" in first_screen
    assert "autofix_lstm.search(model, x=x, y=y" in first_screen
    assert "autofix-lstm demo" in _text(README)  # the wheel user's one command
    assert len(lines) < 120, "the README is the short way in; reference material belongs in docs/"


def test_every_docs_page_is_linked_from_the_readme():
    linked = {target.split("#")[0] for target in LINK.findall(_text(README))}
    assert PAGES and sorted(f"docs/{page.name}" for page in PAGES if f"docs/{page.name}" not in linked) == []


@pytest.mark.parametrize("path", [README, *PAGES], ids=lambda p: p.name)
def test_every_relative_link_and_anchor_resolves(path):
    broken = []
    for target in LINK.findall(_text(path)):
        if re.match(r"[a-z]+:", target):
            continue  # a web address
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        if not linked.exists():
            broken.append(target)
        elif anchor and (linked.suffix != ".md" or anchor not in _anchors(linked)):
            broken.append(target)
    assert broken == []


def test_every_finding_id_is_documented_in_the_diagnosis_page():
    text = _text(DOCS / "diagnosis.md")
    assert [finding for finding in FINDING_IDS if f"`{finding}`" not in text] == []


def test_every_summary_key_is_documented_in_the_outputs_page():
    text = _text(DOCS / "outputs.md")
    assert [f.name for f in dataclasses.fields(Summary) if f"`{f.name}`" not in text] == []


def test_the_search_page_lists_exactly_the_searchable_fields():
    table = _section(DOCS / "search.md", "## The fields a strategy may search")
    listed = re.findall(r"^\| `([\w.]+)` \|", table, re.M)
    assert listed == list(FIELDS)


def test_every_command_is_documented_in_the_commands_page():
    text = _text(DOCS / "cli.md")
    commands = [command.name or command.callback.__name__ for command in cli.app.registered_commands]
    assert "demo" in commands
    assert [name for name in commands if f"autofix-lstm {name}" not in text] == []
