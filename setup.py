"""The one build step pyproject.toml cannot declare: ship the top-level strategies/ folder in the package.

The built-in remedy strategies live in the repository's top-level ``strategies/`` folder, their one
source. A wheel carries copies of them as ``autofix_lstm/remedies/builtin/*.yaml``, where
``autofix_lstm.resources`` reads them once installed; an editable install and a source checkout run
from the repository and read ``strategies/`` itself. (A package-dir mapping in pyproject.toml would
also ship them, but it turns ``pip install -e .`` into an import-hook install that prints a warning.)
Everything else about the build is in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SOURCE = ROOT / "strategies"
# Where the files land inside the package: autofix_lstm.resources.BUILTIN_STRATEGIES names the same place.
TARGET = ("autofix_lstm", "remedies", "builtin")


class BuildPyWithStrategies(build_py):
    """``build_py`` that also copies ``strategies/*.yaml`` into the built package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # the editable install reads strategies/ in place
        files = sorted(SOURCE.glob("*.yaml"))
        if not files:
            raise FileNotFoundError(f"no strategy files in {SOURCE}: the package would ship without its remedies")
        target = Path(self.build_lib, *TARGET)
        self.mkpath(str(target))
        for source in files:
            self.copy_file(str(source), str(target / source.name))


setup(cmdclass={"build_py": BuildPyWithStrategies})
