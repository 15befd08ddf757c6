"""The output folder's lock: one search at a time per folder (``RunDir.lock()``)."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import socket
from pathlib import Path

from autofix_lstm.errors import RunFolderError, RunLockedError

try:  # POSIX: the kernel releases a flock when its holder dies, even on kill -9
    import fcntl
except ImportError:  # pragma: no cover - Windows: a lock file whose holder is checked by pid
    fcntl = None


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not empty (a user's file), or already gone
        folder.rmdir()


class RunLock:
    """An exclusive lock on an output folder, held by one search: ``with RunDir(out).lock(): ...``.

    ``search.lock`` holds the holder's pid, host and start time, so a second search refuses naming
    it (``RunLockedError``). On POSIX the lock is a ``flock`` on that file, which the kernel releases
    when its holder dies (even on ``kill -9``): a lock left by a killed search is stale and is taken
    over. Without ``flock`` (Windows) the file is created exclusively, and a lock whose holder's pid
    is dead on this host is taken over. Acquiring creates the folder; releasing removes the lock
    file, and the folder too when the lock made it and it is still empty.
    """

    def __init__(self, run):  # a RunDir: its lock_file
        self.path = run.lock_file
        self._fd: int | None = None
        self._made_folder = False

    def __enter__(self) -> RunLock:
        folder = self.path.parent
        self._made_folder = not folder.exists()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._fd = self._acquire_flock() if fcntl is not None else self._acquire_exclusive()
            os.ftruncate(self._fd, 0)
            os.write(self._fd, json.dumps(_holder()).encode())
            os.fsync(self._fd)
        except RunLockedError:
            if self._made_folder:
                _remove_if_empty(folder)
            raise
        except OSError as err:  # no permission, a read-only or full disk: no lock file stays behind
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    self.path.unlink()
                os.close(self._fd)
                self._fd = None
            if self._made_folder:
                _remove_if_empty(folder)
            raise RunFolderError(f"output {folder} cannot be written: {self.path}: {err.strerror or err}; set "
                                 "output to a folder you can write to, with free space") from None
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()  # while still holding it, so no one takes the file it is about to drop
        os.close(self._fd)
        self._fd = None
        if self._made_folder:
            _remove_if_empty(self.path.parent)

    def _acquire_flock(self) -> int:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise self._held() from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return fd
            os.close(fd)  # its holder released and removed it between our open and our flock: again

    def _acquire_exclusive(self) -> int:  # pragma: no cover - exercised where fcntl is missing
        while True:
            try:
                return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = _read_holder(self.path)
                if holder.get("host") != socket.gethostname() or _alive(holder.get("pid")):
                    raise self._held() from None
                self.path.unlink(missing_ok=True)  # stale: its holder died on this host

    def _held(self) -> RunLockedError:
        holder = _read_holder(self.path)
        return RunLockedError(self.path, holder.get("pid"), holder.get("host"), holder.get("started"))


def _holder() -> dict:
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": started}


def _read_holder(path: Path) -> dict:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # being written by its holder, or gone
        return {}
    return raw if isinstance(raw, dict) else {}


def _alive(pid) -> bool:  # pragma: no cover - the fallback without flock
    try:
        os.kill(int(pid), 0)
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


__all__ = ["RunLock"]
