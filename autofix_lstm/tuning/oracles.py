"""Keras Tuner glue: the tuner's own oracles, seeded with the diagnosis' first trials.

``SeededOracle`` subclasses of Keras Tuner's RandomSearch, BayesianOptimization and Hyperband
oracles hand out the seed values first (skipping any already tried, so a resumed search does not
repeat them), stop creating trials once ``max_time`` has passed, and otherwise defer to the
oracle they extend: the tuner's own optimiser stays in charge. ``AutofixTuner`` is a
``BaseTuner`` whose ``run_trial`` hands each trial to a runner and returns its metrics.

Keras Tuner offers no public way for three things this module needs; each private use stays here,
and tests/tuning/test_oracles.py pins the behaviour it relies on, so a Keras Tuner upgrade that
changes it fails a test rather than a search:

* ``Oracle._duplicate(values)``: whether values were already tried (a resumed search must not
  re-run a seed);
* ``Oracle._retry_queue``: the trials queued for a re-run on reload;
* ``keras_tuner.src.config.DEBUG``: when true, Keras Tuner prints a traceback for every failed
  trial; the search records failures itself.

Keras Tuner writes its state files in place; here the oracle and the tuner write them through
``run_dir`` instead (atomically), so a kill while it writes cannot leave a file a resume fails on.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import keras_tuner as kt
from keras_tuner.engine import base_tuner

from autofix_lstm.run_dir import TUNER_TRIAL, write_text

OBJECTIVE = kt.Objective("score", direction="min")


class _SeededMixin:
    """Hand out queued values before the oracle's own proposals; honour a deadline.

    Two queues come first: refinements (a fix's neighbours, queued by the search once a fix
    exists, at most ``refine_budget`` of them), then the diagnosis' seeds.
    """

    def _setup_seeding(self, seeds: list[dict[str, Any]], deadline: float | None, max_trials: int | None) -> None:
        self.seed_queue = list(seeds)
        self.refine_queue: list[dict[str, Any]] = []
        self.refine_budget: int | None = None  # set when the first fix is found
        self.refined = 0
        self.deadline = deadline
        self.autofix_max_trials = max_trials
        self.sources: dict[str, str] = {}  # trial_id -> seed | refine | oracle

    def queue_refinements(self, candidates: list[dict[str, Any]], budget: int) -> None:
        """Try ``candidates`` (trial values near the best fix) next, at most ``budget`` over the search."""
        if self.refine_budget is None:
            self.refine_budget = max(0, int(budget))
        self.refine_queue = list(candidates)  # a new best replaces the old neighbourhood

    def reload(self):
        super().reload()
        # Private (see the module docstring): a kill between Keras Tuner's two state files can
        # leave a finished trial queued for a retry, or a started one (saved in its trial.json, not
        # yet in oracle.json) queued for nothing: it would count against max_trials and never run.
        self._retry_queue = [t for t in self._retry_queue if self.trials[t].status not in ("COMPLETED", "FAILED")]
        stranded = [t for t, trial in self.trials.items() if trial.status == "RUNNING" and t not in self._retry_queue]
        self._retry_queue.extend(stranded)
        for trial_id in stranded:
            if trial_id not in self.start_order:
                self.start_order.append(trial_id)

    def save(self):
        write_text(json.dumps(self.get_state()), Path(self._get_oracle_fname()))

    def _save_trial(self, trial):
        write_text(json.dumps(trial.get_state()), Path(self._get_trial_dir(trial.trial_id)) / TUNER_TRIAL)

    def populate_space(self, trial_id):
        if self.deadline is not None and time.time() >= self.deadline:
            return {"status": "STOPPED", "values": None}
        if self.autofix_max_trials is not None and len(self.trials) >= self.autofix_max_trials:
            return {"status": "STOPPED", "values": None}
        while self.refine_queue and self.refined < (self.refine_budget or 0):
            values = self.refine_queue.pop(0)
            if not self._duplicate(values):  # private, see the module docstring
                self.refined += 1
                self.sources[trial_id] = "refine"
                return {"status": "RUNNING", "values": dict(values)}
        while self.seed_queue:
            values = self.seed_queue.pop(0)
            if not self._duplicate(values):
                self.sources[trial_id] = "seed"
                return {"status": "RUNNING", "values": dict(values)}
        self.sources[trial_id] = "oracle"
        return super().populate_space(trial_id)


class SeededRandomSearchOracle(_SeededMixin, kt.oracles.RandomSearchOracle):
    """Keras Tuner's random search, seeded."""


class SeededBayesianOracle(_SeededMixin, kt.oracles.BayesianOptimizationOracle):
    """Keras Tuner's Gaussian-process Bayesian optimisation, seeded."""


class SeededHyperbandOracle(_SeededMixin, kt.oracles.HyperbandOracle):
    """Keras Tuner's Hyperband, seeded (seed trials run the spec's full epochs, outside the brackets)."""


def make_oracle(
    tuner: str,
    hyperparameters: kt.HyperParameters,
    *,
    max_trials: int,
    epochs: int,
    seeds: list[dict[str, Any]],
    deadline: float | None,
    seed: int,
) -> kt.Oracle:
    """The named Keras Tuner oracle over ``hyperparameters``, seeded; failures never end the search."""
    common = dict(
        objective=OBJECTIVE,
        hyperparameters=hyperparameters,
        allow_new_entries=False,
        tune_new_entries=True,
        seed=seed + 1,  # Keras Tuner treats seed 0 as 'pick one at random'
        # A remedy search expects broken candidates: never stop for consecutive failures.
        max_consecutive_failed_trials=max_trials + 1,
    )
    if tuner == "random":
        oracle = SeededRandomSearchOracle(max_trials=max_trials, **common)
    elif tuner == "bayesian":
        dims = len(hyperparameters.space)
        # Keras Tuner's default (3 x dimensions random points) would spend a whole budget at random.
        initial = max(2, min(3 * dims, max_trials // 3))
        oracle = SeededBayesianOracle(max_trials=max_trials, num_initial_points=initial, **common)
    elif tuner == "hyperband":
        oracle = SeededHyperbandOracle(max_epochs=max(2, epochs), factor=3, **common)
        oracle.max_trials = max_trials
    else:
        raise ValueError(f"unknown tuner {tuner!r}; expected random, bayesian or hyperband")
    oracle._setup_seeding(seeds, deadline, max_trials)
    return oracle


class AutofixTuner(base_tuner.BaseTuner):
    """A Keras Tuner whose trials are run by ``runner.run(trial) -> metrics dict``."""

    def __init__(self, oracle, runner, directory, project_name, overwrite=False):
        self.runner = runner
        super().__init__(oracle=oracle, hypermodel=None, directory=directory, project_name=project_name, overwrite=overwrite)

    def run_trial(self, trial, *args, **kwargs):
        return self.runner.run(trial)

    def search(self, *args, **kwargs):
        """Keras Tuner's search, without its traceback print for every failed trial (we record failures)."""
        try:
            from keras_tuner.src import config as kt_config
        except ImportError:  # a Keras Tuner without the switch
            return super().search(*args, **kwargs)
        previous, kt_config.DEBUG = kt_config.DEBUG, False
        try:
            return super().search(*args, **kwargs)
        finally:
            kt_config.DEBUG = previous

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        self.runner.trial_ended(self.oracle.get_trial(trial.trial_id))

    def save(self):
        """Keras Tuner's ``save``, with its tuner file written atomically (the oracle writes its own so)."""
        if not self._is_worker():
            self.oracle.save()
        write_text(json.dumps(self.get_state()), Path(os.fspath(self._get_tuner_fname())))
