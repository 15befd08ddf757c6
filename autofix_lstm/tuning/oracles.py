"""Keras Tuner glue: the tuner's own oracles, seeded with the diagnosis' first trials.

``SeededOracle`` subclasses of Keras Tuner's RandomSearch, BayesianOptimization and Hyperband
oracles hand out the seed values first (skipping any already tried, so a resumed search does not
repeat them), stop creating trials once ``max_time`` has passed, and otherwise defer to the
oracle they extend: the tuner's own optimiser stays in charge. ``AutofixTuner`` is a
``BaseTuner`` whose ``run_trial`` hands each trial to a runner and returns its metrics; it is
the one place our errors become Keras Tuner's: a ``TrialFailed`` its ``FailedTrialError`` (the trial
is marked failed, the search goes on), a ``FatalSearchError`` is carried through its trial loop and
raised from ``search`` (the search stops).

The Bayesian oracle keeps Keras Tuner's model (a Gaussian process, Matern 2.5, fit the same way)
and its acquisition (the lower confidence bound ``mu - beta * sigma``), but by default finds the
acquisition's minimum cheaply (``search.oracle_proposal: batched``, ``BatchedBayesianOracle``):
Keras Tuner's own step runs 50 L-BFGS-B restarts on an acquisition that calls ``predict`` on one
point at a time (about 4.6 s a proposal on a 2-core machine); the batched step scores 2000 random
candidates in one ``predict`` call and polishes the best few with L-BFGS-B, whose gradient comes
from one batched ``predict`` too, on one BLAS thread (a dozen trials make matrices so small that
more threads only wait on each other: on a busy 2-core machine they made each ``predict`` 20 times
slower). ``oracle_proposal: keras_tuner`` keeps Keras Tuner's step as it is.
Every oracle records the seconds each proposal took (``proposal_seconds``) for the search's time
accounting.

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
A file damaged all the same (a full disk, an editor) is named with ``--fresh`` (``CorruptRunError``), by
``check_saved_state`` before a resumed search starts and again when the tuner reloads the project, rather
than failing inside Keras Tuner (a ``JSONDecodeError``, a ``KeyError``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import keras_tuner as kt
import numpy as np
import scipy.optimize
from keras_tuner.engine import base_tuner
from threadpoolctl import threadpool_limits

from autofix_lstm.errors import CorruptRunError, FatalSearchError, TrialFailed
from autofix_lstm.run_dir import TUNER_ORACLE, TUNER_STATE, TUNER_TRIAL, read_typed, write_text

OBJECTIVE = kt.Objective("score", direction="min")

PROPOSALS = ("batched", "keras_tuner")  # search.oracle_proposal: how the Bayesian oracle proposes


class _SeededMixin:
    """Hand out queued values before the oracle's own proposals; honour a deadline.

    Two queues come first: refinements (a fix's neighbours, queued by the search once a fix
    exists, at most ``refine_budget`` of them), then the diagnosis' seeds; ``seeds_first`` seeds go
    before the refinements (the diagnosis' first seed, when the spec as written already works). Once ``stop_reason`` is
    set (``search.stop: confirmed``, ``tuning.stopping``), no trial starts.
    """

    def _setup_seeding(self, seeds: list[dict[str, Any]], deadline: float | None, max_trials: int | None) -> None:
        self.seed_queue = list(seeds)
        self.refine_queue: list[dict[str, Any]] = []
        self.refine_budget: int | None = None  # set when the first fix is found
        self.refined = 0
        self.seeds_first = 0  # seeds handed out before any refinement (around a spec that already works)
        self.deadline = deadline
        self.autofix_max_trials = max_trials
        self.sources: dict[str, str] = {}  # trial_id -> seed | refine | oracle
        self.proposal_seconds: dict[str, float] = {}  # trial_id -> seconds its values took to choose
        self.stop_reason: str | None = None  # why the trials end before the budget

    def queue_refinements(self, candidates: list[dict[str, Any]], budget: int) -> None:
        """Try ``candidates`` (trial values near the best fix) next, at most ``budget`` over the search."""
        if self.refine_budget is None:
            self.refine_budget = max(0, int(budget))
        self.refine_queue = list(candidates)  # a new best replaces the old neighbourhood

    def refine_at(self, candidates: list[dict[str, Any]], position: int) -> None:
        """Queue ``candidates`` at ``position`` of the refinements already queued (within the same budget)."""
        rest = [c for c in self.refine_queue if c not in candidates]
        self.refine_queue = [*rest[:position], *candidates, *rest[position:]]

    def reload(self):
        try:
            super().reload()
        except (KeyError, RuntimeError, TypeError, ValueError, AttributeError) as err:
            # The trial files were checked first (AutofixTuner.reload): what is left is oracle.json's. Keras
            # Tuner wraps a missing key in a RuntimeError telling to pass overwrite=True, which is not our way out.
            cause = err.__cause__ if isinstance(err, RuntimeError) and err.__cause__ is not None else err
            raise CorruptRunError(Path(self._get_oracle_fname()),
                                  f"not Keras Tuner's oracle state: {type(cause).__name__}: {cause}") from None
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
        started = time.perf_counter()
        try:
            return self._seeded_populate_space(trial_id)
        finally:
            self.proposal_seconds[trial_id] = time.perf_counter() - started

    def _seeded_populate_space(self, trial_id):
        if self.stop_reason is not None:
            return {"status": "STOPPED", "values": None}
        if self.deadline is not None and time.time() >= self.deadline:
            return {"status": "STOPPED", "values": None}
        if self.autofix_max_trials is not None and len(self.trials) >= self.autofix_max_trials:
            return {"status": "STOPPED", "values": None}
        while self.seeds_first > 0 and self.seed_queue:
            self.seeds_first -= 1
            values = self.seed_queue.pop(0)
            if not self._duplicate(values):
                self.sources[trial_id] = "seed"
                return {"status": "RUNNING", "values": dict(values)}
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


class BatchedBayesianOracle(kt.oracles.BayesianOptimizationOracle):
    """Keras Tuner's Gaussian-process Bayesian optimisation with a cheap proposal step.

    The same Gaussian process (refit only when the completed trials changed, warm-started from the
    last fit) and the same acquisition as Keras Tuner's oracle; its minimum is searched by scoring ``candidates`` random
    points in one ``predict`` call and polishing the best ``polish`` of them with L-BFGS-B. The
    best point whose values were not tried yet, nor within ``NEAR`` of a tried point, becomes the next trial
    (Keras Tuner's step may propose a tried one again, and the acquisition's minimum often sits a hair from
    the best trial); when every candidate was tried, a random untried point.
    ``proposal="keras_tuner"`` runs Keras Tuner's own step instead.
    """

    def __init__(self, *args, proposal: str = "batched", candidates: int = 2000, polish: int = 5,
                 refit_restarts: int = 2, **kwargs):
        if proposal not in PROPOSALS:
            raise ValueError(f"proposal must be one of {', '.join(PROPOSALS)}; got {proposal!r}")
        super().__init__(*args, **kwargs)
        self.proposal = proposal
        self.candidates = int(candidates)
        self.polish = int(polish)
        self.refit_restarts = int(refit_restarts)
        self._fitted_on: str | None = None  # a digest of the (x, y) the Gaussian process was last fit on

    def set_state(self, state):
        super().set_state(state)  # Keras Tuner makes a new, unfitted Gaussian process here
        self._fitted_on = None

    def populate_space(self, trial_id):
        if self.proposal == "keras_tuner":
            self._fitted_on = None  # Keras Tuner's step refits the process itself
            return super().populate_space(trial_id)
        completed = [t for t in self.trials.values() if t.status == "COMPLETED"]
        initial = self.num_initial_points or max(3 * len(self.hyperparameters.space), 3)
        if len(completed) < initial:
            return self._random_populate_space()
        with threadpool_limits(limits=1, user_api="blas"):
            x, y = self._vectorize_trials()
            self._fit(np.nan_to_num(x, posinf=0, neginf=0), np.nan_to_num(y, posinf=0, neginf=0))
            ranked = self._ranked_candidates()
        for vector in ranked:
            values = self._vector_to_values(vector)
            if not self._duplicate(values) and not _near_any(self._vector_of(values), x):  # private, see the module
                return {"status": "RUNNING", "values": values}
        return self._random_populate_space()

    def _vector_of(self, values: dict) -> np.ndarray:
        """``values`` embedded in Keras Tuner's [0, 1] space, the way ``_vectorize_trials`` embeds a trial."""
        return np.array([hp.value_to_prob(values.get(hp.name, hp.default)) for hp in self._nonfixed_space()])

    def _fit(self, x: np.ndarray, y: np.ndarray) -> None:
        """Fit the Gaussian process on (x, y), unless it already is.

        The first fit is Keras Tuner's (20 random restarts of the kernel's length scale); a refit on
        one more trial starts from the length scale found last time, with ``refit_restarts`` random
        restarts besides.
        """
        digest = hashlib.sha256(np.ascontiguousarray(x, dtype=np.float64).tobytes()
                                + np.ascontiguousarray(y, dtype=np.float64).tobytes()).hexdigest()
        if digest == self._fitted_on:
            return
        if self._fitted_on is not None:
            self.gpr.set_params(kernel=self.gpr.kernel_, n_restarts_optimizer=self.refit_restarts)
        self.gpr.fit(x, y)
        self._fitted_on = digest

    def acquisition(self, points: np.ndarray) -> np.ndarray:
        """Keras Tuner's acquisition at each row of ``points``: ``mu - beta * sigma`` (lower is better)."""
        mu, sigma = self.gpr.predict(np.atleast_2d(points), return_std=True)
        return np.asarray(mu).ravel() - self.beta * np.asarray(sigma).ravel()

    def _acquisition_and_gradient(self, point: np.ndarray, step: float = 1e-6) -> tuple[float, np.ndarray]:
        # Forward differences, all in one predict call (d + 1 points).
        stacked = np.vstack([point, point + step * np.eye(len(point))])
        values = self.acquisition(stacked)
        return float(values[0]), (values[1:] - values[0]) / step

    def _ranked_candidates(self) -> np.ndarray:
        """Candidate vectors, best acquisition first: the polished few, then the random batch."""
        bounds = self._get_hp_bounds().astype(float)
        batch = self._random_state.uniform(bounds[:, 0], bounds[:, 1], size=(self.candidates, bounds.shape[0]))
        scores = self.acquisition(batch)
        polished = []
        for start in batch[np.argsort(scores)[: self.polish]]:
            result = scipy.optimize.minimize(
                self._acquisition_and_gradient, x0=start, jac=True, bounds=bounds, method="L-BFGS-B",
            )
            polished.append(np.clip(result.x, bounds[:, 0], bounds[:, 1]))
        pool = np.vstack([*polished, batch]) if polished else batch
        pool_scores = np.concatenate([self.acquisition(np.array(polished)), scores]) if polished else scores
        return pool[np.argsort(pool_scores, kind="stable")]


NEAR = 0.02  # a proposal this close to a tried point (Euclidean, in Keras Tuner's [0, 1] space) is a near-copy


def _near_any(vector: np.ndarray, tried: np.ndarray) -> bool:
    """Whether ``vector`` lies within ``NEAR`` of a row of ``tried``: a learning rate 4% off a tried one, the
    other values the same, teaches the Gaussian process nothing and costs a whole training."""
    if tried is None or len(tried) == 0:
        return False
    return bool(np.min(np.linalg.norm(np.asarray(tried) - vector, axis=1)) < NEAR)


class SeededBayesianOracle(_SeededMixin, BatchedBayesianOracle):
    """Gaussian-process Bayesian optimisation (Keras Tuner's model, a cheap proposal step), seeded."""


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
    proposal: str = "batched",
) -> kt.Oracle:
    """The named Keras Tuner oracle over ``hyperparameters``, seeded; failures never end the search.

    ``proposal`` is how the Bayesian oracle chooses its next values (``search.oracle_proposal``):
    ``batched`` (cheap) or ``keras_tuner`` (Keras Tuner's own step); the other tuners ignore it.
    """
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
        oracle = SeededBayesianOracle(max_trials=max_trials, num_initial_points=initial, proposal=proposal, **common)
    elif tuner == "hyperband":
        oracle = SeededHyperbandOracle(max_epochs=max(2, epochs), factor=3, **common)
        oracle.max_trials = max_trials
    else:
        raise ValueError(f"unknown tuner {tuner!r}; expected random, bayesian or hyperband")
    oracle._setup_seeding(seeds, deadline, max_trials)
    return oracle


def check_saved_state(project: Path) -> None:
    """Fail, naming the file, when Keras Tuner's saved project would not reload: oracle.json and tuner0.json
    must be JSON objects (the oracle's with the keys every Keras Tuner oracle saves), and every
    trial_<id>/trial.json a trial Keras Tuner rebuilds. Reads only.

    Raises:
        CorruptRunError: a file is cut short, not JSON, or not what Keras Tuner saved; names it and ``--fresh``.
    """
    project = Path(project)
    if project.joinpath(TUNER_ORACLE).is_file():
        read_typed(project / TUNER_ORACLE, _oracle_state, "Keras Tuner's oracle state")
    if project.joinpath(TUNER_STATE).is_file():
        read_typed(project / TUNER_STATE, _json_object, "Keras Tuner's tuner state")
    for path in sorted(project.glob(f"trial_*/{TUNER_TRIAL}")):
        read_typed(path, _trial_state, "Keras Tuner's record of a trial")


_JSON_KINDS = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}


def _json_object(raw: Any) -> dict:
    if not isinstance(raw, dict):
        raise TypeError(f"{_JSON_KINDS.get(type(raw), 'null')}, not an object")
    return raw


def _oracle_state(raw: Any) -> dict:
    # The keys of a bare oracle's state: what every oracle's set_state reads (its subclasses add more).
    expected = kt.oracles.RandomSearchOracle(objective=OBJECTIVE, max_trials=1).get_state()
    missing = sorted(set(expected) - set(_json_object(raw)))
    if missing:
        raise ValueError(f"no {', '.join(missing)}")
    return raw


def _trial_state(raw: Any) -> kt.engine.trial.Trial:
    try:
        return kt.engine.trial.Trial.from_state(_json_object(raw))
    except KeyError as err:  # read_typed names ValueErrors; a missing key is one
        raise ValueError(f"no {err}") from None


class _FatalTrial(kt.errors.FatalError):
    """Carries a trial's ``FatalSearchError`` through Keras Tuner's trial loop, which records any other
    exception as a failed trial and goes on; ``AutofixTuner.search`` raises the error itself again."""

    def __init__(self, error: FatalSearchError):
        super().__init__(str(error))
        self.error = error


class AutofixTuner(base_tuner.BaseTuner):
    """A Keras Tuner whose trials are run by ``runner.run(trial) -> metrics dict``."""

    def __init__(self, oracle, runner, directory, project_name, overwrite=False):
        self.runner = runner
        super().__init__(oracle=oracle, hypermodel=None, directory=directory, project_name=project_name, overwrite=overwrite)

    def run_trial(self, trial, *args, **kwargs):
        # Our errors steer the search (autofix_lstm.errors); Keras Tuner steers by its own types.
        try:
            return self.runner.run(trial)
        except TrialFailed as failed:  # Keras Tuner marks the trial failed and goes on
            raise kt.errors.FailedTrialError(str(failed)) from failed
        except FatalSearchError as fatal:  # its FatalError is the one type its trial loop lets out
            raise _FatalTrial(fatal) from fatal

    def search(self, *args, **kwargs):
        """Keras Tuner's search; a trial's ``FatalSearchError`` stops it and is raised as it was.

        Raises:
            FatalSearchError: a trial's error made every further trial pointless (``TrialRunner.run``).
        """
        try:
            return self._search_quietly(*args, **kwargs)
        except _FatalTrial as fatal:
            raise fatal.error  # noqa: B904 - its own cause (the trial's error) is kept, not Keras Tuner's wrapper

    def _search_quietly(self, *args, **kwargs):
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

    def reload(self):
        """Keras Tuner's reload of the saved project, each file checked first (``check_saved_state``).

        Raises:
            CorruptRunError: a state file is damaged; names it and ``--fresh``.
        """
        check_saved_state(Path(self.project_dir))
        super().reload()

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        self.runner.trial_ended(self.oracle.get_trial(trial.trial_id))

    def save(self):
        """Keras Tuner's ``save``, with its tuner file written atomically (the oracle writes its own so).

        A worker of a distributed search (``tuning.distributed_worker``) saves nothing: the chief keeps the state.
        """
        if self._is_worker():
            return
        self.oracle.save()
        write_text(json.dumps(self.get_state()), Path(os.fspath(self._get_tuner_fname())))
