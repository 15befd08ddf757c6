"""Stopping a search on SIGINT or SIGTERM: after the current epoch, with the outputs for the best so far.

A terminal's Ctrl-C sends SIGINT; batch schedulers send SIGTERM before they preempt a job. While a
search runs, ``StopSignals`` turns either into a stop request. Inside ``at_epoch_ends()`` (the
search holds it throughout: its diagnosis, its trainings, the stages between them) the request
waits: ``StopAtEpochEnd`` ends the training at the end of the current epoch, the training cut short
is not recorded (a resumed search runs it again), and ``check()`` raises ``StopRequested`` at the
search's next check point (a step of the diagnosis' brief training, the end of a stage, the start
of a trial). Elsewhere the handler raises at once, as Python's own KeyboardInterrupt would.

Waiting matters because an exception raised from a signal handler lands wherever the main thread
is: inside TensorFlow's eager LSTM loop it leaves TensorArrays it never used (TensorFlow logs an
"Object was never used" ERROR block for each), and inside a finaliser, a weakref callback or
TensorFlow's C++ fast path it is swallowed, so the search went on as if no signal had come.

A second signal stops at once: ``StopNow`` (a ``StopRequested`` the stages do not wait on) unwinds
the search without writing further outputs; every file is written atomically, so the folder is left
as a kill would leave it, and the same command resumes it. Should that exception be swallowed too,
every later check point, and the start of each batch of a training, raises it again. Raised wherever
the main thread is, it can also land inside a library's C code (TensorFlow's ``FlattenForData`` in
the middle of an import turned it into a ``SystemError`` whose traceback the library printed): after
a second signal, until the handlers are removed, what Python would print for such an exception
(``sys.excepthook``, ``sys.unraisablehook``, writes to ``sys.stderr``) is dropped, so the user sees
the stop's one line, not the unwinding libraries' noise.

The handlers are installed only for the search's duration and the previous ones restored; only
from the main thread (Python allows no other); and never over a signal the process was started
ignoring (``nohup``, the background jobs of a non-interactive shell): such a process is meant not
to stop on it.
"""

from __future__ import annotations

import contextlib
import io
import signal
import sys
import threading

import keras

HANDLED = (signal.SIGINT, signal.SIGTERM)


class StopRequested(BaseException):
    """Unwinds a search to its driver after a signal.

    A ``BaseException``, like ``KeyboardInterrupt``, so the ``except Exception`` of Keras Tuner's trial
    loop (which would record the trial as failed) and of the training lets it through.
    """

    def __init__(self, signal_name: str):
        super().__init__(signal_name)
        self.signal_name = signal_name


class StopNow(StopRequested):
    """A second signal: the search stops where it is, with no outputs written after it.

    The stages that catch a ``StopRequested`` to write the outputs for the best so far let this one through.
    """


class StopSignals:
    """SIGINT/SIGTERM handlers for one search: ``with StopSignals() as stops: ...``.

    ``signal_name``: a signal that already asked to stop (the search's, while its report is written
    after it): any signal within is then a second one, and stops at once.
    """

    def __init__(self, signal_name: str | None = None) -> None:
        self.signal_name: str | None = signal_name  # the first signal received, e.g. "SIGTERM"
        self.now = False  # a second signal came: stop at once
        self._immediate = True
        self._previous: dict[int, object] = {}  # signal number -> the handler to restore
        self._quieted: tuple | None = None  # (excepthook, unraisablehook, stderr) to restore after a second signal

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is not threading.main_thread():
            return self
        for signum in HANDLED:
            previous = signal.getsignal(signum)
            if previous is signal.SIG_IGN or previous is None:  # ignored on purpose, or not set from Python
                continue
            self._previous[signum] = previous
            signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()
        if self._quieted is not None:
            sys.excepthook, sys.unraisablehook, sys.stderr = self._quieted
            self._quieted = None

    @property
    def requested(self) -> bool:
        """True once a signal asked the search to stop."""
        return self.signal_name is not None

    def request(self, signal_name: str) -> None:
        """Ask the search to stop as a signal would (a KeyboardInterrupt raised by other means, a test)."""
        self.signal_name = self.signal_name or signal_name

    def check(self) -> None:
        """Raise ``StopRequested`` when a stop was asked for (``StopNow`` after a second signal): the
        search's check points call this."""
        if self.now:
            raise StopNow(self.signal_name)
        if self.signal_name is not None:
            raise StopRequested(self.signal_name)

    @contextlib.contextmanager
    def at_epoch_ends(self):
        """Within, a first signal waits for the end of the current epoch (or the next ``check``)."""
        previous, self._immediate = self._immediate, False
        try:
            yield self
        finally:
            self._immediate = previous

    def epoch_callback(self, epochs: int) -> StopAtEpochEnd:
        """A Keras callback that ends a training of ``epochs`` epochs at the first epoch end after a signal."""
        return StopAtEpochEnd(self, epochs)

    def _handle(self, signum, frame) -> None:
        repeated = self.signal_name is not None
        self.request(signal.Signals(signum).name)
        if repeated:
            self.now = True
            self._quiet()
            raise StopNow(self.signal_name)
        if self._immediate:
            raise StopRequested(self.signal_name)

    def _quiet(self) -> None:
        """Drop what Python would print for the exceptions the libraries raise as they unwind (second signal)."""
        if self._quieted is None and self._previous:  # only while this object's handlers are installed
            self._quieted = (sys.excepthook, sys.unraisablehook, sys.stderr)
            sys.excepthook = _ignore
            sys.unraisablehook = _ignore
            sys.stderr = io.StringIO()


def _ignore(*args) -> None:
    """An exception hook that prints nothing."""


class StopAtEpochEnd(keras.callbacks.Callback):
    """Ends the training at the first epoch end after a stop request; ``cut_short`` says it did.

    A request that comes during the last epoch lets the training finish: it is complete.
    """

    def __init__(self, stops: StopSignals, epochs: int):
        super().__init__()
        self.stops = stops
        self.epochs = epochs
        self.cut_short = False

    def on_train_begin(self, logs=None):
        self.stops.check()

    def on_train_batch_begin(self, batch, logs=None):
        # a second signal whose exception was swallowed (not on_train_batch_end: overriding it turns
        # off Keras' asynchronous batch-end callbacks)
        if self.stops.now:
            raise StopNow(self.stops.signal_name)

    def on_epoch_end(self, epoch, logs=None):
        if self.stops.requested and not self.model.stop_training and epoch + 1 < self.epochs:
            self.model.stop_training = True
            self.cut_short = True
