"""Confirmation across seeds: does the best fix hold when trained again with other seeds?

A fix found with one seed may be a lucky draw. After the search, the best candidate that is a fix
is trained again with ``CONFIRM_SEEDS`` more seeds (``train.seed + 1``, ``+ 2``) on the same data
split; it is confirmed when it is a fix on every one of them. When it is not, the next best fix is
tried (at most ``CONFIRM_CANDIDATES`` candidates, within ``search.max_time``). ``Confirmation`` is
what summary.json's ``confirmed_seeds``, ``seed_runs`` and ``confirmation`` say, and what the
verdict reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from autofix_lstm.scoring.metrics import Metrics
from autofix_lstm.scoring.objective import is_fix
from autofix_lstm.tuning.records import TrialRecord

CONFIRM_SEEDS = 2  # seeds beyond the search's own
CONFIRM_CANDIDATES = 3  # fixes tried at most, best first, before the best is reported unconfirmed
# Why confirmation ran no (or not every) seed: summary.json's confirmation.skipped
NO_FIX = "no fix to confirm"
TURNED_OFF = "turned off (--no-confirm, search.confirm: false or confirm=False)"
NO_TIME = "no time was left within search.max_time"


@dataclass
class SeedRun:
    """One training of a candidate with one seed."""

    seed: int
    fix: bool
    metrics: Metrics
    seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The run as summary.json's ``seed_runs`` lists it."""
        return {"seed": self.seed, "fix": self.fix, "seconds": self.seconds, "metrics": self.metrics.to_dict()}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SeedRun:
        """A run from ``to_dict``'s content.

        Raises:
            KeyError, TypeError, ValueError: ``raw`` is not a seed run.
        """
        seconds = raw.get("seconds")
        return cls(seed=int(raw["seed"]), fix=bool(raw["fix"]), metrics=Metrics.from_dict(raw["metrics"]),
                   seconds=None if seconds is None else float(seconds))


@dataclass
class Confirmation:
    """The outcome of the confirmation stage.

    ``trial_id`` is the candidate finally reported (None when none was tried); ``runs`` its seed
    runs, its own seed first; ``tried`` every candidate tried with how many seeds it held on;
    ``skipped`` why confirmation did not run, or did not run every seed. Every candidate tried runs
    every extra seed (time allowing), so an unconfirmed fix reads as, say, ``"2/3"``.
    """

    trial_id: str | None = None
    runs: list[SeedRun] = field(default_factory=list)
    tried: list[dict[str, Any]] = field(default_factory=list)
    skipped: str | None = None
    seconds: float = 0.0

    @property
    def held(self) -> int:
        """On how many seeds the reported candidate was a fix."""
        return sum(run.fix for run in self.runs)

    @property
    def confirmed_seeds(self) -> str | None:
        """``"held/run"`` (``"3/3"`` when every seed held); None when no extra seed was run."""
        return None if len(self.runs) < 2 else f"{self.held}/{len(self.runs)}"

    @property
    def confirmed(self) -> bool:
        """True when the candidate was trained with every extra seed and was a fix on each."""
        return len(self.runs) == CONFIRM_SEEDS + 1 and self.held == len(self.runs)

    def to_dict(self) -> dict[str, Any]:
        """summary.json's ``confirmation``: the candidates tried, why (if) it was skipped, and its seconds."""
        return {"trial_id": self.trial_id, "tried": self.tried, "skipped": self.skipped, "seconds": self.seconds}


# (the candidate's record, seed) -> (metrics, seconds); trains the record's spec with that seed
SeedTrainer = Callable[[TrialRecord, int], "tuple[dict, float]"]


def confirm_fixes(
    candidates: list[TrialRecord],
    train_with_seed: SeedTrainer,
    *,
    seed: int,
    min_std_ratio: float,
    deadline: float | None = None,
    on_run: Callable[[TrialRecord, int, int], None] | None = None,
    known: dict[str, list[SeedRun]] | None = None,
) -> Confirmation:
    """Train the fixes in ``candidates`` (best first) with more seeds until one holds on every seed.

    Args:
        candidates: the fixes worth confirming, best first (the baseline excluded).
        train_with_seed: trains a candidate with one seed: ``(metrics, seconds)``.
        seed: the search's own seed (``train.seed``); the extra seeds follow it.
        min_std_ratio: the collapse floor a run is judged with.
        deadline: ``time.time()`` after which no run starts (``search.max_time``).
        on_run: told ``(candidate, seed, position)`` before each run (the progress display).
        known: trial id -> its runs on every seed, its own first, from an earlier confirmation (``search.stop:
            confirmed`` confirms between trials): used as they are, nothing trained again.

    Returns:
        The first candidate that held on every seed; when none did, the first one tried, with its
        runs. ``skipped`` says why a candidate could not be run on every seed.
    """
    started = time.perf_counter()
    outcome = Confirmation()
    if not candidates:
        outcome.skipped = NO_FIX
        return outcome
    first: tuple[str, list[SeedRun]] | None = None  # the best candidate's runs: reported when none holds
    for record in candidates[:CONFIRM_CANDIDATES]:
        own = SeedRun(seed=seed, fix=True, metrics=record.metrics, seconds=record.seconds)
        runs = list((known or {}).get(record.trial_id) or [own])  # the seeds already run are not run again
        for position, extra in enumerate(range(seed + len(runs), seed + 1 + CONFIRM_SEEDS), start=len(runs)):
            if deadline is not None and time.time() >= deadline:
                outcome.skipped = NO_TIME
                break
            if on_run is not None:
                on_run(record, extra, position)
            metrics, seconds = train_with_seed(record, extra)
            runs.append(SeedRun(seed=extra, fix=is_fix(metrics, min_std_ratio), metrics=metrics, seconds=seconds))
        if len(runs) > 1:
            outcome.tried.append({"trial_id": record.trial_id, "confirmed_seeds": f"{sum(r.fix for r in runs)}/{len(runs)}"})
            if first is None:
                first = (record.trial_id, runs)
        if len(runs) == CONFIRM_SEEDS + 1 and all(run.fix for run in runs):
            outcome.trial_id, outcome.runs = record.trial_id, runs
            break
        if outcome.skipped:
            break
    if outcome.trial_id is None:
        outcome.trial_id, outcome.runs = first if first is not None else (candidates[0].trial_id, [])
    outcome.seconds = time.perf_counter() - started
    return outcome
