"""Durable file operations: write to a temporary name, fsync, rename, fsync the directory."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
from pathlib import Path

from agents.runner.errors import RunnerError

# OS errors that mean "the disk cannot take more data" (full, over quota, read-only, failing): a run that hits
# one stops cleanly with a ``CheckpointError`` naming the newest intact checkpoint.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG})


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_synced(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (created or truncated) and fsync it; no rename."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old or the new content."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write_file_synced(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def refuse_symlink(path: Path, what: str) -> None:
    """``RunnerError`` if ``path`` is a symbolic link: the runner only touches files inside the run folder.

    A link (planted in a crafted or copied run folder) could make a read come from, or a write go to, any file
    on the machine; so ``config.json``, ``episodes.csv``, ``run.lock``, ``checkpoints/`` and ``best/`` must be
    real files and folders.
    """
    path = Path(path)
    if path.is_symlink():
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        raise RunnerError(
            f"{str(path)!r} is a symbolic link (to {target!r}): sphgym only reads and writes the {what} inside "
            "the run folder itself, so a link that could point elsewhere is refused. Replace it with the real "
            "file or folder."
        )


def read_regular_file(path: Path, what: str, limit: int | None = None) -> bytes:
    """Read a file of the run folder without following a symbolic link or blocking on a FIFO/device.

    Raises ``FileNotFoundError`` if it is missing and ``RunnerError`` if it is a link or not a regular file.
    ``limit`` bounds how much is read (e.g. the lock file's pid record).
    """
    path = Path(path)
    refuse_symlink(path, what)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            refuse_symlink(path, what)
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise RunnerError(f"{str(path)!r} is not a regular file; refusing to read the {what} from it.")
        chunks = []
        remaining = limit
        while remaining is None or remaining > 0:
            chunk = os.read(fd, 1 << 20 if remaining is None else min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            if remaining is not None:
                remaining -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def remove_tree(path: Path) -> None:
    """Delete a directory so that a crash half-way never leaves a valid-looking partial copy.

    The directory is first renamed to a hidden ``.trash-*`` name (atomic), then removed.
    """
    path = Path(path)
    if not os.path.lexists(path):
        return
    if path.is_symlink() or not path.is_dir():  # a file or link in a folder's place: never follow it
        path.unlink()
        fsync_dir(path.parent)
        return
    trash = path.with_name(f".trash-{path.name}-{os.getpid()}")
    remove_leftover(trash)
    os.rename(path, trash)
    fsync_dir(path.parent)
    shutil.rmtree(trash, ignore_errors=True)


def remove_leftover(path: Path) -> None:
    """Delete a temporary or trash entry, whatever it is (folder, file, link): best effort."""
    try:
        if path.is_symlink() or (os.path.lexists(path) and not path.is_dir()):
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
    except OSError:
        pass
