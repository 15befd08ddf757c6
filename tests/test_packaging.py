"""The data files the package ships, read through ``autofix_lstm.resources``, are the repository's own.

The strategy files' one source is the top-level ``strategies/`` folder: a wheel carries copies of them
in ``autofix_lstm/remedies/builtin`` (setup.py's build step), and an editable install (this
environment) or a source checkout on ``sys.path`` reads the folder itself. The wheel test builds one
from a copy of the sources and imports it from elsewhere (slow: pip installs the build backend), and
checks that it carries the example `autofix-lstm demo` copies out (``autofix_lstm/demo_data``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from autofix_lstm.resources import (
    BUILTIN_STRATEGIES,
    DEMO_DATA,
    DEMO_FILES,
    builtin_strategy_texts,
    demo_texts,
    schema_text,
)

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "autofix_lstm"


def _strategy_files() -> dict[str, str]:
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in sorted((ROOT / "strategies").glob("*.yaml"))}
    assert on_disk, "no strategies/*.yaml in the repository"
    return on_disk


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_builtin_strategies_are_the_strategies_folder():
    on_disk = _strategy_files()
    texts = builtin_strategy_texts()
    assert list(texts) == sorted(on_disk), "not the same files, or not sorted by file name"
    assert texts == on_disk


def test_the_build_copies_the_strategies_where_the_package_reads_them():
    import ast

    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    (target,) = [ast.literal_eval(node.value) for node in tree.body
                 if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "TARGET"]
    assert "/".join(target) == f"autofix_lstm/{BUILTIN_STRATEGIES}"
    assert "include strategies/*.yaml" in (ROOT / "MANIFEST.in").read_text().splitlines()
    # In the repository the package has no copy (it would go stale) and no symlink to the folder.
    assert not (PACKAGE / BUILTIN_STRATEGIES).exists()
    assert not (PACKAGE / "strategies").exists() and not (PACKAGE / "strategies").is_symlink()


def test_no_symlink_is_tracked():
    # A symlink breaks checkouts where git writes it as a plain file (core.symlinks=false, e.g. Windows).
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-s"], capture_output=True, text=True, check=True)
    links = [line.split("\t", 1)[1] for line in listed.stdout.splitlines() if line.startswith("120000 ")]
    # A link already removed from the working tree is gone once committed.
    assert [path for path in links if os.path.lexists(ROOT / path)] == []


def _python(code: str, path: Path, cwd: Path) -> dict:
    """Run ``code`` in a fresh interpreter that imports autofix_lstm from ``path`` only; its JSON output."""
    prelude = """
        import os, sys
        # Only `path`: not the repository this environment's editable install puts on sys.path (a .pth
        # line, or setuptools' import hook), nor the current folder.
        only, root = os.path.realpath(os.environ["ONLY_PATH"]), os.path.realpath(os.environ["REPO_ROOT"])
        sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
        sys.path[:] = [p for p in sys.path if p not in ("", ".") and "__editable__" not in p
                       and (os.path.realpath(p) != root or os.path.realpath(p) == only)]
    """
    env = {**os.environ, "PYTHONPATH": str(path), "ONLY_PATH": str(path), "REPO_ROOT": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(prelude) + textwrap.dedent(code)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


_READ_STRATEGIES = """
    import json
    import autofix_lstm
    from autofix_lstm.resources import _strategies_folder, builtin_strategy_texts
    print(json.dumps({"package": autofix_lstm.__file__, "folder": str(_strategies_folder()),
                      "texts": builtin_strategy_texts()}))
"""

_COPY_DEMO = """
    import json
    import autofix_lstm
    from autofix_lstm.demo import copy_example
    print(json.dumps({"package": autofix_lstm.__file__, "spec": str(copy_example("demo"))}))
"""


def test_a_source_checkout_on_sys_path_reads_the_strategies_folder(tmp_path):
    seen = _python(_READ_STRATEGIES, ROOT, tmp_path)
    assert Path(seen["package"]).parent == PACKAGE
    assert Path(seen["folder"]) == ROOT / "strategies"
    assert seen["texts"] == _strategy_files()


@pytest.mark.slow
def test_a_wheel_installed_elsewhere_carries_every_strategy_file_and_the_demo(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for folder in ("autofix_lstm", "strategies"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
                            str(source)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("autofix_lstm-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        shipped = {name.rsplit("/", 1)[1]: archive.read(name).decode("utf-8")
                   for name in names if name.startswith("autofix_lstm/remedies/builtin/") and name.endswith(".yaml")}
        archive.extractall(tmp_path / "site")
    assert shipped == _strategy_files(), "the wheel's built-in strategies are not strategies/*.yaml"
    assert not any(name.startswith(("autofix_lstm/strategies/", "strategies/")) for name in names)
    sources = {path.relative_to(ROOT).as_posix() for path in PACKAGE.rglob("*")
               if path.is_file() and "__pycache__" not in path.parts and not path.name.endswith(".pyc")}
    assert sorted(sources - names) == [], "package files missing from the wheel"
    demo = {name.rsplit("/", 1)[1] for name in names if name.startswith(f"autofix_lstm/{DEMO_DATA}/")}
    assert demo == set(DEMO_FILES), "the wheel does not carry autofix-lstm demo's example"

    seen = _python(_READ_STRATEGIES, tmp_path / "site", tmp_path)
    site = tmp_path / "site" / "autofix_lstm"
    assert Path(seen["package"]).parent == site
    assert Path(seen["folder"]) == site / "remedies" / "builtin"
    assert seen["texts"] == _strategy_files()

    # autofix-lstm demo's first step, from the installed wheel: its example, copied out where the user asked
    copied = _python(_COPY_DEMO, tmp_path / "site", tmp_path)
    assert Path(copied["package"]).parent == site
    assert Path(copied["spec"]) == Path("demo", DEMO_FILES[0])
    assert {name: (tmp_path / "demo" / name).read_text(encoding="utf-8") for name in DEMO_FILES} == demo_texts()


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

    extras = _pyproject()["project"]["optional-dependencies"]
    (requirement,) = extras["gpu"]
    pinned = re.search(r"^tensorflow[-_]cpu==(\S+)$", (ROOT / "constraints.txt").read_text(), re.M | re.I)
    assert pinned, "constraints.txt pins tensorflow-cpu"
    assert requirement.startswith(f"tensorflow[and-cuda]=={pinned.group(1)};")
