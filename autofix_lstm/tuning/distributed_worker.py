"""A worker of a distributed search: asks the chief for trials, trains them, records them.

``run_worker`` is ``autofix-lstm worker``: a Keras Tuner worker (``KERASTUNER_TUNER_ID``,
``KERASTUNER_ORACLE_IP``, ``KERASTUNER_ORACLE_PORT``; Keras Tuner's ``OracleClient`` talks to the
chief, ``tuning.distributed``) whose trials are trained by the search's own ``TrialRunner``, so
each one is trained, pruned, scored and recorded exactly as in a serial search, in the output
folder the chief and every worker share. It reads the spec and its data itself and refuses to
start when they are not the ones the chief's search is for (the fingerprint in
search_state.json); the chief's overrides its trials need (``--tensorboard``) it takes from
chief.json. The chief keeps the best's files and the oracle's state; a worker writes only its
trials' records, the model of its own best trial, their TensorBoard logs (``search.tensorboard``),
and a heartbeat file the chief watches.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import socket
import threading
import time
import warnings

from autofix_lstm.data.dataset import Dataset
from autofix_lstm.errors import CorruptRunError, SearchInterrupted, SpecError, WorkerError
from autofix_lstm.remedies.strategies import resolve_strategies
from autofix_lstm.run_dir import RunDir, read_json, write_json
from autofix_lstm.spec import Spec
from autofix_lstm.tuning.distributed import CHIEF_PID_ENV, HEARTBEAT_SECONDS, chief_spec_changes
from autofix_lstm.tuning.interrupts import StopRequested, StopSignals
from autofix_lstm.tuning.records import BASELINE_ID, TrialRecord, TrialStatus, best_record, load_records
from autofix_lstm.tuning.result import SearchReporter
from autofix_lstm.tuning.resume import cached_baseline, spec_fingerprint
from autofix_lstm.tuning.space import build_space
from autofix_lstm.tuning.trials import TrialRunner

CONNECT_TIMEOUT = 600.0  # how long a worker waits for its chief, at start and when it goes away
_WORKER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def default_worker_id() -> str:
    """``KERASTUNER_TUNER_ID`` when set, else ``worker-<host>-<pid>``."""
    name = os.environ.get("KERASTUNER_TUNER_ID")
    if name:
        return name
    host = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname().split(".")[0]) or "host"
    return f"worker-{host}-{os.getpid()}"


def chief_address(run: RunDir, address: str | None, timeout: float) -> str:
    """The chief's ``host:port``: ``address``, else the oracle's environment variables, else the one the
    chief wrote into the output folder (chief.json; waited for up to ``timeout`` seconds).

    Raises:
        WorkerError: no address was given and no chief wrote one in time.
    """
    if address:
        return address
    if os.environ.get("KERASTUNER_ORACLE_IP") and os.environ.get("KERASTUNER_ORACLE_PORT"):
        return f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            written = read_json(run.chief_file) if run.chief_file.is_file() else None
        except CorruptRunError:
            written = None
        if isinstance(written, dict) and written.get("address"):
            return str(written["address"])
        if time.monotonic() >= deadline:
            raise WorkerError(f"no chief address: pass --chief-address HOST:PORT, or start the chief "
                              f"(autofix-lstm search --chief) so it writes {run.chief_file}; waited {timeout:.0f}s")
        time.sleep(1.0)


def _split_address(address: str) -> tuple[str, str]:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise WorkerError(f"the chief address must be HOST:PORT, got {address!r}")
    return host.strip("[]"), port


def _wait_for_chief(address: str, timeout: float) -> None:
    import grpc

    channel = grpc.insecure_channel(address)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
    except grpc.FutureTimeoutError:
        raise WorkerError(f"no chief answered at {address} within {timeout:.0f}s") from None
    finally:
        channel.close()


def _as_the_chief_says(spec: Spec, chief: dict) -> Spec:
    """``spec`` with the chief's overrides its trials need (chief.json's ``spec_changes``, such as
    ``--tensorboard``), so a worker's trials write what the chief's own would; only the fields
    ``chief_spec_changes`` names are taken."""
    changes = chief.get("spec_changes")
    if not isinstance(changes, dict):
        return spec
    wanted = {path: value for path, value in changes.items() if path in chief_spec_changes(spec)}
    return spec.updated(wanted) if wanted else spec


class _Heartbeat:
    """Rewrites ``<output>/tuner/autofix/workers/<id>.json`` every few seconds (and when a trial
    starts), and ends the process when the chief is gone: the local chief that started it died, or
    the chief has not answered for ``connect_timeout`` seconds."""

    def __init__(self, run: RunDir, worker: str, address: str, connect_timeout: float,
                 seconds: float = HEARTBEAT_SECONDS):
        self.path = run.worker_heartbeat(worker)
        self.worker, self.address, self.connect_timeout, self.seconds = worker, address, connect_timeout, seconds
        self.trial: str | None = None
        self.count = 0
        self._wake = threading.Event()
        self._done = threading.Event()
        self._chief_pid = int(os.environ.get(CHIEF_PID_ENV, "0") or 0)
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{worker}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self.beat()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._wake.set()
        self._thread.join(timeout=5)
        self.path.unlink(missing_ok=True)

    def now(self, trial: str | None) -> None:
        """Note the trial this worker runs now, and beat at once."""
        self.trial = trial
        self._wake.set()

    def beat(self) -> None:
        self.count += 1
        write_json({"worker": self.worker, "beat": self.count, "pid": os.getpid(), "host": socket.gethostname(),
                    "trial": self.trial, "time": time.time()}, self.path)

    def _loop(self) -> None:
        import grpc

        channel = grpc.insecure_channel(self.address)
        last_answer = time.monotonic()
        while not self._done.is_set():
            self._wake.wait(self.seconds)
            self._wake.clear()
            if self._done.is_set():
                break
            with contextlib.suppress(OSError):
                self.beat()
            if self._chief_pid and os.getppid() != self._chief_pid:
                os._exit(3)  # the chief that started this worker is gone (killed): nothing to report to
            try:
                grpc.channel_ready_future(channel).result(timeout=min(5.0, self.seconds))
                last_answer = time.monotonic()
            except grpc.FutureTimeoutError:
                if time.monotonic() - last_answer > self.connect_timeout:
                    os._exit(3)  # the chief is gone: Keras Tuner's client would wait an hour for it
        channel.close()


class _WorkerRunner(TrialRunner):
    """The search's trial runner, telling the heartbeat which trial it trains."""

    heartbeat: _Heartbeat | None = None

    def run(self, trial) -> dict:
        if self.heartbeat is not None:
            self.heartbeat.now(trial.trial_id)
        try:
            return super().run(trial)
        finally:
            if self.heartbeat is not None:
                self.heartbeat.now(None)


def run_worker(spec: Spec, dataset: Dataset, *, address: str | None = None, worker_id: str | None = None,
               reporter: SearchReporter | None = None, connect_timeout: float = CONNECT_TIMEOUT) -> int:
    """Run trials for the chief at ``address`` until it says the search is over; how many this worker ran.

    ``address`` is the chief's ``host:port`` (default: the oracle's environment variables, else the
    address the chief wrote into the spec's output folder); ``worker_id`` names this worker (default
    ``KERASTUNER_TUNER_ID``, else ``worker-<host>-<pid>``).

    Raises:
        WorkerError: no chief answered within ``connect_timeout`` seconds, or the name is unusable.
        SpecError: the spec or its data are not the ones the chief's search is for.
        SearchInterrupted: SIGINT or SIGTERM stopped it after the current epoch (that trial is
            unfinished; the chief hands it out again).
    """
    import keras_tuner as kt

    from autofix_lstm.tuning.oracles import OBJECTIVE, AutofixTuner

    reporter = reporter or SearchReporter()
    run = RunDir(spec.output_dir)
    worker = worker_id or default_worker_id()
    if not _WORKER_ID.match(worker) or "chief" in worker:
        raise WorkerError(f"a worker's name must be letters, digits, '.', '_' or '-' (at most 100), without "
                          f"'chief' (Keras Tuner's name for the chief); got {worker!r}")
    address = chief_address(run, address, connect_timeout)
    host, port = _split_address(address)
    reporter.stage(f"{worker}: waiting for the chief at {address}")
    _wait_for_chief(address, connect_timeout)
    strategies = resolve_strategies(spec.search.strategies, spec.base_dir)
    fingerprint = spec_fingerprint(spec, dataset, strategies)
    state = read_json(run.state) if run.state.is_file() else None
    if not isinstance(state, dict) or state.get("fingerprint") != fingerprint:
        raise SpecError(f"{run.root} holds no search for this spec and data (its search_state.json is missing or "
                        "for another spec): a worker needs the same spec, strategy files and data as its chief")
    chief = read_json(run.chief_file) if run.chief_file.is_file() else {}
    chief = chief if isinstance(chief, dict) else {}
    origin = float(chief.get("clock_origin", time.time()))
    spec = _as_the_chief_says(spec, chief)

    def clock() -> float:
        return time.time() - origin

    os.environ.update({"KERASTUNER_TUNER_ID": worker, "KERASTUNER_ORACLE_IP": host, "KERASTUNER_ORACLE_PORT": port})
    space = build_space(spec, dataset, strategies)
    records = load_records(run)
    floor = TrialRecord(trial_id=BASELINE_ID, status=TrialStatus.PRUNED, score=math.inf)  # before the baseline
    best = best_record([cached_baseline(run, fingerprint) or floor, *records]) or floor
    with StopSignals() as stops, _Heartbeat(run, worker, address, connect_timeout) as heartbeat:
        runner = _WorkerRunner(spec, dataset, space, run, clock, reporter, best, stops)
        runner.publishes = False
        runner.heartbeat = heartbeat
        # The local oracle only answers the tuner's questions about the objective; the chief's decides.
        local = kt.oracles.RandomSearchOracle(objective=OBJECTIVE, hyperparameters=space.hyperparameters,
                                              max_trials=spec.search.max_trials)
        with contextlib.redirect_stdout(io.StringIO()):  # Keras Tuner prints "Reloading Tuner from ..."
            tuner = AutofixTuner(local, runner, directory=str(run.tuner), project_name=run.project.name)
        runner.oracle = tuner.oracle
        reporter.start(spec.search.max_trials)
        try:
            with stops.at_epoch_ends(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tuner.search(verbose=0)
                stops.check()
        except (StopRequested, KeyboardInterrupt) as stop:
            raise SearchInterrupted(getattr(stop, "signal_name", None) or "SIGINT", None, run.root) from None
        finally:
            reporter.stop()
    return runner.done


__all__ = ["CONNECT_TIMEOUT", "chief_address", "default_worker_id", "run_worker"]
