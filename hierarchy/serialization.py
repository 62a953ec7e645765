"""The hierarchy's buffer format: versioned, self-describing, little-endian, pickle-free, checksummed.

Layout (all integers little-endian)::

    magic          8 bytes  b"SPHGYMH\\x00"
    version        u32      FORMAT_VERSION
    kind           u32      1 = state, 2 = weights, 3 = full
    descriptor     u32 length + UTF-8 JSON (canonical: sorted keys, no spaces). For state and weights
                   buffers: the shape (IO and layer descriptors). For full buffers: shape, params, seed.
    array count    u32
    arrays         per array: u16 name length, name (UTF-8), u8 dtype code, u8 ndim, u32 dims[ndim],
                   then the raw little-endian data (C order)
    crc32          u32 over every byte before it

Readers check magic, version, kind, length, checksum, descriptor, then every array's name, dtype and shape,
and raise ``ValueError`` saying what does not match. Nothing is applied until everything has been checked.
"""

from __future__ import annotations

import json
import math
import os
import struct
import tempfile
import zlib
from typing import Any

import numpy as np

MAGIC = b"SPHGYMH\x00"
FORMAT_VERSION = 1
KIND_STATE, KIND_WEIGHTS, KIND_FULL = 1, 2, 3
KIND_NAMES = {KIND_STATE: "state", KIND_WEIGHTS: "weights", KIND_FULL: "full"}

_DTYPES = [np.dtype(t) for t in ("u1", "i1", "<u2", "<i2", "<u4", "<i4", "<u8", "<i8", "<f4", "<f8")]
_CODE = {dt: i for i, dt in enumerate(_DTYPES)}
_HEAD = struct.Struct("<8sIII")  # magic, version, kind, descriptor length

ArraySpec = tuple[str, np.dtype, tuple[int, ...]]


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def buffer_size(descriptor: bytes, specs: list[ArraySpec]) -> int:
    """Exact byte length of a buffer with this descriptor and these arrays."""
    n = _HEAD.size + len(descriptor) + 4 + 4
    for name, dtype, shape in specs:
        n += 2 + len(name.encode()) + 2 + 4 * len(shape) + math.prod(shape) * dtype.itemsize
    return n


def write_buffer(kind: int, descriptor: bytes, arrays: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """Serialise to a new writable uint8 array."""
    parts = [
        _HEAD.pack(MAGIC, FORMAT_VERSION, kind, len(descriptor)),
        descriptor,
        struct.pack("<I", len(arrays)),
    ]
    for name, arr in arrays:
        le = arr.dtype.newbyteorder("<") if arr.dtype.itemsize > 1 else arr.dtype
        nb = name.encode()
        parts.append(struct.pack(f"<H{len(nb)}sBB{arr.ndim}I", len(nb), nb, _CODE[le], arr.ndim, *arr.shape))
        parts.append(np.ascontiguousarray(arr, dtype=le).tobytes())
    body = b"".join(parts)
    out = np.empty(len(body) + 4, np.uint8)
    out[:-4] = np.frombuffer(body, np.uint8)
    out[-4:] = np.frombuffer(struct.pack("<I", zlib.crc32(body)), np.uint8)
    return out


def _as_bytes(buf: Any) -> memoryview:
    if isinstance(buf, np.ndarray):
        if buf.dtype != np.uint8 or buf.ndim != 1:
            raise ValueError(f"buffer must be a 1-D uint8 array, got dtype {buf.dtype} and shape {buf.shape}")
        return memoryview(np.ascontiguousarray(buf)).cast("B")
    if isinstance(buf, (bytes, bytearray, memoryview)):
        return memoryview(buf).cast("B")
    raise ValueError(f"buffer must be a uint8 numpy array or bytes, got {type(buf).__name__}")


def read_buffer(buf: Any, expected_kind: int) -> tuple[bytes, dict[str, np.ndarray]]:
    """Check framing and checksum, and return (descriptor bytes, name -> array copies in file order)."""
    mv = _as_bytes(buf)
    want = KIND_NAMES[expected_kind]
    if len(mv) < _HEAD.size + 8:
        raise ValueError(f"{want} buffer is truncated: {len(mv)} bytes is shorter than the header")
    magic, version, kind, dlen = _HEAD.unpack_from(mv, 0)
    if magic != MAGIC:
        raise ValueError(f"not a sphgym hierarchy buffer: magic is {bytes(magic)!r}, expected {MAGIC!r}")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"buffer format version {version} is not supported (this build reads version {FORMAT_VERSION})"
        )
    if kind != expected_kind:
        got = KIND_NAMES.get(kind, f"unknown kind {kind}")
        raise ValueError(f"expected a {want} buffer, got a {got} buffer")
    (crc,) = struct.unpack_from("<I", mv, len(mv) - 4)
    if zlib.crc32(mv[:-4]) != crc:
        raise ValueError(f"{want} buffer is corrupt or truncated: CRC32 checksum does not match ({len(mv)} bytes)")
    pos = _HEAD.size
    if pos + dlen + 4 > len(mv) - 4:
        raise ValueError(f"{want} buffer is malformed: descriptor runs past the end")
    descriptor = bytes(mv[pos : pos + dlen])
    pos += dlen
    (count,) = struct.unpack_from("<I", mv, pos)
    pos += 4
    arrays: dict[str, np.ndarray] = {}
    end = len(mv) - 4
    try:
        for _ in range(count):
            (nlen,) = struct.unpack_from("<H", mv, pos)
            pos += 2
            name = bytes(mv[pos : pos + nlen]).decode()
            pos += nlen
            code, ndim = struct.unpack_from("<BB", mv, pos)
            pos += 2
            shape = struct.unpack_from(f"<{ndim}I", mv, pos)
            pos += 4 * ndim
            dtype = _DTYPES[code]
            nbytes = math.prod(shape) * dtype.itemsize
            if pos + nbytes > end:
                raise ValueError(f"array {name!r} runs past the end")
            arr = np.frombuffer(mv[pos : pos + nbytes], dtype).reshape(shape)
            arrays[name] = arr.astype(dtype.newbyteorder("="), copy=True)
            pos += nbytes
    except (struct.error, IndexError, UnicodeDecodeError) as exc:
        raise ValueError(f"{want} buffer is malformed: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"{want} buffer is malformed: {exc}") from None
    if pos != end:
        raise ValueError(f"{want} buffer is malformed: {end - pos} unexpected trailing bytes")
    return descriptor, arrays


def check_arrays(kind_name: str, arrays: dict[str, np.ndarray], specs: list[ArraySpec]) -> None:
    """Every expected array is present with the right dtype and shape, and nothing else."""
    expected = {name for name, _, _ in specs}
    for name, dtype, shape in specs:
        if name not in arrays:
            raise ValueError(f"{kind_name} buffer lacks array {name!r}")
        a = arrays[name]
        if a.dtype != dtype or a.shape != tuple(shape):
            raise ValueError(
                f"{kind_name} buffer array {name!r} has dtype {a.dtype} and shape {a.shape}, "
                f"expected {dtype} and {tuple(shape)}"
            )
    extra = sorted(set(arrays) - expected)
    if extra:
        raise ValueError(f"{kind_name} buffer has unexpected arrays {extra}")


def describe_mismatch(got: Any, want: Any, path: str = "") -> str:
    """Human-readable first difference between two JSON-like values."""
    if isinstance(got, dict) and isinstance(want, dict):
        for k in sorted(set(got) | set(want)):
            if k not in got:
                return f"{path}.{k} is missing in the buffer"
            if k not in want:
                return f"{path}.{k} is unexpected"
            if got[k] != want[k]:
                return describe_mismatch(got[k], want[k], f"{path}.{k}" if path else k)
    if isinstance(got, list) and isinstance(want, list):
        if len(got) != len(want):
            return f"{path} has {len(got)} entries in the buffer but {len(want)} in this hierarchy"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            if g != w:
                return describe_mismatch(g, w, f"{path}[{i}]")
    return f"{path} is {got!r} in the buffer but {want!r} in this hierarchy"


def write_file_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temp file in the same folder, fsync, rename."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".sphh-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def raise_out_of_range(name: str) -> None:
    """The one error for a state array whose values a kernel would use out of bounds."""
    raise ValueError(f"state buffer array {name!r} holds out-of-range values")


def check_in_range(arrays: dict[str, np.ndarray], name: str, high: int | np.ndarray) -> None:
    """``0 <= arrays[name] < high`` everywhere (``high`` a number, or one per last-axis entry), else raise."""
    a = arrays[name]
    if not bool(((a >= 0) & (a < high)).all()):
        raise_out_of_range(name)


class BufferCopyable:
    """Copy, pickle, file saving and loading through the buffer format, for classes with ``serialize_to_buffer()``
    and ``_load_full(buffer)`` (internal arrays share memory in ways pickle would break)."""

    @classmethod
    def from_buffer(cls, buffer: Any):
        """Rebuild an object from `serialize_to_buffer` output.

        Raises:
            ValueError: not a full buffer of this class, another format version, or truncated / corrupt.
        """
        obj = cls.__new__(cls)
        obj._load_full(buffer)
        return obj

    @classmethod
    def from_file(cls, path: str | os.PathLike):
        """Load an object written by `save_to_file`."""
        with open(path, "rb") as f:
            return cls.from_buffer(f.read())

    def save_to_file(self, path: str | os.PathLike) -> None:
        """Write `serialize_to_buffer` output to ``path`` atomically (temp file, fsync, rename)."""
        write_file_atomic(path, self.serialize_to_buffer().tobytes())

    def __copy__(self):
        """Copies are by value (as in PyAOgmaNeo): descriptors, params, state and weights."""
        return type(self).from_buffer(self.serialize_to_buffer())

    def __deepcopy__(self, memo: dict):
        return self.__copy__()

    def __reduce__(self):
        return (type(self).from_buffer, (self.serialize_to_buffer(),))
