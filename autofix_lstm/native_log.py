"""Keep TensorFlow's, absl's and Keras' log lines off a command's stderr.

``quiet_libraries`` silences their Python loggers and warnings, which speak to those libraries'
developers, and sets TensorFlow's C++ level (read once: call it before TensorFlow is first imported).
The rest of this module is about the native lines no such setting reaches.

``TF_CPP_MIN_LOG_LEVEL`` silences TensorFlow's own C++ logging, but lines logged through absl before
``absl::InitializeLog()`` ignore every threshold (abseil-cpp#1718, still open): on CPUs where
TensorFlow turns oneDNN on, each process prints

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:1796208392.955810   20722 port.cc:153] oneDNN custom operations are on. ...

straight to file descriptor 2, where no Python setting reaches. ``filter_native_log_lines`` puts a
pipe behind descriptor 2 and a thread that forwards every line except those; errors (``E...``),
tracebacks and everything Python writes pass unchanged. Only the console command installs it (the
library never touches a process's descriptors), and not under ``--verbose``.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import sys
import threading

# absl's banner, and a C++ log line of severity INFO or WARNING: "I0000 00:00:1796208392.955810   20722 port.cc:153] ..."
DROPPED = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|[IW]\d{4} [\d:.]+\s+\d+ \S+:\d+\] )"
)
# A partial line that may still become a dropped one is held until its end arrives.
_MAYBE_DROPPED = re.compile(rb"^(W(A(R(N(I(N(G(:.*)?)?)?)?)?)?)?|[IW][\d :.]*(\S+(:\d*)?)?)$", re.DOTALL)
_restore: list = []  # while the filter runs: the function that puts descriptor 2 back

# Loggers and warnings that speak to TensorFlow's and Keras' developers, not to our users.
_NOISY_MODULES = r"(tensorflow|keras|keras_tuner|absl|tf_keras)(\.|$)"


def quiet_libraries(verbose: bool) -> None:
    """Silence TensorFlow's C++ log lines, absl's logging and Keras' warnings, unless ``verbose``.

    The C++ level is read once, when TensorFlow is first imported: call this before that.
    """
    import warnings

    if verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # 2 still lets errors through (a GPU build's "Unable to register...")
    for name in ("absl", "tensorflow", "keras_tuner"):
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("tensorflow").addFilter(_never_used)  # once: a logger keeps one of each filter
    warnings.filterwarnings("ignore", module=_NOISY_MODULES)
    try:
        from absl import logging as absl_logging  # light; TensorFlow logs through it
    except ImportError:  # pragma: no cover - absl comes with TensorFlow
        return
    absl_logging.set_verbosity(absl_logging.ERROR)


def _never_used(record) -> bool:  # TensorFlow's ERROR block for a TensorArray left when a 2nd signal stopped its loop
    return "Object was never used" not in record.getMessage()


def filter_chunk(text: bytes) -> tuple[bytes, bytes]:
    """Split what arrived on descriptor 2 into what to write now and a partial line to hold.

    Whole lines pass unless ``DROPPED`` matches them. A partial line is held while it may still be, or
    already is, the start of a dropped line (a C++ line can arrive in two writes: its prefix first);
    any other partial line (a prompt, a progress line) is written at once.
    """
    *lines, pending = text.split(b"\n")
    out = b"".join(line + b"\n" for line in lines if not DROPPED.match(line))
    if pending and not (_MAYBE_DROPPED.match(pending) or DROPPED.match(pending)):
        out, pending = out + pending, b""
    return out, pending


def _forward(reader: int, writer: int) -> None:
    pending = b""
    while True:
        try:
            chunk = os.read(reader, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            break
        out, pending = filter_chunk(pending + chunk)
        if out:
            os.write(writer, out)
    if pending and not DROPPED.match(pending):
        os.write(writer, pending)
    os.close(reader)


def filter_native_log_lines() -> None:
    """Route file descriptor 2 through a filter that drops TensorFlow's native INFO/WARNING lines (see
    the module). Restored at exit; does nothing where descriptors cannot be duplicated."""
    try:
        sys.stderr.flush()
        original = os.dup(2)
        reader, writer = os.pipe()
        os.dup2(writer, 2)
        os.close(writer)
    except (OSError, ValueError):  # no real descriptor 2 (an embedded interpreter): leave it be
        return
    thread = threading.Thread(target=_forward, args=(reader, original), name="native-log-filter", daemon=True)
    thread.start()

    def restore() -> None:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(original, 2)  # the pipe's last write end closes: the thread reads the rest, then its end
        thread.join(timeout=2.0)

    _restore.append(restore)
    atexit.register(restore)


def stop_filtering() -> None:
    """Put descriptor 2 back now, once the filter has forwarded what it holds: for a process about to
    leave with ``os._exit``, which runs no ``atexit`` function. Does nothing where no filter runs."""
    while _restore:
        _restore.pop()()
