"""``episodes.csv``: one row per finished episode (episode, global_step, return, length).

Returns are written with ``repr`` (shortest exact float text), so the file of a resumed run is byte-identical
to the uninterrupted run's. On resume the file is cut back to the checkpoint's row count (atomic rewrite) and
the prefix is checked against the digest stored in the checkpoint.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from agents.runner.errors import CheckpointError
from agents.runner.fsutil import atomic_write_bytes, read_regular_file, refuse_symlink
from agents.runner.run_folder import EPISODES_CSV
HEADER = b"episode,global_step,return,length\n"


def format_row(episode: int, global_step: int, episode_return: float, length: int) -> bytes:
    return f"{episode},{global_step},{float(episode_return)!r},{length}\n".encode()


class EpisodeLog:
    """Appends rows and keeps a running sha256 of the file content (stored in each checkpoint)."""

    def __init__(self, run_dir: str | os.PathLike, rows: int, expected_sha256: str | None) -> None:
        self.path = Path(run_dir) / EPISODES_CSV
        self.rows = rows
        refuse_symlink(self.path, "episode log")
        existing = read_regular_file(self.path, "episode log") if self.path.exists() else None
        content = _prefix(self.path, rows, existing)
        digest = hashlib.sha256(content)
        if expected_sha256 is not None and digest.hexdigest() != expected_sha256:
            raise CheckpointError(
                f"{self.path} does not match the checkpoint (its first {rows} episode rows were modified or lost)"
            )
        if existing != content:
            atomic_write_bytes(self.path, content)
        self._hash = digest
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
        self._file = os.fdopen(fd, "ab")

    def append(self, episode: int, global_step: int, episode_return: float, length: int) -> None:
        row = format_row(episode, global_step, episode_return, length)
        self._file.write(row)
        self._hash.update(row)
        self.rows += 1

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def flush(self) -> None:
        self._file.flush()

    def fileno(self) -> int:
        return self._file.fileno()

    def sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            try:
                self.sync()
            finally:
                self._file.close()


def _prefix(path: Path, rows: int, data: bytes | None) -> bytes:
    """Header plus the first ``rows`` complete rows of ``data``, the content of ``path`` (``None``: missing);
    ``CheckpointError`` if it has fewer."""
    if data is None:
        if rows == 0:
            return HEADER
        raise CheckpointError(f"{path} is missing but the checkpoint has {rows} episodes")
    if not data.startswith(HEADER):
        raise CheckpointError(f"{path} does not start with the expected header {HEADER.decode().strip()!r}")
    end = len(HEADER)
    for _ in range(rows):
        newline = data.find(b"\n", end)
        if newline < 0:
            raise CheckpointError(f"{path} has fewer than the {rows} episode rows the checkpoint records")
        end = newline + 1
    return data[:end]


def read_rows(path: str | os.PathLike) -> list[tuple[int, int, float, int]]:
    """``(episode, global_step, return, length)`` of every complete row of ``episodes.csv``.

    A last line without its newline (a row a live run is writing right now) is left out.

    Raises:
        CheckpointError: The file does not start with the header sphgym writes.
        OSError: It cannot be read.
    """
    path = Path(path)
    data = path.read_bytes()
    if not data.startswith(HEADER):
        raise CheckpointError(f"{path} does not start with the expected header {HEADER.decode().strip()!r}")
    rows = []
    for line in data[len(HEADER) :].split(b"\n")[:-1]:
        parts = line.split(b",")
        try:
            rows.append((int(parts[0]), int(parts[1]), float(parts[2]), int(parts[3])))
        except (ValueError, IndexError):
            continue  # not a row sphgym wrote
    return rows
