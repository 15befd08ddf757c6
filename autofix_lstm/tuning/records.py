"""The trial record: what one training of a candidate (or of the spec as written) left behind.

``TrialRecord`` is the one shape every part reads (the search, summary.json, trials.csv, the
report, the benchmarks), like Optuna's ``FrozenTrial``; ``TrialStatus`` is its state. A record is
written to and read from the run folder only here (``save`` / ``load`` / ``load_records``), with
the same JSON keys the record files have always had.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from autofix_lstm.errors import CorruptRunError
from autofix_lstm.run_dir import RunDir, read_typed, write_json
from autofix_lstm.scoring.metrics import Metrics
from autofix_lstm.scoring.objective import Judgment, ModelState, judge

BASELINE_ID = "baseline"


class TrialStatus(str, Enum):
    """How a trial ended."""

    COMPLETED = "completed"  # trained its full epochs
    PRUNED = "pruned"  # stopped early: its output stayed collapsed
    FAILED = "failed"  # could not train (NaN loss, a build error): no score

    def __str__(self) -> str:
        return self.value


class TrialSource(str, Enum):
    """Where a trial's values came from."""

    SEED = "seed"  # a strategy's seed for a finding the diagnosis made
    REFINE = "refine"  # a step around a fix found earlier
    ORACLE = "oracle"  # the Bayesian oracle's proposal
    RERUN = "rerun"  # a pruned trial trained again in full (the safety net)

    def __str__(self) -> str:
        return self.value


@dataclass
class TrialRecord:
    """One trained candidate: its values, status, metrics in original units and objective.

    The baseline (the spec as written) is a record too, with ``trial_id == "baseline"`` and the
    validation targets, class names and the search fingerprint besides.
    """

    trial_id: str
    status: TrialStatus
    values: dict[str, Any] = field(default_factory=dict)  # searched field -> value
    metrics: Metrics | None = None  # None when it failed before it was measured
    score: float | None = None  # the objective (None when failed)
    fix: bool = False
    state: ModelState | None = None  # its state in one word (None when failed)
    beats_constant: bool | None = None  # by the objective's margin (None when failed)
    beats_persistence: bool | None = None  # against repeating the last value (None: does not apply, or failed)
    epochs_run: int | None = None
    pruned_at: int | None = None  # the epoch pruning stopped it at
    history: dict[str, list] = field(default_factory=dict)
    seconds: float | None = None
    elapsed_at_end: float | None = None  # the search's clock when it ended
    spec: dict[str, Any] | None = None  # the candidate spec, as a dict
    val_predictions: list | None = None
    message: str | None = None  # why it failed
    order: int | None = None  # its place in the tuner's start order (0 first)
    source: TrialSource | None = None  # where its values came from
    rerun_of: str | None = None  # a pruned trial this one re-ran in full (the safety net)
    # Where its time went (``seconds`` covers training and evaluation; the oracle's came before it):
    oracle_seconds: float | None = None  # the oracle choosing its values (None: not the oracle's)
    train_seconds: float | None = None  # preparing the data, building and fitting (pruning's checks included)
    eval_seconds: float | None = None  # predicting the validation part and scoring it
    write_seconds: float | None = None  # saving the best model and spec (when it was the best so far)
    worker: str | None = None  # the worker that ran it (``worker_name``): "chief", or a worker's id
    # The baseline's extras:
    fingerprint: str | None = None
    val_targets: list | None = None
    classes: list | None = None

    def __post_init__(self) -> None:
        self.status = TrialStatus(self.status)
        self.trial_id = str(self.trial_id)
        self.metrics = Metrics.from_dict(self.metrics) if self.metrics else None
        self.state = None if self.state is None else ModelState(self.state)
        self.source = None if self.source is None else TrialSource(self.source)

    @classmethod
    def judged(cls, trial_id: str, status: TrialStatus, metrics: Metrics, judgment: Judgment, **fields: Any
               ) -> TrialRecord:
        """A record of a measured training, carrying the objective's judgment of it (``objective.judge``)."""
        return cls(trial_id=trial_id, status=status, metrics=metrics, **_judgment_fields(judgment), **fields)

    def judged_at(self, min_std_ratio: float) -> TrialRecord:
        """This record with the objective's judgment on it: itself when it has one (or no metrics to
        judge); a judged copy of a record an earlier version wrote without one."""
        if self.state is not None or self.metrics is None:
            return self
        return dataclasses.replace(self, **_judgment_fields(judge(self.metrics, min_std_ratio)))
    @property
    def is_baseline(self) -> bool:
        """True for the spec as written."""
        return self.trial_id == BASELINE_ID

    @property
    def scored(self) -> bool:
        """True when the record has an objective (it did not fail)."""
        return self.score is not None

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-able data (keys as in the record files; unset baseline extras left out)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["status"] = self.status.value
        out["metrics"] = self.metrics.to_dict() if self.metrics is not None else {}
        out["state"] = None if self.state is None else self.state.value
        out["source"] = None if self.source is None else self.source.value
        for key in ("fingerprint", "val_targets", "classes", "rerun_of", "worker"):
            if out[key] is None:
                out.pop(key)
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TrialRecord:
        """A record from its JSON data (keys this version does not know are ignored)."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})

    def save(self, path: Path) -> Path:
        """Write the record (atomically) to ``path``."""
        return write_json(self.to_dict(), path)

    @classmethod
    def load(cls, path: Path) -> TrialRecord:
        """Read a record file.

        Raises:
            FileNotFoundError: no record at ``path``.
            CorruptRunError: the file is cut short, not JSON, or not a record; it names the file.
        """
        return read_typed(path, cls.from_dict, "a trial record")


def _judgment_fields(judgment: Judgment) -> dict[str, Any]:
    return {"score": judgment.score, "fix": judgment.fix, "state": judgment.state,
            "beats_constant": judgment.beats_constant, "beats_persistence": judgment.beats_persistence}


def load_records(run: RunDir, start_order: list[str] | None = None) -> list[TrialRecord]:
    """The trial records in ``run``, in the tuner's start order.

    ``start_order`` is the oracle's list of trial ids as it started them; without it the order
    saved in each record is used, then the trial id read as a number (Keras Tuner pads ids to the
    width of ``max_trials``, so "09" < "1" as text when a search is extended past 10 trials).
    """
    records = []
    for path in run.trial_records():
        try:
            records.append(TrialRecord.load(path))
        except (OSError, CorruptRunError):
            continue  # a record cut short or gone: a resumed search re-runs its trial
    position = {trial_id: index for index, trial_id in enumerate(start_order or [])}

    def key(record: TrialRecord):
        if record.trial_id in position:
            return (0, position[record.trial_id], 0)
        if record.order is not None:
            return (0, record.order, 0)
        return (1, _as_number(record.trial_id), record.trial_id)

    return sorted(records, key=key)


def _as_number(trial_id: str) -> float:
    try:
        return float(int(trial_id))
    except ValueError:
        return float("inf")


def best_record(records: list[TrialRecord]) -> TrialRecord | None:
    """The scored record with the lowest objective (the first one on a tie); None when none is scored."""
    scored = [r for r in records if r.scored]
    return min(scored, key=lambda r: r.score) if scored else None
