"""Fault injection for the reliability tests: every durable file operation of a checkpoint write, counted.

``Faults`` wraps ``builtins.open`` (write modes, and each ``write`` on the returned file), ``os.fsync``,
``os.rename``, ``os.replace``, ``os.mkdir``, ``os.unlink`` and ``os.rmdir``. Operations made by the runner's
checkpoint thread (``sphgym-checkpoint``) during the ``target_job``-th checkpoint job of the process are
*points*, numbered from 1 (``thread="MainThread", target_job=0``: the operations of the training thread before
the first checkpoint job, i.e. the start of a session). At point ``at`` the fault fires *before* the operation runs:

* ``"kill"``: SIGKILL (the process dies; the page cache, i.e. everything already written, survives);
* ``"torn"``: at a ``write``: half of the data is written and flushed, then SIGKILL (a torn file);
* ``"enospc"``: ``OSError(ENOSPC)`` is raised (disk full);
* ``"record"``: nothing fires; the point names are collected in ``points``.

``real_fsync=False`` skips the fsync system call (it is still a point and is still logged): a killed process
loses nothing from the page cache, so durability does not matter to these tests, and fsyncs are most of a
checkpoint's cost on a busy disk. Every fsync is logged as ``(inode, size)`` to ``fsync_log`` (unbuffered
``os.write``, so the log survives the SIGKILL): ``power_cut`` uses it to model a power failure after the kill,
where every byte not yet fsynced is lost.

Use in a forked child (``run_forked``) for kills, in-process (as a context manager) for ENOSPC and recording.
"""

from __future__ import annotations

import builtins
import errno
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from agents.runner import checkpoint as checkpoint_module

CHECKPOINT_THREAD = "sphgym-checkpoint"
_REAL = {
    "open": builtins.open,
    "fsync": os.fsync,  # the real one, even if a test replaced os.fsync before installing
    "rename": os.rename,
    "replace": os.replace,
    "mkdir": os.mkdir,
    "unlink": os.unlink,
    "rmdir": os.rmdir,
}


def _is_write_mode(mode: str) -> bool:
    return any(flag in mode for flag in "wax+")


def _fd_path(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return f"fd{fd}"


class Faults:
    """Counts the durable operations of one checkpoint job and fires a fault at one of them."""

    def __init__(
        self,
        target_job: int,
        mode: str = "record",
        at: int = 0,
        real_fsync: bool = True,
        fsync_log: Path | None = None,
        thread: str = CHECKPOINT_THREAD,
    ) -> None:
        assert mode in ("record", "kill", "torn", "enospc")
        self.target_job, self.mode, self.at = target_job, mode, at
        self.thread = thread  # "MainThread" with target_job=0: the start of a session, before its first checkpoint
        self.real_fsync = real_fsync
        self.fsync_log = fsync_log
        self.points: list[str] = []
        self.job = 0
        self.fired = False
        self._log_fd: int | None = None
        self._original_submit = None

    # ------------------------------------------------------------------ bookkeeping

    def _active(self) -> bool:
        return threading.current_thread().name == self.thread and self.job == self.target_job

    def _point(self, name: str, is_write: bool = False) -> bool:
        """Count a point; returns True when a torn write should happen here (the caller does it)."""
        if not self._active():
            return False
        self.points.append(name)
        if len(self.points) != self.at or self.mode == "record":
            return False
        self.fired = True
        if self.mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.mode == "enospc":
            raise OSError(errno.ENOSPC, "No space left on device (injected)", name.split(":", 1)[-1])
        if self.mode == "torn":
            if is_write:
                return True
            os.kill(os.getpid(), signal.SIGKILL)
        return False

    # ------------------------------------------------------------------ wrappers

    def _open(self, file, mode="r", *args, **kwargs):
        if not (isinstance(file, (str, os.PathLike)) and _is_write_mode(mode)):
            return _REAL["open"](file, mode, *args, **kwargs)
        self._point(f"open:{file}")
        handle = _REAL["open"](file, mode, *args, **kwargs)
        faults = self

        class Wrapped:
            def __getattr__(self, name):
                return getattr(handle, name)

            def __enter__(self):
                handle.__enter__()
                return self

            def __exit__(self, *exc):
                return handle.__exit__(*exc)

            def write(self, data):
                if faults._point(f"write:{file}", is_write=True):
                    handle.write(data[: len(data) // 2])
                    handle.flush()
                    os.kill(os.getpid(), signal.SIGKILL)
                return handle.write(data)

        return Wrapped()

    def _fsync(self, fd):
        self._point(f"fsync:{_fd_path(fd)}")
        if self._log_fd is not None:
            st = os.fstat(fd)
            os.write(self._log_fd, f"{st.st_ino} {st.st_size}\n".encode())
        if self.real_fsync:
            _REAL["fsync"](fd)

    def _wrap(self, name: str) -> Callable:
        real = _REAL[name]

        def wrapper(*args, **kwargs):
            self._point(f"{name}:{args[0] if args else ''}" + (f"->{args[1]}" if len(args) > 1 else ""))
            return real(*args, **kwargs)

        return wrapper

    # ------------------------------------------------------------------ install / remove

    def install(self) -> Faults:
        self._saved = {name: getattr(builtins if name == "open" else os, name) for name in _REAL}
        if self.fsync_log is not None:
            self._log_fd = os.open(self.fsync_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        builtins.open = self._open
        os.fsync = self._fsync
        for name in ("rename", "replace", "mkdir", "unlink", "rmdir"):
            setattr(os, name, self._wrap(name))
        writer = checkpoint_module.BackgroundWriter
        self._original_submit = writer.submit
        original_submit, faults = writer.submit, self

        def submit(writer_self, job):
            writer_self.wait()  # the previous job is done before the counter moves on
            faults.job += 1
            return original_submit(writer_self, job)

        writer.submit = submit
        return self

    def remove(self) -> None:
        for name, saved in self._saved.items():
            setattr(builtins if name == "open" else os, name, saved)
        if self._original_submit is not None:
            checkpoint_module.BackgroundWriter.submit = self._original_submit
        if self._log_fd is not None:
            os.close(self._log_fd)
            self._log_fd = None

    def __enter__(self) -> Faults:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.remove()


def run_forked(body: Callable[[], None]) -> int:
    """Run ``body`` in a forked child; returns the child's wait status as a returncode (-SIG if killed)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            body()
        except BaseException:
            code = 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def durable_sizes(run_dir: Path) -> dict[int, int]:
    """``inode -> size`` of every file under ``run_dir``: the state taken as already on disk (``power_cut``)."""
    return {p.stat().st_ino: p.stat().st_size for p in run_dir.rglob("*") if p.is_file() and not p.is_symlink()}


def power_cut(run_dir: Path, fsync_log: Path, durable: dict[int, int] | None = None) -> int:
    """Model a power failure after the process died: every file loses what was not fsynced.

    For each regular file under ``run_dir``: the size at its last fsync (by inode; ``durable`` gives the sizes
    that were on disk before the process started) is kept, the rest is cut; a file never fsynced is emptied.
    Directory entries (creates, renames, deletes) are kept: the model covers lost file data, not lost directory
    updates. Returns the number of files changed.
    """
    synced: dict[int, int] = dict(durable or {})
    if fsync_log.exists():
        for line in fsync_log.read_text().splitlines():
            inode, size = map(int, line.split())
            synced[inode] = size
    changed = 0
    for path in sorted(run_dir.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        st = path.stat()
        keep = synced.get(st.st_ino, 0)
        if st.st_size > keep:
            os.truncate(path, keep)
            changed += 1
    return changed
