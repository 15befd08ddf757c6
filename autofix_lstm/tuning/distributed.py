"""The chief of a distributed search: Keras Tuner's own chief/worker mode, watched.

In Keras Tuner's distributed tuning a chief serves the oracle over gRPC (Keras Tuner's
``OracleServicer``) and each worker, a process whose ``KERASTUNER_TUNER_ID``,
``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT`` are set, asks it for trials through Keras
Tuner's ``OracleClient``, trains them, writes their records into the shared output folder and
reports back (``tuning.distributed_worker`` is that worker). The oracle, seeded from the diagnosis, refined
around fixes and holding the ``max_time`` deadline, lives in the chief only.

``serve_workers`` is the chief: the search's own process, between its baseline and its
post-search stages, serves the oracle instead of running ``tuner.search``. It does not use Keras
Tuner's chief loop (``oracle_chief.start_server``), which checks for its end every 20 seconds and
waits forever for a worker that died mid-trial (the trial stays RUNNING). It serves the same
servicer and adds:

* the worker processes it starts on this machine (``ScaleOut.workers``), each with its share of
  the cores as TensorFlow's thread pools (``threads_per_worker``), its output in
  ``<output>/tuner/autofix/workers/<id>.log``;
* a worker lost mid-trial (its process ended, or its heartbeat and its calls stopped for
  ``heartbeat_timeout`` seconds): its trial is ended through the oracle's own ``end_trial``, as
  INVALID, so Keras Tuner's retry queue hands it to the next worker that asks
  (``max_retries_per_trial`` is 1 here), or, with no other worker left to ask, as FAILED with a
  record saying so; a trial it had recorded before it died keeps its result;
* each ended trial: its record gets the oracle's bookkeeping (start order, source, proposal
  seconds), and the search keeps the best so far (``TrialRunner.adopt``: best_model.keras,
  refinement around a fix), as the serial search does after each trial;
* progress: the reporter hears which worker started and finished which trial.

Keras Tuner's servicer and protocol buffers are private modules (``keras_tuner.src.distribute``);
tests/tuning/test_distributed.py runs them, so an upgrade that moves them fails a test.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

from autofix_lstm.errors import CorruptRunError, SpecError, WorkerError
from autofix_lstm.run_dir import read_json, write_json
from autofix_lstm.tuning.interrupts import StopRequested
from autofix_lstm.tuning.records import TrialRecord, TrialSource, TrialStatus, load_records

HEARTBEAT_SECONDS = 5.0  # how often a worker rewrites its heartbeat file
HEARTBEAT_TIMEOUT = 120.0  # a worker silent this long in mid-trial is taken for dead
POLL_SECONDS = 0.2  # how often the chief looks at its workers
STOP_GRACE_SECONDS = 60.0  # after a signal, how long local workers get to finish their epoch
CHIEF_PID_ENV = "AUTOFIX_CHIEF_PID"  # a local worker exits when the chief that started it is gone
ORACLE_ENV = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")


@dataclass(frozen=True)
class ScaleOut:
    """How a search spreads its trials over workers.

    ``workers``: worker processes started on this machine. ``port``: the chief's port (0: a free
    one). ``listen_all``: listen on every interface, so workers on other machines can connect
    (``autofix-lstm search --chief``); otherwise only on loopback.
    """

    workers: int = 0
    port: int = 0
    listen_all: bool = False
    heartbeat_timeout: float = HEARTBEAT_TIMEOUT

    @classmethod
    def of(cls, value: ScaleOut | int | None) -> ScaleOut | None:
        """``value`` as a ``ScaleOut``: a number is that many workers on this machine; None stays None."""
        if value is None or isinstance(value, ScaleOut):
            return value
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"workers must be a number of at least 1, got {value!r}")
        return cls(workers=value)

    @property
    def bind(self) -> str:
        """The address the chief listens on."""
        return "0.0.0.0" if self.listen_all else "127.0.0.1"

    def check(self, spec) -> None:
        """Refuse what cannot work before anything runs.

        Raises:
            SpecError: workers are to be started here but the spec is not a file they can read.
            ValueError: no worker could ever join (no local workers and loopback only).
        """
        if self.workers < 0 or not 0 <= self.port <= 65535:
            raise ValueError(f"workers must be >= 0 and port in 0..65535, got {self.workers} and {self.port}")
        if self.workers == 0 and not self.listen_all:
            raise ValueError("a distributed search needs workers here (workers >= 1) or a chief others can reach")
        if self.workers and not (spec.source and Path(spec.source).is_file()):
            raise SpecError("workers read the spec and its data themselves: give the spec as a file (a spec.yaml "
                            "path, with its data in data.path), not as a dict or in-memory data")


def chief_spec_changes(spec) -> dict[str, object]:
    """What a worker changes in its spec to train trials as the chief would (``Spec.updated`` takes it).

    Workers read the spec file, not the chief's command line: chief.json carries these settings, which
    an override may have changed and the fingerprint leaves out, such as ``--tensorboard``.
    """
    return {"search.tensorboard": bool(spec.search.tensorboard)}


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """Each of ``workers`` processes' share of this machine's cores (at least 1)."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, workers))


def thread_env(threads: int) -> dict[str, str]:
    """The environment that sizes TensorFlow's (and BLAS') thread pools; read when TensorFlow is imported."""
    value = str(max(1, int(threads)))
    return {"TF_NUM_INTRAOP_THREADS": value, "TF_NUM_INTEROP_THREADS": value, "OMP_NUM_THREADS": value}


def gpu_for_worker(index: int, gpus: list[str]) -> dict[str, str]:
    """The environment that gives worker ``index`` its own GPU, round robin over ``gpus`` (the ids a
    ``CUDA_VISIBLE_DEVICES`` would list); nothing when there is no GPU to share out.

    With more workers than GPUs, workers share them in turn; with ``search.distribution: mirrored``
    each worker's MirroredStrategy then runs over its one GPU.
    """
    if not gpus:
        return {}
    return {"CUDA_VISIBLE_DEVICES": gpus[index % len(gpus)]}


def visible_gpu_ids() -> list[str]:
    """The GPU ids this process may hand to workers: the entries of ``CUDA_VISIBLE_DEVICES`` when set
    (a scheduler's allocation), else 0..n-1 for the GPUs TensorFlow sees."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [item.strip() for item in listed.split(",") if item.strip() and item.strip() != "-1"]
    from autofix_lstm.modeling.devices import gpu_names

    return [str(index) for index in range(len(gpu_names()))]


def serve_workers(tuner, runner, plan: ScaleOut, stops, clock) -> None:
    """Serve ``tuner``'s oracle to workers until every trial is ended; the chief's side of the search.

    ``runner`` is the search's ``TrialRunner`` (its best so far, its reporter, the run folder),
    ``stops`` its signals and ``clock`` its elapsed-seconds clock (the workers' records use the same
    one, through chief.json).

    Raises:
        StopRequested: a signal stopped the search; local workers were stopped first (after their
            current epoch) and their trials stay unfinished, to be run again on resume.
        WorkerError: the chief cannot listen on its port, or every local worker stopped before the
            search ended.
    """
    _Chief(tuner, runner, plan, stops, clock).serve()


def _servicer_class():
    # Private Keras Tuner modules (see the module docstring), imported here: they load gRPC and protobuf.
    from keras_tuner.src.distribute.oracle_chief import OracleServicer
    from keras_tuner.src.engine import trial as trial_module

    class ChiefServicer(OracleServicer):
        """Keras Tuner's servicer, telling the chief which worker started and ended which trial."""

        def __init__(self, chief: _Chief):
            super().__init__(chief.oracle)
            self.chief = chief

        def CreateTrial(self, request, context):  # noqa: N802 - gRPC's method name
            response = super().CreateTrial(request, context)
            self.chief.trial_created(request.tuner_id, trial_module.Trial.from_proto(response.trial))
            return response

        def UpdateTrial(self, request, context):  # noqa: N802
            response = super().UpdateTrial(request, context)
            self.chief.heard_about(request.trial_id)
            return response

        def EndTrial(self, request, context):  # noqa: N802
            response = super().EndTrial(request, context)
            self.chief.trial_ended(request.trial.trial_id)
            return response

    return ChiefServicer


class _Chief:
    """The state of one chief while it serves (``serve_workers``)."""

    def __init__(self, tuner, runner, plan: ScaleOut, stops, clock):
        self.tuner = tuner
        self.oracle = tuner.oracle
        self.runner = runner
        self.run = runner.run_dir
        self.reporter = runner.reporter
        self.plan = plan
        self.stops = stops
        self.clock = clock
        self.lock = threading.Lock()
        self.events: queue.SimpleQueue[tuple[bool, str]] = queue.SimpleQueue()  # (a trial ended, text)
        self.running: dict[str, str] = {}  # worker -> the trial it runs
        self.asked: set[str] = set()  # workers that asked for a trial
        self.stopped: set[str] = set()  # workers told that the search is over
        self.lost: set[str] = set()  # workers that died or went silent
        self.requeued: set[str] = set()  # trials handed to another worker after theirs was lost
        self.last_heard: dict[str, float] = {}  # worker -> monotonic time of its last call or heartbeat
        self.beats: dict[str, int] = {}  # worker -> the last heartbeat count read
        self.stop_triggered = False  # some worker was told the search is over
        self.counted = {record.trial_id for record in load_records(self.run)}
        self.processes: dict[str, subprocess.Popen] = {}
        self.exit_codes: dict[str, int] = {}

    # --- called from the gRPC server's thread ---

    def trial_created(self, worker: str, trial) -> None:
        with self.lock:
            self.asked.add(worker)
            self.last_heard[worker] = time.monotonic()
            if trial.status == "RUNNING":
                self.running[worker] = trial.trial_id
                self.events.put(("started", (trial.trial_id, worker), f"{worker} started trial {trial.trial_id}"))
            elif trial.status == "STOPPED":
                self.stopped.add(worker)
                self.stop_triggered = True

    def heard_about(self, trial_id: str) -> None:
        with self.lock:
            for worker, running in self.running.items():
                if running == trial_id:
                    self.last_heard[worker] = time.monotonic()

    def trial_ended(self, trial_id: str) -> None:
        with self.lock:
            worker = next((w for w, t in self.running.items() if t == trial_id), None)
            if worker is not None:
                del self.running[worker]
                self.last_heard[worker] = time.monotonic()
            self._adopt(trial_id, worker)
            # Keras Tuner saves the oracle before it forgets the trial as ongoing; save it again, as a
            # serial search's tuner does after each trial (no other call runs now: one server thread).
            self.tuner.save()

    # --- the chief's own thread ---

    def serve(self) -> None:
        import grpc
        from keras_tuner.src import protos

        # A worker whose trial is lost gets one more run elsewhere (Keras Tuner's retry queue).
        self.oracle.max_retries_per_trial = max(1, self.oracle.max_retries_per_trial)
        self.oracle.verbose = 0  # as tuner.search(verbose=0): the reporter tells of the trials
        self.tuner.save()  # Keras Tuner's tuner file: a resumed chief reloads the oracle from it
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))  # one call at a time, as Keras Tuner's
        protos.get_service_grpc().add_OracleServicer_to_server(_servicer_class()(self), server)
        try:
            port = server.add_insecure_port(f"{self.plan.bind}:{self.plan.port}")
        except RuntimeError:
            port = 0
        if not port:
            raise WorkerError(f"the chief cannot listen on {self.plan.bind}:{self.plan.port}: is the port in use?")
        host = socket.getfqdn() if self.plan.listen_all else "127.0.0.1"
        address = f"{host}:{port}"
        write_json({"address": address, "clock_origin": time.time() - self.clock(), "pid": os.getpid(),
                    "host": socket.gethostname(), "spec_changes": chief_spec_changes(self.runner.spec)},
                   self.run.chief_file)
        server.start()
        try:
            self.reporter.stage(f"serving trials at {address}" + (
                f" to {self.plan.workers} worker{'s' if self.plan.workers != 1 else ''}" if self.plan.workers else ""))
            self._start_workers(port)
            self._wait()
            if not self.stops.requested:
                self._end_leftovers()
        finally:
            self._stop_workers(STOP_GRACE_SECONDS if self.stops.requested else 5.0)
            server.stop(grace=None)
            self.run.chief_file.unlink(missing_ok=True)
            self._report()
        self.tuner.save()
        self._tidy()
        if self.stops.requested:
            raise StopRequested(self.stops.signal_name)

    def _start_workers(self, port: int) -> None:
        if not self.plan.workers:
            return
        threads = threads_per_worker(self.plan.workers)
        spec_path = str(Path(self.runner.spec.source).resolve())
        gpus = visible_gpu_ids()
        for index in range(self.plan.workers):
            worker = f"worker-{index}"
            env = {**os.environ, **thread_env(threads), **gpu_for_worker(index, gpus), CHIEF_PID_ENV: str(os.getpid()),
                   "KERASTUNER_TUNER_ID": worker, "KERASTUNER_ORACLE_IP": "127.0.0.1",
                   "KERASTUNER_ORACLE_PORT": str(port)}
            with self.run.open_worker_log(worker) as log:
                self.processes[worker] = subprocess.Popen(
                    [sys.executable, "-m", "autofix_lstm", "worker", spec_path, "--threads", str(threads)],
                    env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                )
        each = f"{threads} thread{'s' if threads != 1 else ''}" + (f" and one of {len(gpus)} GPUs" if gpus else "")
        self.reporter.stage(f"started {self.plan.workers} workers, {each} each")

    def _wait(self) -> None:
        while True:
            self._report()
            if self.stops.requested:
                return
            self._watch_local()
            self._watch_heartbeats()
            if self._finished():
                return
            time.sleep(POLL_SECONDS)

    def _watch_local(self) -> None:
        for worker, process in self.processes.items():
            code = process.poll()
            if code is None or worker in self.exit_codes:
                continue
            self.exit_codes[worker] = code
            if code != 0:
                self._lose(worker, f"its process ended with exit code {code}; see {self.run.worker_log(worker)}")
            else:
                with self.lock:
                    self.lost.add(worker)  # ended normally: no longer asks

    def _watch_heartbeats(self) -> None:
        now = time.monotonic()
        if self.run.workers.is_dir():
            for path in self.run.workers.glob("*.json"):
                try:
                    beat = read_json(path)
                except (OSError, CorruptRunError):
                    continue
                worker = path.stem
                if isinstance(beat, dict) and beat.get("beat") != self.beats.get(worker):
                    self.beats[worker] = beat.get("beat")
                    with self.lock:
                        self.last_heard[worker] = now
        with self.lock:
            silent = [w for w in self.running if w not in self.processes
                      and now - self.last_heard.get(w, now) > self.plan.heartbeat_timeout]
        for worker in silent:
            self._lose(worker, f"no heartbeat or call for {self.plan.heartbeat_timeout:.0f}s")

    def _others_alive(self, worker: str) -> bool:
        """Whether a worker other than ``worker`` may still ask for a trial."""
        local = {w for w, p in self.processes.items() if p.poll() is None}
        remote = self.asked - set(self.processes)
        return bool(((local | remote) - self.stopped - self.lost) - {worker})

    def _lose(self, worker: str, why: str) -> None:
        """``worker`` died or went silent: end its trial through the oracle (retried elsewhere, or failed)."""
        with self.lock:
            if worker in self.lost:
                return
            self.lost.add(worker)
            trial_id = self.running.pop(worker, None)
            if trial_id is None:
                self.events.put(("text", None, f"{worker} stopped: {why}"))
                return
            trial = self.oracle.trials[trial_id]
            record = self._record(trial_id)
            if record is not None:  # it recorded the trial, then died before reporting it
                if record.scored:
                    self.oracle.update_trial(trial_id, {"score": record.score})
                trial.status = "COMPLETED" if record.scored else "FAILED"
            elif self._others_alive(worker) and trial_id not in self.requeued:
                self.requeued.add(trial_id)
                trial.status, trial.message = "INVALID", f"{worker} stopped during the trial: {why}"
                self.oracle.end_trial(trial)  # Keras Tuner's retry queue hands it to the next worker
                self.events.put(("text", None, f"{worker} stopped during trial {trial_id} ({why}): handed to another worker"))
                return
            else:
                self._record_failure(trial, worker, f"{worker} stopped during the trial: {why}")
            self.oracle.end_trial(trial)
            self._adopt(trial_id, worker)
            self.tuner.save()

    def _record_failure(self, trial, worker: str, message: str) -> None:
        values = dict(trial.hyperparameters.values)
        TrialRecord(
            trial_id=trial.trial_id, status=TrialStatus.FAILED, values=self.runner.space.decode(values),
            message=message, elapsed_at_end=self.clock(), worker=worker,
        ).save(self.run.trial_record(trial.trial_id))
        trial.status, trial.message = "FAILED", message

    def _end_leftovers(self) -> None:
        """Trials no worker was left to run (lost, and no one asked again): recorded as failed."""
        with self.lock:
            for trial_id in list(self.oracle.start_order):
                trial = self.oracle.trials.get(trial_id)
                if trial is None or trial.status in ("COMPLETED", "FAILED") or trial_id in self.running.values():
                    continue
                if self._record(trial_id) is None:
                    self._record_failure(trial, "chief", "its worker stopped during the trial and no other "
                                         "worker was left to run it")
                    self.oracle.end_trial(trial)
                    self._adopt(trial_id, None)

    def _finished(self) -> bool:
        with self.lock:
            if self.running:
                return False
            if any(process.poll() is None for process in self.processes.values()):
                return False
            if (self.asked - set(self.processes)) - self.stopped - self.lost:
                return False  # a worker elsewhere has not been told the search is over
            if self.stop_triggered:
                return True
            if self.processes and not self.plan.listen_all:  # every local worker ended, none told to
                return True
            return False

    def _adopt(self, trial_id: str, worker: str | None) -> None:
        """An ended trial: give its record the oracle's bookkeeping and let the search judge it (holds the lock)."""
        record = self._record(trial_id)
        if record is None:
            status = self.oracle.trials[trial_id].status
            self.events.put(("text", None, f"trial {trial_id} ended on {worker or 'a worker'} without a record ({status})"))
            return
        order = self.oracle.start_order
        record.order = order.index(trial_id) if trial_id in order else record.order
        source = getattr(self.oracle, "sources", {}).get(trial_id)
        record.source = record.source if source is None else TrialSource(source)
        record.oracle_seconds = getattr(self.oracle, "proposal_seconds", {}).get(trial_id, record.oracle_seconds)
        record.worker = record.worker or worker
        record.save(self.run.trial_record(trial_id))
        self.runner.adopt(record)
        if trial_id not in self.counted:
            self.counted.add(trial_id)
            self.runner.done += 1
        self.events.put(("ended", record, None))

    def _record(self, trial_id: str) -> TrialRecord | None:
        path = self.run.trial_record(trial_id)
        try:
            return TrialRecord.load(path) if path.is_file() else None
        except (OSError, CorruptRunError):
            return None

    def _report(self) -> None:
        while True:
            try:
                kind, data, text = self.events.get_nowait()
            except queue.Empty:
                return
            if kind == "started":  # events.jsonl's trial_started names the worker that took it
                trial_id, worker = data
                self.reporter.trial_started(trial_id, worker=worker)
            elif kind == "ended":  # the trial's line and its trial_ended event, under the worker that ran it
                self.reporter.trial_recorded(data)
                self.reporter.trial_done(self.runner.done, self.runner.best, self.runner.fix_found)
            if text:
                self.reporter.stage(text)

    def _stop_workers(self, grace: float) -> None:
        """Stop the local workers still running: SIGTERM (they stop after their epoch), then SIGKILL."""
        alive = [p for p in self.processes.values() if p.poll() is None]
        for process in alive:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in alive:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for worker, process in self.processes.items():
            self.exit_codes.setdefault(worker, process.returncode)

    def _tidy(self) -> None:
        """After the workers: one model file (the best's) as a serial search leaves, and their folder
        when every one ended well. Raises ``WorkerError`` when the workers left trials unrun."""
        best = self.runner.best
        for path in self.run.project.glob("trial_*/" + self.run.trial_model("x").name):
            if best is None or path.parent.name != f"trial_{best.trial_id}":
                path.unlink(missing_ok=True)
        failed = {w: c for w, c in self.exit_codes.items() if c != 0}
        if not failed and not self.stops.requested:
            for path in [*self.run.workers.glob("*.json"), *self.run.workers.glob("*.log")]:
                path.unlink(missing_ok=True)
            if self.run.workers.is_dir() and not any(self.run.workers.iterdir()):
                self.run.workers.rmdir()
        if self.processes and not self.stop_triggered and not self.stops.requested and failed:
            logs = ", ".join(str(self.run.worker_log(w)) for w in sorted(failed))
            raise WorkerError(f"every worker stopped before the search ended ({json.dumps(failed)} exit codes); "
                              f"see {logs}")
