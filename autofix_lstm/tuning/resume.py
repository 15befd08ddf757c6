"""What carries a search from one run to the next: its fingerprint, the cached baseline, the best's files.

Running the same search again resumes it: ``spec_fingerprint`` says whether the folder's search is
this one, ``earlier_search`` reads what the earlier run left (search_state.json), and
``cached_baseline`` gives back the spec as written, trained once (baseline.json, with its model whole in
baseline_model.keras). The best so far is published as best_model.keras and best_spec.yaml, then
best_trial.json naming it (``publish_best``), so a kill between those writes, or a file of the three cut
short or edited since, is seen (``best_published``) and repaired by the next run (``keep_best_published``).
A model counts as whole when it is an intact ``.keras`` archive (``intact_model``).
Every file name is ``RunDir``'s.
"""

from __future__ import annotations

import filecmp
import hashlib
import json
import zipfile
import zlib
from pathlib import Path

from autofix_lstm.data.dataset import Dataset
from autofix_lstm.errors import CorruptRunError, SpecError
from autofix_lstm.remedies.strategies import Strategy
from autofix_lstm.run_dir import RunDir, copy_file, read_json, write_json
from autofix_lstm.spec import Spec
from autofix_lstm.tuning.oracles import check_saved_state
from autofix_lstm.tuning.records import TrialRecord
from autofix_lstm.tuning.summary import best_spec_text, record_spec, write_best_spec

KERAS_CONFIG = "config.json"  # the model's architecture, in every archive Keras saves (keras.saving)


def spec_fingerprint(spec: Spec, dataset: Dataset | None = None, strategies: list[Strategy] | None = None) -> str:
    """A hash of what decides trial results: the spec (search budget excluded, so a search can be
    extended), when given the windowed data itself (a changed file or DataFrame is a new search) and
    the contents of the strategies (an edited strategy file is a new search space).
    """
    digest = hashlib.sha256(json.dumps(spec.results_dict(), sort_keys=True, default=str).encode())
    if dataset is not None:
        dataset.update_digest(digest)  # a chunk at a time: no copy of the windows
    if strategies is not None:
        contents = [strategy.model_dump(mode="json") for strategy in strategies]
        digest.update(json.dumps(contents, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def earlier_search(run: RunDir, fingerprint: str, fresh: bool) -> float | None:
    """Seconds already spent by an earlier run of this search, or None when there is none to resume.

    Reads only (nothing is touched before the diagnosis has accepted the spec). An earlier search
    for another spec is refused; one whose state or baseline file, or one of Keras Tuner's state
    files (``oracles.check_saved_state``), is damaged is refused naming the file, unless ``fresh``
    discards it.

    Raises:
        SpecError: the folder holds a search for a different spec.
        CorruptRunError: search_state.json, baseline.json or a Keras Tuner state file cannot be read.
    """
    if fresh or not run.state.is_file():
        return None
    state = read_json(run.state)
    if not isinstance(state, dict) or not isinstance(state.get("elapsed_seconds", 0.0), (int, float)):
        raise CorruptRunError(run.state, "not a search state")
    if state.get("fingerprint") != fingerprint:
        raise SpecError(
            f"{run.root} holds a search for a different spec (data, model, preprocessing, training, search settings "
            "or strategy files changed); run with --fresh (fresh=True from Python) to start over, or set a new "
            "output folder"
        )
    if run.baseline.is_file():
        TrialRecord.load(run.baseline)  # damaged: refused now, not after the diagnosis
    check_saved_state(run.project)  # ... and so is Keras Tuner's project, which the tuner reloads
    return float(state.get("elapsed_seconds", 0.0))


def intact_model(path: Path) -> bool:
    """Whether ``path`` is a whole ``.keras`` archive, as ``save_model`` writes it: a zip whose every member
    reads back with its checksum, Keras' config.json among them. A file cut short or overwritten is not."""
    try:
        with zipfile.ZipFile(path) as archive:
            return KERAS_CONFIG in archive.namelist() and archive.testzip() is None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, ValueError):
        return False


def cached_baseline(run: RunDir, fingerprint: str) -> TrialRecord | None:
    """The spec as written, from baseline.json, when an earlier run of this same search trained it and its
    model is whole (a damaged baseline_model.keras is trained again)."""
    if run.baseline.is_file() and intact_model(run.baseline_model):
        cached = TrialRecord.load(run.baseline)
        if cached.fingerprint == fingerprint:
            return cached
    return None


def best_model_source(run: RunDir, record: TrialRecord) -> Path:
    return run.baseline_model if record.is_baseline else run.trial_model(record.trial_id)


def publish_best(run: RunDir, record: TrialRecord, spec: Spec) -> None:
    """Write best_model.keras and best_spec.yaml from ``record``, then best_trial.json naming it.

    Each file is replaced atomically and best_trial.json last, so a kill between two of the writes
    leaves best_trial.json naming an older trial: ``best_published`` then says False and the next
    run writes the pair again.

    Raises:
        CorruptRunError: ``record``'s model (its trial's, or baseline_model.keras) is missing or not whole.
    """
    source = best_model_source(run, record)
    if not source.is_file():
        raise CorruptRunError(source, f"the model of the best trial, {record.trial_id}, is missing")
    if not intact_model(source):
        raise CorruptRunError(source, f"the model of the best trial, {record.trial_id}, is not a whole Keras archive")
    copy_file(source, run.best_model)
    write_best_spec(record_spec(record, spec), run.root)
    write_json({"trial_id": record.trial_id}, run.best_trial)


def best_published(run: RunDir, record: TrialRecord, spec: Spec) -> bool:
    """True when best_trial.json names ``record`` and best_model.keras and best_spec.yaml are its, whole.

    best_model.keras must be an intact archive, the same bytes as ``record``'s model (when that one is
    whole: a damaged or removed source leaves the copy standing on its own); best_spec.yaml must be the
    text ``publish_best`` writes for ``record``.
    """
    if not (run.best_model.is_file() and run.best_spec.is_file() and run.best_trial.is_file()):
        return False
    try:
        marker = read_json(run.best_trial)
    except CorruptRunError:
        return False
    if not (isinstance(marker, dict) and marker.get("trial_id") == record.trial_id and intact_model(run.best_model)):
        return False
    source = best_model_source(run, record)
    if intact_model(source) and not filecmp.cmp(source, run.best_model, shallow=False):
        return False
    return run.best_spec.read_text(encoding="utf-8", errors="replace") == best_spec_text(record_spec(record, spec),
                                                                                          run.root)


def keep_best_published(run: RunDir, record: TrialRecord, spec: Spec) -> None:
    """Make best_model.keras, best_spec.yaml and best_trial.json ``record``'s and whole (``best_published``),
    rewriting them when they are not: a kill between their writes, a file cut short or edited since.

    A damaged model of ``record`` is restored from best_model.keras when that one is whole and ``record``'s.
    Nothing is written while ``record`` has no model yet (the spec as written judged on the diagnosis alone).

    Raises:
        CorruptRunError: the three must be rewritten and ``record``'s model is damaged, or best_model.keras is
            damaged and ``record``'s model is gone: nothing whole to rewrite it from. Names the file, with ``--fresh``.
    """
    source = best_model_source(run, record)
    if best_published(run, record, spec):
        if source.is_file() and not intact_model(source):
            copy_file(run.best_model, source)  # the other copy of one model, whole
        return
    if source.is_file():
        publish_best(run, record, spec)
    elif run.best_model.is_file() and not intact_model(run.best_model):
        raise CorruptRunError(run.best_model, f"not a whole Keras archive, and the model of the best trial, "
                                              f"{record.trial_id}, it is copied from is missing")


__all__ = ["best_model_source", "best_published", "cached_baseline", "earlier_search", "intact_model",
           "keep_best_published", "publish_best", "spec_fingerprint"]
