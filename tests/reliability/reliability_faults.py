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
checkpoint's cost on a busy disk. Every fsync is logged to ``fsync_log`` (unbuffered ``os.write``, so the log
survives the SIGKILL): a file's ``(inode, size)``, a directory's inode and its entries ``name -> inode`` at that
moment. ``power_cut`` uses it to model a power failure after the kill: every byte not yet fsynced is lost, and
every directory entry (create, rename) made since its directory's last fsync is lost.

Use in a forked child (``run_forked``) for kills, in-process (as a context manager) for ENOSPC and recording.
"""

from __future__ import annotations

import builtins
import errno
import json
import os
import shutil
import signal
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
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
            os.write(self._log_fd, _fsync_record(fd))
        if self.real_fsync:
            _REAL["fsync"](fd)

    def _wrap(self, name: str) -> Callable:
        real = _REAL[name]

        def wrapper(*args, **kwargs):
            self._point(f"{name}:{args[0] if args else ''}" + (f"->{args[1]}" if len(args) > 1 else ""))
            if name in ("rename", "replace") and self.fsync_log is not None and len(args) > 1:
                _keep_replaced_file(self.fsync_log, Path(args[1]))
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


def _fsync_record(fd: int) -> bytes:
    """One JSON line of the fsync log: ``[inode, size]`` for a file, ``[inode, {name: inode}]`` for a directory."""
    st = os.fstat(fd)
    if not stat.S_ISDIR(st.st_mode):
        return f"[{st.st_ino}, {st.st_size}]\n".encode()
    entries = {name: os.stat(name, dir_fd=fd, follow_symlinks=False).st_ino for name in os.listdir(fd)}
    return (json.dumps([st.st_ino, entries]) + "\n").encode()


def _graveyard(fsync_log: Path) -> Path:
    return fsync_log.with_name(fsync_log.name + ".replaced")


def _keep_replaced_file(fsync_log: Path, destination: Path) -> None:
    """Before a rename over a file: hard-link the file it replaces (by inode), so that ``power_cut`` can bring it
    back if the rename is lost (the link also keeps its inode number from being reused)."""
    try:
        st = os.lstat(destination)
    except FileNotFoundError:
        return
    if stat.S_ISREG(st.st_mode):
        graveyard = _graveyard(fsync_log)
        graveyard.mkdir(exist_ok=True)
        if not (graveyard / str(st.st_ino)).exists():
            os.link(destination, graveyard / str(st.st_ino))


AGENT_FILES = ("/weights.safetensors", "/state.safetensors")


def agent_file_points(points: list[str]) -> list[int]:
    """Point numbers (from 1) of the opens, writes and fsyncs of a checkpoint's agent weights and state files."""
    kinds = ("open:", "write:", "fsync:")
    return [i for i, name in enumerate(points, 1) if name.startswith(kinds) and name.endswith(AGENT_FILES)]


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


@dataclass(frozen=True)
class DiskState:
    """What is taken as already on disk: file sizes and directory entries, by inode."""

    sizes: dict[int, int] = field(default_factory=dict)
    entries: dict[int, dict[str, int]] = field(default_factory=dict)


def durable_state(run_dir: Path) -> DiskState:
    """The state of ``run_dir`` now, taken as durable (what an earlier crash left is on disk already)."""
    state = DiskState()
    for path in [run_dir, *run_dir.rglob("*")]:
        if path.is_symlink():
            continue
        if path.is_dir():
            state.entries[path.stat().st_ino] = {p.name: p.lstat().st_ino for p in path.iterdir()}
        elif path.is_file():
            state.sizes[path.stat().st_ino] = path.stat().st_size
    return state


def read_fsync_log(fsync_log: Path, durable: DiskState | None = None) -> DiskState:
    """``durable`` updated with every fsync in the log (the last fsync of an inode wins)."""
    state = DiskState(dict(durable.sizes), {k: dict(v) for k, v in durable.entries.items()}) if durable else DiskState()
    if fsync_log.exists():
        for line in fsync_log.read_text().splitlines():
            inode, value = json.loads(line)
            if isinstance(value, dict):
                state.entries[inode] = value
            else:
                state.sizes[inode] = value
    return state


def power_cut(run_dir: Path, fsync_log: Path, durable: DiskState | None = None) -> int:
    """Model a power failure after the process died: what was not fsynced is lost.

    * Directory entries: a directory keeps only the entries it had at its last fsync (or in ``durable``, the
      state before the process started; a directory in neither has none). An entry created or renamed into
      place since then is removed, with everything under it; a file that such a rename replaced comes back
      (``Faults`` hard-links it aside before the rename). Deletes are kept (a lost delete only brings back
      older data, which the runner ignores or cleans up).
    * File data: each remaining regular file is cut to its size at its last fsync; a file never fsynced is
      emptied.

    ``run_dir`` itself is taken as durable (it was created before the fault window). Returns the number of
    entries removed plus files cut.
    """
    state = read_fsync_log(fsync_log, durable)
    graveyard = _graveyard(fsync_log)
    changed = 0
    pending = [run_dir]
    while pending:
        directory = pending.pop()
        kept = state.entries.get(directory.stat().st_ino, {})
        for path in sorted(directory.iterdir()):
            st = path.lstat()
            if kept.get(path.name) != st.st_ino:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
                changed += 1
        for name, inode in kept.items():  # a lost rename over a file brings the replaced file back
            if not (directory / name).exists() and (graveyard / str(inode)).exists():
                os.link(graveyard / str(inode), directory / name)
                changed += 1
        for path in sorted(directory.iterdir()):
            st = path.lstat()
            if path.is_dir() and not path.is_symlink():
                pending.append(path)
            elif path.is_file() and not path.is_symlink() and st.st_size > state.sizes.get(st.st_ino, 0):
                os.truncate(path, state.sizes.get(st.st_ino, 0))
                changed += 1
    return changed
