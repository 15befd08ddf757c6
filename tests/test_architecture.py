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
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


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
    # SearchResult.plot/_repr_html_ (tuning.result) hand the result to render: the one way in from below.
    allowed = {f"{NAME}.api", f"{NAME}.cli", NAME, f"{NAME}.tuning.result"}
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


MAX_MODULE_LINES = 500


def test_no_module_is_over_500_lines():
    # One concept per module: a module past this size holds several, and a reader no longer finds one by its name.
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}, f"split these by concept (at most {MAX_MODULE_LINES} lines each): {long}"


# ``metrics["r2"]``, ``record.metrics.get("std_ratio")``, ``(metrics or {}).get(...)``: a string-key read of a model's metrics
_METRICS_KEY_READ = re.compile(r"""metrics(?:\s+or\s+\{\}\))?\s*(?:\[\s*["']|\.get\(\s*["'])""")


def test_metrics_are_read_as_attributes_outside_their_type():
    # One typed record (scoring.metrics.Metrics), like Optuna's FrozenTrial: readers never re-derive a value
    # from a dict by its key; the JSON keys live in the type's own module alone.
    spelled = {
        str(path.relative_to(PACKAGE)): _METRICS_KEY_READ.findall(path.read_text(encoding="utf-8"))
        for path in PACKAGE.rglob("*.py") if path != PACKAGE / "scoring" / "metrics.py"
    }
    assert {k: v for k, v in spelled.items() if v} == {}


def test_the_metrics_check_finds_a_string_key_read():
    for line in ('x = metrics["r2"]', "x = record.metrics.get('std_ratio')", 'x = (metrics or {}).get("nan")'):
        assert _METRICS_KEY_READ.search(line), line
    assert not _METRICS_KEY_READ.search("x = metrics.r2")


# Where a spec is still rebuilt from a dict the package made itself (not user input), and why.
# Each is its owner's to replace; none may be added.
SPEC_REBUILT_INSIDE = {
    f"{NAME}.diagnosis.monitor_model": "CollapseMonitor is given a live model in the user's own fit: when Spec.from_model "
                                       "refuses it, its head becomes a spec",
    f"{NAME}.tuning.summary": "a trial record's spec dict, and best_spec re-anchored in another folder",
}


def _calls_load_spec(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            if (isinstance(func, ast.Name) and func.id == "load_spec") or (
                isinstance(func, ast.Attribute) and func.attr == "load_spec"
            ):
                return True
    return False


def test_specs_are_read_only_at_the_boundary():
    # What a user passes (a path, a dict, a Spec, a model) becomes a Spec once, in inputs.resolve_inputs
    # (called by api and the CLI); training, diagnosis and the search take that Spec and never re-read one.
    boundary = {f"{NAME}.api", f"{NAME}.cli", f"{NAME}.inputs"}
    readers = {
        module for module, path in _modules().items()
        if _calls_load_spec(path) and module not in boundary and module.split(".")[:2] != [NAME, "spec"]
    }
    assert readers - set(SPEC_REBUILT_INSIDE) == set(), "take a Spec from inputs.resolve_inputs instead"
    assert readers >= set(SPEC_REBUILT_INSIDE), "no longer rebuilds a spec: drop it from SPEC_REBUILT_INSIDE"
