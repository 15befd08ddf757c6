"""events.jsonl: what a search did, one JSON object a line, for a person's ``tail -f`` or a script.

Every run of a search appends to ``<output>/events.jsonl`` (``RunDir.events``), a line at a time and
at once on disk; nothing rewrites it, and ``--fresh`` keeps it (the new search opens with a
``search_started`` event saying ``discarded_earlier: true``). Each event has ``time`` (ISO 8601,
local time with its offset), ``event``, ``worker`` (the process that wrote it: "chief", or a Keras
Tuner worker's ``KERASTUNER_TUNER_ID``) and ``pid``, and then its own fields:

- ``search_started`` (a new search) or ``resumed`` (a run that continues an earlier one): ``device``,
  ``distribution``, ``max_trials``, ``fingerprint``; ``resumed`` adds ``elapsed_seconds_before``
  and ``trials_recorded``; ``search_started`` adds ``discarded_earlier``.
- ``stage_started`` / ``stage_ended``: ``stage`` (the progress display's text), and ``seconds`` on
  the end. A stage ends when the next one begins, when the trials start, or when the search stops.
- ``trial_started``: ``trial_id``; ``trial_ended``: ``trial_id``, ``status``, ``objective``,
  ``std_ratio``, ``fix``, ``seconds``, ``epochs_run``, ``pruned_at``, ``source``, ``rerun_of``,
  ``message``, ``values`` and ``metrics`` (as in the trial's record).
- ``interrupted``: ``signal``, ``outputs_written``; ``search_failed``: ``error``;
  ``search_ended``: ``fixed``, ``best_trial``, ``objective``, ``best_state``, ``trials_total``,
  ``elapsed_seconds``, ``stopped_early`` (``search.stop: confirmed`` ended the trials before the budget).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autofix_lstm.run_dir import append_line, jsonable
from autofix_lstm.tuning.process_role import worker_name
from autofix_lstm.tuning.records import TrialRecord

if TYPE_CHECKING:
    from autofix_lstm.tuning.search_summary import Summary


class EventLog:
    """Appends events to one events.jsonl (``log.write("stage_started", stage="diagnosing")``).

    With ``hold=True`` the events wait in memory until ``release()``: a search touches nothing in
    its folder before its checks (the diagnosis included) have accepted the spec, so its first
    events are written once it does; ``discard()`` drops them when it is refused.
    """

    def __init__(self, path: Path, *, hold: bool = False):
        self.path = Path(path)
        self._held: list[dict] | None = [] if hold else None

    @property
    def held(self) -> bool:
        """True while the events wait for ``release()``."""
        return self._held is not None

    def write(self, event: str, **fields: Any) -> dict:
        """Append one event (or hold it); the event."""
        now = _dt.datetime.now().astimezone().isoformat(timespec="milliseconds")
        payload = jsonable({"time": now, "event": event, "worker": worker_name(), "pid": os.getpid(), **fields})
        if self._held is not None:
            self._held.append(payload)
        else:
            append_line(json.dumps(payload, allow_nan=False), self.path)
        return payload

    def release(self) -> None:
        """Write the events held so far, and every later one at once."""
        held, self._held = self._held or [], None
        for payload in held:
            append_line(json.dumps(payload, allow_nan=False), self.path)

    def discard(self) -> None:
        """Drop the events held so far (later ones are held too, until ``release()``)."""
        if self._held is not None:
            self._held.clear()

    def trial_ended(self, record: TrialRecord) -> dict:
        """The ``trial_ended`` event of a trial's record."""
        return self.write(
            "trial_ended", worker=record.worker or worker_name(), trial_id=record.trial_id, status=record.status.value, objective=record.score,
            std_ratio=None if record.metrics is None else record.metrics.std_ratio, fix=record.fix, seconds=record.seconds,
            epochs_run=record.epochs_run, pruned_at=record.pruned_at, source=record.source, rerun_of=record.rerun_of,
            message=record.message, values=record.values,
            metrics={} if record.metrics is None else record.metrics.to_dict(),
        )


def search_ended_fields(summary: Summary) -> dict:
    """The fields of the ``search_ended`` event, from the search's summary."""
    return {"fixed": summary.fixed, "best_trial": summary.best_trial, "objective": summary.objective,
            "best_state": None if summary.best_state is None else summary.best_state.value,
            "trials_total": summary.trials_total, "elapsed_seconds": summary.elapsed_seconds,
            "stopped_early": summary.stopped_early}


def read_events(path: Path) -> list[dict]:
    """Every event in an events.jsonl, oldest first (a line cut short by a kill is skipped)."""
    events = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


class LoggedReporter:
    """A search reporter that writes every stage and trial it is told of to an ``EventLog``, then
    passes the call on to ``inner`` (the progress display; any ``SearchReporter``)."""

    def __init__(self, inner, log: EventLog):
        self.inner = inner
        self.log = log
        self._stage: str | None = None
        self._stage_began = 0.0

    def _end_stage(self) -> None:
        if self._stage is not None:
            self.log.write("stage_ended", stage=self._stage, seconds=time.perf_counter() - self._stage_began)
            self._stage = None

    def _pass(self, name: str, *args) -> None:
        method = getattr(self.inner, name, None)  # a reporter written before the method existed lacks it
        if method is not None:
            method(*args)

    def start(self, total: int) -> None:
        """The trials begin (the stage before them ends)."""
        self._end_stage()
        self._begin("trials")
        self._pass("start", total)

    def deadline(self, at: float | None) -> None:
        """Passed on: when the search must end (``search.max_time``)."""
        self._pass("deadline", at)

    def stage(self, text: str) -> None:
        """A stage begins (the one before it ends)."""
        self._end_stage()
        self._begin(text)
        self._pass("stage", text)

    def _begin(self, text: str) -> None:
        self._stage, self._stage_began = text, time.perf_counter()
        self.log.write("stage_started", stage=text)

    def trial_started(self, trial_id: str, worker: str | None = None) -> None:
        """A trial begins training (on ``worker``: a distributed search's chief names the worker that took it)."""
        self.log.write("trial_started", trial_id=trial_id, **({"worker": worker} if worker else {}))
        self._pass("trial_started", trial_id)

    def trial_recorded(self, record: TrialRecord) -> None:
        """A trial ended and its record is written."""
        self.log.trial_ended(record)
        self._pass("trial_recorded", record)

    def trial_done(self, done: int, best: TrialRecord | None, fixed: bool) -> None:
        """The tally after a trial (not logged: ``trial_ended`` holds it)."""
        self._pass("trial_done", done, best, fixed)

    def stop(self) -> None:
        """The search's stages are over."""
        self._end_stage()
        self._pass("stop")


__all__ = ["EventLog", "LoggedReporter", "read_events", "search_ended_fields"]
