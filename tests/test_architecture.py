"""The package's shape: no import cycles, presentation on top, and one owner of the run folder's names.

Read with ``ast`` (nothing is imported), so a cycle hidden inside a function counts too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "autofix_lstm"
NAME = "autofix_lstm"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py") if p.resolve().parent.name != "strategies"}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules ``path`` imports, anywhere in it (functions included)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from pkg import submodule`` loads the submodule; ``from pkg import name`` runs pkg/__init__.
            submodules = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [m for m in submodules if m in modules]
            if len(names) < len(submodules):
                names.append(node.module)
        else:
            continue
        out |= {name for name in names if name.startswith(NAME) and name in modules}
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle_inside_the_package():
    # The package __init__ (the public API) and the CLI sit on top: they import everything, nothing imports them.
    graph = {k: v - {NAME, f"{NAME}.cli", f"{NAME}.__main__"} for k, v in _graph().items()}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_cycle_check_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_nothing_below_render_imports_it():
    # SearchResult.plot/_repr_html_ (tuning.driver) hand the result to render: the one way in from below.
    allowed = {f"{NAME}.api", f"{NAME}.cli", NAME, f"{NAME}.tuning.driver"}
    offenders = {
        module: sorted(i for i in imports if i.startswith(f"{NAME}.render"))
        for module, imports in _graph().items()
        if not module.startswith(f"{NAME}.render") and module not in allowed
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_search_core_does_not_write_the_report():
    source = (PACKAGE / "tuning" / "driver.py").read_text()
    tree = ast.parse(source)
    top_level = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not any("render" in (getattr(n, "module", "") or "") for n in top_level)
    assert "write_report" not in source


def test_output_file_names_are_spelled_only_in_run_dir():
    names = ("summary.json", "trials.csv", "best_spec.yaml", "best_model.keras", "report.html", "baseline.json",
             "baseline_model.keras", "search_state.json", "diagnosis.json", "metrics.json", "model.keras",
             "autofix_trial.json")
    pattern = re.compile("|".join(re.escape(f'"{n}"') for n in names))
    spelled = {
        str(path.relative_to(PACKAGE)): pattern.findall(path.read_text(encoding="utf-8"))
        for path in PACKAGE.rglob("*.py") if path.name != "run_dir.py"
    }
    assert {k: v for k, v in spelled.items() if v} == {}


def test_trial_statuses_are_not_bare_strings_outside_the_record():
    # A status compared or used as a key (a legend's label text is fine).
    pattern = re.compile(r'(?:==|!=)\s*["\'](completed|pruned|failed)["\']|["\'](completed|pruned|failed)["\']\s*:')
    spelled = {
        str(path.relative_to(PACKAGE)): pattern.findall(path.read_text(encoding="utf-8"))
        for sub in ("tuning", "render") for path in (PACKAGE / sub).rglob("*.py") if path.name != "records.py"
    }
    assert {k: v for k, v in spelled.items() if v} == {}
