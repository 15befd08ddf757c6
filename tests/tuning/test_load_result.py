"""What Keras Tuner and Optuna users reach for after a search: the best trials as a table, the best specs
and models, and the result read back from a finished folder (issue 25, point 8).

One tiny real search (3 trials, 1 epoch) is shared.
"""

from __future__ import annotations

import io
import json

import keras
import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import TRIALS_ONLY, collapsing_spec

import autofix_lstm
from autofix_lstm.errors import RunFolderError
from autofix_lstm.tuning.result import SummaryDict

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """(the live SearchResult, the spec file) of a finished tiny search."""
    folder = tmp_path_factory.mktemp("searched")
    spec = collapsing_spec(folder, epochs=1)
    raw = yaml.safe_load(spec.read_text())
    raw["search"] = {"max_trials": 3, "rerun_pruned": 0, "prune_after": None, **TRIALS_ONLY}
    spec.write_text(yaml.safe_dump(raw))
    return autofix_lstm.search(spec), spec


def test_load_result_reads_back_the_result_the_search_returned(searched):
    live, spec = searched
    loaded = autofix_lstm.load_result(live.output_dir)
    assert (loaded.fixed, loaded.verdict, loaded.baseline_state, loaded.confirmed_seeds) == (
        live.fixed, live.verdict, live.baseline_state, live.confirmed_seeds)
    # best_spec.yaml as written: the same configuration and data file, its paths relative to the folder
    for section in ("model", "preprocessing", "train", "search"):
        assert loaded.best_spec.to_dict()[section] == live.best_spec.to_dict()[section], section
    assert loaded.best_spec.resolve(loaded.best_spec.data.path).resolve() == live.best_spec.resolve(live.best_spec.data.path)
    assert loaded.changes == live.changes
    assert json.loads(json.dumps(loaded.summary)) == json.loads(json.dumps(live.summary))
    assert loaded.baseline == live.baseline and loaded.best == live.best
    as_written = pd.read_csv(io.StringIO(live.trials.to_csv(index=False)), dtype={"trial_id": str})
    pd.testing.assert_frame_equal(loaded.trials, as_written)  # trials.csv, as pandas reads it
    assert [r.trial_id for r in loaded.records] == [r.trial_id for r in live.records]
    # from the spec file too, and the best model it holds predicts as the live one does
    again = autofix_lstm.load_result(spec)
    assert again.output_dir == live.output_dir
    windows = np.random.default_rng(0).normal(size=(4, 8, 2)).astype("float32")
    np.testing.assert_allclose(again.best_model.predict(windows, verbose=0), live.best_model.predict(windows, verbose=0))


def test_summary_is_still_the_dict_and_called_gives_the_best_trials(searched):
    live, _ = searched
    assert isinstance(live.summary, SummaryDict) and live.summary["fixed"] == live.fixed
    top = live.summary(2)
    assert len(top) == 2 and list(top.columns) == list(live.trials.columns)
    scored = live.trials["objective"].dropna().sort_values()
    assert top["objective"].tolist() == scored.head(2).tolist()
    assert len(live.summary()) == len(live.trials)  # 10 by default, as Keras Tuner's results_summary


def test_best_specs_and_models_start_with_the_best_found(searched):
    live, _ = searched
    specs = live.best_specs(2)
    assert specs[0] is live.best_spec and len(specs) == 2
    second = next(r for r in sorted(live.records, key=lambda r: r.score if r.scored else np.inf)
                  if r.trial_id != live.summary["best_trial"])
    assert specs[1].to_dict()["model"] == second.spec["model"]
    assert specs[1].data == live.best_spec.data  # the data as the user gave it, for every one
    models = live.best_models(2)
    assert models[0] is live.best_model
    windows = np.random.default_rng(1).normal(size=(3, 8, 2)).astype("float32")
    assert models[1].predict(windows, verbose=0).shape == (3, 1)  # trained again from its spec


def test_load_result_of_a_folder_with_no_finished_search_says_so(tmp_path):
    with pytest.raises(RunFolderError, match="holds no finished search"):
        autofix_lstm.load_result(tmp_path)


class _Seen(keras.callbacks.Callback):
    """Logs each fit it is copied into (class-level: the search gives every fit its own copy)."""

    fits: list[int] = []

    def on_train_begin(self, logs=None):
        _Seen.fits.append(id(self))


def test_the_users_callbacks_reach_every_training_of_the_search(tmp_path):
    # Issue 25 (9): search(..., callbacks=[...]) as Keras Tuner's tuner.search(callbacks=...).
    spec = collapsing_spec(tmp_path, epochs=1)
    raw = yaml.safe_load(spec.read_text())
    raw["search"] = {"max_trials": 2, "rerun_pruned": 0, "prune_after": None, **TRIALS_ONLY}
    spec.write_text(yaml.safe_dump(raw))
    mine = _Seen()
    _Seen.fits.clear()
    result = autofix_lstm.search(spec, callbacks=[mine])
    trainings = 1 + result.summary["trials_completed"] + result.summary["trials_pruned"]  # the spec as written too
    assert len(_Seen.fits) == trainings == len(set(_Seen.fits))  # a fresh copy for each fit
    assert id(mine) not in _Seen.fits
    with pytest.raises(autofix_lstm.SpecError, match="callbacks= run in this process"):
        autofix_lstm.search(spec, callbacks=[mine], workers=2, fresh=True)
