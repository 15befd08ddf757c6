"""``Summary``: the content of summary.json as one typed record, built, written and read here.

Like Optuna's ``FrozenTrial`` for a trial, ``Summary`` is the one shape every reader of a finished
search takes (the CLI, the report, the plots, the event log): read its attributes, never the
file's keys. ``to_dict`` writes exactly the keys summary.json has always had (a public contract:
extend, never change), in the same order; ``from_dict`` reads a file an earlier version wrote
(a key it lacks reads as None, or an empty list/dict).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autofix_lstm.run_dir import jsonable, read_typed, write_json
from autofix_lstm.scoring.metrics import Metrics
from autofix_lstm.scoring.objective import ModelState
from autofix_lstm.scoring.signal import SignalProbe, far_below
from autofix_lstm.tuning.confirmation import Confirmation
from autofix_lstm.tuning.minimal import MinimalFix
from autofix_lstm.tuning.records import TrialRecord, TrialSource, TrialStatus
from autofix_lstm.tuning.summary_blocks import Ablation, Block, ChangeEffect, Pruning, Refinement, changes_from

if TYPE_CHECKING:  # tuning.stopping trains (it loads Keras); a summary's readers must not need it
    from autofix_lstm.tuning.stopping import EarlyStop

# Written only when set: searches before the device was recorded have neither.
OPTIONAL_KEYS = ("device", "distribution")


@dataclass
class Summary:
    """What a search found and how it went: summary.json, typed.

    ``baseline``/``best`` are the metrics of the spec as written and of the best found; the
    ``*_state`` fields their ``ModelState``; the nested blocks (``pruning``, ``refinement``,
    ``minimal_fix``, ``time`` ...) keep the shapes docs/outputs.md documents for summary.json.
    """

    fixed: bool
    verdict: str
    baseline: Metrics | None
    best: Metrics | None
    beats_constant: bool | None = None
    beats_persistence: bool | None = None
    changes: list[str] = field(default_factory=list)
    trials_total: int = 0
    trials_completed: int = 0
    trials_failed: int = 0
    trials_pruned: int = 0
    trials_to_first_fix: int | None = None
    seconds_to_first_fix: float | None = None
    elapsed_seconds: float | None = None
    diagnosis: list[dict[str, Any]] | None = None  # the findings, as diagnosis.json lists them
    # Extensions beyond the first contract:
    baseline_state: ModelState | None = None
    best_state: ModelState | None = None
    confirmed_seeds: str | None = None  # e.g. "3/3"
    seed_runs: list[dict[str, Any]] = field(default_factory=list)
    confirmation: dict[str, Any] | None = None
    best_trial: str | None = None
    objective: float | None = None
    baseline_objective: float | None = None
    baseline_pruned_at_epoch: int | None = None
    min_std_ratio: float | None = None
    tuner: str | None = None
    searched_fields: list[str] = field(default_factory=list)
    cudnn_compatible: bool | None = None
    cudnn_problems: list[str] = field(default_factory=list)
    cudnn_alternative: dict[str, Any] | None = None  # trial_id, objective, metrics
    interrupted: bool = False
    signal_probe: SignalProbe | None = None
    pruning: Pruning = field(default_factory=Pruning)
    refinement: Refinement = field(default_factory=Refinement)
    necessary_changes: list[ChangeEffect] | None = None  # None: the minimal fix did not run
    incidental_changes: list[ChangeEffect] | None = None
    minimal_fix: Ablation | None = None
    time: dict[str, Any] = field(default_factory=dict)  # seconds by stage (``TIME_STAGES``), wall, trained, oracle_share
    overhead_share: float | None = None
    device: str | None = None
    distribution: dict[str, Any] | None = None
    stopped_early: bool = False  # search.stop: confirmed ended the trials before the budget
    stop_reason: str | None = None  # why, in plain words (None: the trials spent the budget, or were interrupted)
    far_below_probe: dict[str, Any] | None = None  # metric, kept, probe: the kept model far below the signal probe

    def __post_init__(self) -> None:
        self.baseline = Metrics.from_dict(self.baseline) if self.baseline else None
        self.best = Metrics.from_dict(self.best) if self.best else None
        self.baseline_state = None if self.baseline_state is None else ModelState(self.baseline_state)
        self.best_state = None if self.best_state is None else ModelState(self.best_state)
        self.signal_probe = SignalProbe.from_dict(self.signal_probe)
        self.pruning = Pruning.from_dict(self.pruning) or Pruning()
        self.refinement = Refinement.from_dict(self.refinement) or Refinement()
        self.necessary_changes = changes_from(self.necessary_changes)
        self.incidental_changes = changes_from(self.incidental_changes)
        self.minimal_fix = Ablation.from_dict(self.minimal_fix)

    @property
    def best_works(self) -> bool:
        """The best found is working: not collapsed, and beats a constant (older files: ``beats_constant``)."""
        if self.best_state is not None:
            return self.best_state is ModelState.WORKING
        return bool(self.beats_constant)

    @property
    def minimal_verdict(self) -> str | None:
        """The minimal fix's sentence, or None when it did not run."""
        return None if self.minimal_fix is None else self.minimal_fix.verdict

    def to_dict(self) -> dict[str, Any]:
        """summary.json's content: its keys in their documented order."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in OPTIONAL_KEYS and value is None:
                continue
            if isinstance(value, (Metrics, SignalProbe, Block)):
                value = value.to_dict()
            elif isinstance(value, ModelState):
                value = value.value
            elif f.name in ("necessary_changes", "incidental_changes") and value is not None:
                value = [change.to_dict() for change in value]
            out[f.name] = value
        return jsonable(out)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Summary:
        """A summary from summary.json's content (keys this version does not know are ignored).

        Raises:
            TypeError, ValueError: ``raw`` is not a summary (not a dict, no ``fixed``/``verdict``, a bad state).
        """
        if not isinstance(raw, dict):
            raise TypeError(f"a summary is a JSON object; got {type(raw).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in raw.items() if k in known}
        for name, empty in (("changes", []), ("seed_runs", []), ("searched_fields", []), ("cudnn_problems", []),
                            ("time", {})):
            if values.get(name) is None:
                values[name] = empty
        values.setdefault("interrupted", False)
        values["stopped_early"] = bool(values.get("stopped_early", False))
        return cls(**{"fixed": raw.get("fixed"), "verdict": raw.get("verdict"), "baseline": raw.get("baseline"),
                      "best": raw.get("best"), **values})

    def save(self, path: Path) -> Path:
        """Write summary.json (atomically)."""
        return write_json(self.to_dict(), path)

    @classmethod
    def load(cls, path: Path) -> Summary:
        """Read summary.json.

        Raises:
            FileNotFoundError: no file at ``path``.
            CorruptRunError: cut short, not JSON, or not a summary; it names the file.
        """
        return read_typed(path, cls.from_dict, "a search summary")


def build_summary(
    *, fixed: bool, verdict: str, best: TrialRecord, baseline: TrialRecord, records: list[TrialRecord],
    changes: list[str], findings: list, elapsed: float, min_std_ratio: float, tuner: str, fields: list[str],
    cudnn: list[str], alternative: TrialRecord | None, interrupted: bool, probe: SignalProbe | None = None,
    epochs: int | None = None, refine_budget: int | None = None, minimal: MinimalFix | None = None,
    confirmation: Confirmation | None = None, diagnosis_seconds: float | None = None,
    device: str | None = None, distribution: dict | None = None, stopped: EarlyStop | None = None,
) -> Summary:
    """The summary of a finished (or interrupted) search, from its records and stages' outcomes.

    The states and comparisons are the ones the objective judged each record with
    (``TrialRecord.state``/``beats_persistence``, set by ``objective.judge``), never judged again here.
    """
    best, baseline = best.judged_at(min_std_ratio), baseline.judged_at(min_std_ratio)
    statuses = [r.status for r in records]
    trials_to_fix, seconds_to_fix = first_fix(records, baseline)
    refined = [r for r in records if r.source is TrialSource.REFINE]
    return Summary(
        fixed=fixed,
        verdict=verdict,
        baseline=baseline.metrics,
        best=best.metrics,
        beats_constant=best.beats_constant,
        beats_persistence=best.beats_persistence,
        changes=changes,
        trials_total=len(records),
        trials_completed=statuses.count(TrialStatus.COMPLETED),
        trials_failed=statuses.count(TrialStatus.FAILED),
        trials_pruned=statuses.count(TrialStatus.PRUNED),
        trials_to_first_fix=trials_to_fix,
        seconds_to_first_fix=seconds_to_fix,
        elapsed_seconds=elapsed,
        diagnosis=[f.to_dict() for f in findings],
        baseline_state=baseline.state,
        best_state=best.state,
        confirmed_seeds=None if confirmation is None else confirmation.confirmed_seeds,
        seed_runs=[] if confirmation is None else [run.to_dict() for run in confirmation.runs],
        confirmation=None if confirmation is None else confirmation.to_dict(),
        best_trial=best.trial_id,
        objective=best.score,
        baseline_objective=baseline.score,
        baseline_pruned_at_epoch=baseline.pruned_at,
        min_std_ratio=min_std_ratio,
        tuner=tuner,
        searched_fields=fields,
        cudnn_compatible=not cudnn,
        cudnn_problems=cudnn,
        cudnn_alternative=None if alternative is None else {
            "trial_id": alternative.trial_id, "objective": alternative.score,
            "metrics": None if alternative.metrics is None else alternative.metrics.to_dict(),
        },
        interrupted=interrupted,
        signal_probe=probe,
        pruning=pruning_summary(records, epochs),
        refinement=Refinement(budget=refine_budget, trials=len(refined), fixes=sum(1 for r in refined if r.fix),
                              best_from_refinement=best.source is TrialSource.REFINE),
        # The minimal fix: the changes the fix needed, each with the objective with and without it, the ones
        # that did not matter, and the ablation's figures.
        necessary_changes=None if minimal is None else minimal.necessary_effects(),
        incidental_changes=None if minimal is None else minimal.incidental_effects(),
        minimal_fix=None if minimal is None else minimal.ablation(),
        **time_summary(records, baseline, elapsed, diagnosis_seconds,
                       confirmation_seconds=0.0 if confirmation is None else confirmation.seconds,
                       minimal_seconds=0.0 if minimal is None else minimal.seconds),
        device=device,
        distribution=distribution,
        stopped_early=stopped is not None,
        stop_reason=None if stopped is None else stopped.reason,
        far_below_probe=_far_below(probe, best),
    )


def _far_below(probe: SignalProbe | None, best: TrialRecord) -> dict[str, Any] | None:
    """summary.json's ``far_below_probe``: the working best's quality against the probe's, when far below it."""
    gap = far_below(probe, best.metrics) if best.state is ModelState.WORKING else None
    return None if gap is None else {"metric": gap.metric, "kept": gap.kept, "probe": gap.probe}


def first_fix(records: list[TrialRecord], baseline: TrialRecord) -> tuple[int | None, float | None]:
    """How many trials (in start order) and seconds it took to the first fix; (0, ...) when the spec already was one."""
    if baseline.fix:
        return 0, baseline.elapsed_at_end
    for position, record in enumerate(records, start=1):
        if record.fix:
            return position, record.elapsed_at_end
    return None, None


TIME_STAGES = ("diagnosis", "baseline", "oracle", "training", "evaluation", "writing", "confirmation",
               "minimal_fix", "other")


def time_summary(records: list[TrialRecord], baseline: TrialRecord, elapsed: float,
                 diagnosis_seconds: float | None, confirmation_seconds: float = 0.0,
                 minimal_seconds: float = 0.0) -> dict[str, Any]:
    """Where the search's wall time went: summary.json's ``time`` block and ``overhead_share``.

    ``time`` holds seconds per stage (``TIME_STAGES``; the trial stages summed over the records,
    ``baseline`` the spec as written, ``confirmation`` and ``minimal_fix`` those stages' own seconds,
    ``other`` the rest of ``wall``: loading the data, Keras Tuner's bookkeeping, the signal probe,
    the report, earlier runs' diagnoses when the search was resumed), ``wall`` (= ``elapsed_seconds``),
    ``trained`` (seconds spent training models: the baseline's fit, every trial's fit, and the
    confirmation's and the minimal fix's stages, which are nothing but trainings of candidates, each
    with its own evaluation) and ``oracle_share`` (the oracle's seconds over ``trained``).
    ``overhead_share`` is ``(wall - trained) / trained``: 0 would be a search that only trains.
    Records without timings (written by an earlier version) count as ``other``.
    """
    def total(key: str) -> float:
        return float(sum(getattr(r, key) or 0.0 for r in records))

    stages = {
        "diagnosis": float(diagnosis_seconds or 0.0),
        "baseline": float(baseline.seconds or 0.0),
        "oracle": total("oracle_seconds"),
        "training": total("train_seconds"),
        "evaluation": total("eval_seconds"),
        "writing": total("write_seconds"),
        "confirmation": float(confirmation_seconds or 0.0),
        "minimal_fix": float(minimal_seconds or 0.0),
    }
    stages["other"] = max(0.0, elapsed - sum(stages.values()))
    trained = (stages["training"] + float(baseline.train_seconds or 0.0) + stages["confirmation"]
               + stages["minimal_fix"])
    return {
        "time": {
            **{key: round(value, 3) for key, value in stages.items()},
            "wall": round(elapsed, 3),
            "trained": round(trained, 3),
            "oracle_share": round(stages["oracle"] / trained, 4) if trained > 0 else None,
        },
        "overhead_share": round((elapsed - trained) / trained, 4) if trained > 0 else None,
    }


def pruning_summary(records: list[TrialRecord], epochs: int | None) -> Pruning:
    """What pruning saved (trials and epochs) and what the safety net's full re-runs found."""
    pruned = [r for r in records if r.status is TrialStatus.PRUNED]
    saved = sum(max(0, epochs - (r.epochs_run or 0)) for r in pruned) if epochs else None
    reruns = [r for r in records if r.rerun_of]
    return Pruning(
        trials_pruned=len(pruned), epochs_saved=saved,
        reruns=[{"trial_id": r.trial_id, "rerun_of": r.rerun_of, "fix": r.fix, "objective": r.score} for r in reruns],
        fixes_lost_to_pruning=sum(1 for r in reruns if r.fix),
    )


def overhead_text(summary: Summary) -> str | None:
    """``"overhead 12% of its 60 s training (oracle 1%)"`` from a search's summary; None without timings."""
    share, block = summary.overhead_share, summary.time
    if share is None or not block.get("trained") or share < 0:  # < 0: workers trained side by side
        return None
    text = f"overhead {share:.0%} of its {block['trained']:.0f} s training"
    if block.get("oracle_share") is not None:
        text += f" (oracle {block['oracle_share']:.0%})"
    return text
