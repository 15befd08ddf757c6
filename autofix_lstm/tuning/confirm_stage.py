"""The confirmation across seeds, run on a search's trials: training a fix with other seeds, and the stage.

``tuning.confirmation`` decides (``confirm_fixes``: which fix holds on every seed); this module trains:
``seed_trainer`` retrains a trial's candidate with another seed the way the search trained it, and
``confirm_stage`` is the stage after the trials. The runs of a fix confirmed between trials
(``search.stop: confirmed``, ``tuning.stopping``) are kept in ``RunDir.seed_runs`` (``load_known`` /
``save_known``), so neither the stage nor a resumed search trains them again.
"""

from __future__ import annotations

import time
from typing import Any

from autofix_lstm.errors import CorruptRunError
from autofix_lstm.modeling.train import export_model
from autofix_lstm.run_dir import RunDir, read_typed, save_model, write_json
from autofix_lstm.tuning.confirmation import CONFIRM_SEEDS, Confirmation, SeedRun, SeedTrainer, confirm_fixes
from autofix_lstm.tuning.records import TrialRecord
from autofix_lstm.tuning.resume import publish_best
from autofix_lstm.tuning.summary import record_spec
from autofix_lstm.tuning.trials import TrialRunner, train_candidate

# trial id -> its runs on every seed, its own first
Known = dict[str, list[SeedRun]]


def seed_trainer(runner: TrialRunner) -> SeedTrainer:
    """Train a trial's candidate again with another seed, as the search trained it (its epochs, the signals,
    the user's callbacks): ``(metrics, seconds)``."""
    spec, dataset = runner.spec, runner.dataset

    def train_with_seed(record: TrialRecord, seed: int) -> tuple[Any, float]:
        started = time.perf_counter()
        candidate = record_spec(record, spec).updated({"train.seed": seed})
        outcome, _, _ = train_candidate(spec, candidate, dataset, epochs=record.epochs_run or None,
                                        stops=runner.stops, callbacks=runner.callbacks)
        return outcome.metrics, time.perf_counter() - started

    return train_with_seed


def confirm_stage(runner: TrialRunner, records: list[TrialRecord], baseline: TrialRecord, deadline: float | None,
                  reporter, known: Known | None = None) -> Confirmation:
    """The confirmation stage: train the best fixes again with more seeds (``tuning.confirmation``).

    The candidates are the fixes that rank above the spec as written, best first; a fix in ``known``
    (confirmed between trials) keeps its runs, and their seconds count in the stage's. A fallback fix
    (the best one did not hold) gets its own seed trained again too, for best_model.keras.
    """
    spec, dataset = runner.spec, runner.dataset
    ranked = sorted((r for r in records if r.fix and r.scored), key=lambda r: r.score)
    candidates = [r for r in ranked if baseline.score is None or r.score < baseline.score]

    def on_run(record: TrialRecord, seed: int, position: int) -> None:
        reporter.stage(f"confirming trial {record.trial_id} with seed {seed} ({position} of {CONFIRM_SEEDS})")

    confirmation = confirm_fixes(candidates, seed_trainer(runner), seed=spec.train.seed,
                                 min_std_ratio=spec.search.min_std_ratio, deadline=deadline, on_run=on_run,
                                 known=known)
    confirmation.seconds += known_seconds(known or {})
    if candidates and confirmation.trial_id != candidates[0].trial_id:
        chosen = next(r for r in candidates if r.trial_id == confirmation.trial_id)
        reporter.stage(f"saving trial {chosen.trial_id}, the best fix that held on every seed")
        candidate = record_spec(chosen, spec)
        outcome, prepared, _ = train_candidate(spec, candidate, dataset, epochs=chosen.epochs_run or None,
                                               stops=runner.stops, callbacks=runner.callbacks)
        save_model(export_model(outcome.core, prepared), runner.run_dir.trial_model(chosen.trial_id))
        publish_best(runner.run_dir, chosen, spec)
    return confirmation


def load_known(run: RunDir) -> Known:
    """The fixes confirmed between trials by an earlier run of this search; empty when there are none.

    A file cut short or edited reads as empty: it only saves trainings, which are run again.
    """
    try:
        return read_typed(run.seed_runs, _known_from, "the seed runs of fixes confirmed between trials")
    except (FileNotFoundError, CorruptRunError):
        return {}


def save_known(run: RunDir, known: Known) -> None:
    """Keep the fixes confirmed between trials for a resumed search (atomically)."""
    write_json({trial_id: [r.to_dict() for r in runs] for trial_id, runs in known.items()}, run.seed_runs)


def known_seconds(known: Known) -> float:
    """The seconds the extra seeds' runs in ``known`` took (a fix's own run is its trial's)."""
    return float(sum(r.seconds or 0.0 for runs in known.values() for r in runs[1:]))


def _known_from(raw: Any) -> Known:
    if not isinstance(raw, dict):
        raise TypeError(f"a mapping of trial ids to seed runs; got {type(raw).__name__}")
    try:
        return {str(trial_id): [SeedRun.from_dict(r) for r in runs] for trial_id, runs in raw.items()}
    except KeyError as err:
        raise ValueError(f"a seed run without {err}") from None


__all__ = ["Known", "confirm_stage", "known_seconds", "load_known", "save_known", "seed_trainer"]
