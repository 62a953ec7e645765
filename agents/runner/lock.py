"""``run.lock``: one training process per run folder.

The lock is an ``flock`` on ``run_dir/run.lock`` (released by the kernel when the owner dies, however it dies)
plus the owner's pid and host written inside for messages. A lock file left by a dead process is stale: it is
taken over with a warning.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import stat
import warnings
from pathlib import Path

from agents.runner.errors import RunLockedError, RunnerError, RunnerWarning
from agents.runner.fsutil import read_regular_file, refuse_symlink
from agents.runner.run_folder import LOCK_NAME


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_lock_owner(run_dir: Path) -> dict | None:
    try:
        owner = json.loads(read_regular_file(Path(run_dir) / LOCK_NAME, "lock file", limit=4096) or b"null")
    except (OSError, ValueError, RunnerError):
        return None
    return owner if isinstance(owner, dict) else None


class RunLock:
    """Context manager holding the run folder's lock."""

    def __init__(self, run_dir: str | os.PathLike) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        while True:
            refuse_symlink(self.path, "lock file")
            try:
                # Never follow a link or block on a FIFO planted as run.lock: the lock file is written to.
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    refuse_symlink(self.path, "lock file")
                raise
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise RunnerError(f"{str(self.path)!r} is not a regular file; remove it and try again.")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise RunLockedError(
                    f"Run folder {str(self.path.parent)!r} is in use by another process "
                    f"({self._owner_text()}). Wait for it to finish or stop it first (Ctrl-C checkpoints it)."
                ) from None
            # The previous owner may have unlinked the file between our open and our flock: retry on a new file.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        previous = os.read(fd, 4096)
        if previous.strip():
            try:
                owner = json.loads(previous)
            except ValueError:
                owner = {}
            if not isinstance(owner, dict):
                owner = {}
            pid = owner.get("pid")
            if pid != os.getpid():
                alive = isinstance(pid, int) and owner.get("host") == socket.gethostname() and _pid_alive(pid)
                state = "still running but not holding the lock" if alive else "no longer running"
                warnings.warn(
                    f"Took over a stale lock in {str(self.path.parent)!r} left by pid {pid} ({state}); "
                    f"the previous process did not exit cleanly.",
                    RunnerWarning,
                    stacklevel=3,
                )
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode())
        os.fsync(fd)
        self._fd = fd

    def _owner_text(self) -> str:
        """The lock holder as "pid P on HOST"; a holder that has just taken the lock writes its pid a moment
        later, so wait for it briefly rather than print "pid ? on ?"."""
        import time

        deadline = time.monotonic() + 1.0
        while True:
            owner = read_lock_owner(self.path.parent) or {}
            if "pid" in owner and "host" in owner:
                return f"pid {owner['pid']} on {owner['host']}"
            if time.monotonic() > deadline:
                return "a process that is just starting; its pid is not recorded yet"
            time.sleep(0.02)

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # unlink while still holding the flock (see acquire's inode check)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
