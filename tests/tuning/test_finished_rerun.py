"""Running a finished search again hands back whole outputs (issue 26, point 13).

A rerun of a finished search trains nothing new and rebuilds its outputs from the saved state. A
best_model.keras, baseline_model.keras or best_spec.yaml damaged since (cut short, overwritten) is
rewritten (the baseline trained again), and the run exits as the search did; one that cannot be
rebuilt is named with ``--fresh`` (exit 3). A damaged model is never left in place.

One tiny real search (2 trials, 1 epoch) is shared; each test damages a copy of its folder.
"""

from __future__ import annotations

import json
import shutil

import keras
import pytest
import yaml
from helpers import TRIALS_ONLY, collapsing_spec
from typer.testing import CliRunner

import autofix_lstm  # noqa: F401  (registers the layers the saved models need)
from autofix_lstm.cli import app
from autofix_lstm.run_dir import RunDir
from autofix_lstm.spec import load_spec
from autofix_lstm.tuning.records import TrialRecord

pytestmark = pytest.mark.slow

DAMAGE = {
    "cut short": lambda data: data[: len(data) // 2],
    "garbage": lambda data: b"\x00 not what was written " * 8,
}


def _search(spec) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["search", str(spec), "--json"])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished search's folder (with its spec and data beside it) and the exit code the search gave."""
    folder = tmp_path_factory.mktemp("finished")
    spec = collapsing_spec(folder, epochs=1)
    raw = yaml.safe_load(spec.read_text())
    raw["search"] = {"max_trials": 2, "rerun_pruned": 0, **TRIALS_ONLY}
    spec.write_text(yaml.safe_dump(raw))
    code, output = _search(spec)
    assert code in (0, 1), output
    return folder, spec.name, code


@pytest.fixture
def rerun(finished, tmp_path):
    """A copy of the finished folder: (its spec, its RunDir, the search's exit code)."""
    folder, name, code = finished
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    spec = copy / name
    return spec, RunDir(load_spec(spec).output_dir), code


def _best_id(run: RunDir) -> str:
    return json.loads(run.best_trial.read_text())["trial_id"]


def _source(run: RunDir, trial_id: str):
    return run.baseline_model if trial_id == "baseline" else run.trial_model(trial_id)


def _assert_whole(run: RunDir) -> None:
    """best_model.keras and baseline_model.keras load, the first a copy of the best trial's model, and
    best_spec.yaml is a spec: the best trial's."""
    best = _best_id(run)
    for path in (run.best_model, run.baseline_model):
        assert isinstance(keras.saving.load_model(path, compile=False), keras.Model)
    assert run.best_model.read_bytes() == _source(run, best).read_bytes()
    record = TrialRecord.load(run.baseline if best == "baseline" else run.trial_record(best))
    assert load_spec(run.best_spec).to_dict()["model"] == record.spec["model"]


@pytest.mark.parametrize(("output", "damage"), [
    ("best_model", "cut short"), ("best_model", "garbage"), ("baseline_model", "cut short"),
    ("baseline_model", "garbage"), ("best_spec", "garbage"), ("best_spec", "cut short"),
])
def test_a_damaged_output_of_a_finished_search_is_rewritten_by_the_rerun(rerun, output, damage):
    spec, run, code = rerun
    path = getattr(run, output)
    path.write_bytes(DAMAGE[damage](path.read_bytes()))
    again, printed = _search(spec)
    assert again == code, printed
    _assert_whole(run)


def test_a_damaged_model_of_the_best_trial_is_restored_from_best_model(rerun):
    spec, run, code = rerun
    source = _source(run, _best_id(run))
    source.write_bytes(DAMAGE["cut short"](source.read_bytes()))
    again, printed = _search(spec)
    assert again == code, printed
    _assert_whole(run)  # the trial's model is best_model.keras's bytes again


def test_a_best_model_that_cannot_be_rebuilt_is_named_with_fresh_and_exits_3(rerun):
    spec, run, _ = rerun
    best = _best_id(run)
    if best == "baseline":
        pytest.skip("the spec as written is the best: a damaged baseline model is trained again")
    source = _source(run, best)
    for path in (run.best_model, source):
        path.write_bytes(DAMAGE["garbage"](path.read_bytes()))
    again, printed = _search(spec)
    assert again == 3, printed
    line = printed.strip()
    assert len(line.splitlines()) == 1 and str(source) in line and "--fresh" in line and "Traceback" not in line
