"""The run folder: every file a command writes into ``<output>/``, and the one way each is written.

Every file name lives here and nowhere else; a new output file is one more property of ``RunDir``.
Writes are atomic (a temporary file in the same folder, then ``os.replace``), so a kill while
writing leaves the previous version or the new one, never half a file. JSON is written with
NaN/inf as ``null`` (``jsonable``, the one converter the package has).

The folder's layout (a public contract, see the README)::

    <output>/
      summary.json  trials.csv  best_spec.yaml  best_model.keras  report.html   # search
      minimal_spec.yaml                                                         # search (the minimal fix)
      baseline.json  baseline_model.keras  search_state.json                    # search, for resume
      diagnosis.json                                                            # diagnose / search
      metrics.json  model.keras                                                 # train
      tuner/autofix/trial_<id>/autofix_trial.json                               # one record per trial
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUMMARY = "summary.json"
TRIALS_CSV = "trials.csv"
BEST_SPEC = "best_spec.yaml"
MINIMAL_SPEC = "minimal_spec.yaml"
BEST_MODEL = "best_model.keras"
REPORT = "report.html"
BASELINE = "baseline.json"
BASELINE_MODEL = "baseline_model.keras"
STATE = "search_state.json"
DIAGNOSIS = "diagnosis.json"
METRICS = "metrics.json"
MODEL = "model.keras"
TUNER = "tuner"
PROJECT = "autofix"
TRIAL_RECORD = "autofix_trial.json"


@dataclass(frozen=True)
class RunDir:
    """The paths of one output folder. Building one touches nothing on disk."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    summary = property(lambda self: self.root / SUMMARY, doc="summary.json: the verdict and the figures.")
    trials_csv = property(lambda self: self.root / TRIALS_CSV, doc="trials.csv: one row per trial.")
    best_spec = property(lambda self: self.root / BEST_SPEC, doc="best_spec.yaml: the best configuration.")
    minimal_spec = property(
        lambda self: self.root / MINIMAL_SPEC, doc="minimal_spec.yaml: the spec with only the changes the fix needed."
    )
    best_model = property(lambda self: self.root / BEST_MODEL, doc="best_model.keras: the best model.")
    report = property(lambda self: self.root / REPORT, doc="report.html: the self-contained report.")
    baseline = property(lambda self: self.root / BASELINE, doc="baseline.json: the spec as written, trained.")
    baseline_model = property(lambda self: self.root / BASELINE_MODEL, doc="baseline_model.keras.")
    state = property(lambda self: self.root / STATE, doc="search_state.json: fingerprint and elapsed time.")
    diagnosis = property(lambda self: self.root / DIAGNOSIS, doc="diagnosis.json: the findings.")
    metrics = property(lambda self: self.root / METRICS, doc="metrics.json: what ``train`` measured.")
    model = property(lambda self: self.root / MODEL, doc="model.keras: what ``train`` trained.")
    tuner = property(lambda self: self.root / TUNER, doc="tuner/: Keras Tuner's project folder's parent.")
    project = property(lambda self: self.root / TUNER / PROJECT, doc="tuner/autofix/: Keras Tuner's project.")

    def trial_record(self, trial_id: str) -> Path:
        """The record of one trial, beside Keras Tuner's own files for it."""
        return self.project / f"trial_{trial_id}" / TRIAL_RECORD

    def trial_records(self) -> Iterator[Path]:
        """Every trial record on disk (in no particular order)."""
        return self.project.glob(f"trial_*/{TRIAL_RECORD}")

    def search_outputs(self) -> list[Path]:
        """The files a search writes at the top of the folder (what ``--fresh`` removes besides tuner/)."""
        return [self.state, self.baseline, self.baseline_model, self.best_model, self.summary, self.trials_csv,
                self.best_spec, self.report, self.minimal_spec]


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: numpy scalars/arrays as Python ones, NaN/inf as None, paths as text."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy arrays and scalars
        return jsonable(value.tolist())
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "value") and isinstance(value.value, str):  # str enums
        return value.value
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _atomic(path: Path, write) -> Path:
    """Run ``write(tmp_path)``, then move the temporary file over ``path`` in one step."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(text: str, path: Path) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return _atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(payload: Any, path: Path) -> Path:
    """Write ``payload`` as indented JSON (NaN/inf as null), atomically."""
    return write_text(json.dumps(jsonable(payload), indent=2, allow_nan=False) + "\n", path)


def read_json(path: Path) -> Any:
    """The JSON at ``path``."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def save_model(model, path: Path) -> Path:
    """Save a Keras model as ``.keras``, atomically."""
    return _atomic(path, lambda tmp: model.save(tmp))


def copy_file(source: Path, path: Path) -> Path:
    """Copy ``source`` over ``path`` atomically."""
    import shutil

    return _atomic(path, lambda tmp: shutil.copyfile(source, tmp))
