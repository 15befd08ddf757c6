"""``search.stop``: when the trials end.

``budget`` (the default) runs ``search.max_trials`` trials, or until ``search.max_time``. ``confirmed``
ends them early, once the best fix so far is confirmed and the ``search.patience`` trials after it
brought no gain (``ConfirmedStop``). Between trials (``TrialRunner.between_trials``) it counts the
trials since the best so far; once a fix (a trial ranking above the spec as written) has had
``patience`` trials after it that did not beat it, that fix is trained with the two extra seeds of
the confirmation stage (``tuning.confirm_stage``). When it held on all three, the oracle starts no
more trials (``stop_reason``) and the search goes on to its later stages; when it did not, the
trials go on and the next best fix is judged the same way (a fix is confirmed once). Each fix's runs
are kept (``RunDir.seed_runs``): the confirmation stage uses them as they are, and a resumed search
(``ConfirmedStop.start``) finds the same stop without training them again.

A fix far below what the signal probe (a linear or gradient-boosted model on the same windows) reaches
never stops the trials early: the budget is spent looking for better (``scoring.signal.far_below``).

The rule judges only while the budget has trials left: at its end the search stops anyway, and the
confirmation stage confirms as it always does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from autofix_lstm.run_dir import RunDir
from autofix_lstm.scoring.signal import SignalProbe, far_below
from autofix_lstm.spec import Spec
from autofix_lstm.tuning.confirm_stage import Known, save_known, seed_trainer
from autofix_lstm.tuning.confirmation import CONFIRM_SEEDS, Confirmation, confirm_fixes
from autofix_lstm.tuning.records import TrialRecord
from autofix_lstm.tuning.trials import TrialRunner


@dataclass(frozen=True)
class EarlyStop:
    """Why the trials ended before the budget: the fix confirmed, and the trials after it."""

    trial_id: str
    held: str  # on how many seeds it held, "3/3"
    trials_after: int  # trials after it, none better
    trials_run: int
    max_trials: int

    @property
    def reason(self) -> str:
        """summary.json's ``stop_reason``: why, in plain words."""
        trials = "trial" if self.trials_after == 1 else "trials"
        return (f"trial {self.trial_id}'s fix held on {self.held} seeds and the {self.trials_after} {trials} "
                "after it brought no gain")

    def sentence(self) -> str:
        """What the verdict says of it."""
        return (f"The search stopped early, after {self.trials_run} of {self.max_trials} trials "
                f"(search.stop: confirmed): {self.reason}.")


def trials_without_gain(records: list[TrialRecord], best: TrialRecord) -> int:
    """How many trials started after ``best`` (``records`` in start order; none of them beat it)."""
    ids = [r.trial_id for r in records if not r.rerun_of]
    return len(ids) - 1 - ids.index(best.trial_id) if best.trial_id in ids else len(ids)


class ConfirmedStop:
    """``search.stop: confirmed``: ends the trials once the best fix held on every seed and ``patience``
    trials after it brought no gain.

    ``runner`` is the search's ``TrialRunner`` (its best so far, its oracle, its reporter); ``confirm``
    trains a fix with the extra seeds (``confirm_fixes`` on that fix alone); ``known`` holds the fixes
    already confirmed, and ``keep`` saves it whenever a confirmation adds one.
    """

    def __init__(self, runner: TrialRunner, *, patience: int, max_trials: int,
                 confirm: Callable[[TrialRecord], Confirmation], known: Known,
                 keep: Callable[[Known], None] = lambda known: None, probe: SignalProbe | None = None):
        self.runner = runner
        self.probe = probe
        self.patience = patience
        self.max_trials = max_trials
        self.confirm = confirm
        self.known = known
        self.keep = keep
        self.stopped: EarlyStop | None = None
        self.without_gain = 0  # trials since the best so far
        self._best_id: str | None = None
        self._tried: set[str] = set()  # fixes confirmed in this run, held or not

    def start(self, records: list[TrialRecord]) -> EarlyStop | None:
        """Before the trials: count the trials ``records`` (start order) hold after the best, and judge.

        A resumed search that had stopped stops again here, before its first new trial.
        """
        self._best_id = self.runner.best.trial_id
        self.without_gain = trials_without_gain(records, self.runner.best)
        return self.check()

    def trial_ended(self) -> EarlyStop | None:
        """After each trial: count it (a new best starts the count again), and judge."""
        best = self.runner.best
        if best.trial_id != self._best_id:
            self._best_id, self.without_gain = best.trial_id, 0
        else:
            self.without_gain += 1
        return self.check()

    def check(self) -> EarlyStop | None:
        """Stop the trials when the best fix held on every seed after ``patience`` trials without gain."""
        best = self.runner.best
        if self.stopped is not None or best.is_baseline or not best.fix or self.without_gain < self.patience:
            return self.stopped
        if far_below(self.probe, best.metrics) is not None:
            return None  # a simple model does far better on the same windows: spend the budget
        if not self._trials_left():
            return None
        runs = self.known.get(best.trial_id)
        if runs is None and best.trial_id not in self._tried:
            self._tried.add(best.trial_id)
            confirmation = self.confirm(best)
            runs = confirmation.runs
            if len(runs) == CONFIRM_SEEDS + 1:  # every seed ran (not cut short by max_time)
                self.known[best.trial_id] = runs
                self.keep(self.known)
            if not _held(runs):
                self._back_to_trials()
        if runs is None or not _held(runs):
            return None
        self.stopped = EarlyStop(trial_id=best.trial_id, held=f"{len(runs)}/{len(runs)}",
                                 trials_after=self.without_gain, trials_run=self.runner.started_count(),
                                 max_trials=self.max_trials)
        self.runner.oracle.stop_reason = self.stopped.reason
        return self.stopped

    def _trials_left(self) -> bool:
        deadline = getattr(self.runner.oracle, "deadline", None)
        return self.runner.started_count() < self.max_trials and (deadline is None or time.time() < deadline)

    def _back_to_trials(self) -> None:
        """The progress display and the event log return to the trials after a confirmation that did not hold."""
        reporter = self.runner.reporter
        reporter.start(self.max_trials)
        reporter.trial_done(self.runner.done, self.runner.best, self.runner.fix_found)


def _held(runs: list | None) -> bool:
    return bool(runs) and len(runs) == CONFIRM_SEEDS + 1 and all(r.fix for r in runs)


def stop_rule(spec: Spec, runner: TrialRunner, run: RunDir, known: Known, deadline: float | None,
              probe: SignalProbe | None = None) -> ConfirmedStop | None:
    """The search's stop rule: a ``ConfirmedStop`` for ``search.stop: confirmed``; None for ``budget``.

    It never stops early while the best fix is far below the signal ``probe`` (``scoring.signal.far_below``).

    Its confirmations train as the confirmation stage does (``deadline``: ``search.max_time``'s, none
    started after it), tell the progress display, and are kept in ``run``'s ``seed_runs``.
    """
    if spec.search.stop != "confirmed":
        return None

    def on_run(record: TrialRecord, seed: int, position: int) -> None:
        runner.reporter.stage(f"confirming trial {record.trial_id} with seed {seed} ({position} of {CONFIRM_SEEDS}) "
                              "before stopping early")

    def confirm(record: TrialRecord) -> Confirmation:
        return confirm_fixes([record], seed_trainer(runner), seed=spec.train.seed,
                             min_std_ratio=spec.search.min_std_ratio, deadline=deadline, on_run=on_run)

    return ConfirmedStop(runner, patience=spec.search.patience, max_trials=spec.search.max_trials, confirm=confirm,
                         known=known, keep=lambda kept: save_known(run, kept), probe=probe)


__all__ = ["ConfirmedStop", "EarlyStop", "stop_rule", "trials_without_gain"]
