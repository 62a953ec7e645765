"""A tiny TensorBoard scalar writer that purges on resume, without torch or TensorFlow.

Records are TFRecord-framed ``Event`` protos (TensorBoard's own ``tensorboard.compat.proto``; ~35 ms to
import, against ~250 ms for ``tensorboard.summary.writer`` and ~2 s for torch's ``SummaryWriter``).

Purge protocol (what ``SummaryWriter(purge_step=T)`` writes, see notes/resume-and-ecosystem.md section 3):
each session opens a new event file starting with ``file_version`` and ``SessionLog(START)`` at step T.
Readers drop every earlier event with step >= T. A fresh run writes its START at step 0 (one reader ignores
the first START of a run, so the first must be harmless). A resumed run passes T = checkpoint global step + 1:
scalars logged at the checkpoint's own step belong to the checkpointed history and must survive.
"""

from __future__ import annotations

import json
import os
import re
import socket
import struct
import time
from pathlib import Path
from typing import Any

from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2

_FILE_RE = re.compile(r"^events\.out\.tfevents\.(\d+)\.")


def _make_crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C_TABLE = _make_crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), as TFRecord framing requires."""
    crc = 0xFFFFFFFF
    table = _CRC32C_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _record(payload: bytes) -> bytes:
    header = struct.pack("<Q", len(payload))
    return header + struct.pack("<I", masked_crc32c(header)) + payload + struct.pack("<I", masked_crc32c(payload))


def scalar_summary(tag: str, value: float) -> summary_pb2.Summary:
    """One ``simple_value`` scalar, as ``SummaryWriter.add_scalar`` writes it."""
    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=float(value))])


def write_event_file(
    folder: str | os.PathLike, name: str, summaries: list[tuple[int, summary_pb2.Summary]], wall_time: float
) -> Path:
    """Write a whole event file at once (atomically replacing one of the same name): ``file_version``, then
    each ``(step, summary)``. For records that are rebuilt from other files, e.g. a sweep's HParams: writing
    them again replaces them instead of adding a second copy.

    Returns:
        The file's path, ``folder/events.out.tfevents.0000000000.<name>``.
    """
    from agents.runner.fsutil import atomic_write_bytes

    path = Path(folder) / f"events.out.tfevents.{0:010d}.{name}"
    path.parent.mkdir(parents=True, exist_ok=True)
    events = [event_pb2.Event(wall_time=wall_time, step=0, file_version="brain.Event:2")]
    events += [event_pb2.Event(wall_time=wall_time, step=int(step), summary=summary) for step, summary in summaries]
    atomic_write_bytes(path, b"".join(_record(event.SerializeToString()) for event in events))
    return path


class ScalarWriter:
    """Append-only scalar log for one process session; ``add_scalar`` semantics only.

    Args:
        log_dir: Folder of the run (events files go directly into it: one TensorBoard run per run folder).
        purge_step: Step of the SessionLog START written first (0 for a fresh run).
    """

    def __init__(self, log_dir: str | os.PathLike, purge_step: int) -> None:
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # File names must sort in session order (readers load them lexicographically): make the timestamp
        # field strictly larger than every existing one, even for two sessions in the same second.
        stamp = int(time.time())
        for existing in self.log_dir.iterdir():
            match = _FILE_RE.match(existing.name)
            if match:
                stamp = max(stamp, int(match.group(1)) + 1)
        self.path = self.log_dir / f"events.out.tfevents.{stamp:010d}.{socket.gethostname()}.{os.getpid()}.sphgym"
        # A new file of this session: never an existing one, never through a link planted under its name.
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_NOFOLLOW, 0o644)
        self._file = os.fdopen(fd, "ab")
        self._last_flush = time.monotonic()
        wall = time.time()
        self._write(event_pb2.Event(wall_time=wall, step=purge_step, file_version="brain.Event:2"))
        self._write(
            event_pb2.Event(
                wall_time=wall,
                step=purge_step,
                session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START),
            )
        )
        self.sync()

    def _write(self, event: event_pb2.Event) -> None:
        self._file.write(_record(event.SerializeToString()))

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self._write(event_pb2.Event(wall_time=time.time(), step=int(step), summary=scalar_summary(tag, value)))

    def add_text(self, tag: str, text: str, step: int) -> None:
        """A text summary (TensorBoard's TEXT tab renders it as Markdown), as ``SummaryWriter.add_text`` writes it."""
        tensor = tensor_pb2.TensorProto(
            dtype=types_pb2.DT_STRING,
            string_val=[text.encode("utf-8")],
            tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=1)]),
        )
        metadata = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="text"))
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, metadata=metadata, tensor=tensor)])
        self._write(event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary))

    def add_json_text(self, tag: str, value: Any, step: int) -> None:
        """``value`` as indented JSON in a Markdown code block (so TensorBoard's TEXT tab keeps its layout)."""
        lines = json.dumps(value, indent=2, sort_keys=True, allow_nan=True).splitlines()
        self.add_text(tag, "\n".join("    " + line for line in lines), step)

    def maybe_flush(self, every_seconds: float = 2.0) -> None:
        """Hand buffered events to the OS now and then, so a live TensorBoard sees progress."""
        now = time.monotonic()
        if now - self._last_flush >= every_seconds:
            self._file.flush()
            self._last_flush = now

    def flush(self) -> None:
        self._file.flush()
        self._last_flush = time.monotonic()

    def fileno(self) -> int:
        return self._file.fileno()

    def sync(self) -> None:
        """Flush and fsync: called before every checkpoint so the log is never behind a checkpoint."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._last_flush = time.monotonic()

    def close(self) -> None:
        if not self._file.closed:
            try:
                self.sync()
            finally:
                self._file.close()
