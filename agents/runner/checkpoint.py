"""Checkpoint directories: atomic write, digest-verified read, rotation. No pickle anywhere.

Layout of ``run_dir/checkpoints/<id>/`` (``id = ep<episodes:08d>-st<global step:010d>``, sorts
chronologically):

=====================  ===============================================================================
``weights.safetensors`` agent ``get_weights()``; ``weights_sha256`` = sha256 of these bytes
``state.safetensors``   agent ``get_state()``;   ``state_sha256``   = sha256 of these bytes
``runner.safetensors``  current observation (mid-episode), recent returns/lengths window
``runner.json``         counters, status, seeds, best metric, early stopping, log positions
``rng.json``            process-global RNGs (Python, numpy legacy, torch if loaded)
``env.json``            env snapshot (``envs.capture``), ``null`` before the first reset
``config.json``         the resolved run config
``meta.json``           format version, time, versions, threads, size and sha256 of every file above
``COMPLETE``            written last: sha256 of ``meta.json``
=====================  ===============================================================================

A checkpoint is written into ``.tmp-<id>-<pid>/`` (each file fsynced), the directory fsynced, renamed into
place and the parent and the run folder fsynced: a crash (or a power cut) leaves either no checkpoint or a
complete one, and one that ``write_checkpoint`` returned from survives a power cut. On read every file's size
and digest is checked against ``meta.json`` and ``meta.json`` against ``COMPLETE``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.runner.errors import CheckpointError, IncompatibleCheckpointError, RunnerError
from agents.runner.fsutil import (
    fsync_dir,
    refuse_symlink,
    remove_leftover,
    remove_tree,
    sha256_bytes,
    write_file_synced,
)

FORMAT_VERSION = 1
MARKER = "COMPLETE"
META = "meta.json"
WEIGHTS = "weights.safetensors"
STATE = "state.safetensors"
RUNNER_ARRAYS = "runner.safetensors"
RUNNER_JSON = "runner.json"
RNG_JSON = "rng.json"
ENV_JSON = "env.json"
CONFIG_JSON = "config.json"
# Every file a checkpoint may contain; anything else named in meta.json is refused (no paths, no surprises).
DATA_FILES = (WEIGHTS, STATE, RUNNER_ARRAYS, RUNNER_JSON, RNG_JSON, ENV_JSON, CONFIG_JSON)
REQUIRED_FILES = (WEIGHTS, STATE, RUNNER_ARRAYS, RUNNER_JSON, CONFIG_JSON)
ALLOWED_NAMES = frozenset((*DATA_FILES, META, MARKER))
_ID_RE = re.compile(r"^ep(\d{8})-st(\d{10})$")
# Keys by which serialisation libraries (jsonpickle, pickle-like JSON schemes, config frameworks) name a class
# or callable to build. sphgym's JSON files are plain data: a file that uses one is crafted, and is refused.
_OBJECT_KEYS = frozenset(
    {
        "__class__",
        "__reduce__",
        "__reduce_ex__",
        "__module__",
        "__import__",
        "__builtins__",
        "__globals__",
        "__getstate__",
        "__setstate__",
        "$type",
        "__type__",
        "_target_",
    }
)


def checkpoint_id(episode: int, global_step: int) -> str:
    return f"ep{episode:08d}-st{global_step:010d}"


def parse_checkpoint_id(name: str) -> tuple[int, int] | None:
    match = _ID_RE.match(name)
    return (int(match.group(1)), int(match.group(2))) if match else None


# ---------------------------------------------------------------------- encoding helpers


def parse_json(data: bytes | str, where: str) -> Any:
    """``json.loads`` for files read from a run folder: plain data only, ``CheckpointError`` on any problem.

    Objects that name a Python class or callable (``{"__class__": "os.system"}``, jsonpickle's ``py/object``,
    ...) are refused: nothing read from a file is ever turned into anything but dicts, lists, strings and
    numbers, and a file asking for more was crafted.
    """

    def plain_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        for key, value in pairs:
            if key in _OBJECT_KEYS or key.startswith("py/"):
                raise CheckpointError(
                    f"{where} names a Python object ({key!r}: {str(value)[:60]!r}); sphgym files are plain "
                    "data and nothing is ever built from a class named in a file, so it is refused"
                )
        return dict(pairs)

    try:
        return json.loads(data, object_pairs_hook=plain_object)
    except (ValueError, RecursionError) as exc:
        raise CheckpointError(f"{where} is not valid JSON: {exc}") from None


def arrays_to_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """Deterministic safetensors bytes (same arrays → same bytes → same digest)."""
    from safetensors.numpy import save

    clean = {}
    for key, value in arrays.items():
        array = np.asarray(value)
        if array.dtype == object:
            raise CheckpointError(f"Array {key!r} has dtype object; only numeric arrays can be checkpointed.")
        clean[key] = np.ascontiguousarray(array)
    return save(clean)


def arrays_from_bytes(data: bytes, what: str) -> dict[str, np.ndarray]:
    from safetensors.numpy import load

    try:
        return dict(load(data))
    except Exception as exc:  # safetensors raises its own error types
        raise CheckpointError(f"{what} is not a valid safetensors file: {exc}") from None


def json_bytes(value: Any, pretty: bool = True) -> bytes:
    """Canonical JSON (sorted keys): identical values give identical bytes and digests.

    ``pretty=False`` writes one compact line with the C encoder (~20x faster; used for the large RNG and env
    snapshots).
    """
    if pretty:
        text = json.dumps(value, sort_keys=True, indent=1, allow_nan=True)
    else:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return (text + "\n").encode()


# ---------------------------------------------------------------------- write


def write_checkpoint(root: Path, ckpt_id: str, files: dict[str, bytes], meta_extra: dict[str, Any]) -> Path:
    """Atomically create ``root/ckpt_id``; an existing valid checkpoint with the same content is kept."""
    unknown = set(files) - set(DATA_FILES)
    if unknown:
        raise ValueError(f"Unknown checkpoint file name(s) {sorted(unknown)}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / ckpt_id
    digests = {name: {"sha256": sha256_bytes(data), "size": len(data)} for name, data in files.items()}
    if final.is_symlink() or (final.exists() and not final.is_dir()):
        remove_tree(final)  # a file or link named like this checkpoint (reported on resume): it is replaced
    if final.exists():
        try:
            existing = read_checkpoint(final)
        except CheckpointError:
            existing = None
        if existing is not None and existing.meta.get("files") == digests:
            return final
        remove_tree(final)  # torn, corrupt or from another trajectory: replace it
    meta = dict(meta_extra)
    meta.update(
        format_version=FORMAT_VERSION,
        id=ckpt_id,
        files=digests,
        weights_sha256=digests[WEIGHTS]["sha256"],
        state_sha256=digests[STATE]["sha256"],
    )
    meta_data = json_bytes(meta)
    tmp = root / f".tmp-{ckpt_id}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        for name, data in files.items():
            write_file_synced(tmp / name, data)
        write_file_synced(tmp / META, meta_data)
        write_file_synced(tmp / MARKER, json_bytes({"meta_sha256": sha256_bytes(meta_data)}))
        fsync_dir(tmp)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(root)
    # The run folder too: its entries made since the last fsync (checkpoints/ itself, best/, this session's
    # TensorBoard file) would otherwise be lost with the checkpoint on a power cut.
    fsync_dir(root.parent)
    return final


# ---------------------------------------------------------------------- read


@dataclass
class Checkpoint:
    """A verified checkpoint held in memory."""

    path: Path
    meta: dict[str, Any]
    files: dict[str, bytes] = field(repr=False)

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def weights_sha256(self) -> str:
        return self.meta["weights_sha256"]

    @property
    def state_sha256(self) -> str:
        return self.meta["state_sha256"]

    def has(self, name: str) -> bool:
        return name in self.files

    def json(self, name: str) -> Any:
        if name not in self.files:
            raise CheckpointError(f"{self.path / name} is missing")
        return parse_json(self.files[name], str(self.path / name))

    def arrays(self, name: str) -> dict[str, np.ndarray]:
        if name not in self.files:
            raise CheckpointError(f"{self.path / name} is missing")
        return arrays_from_bytes(self.files[name], str(self.path / name))


def _read_regular(path: Path, limit: int | None = None) -> bytes:
    if path.is_symlink() or not path.is_file():
        raise CheckpointError(f"{path} is missing or not a regular file")
    size = path.stat().st_size
    if limit is not None and size != limit:
        raise CheckpointError(f"{path} has {size} bytes, meta.json recorded {limit} (truncated or modified)")
    return path.read_bytes()


def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read and verify a checkpoint directory; ``CheckpointError`` says exactly what is wrong."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path} is not a checkpoint directory")
    marker_path = path / MARKER
    if not marker_path.exists() and not marker_path.is_symlink():
        raise CheckpointError(f"{path} has no {MARKER} marker (the write was interrupted)")
    unexpected = sorted(p.name for p in path.iterdir() if p.name not in ALLOWED_NAMES)
    if unexpected:
        # Nothing but sphgym's own files is ever read from a checkpoint; a stray .pkl/.npy/... means the folder
        # was assembled by something else, so the whole checkpoint is refused rather than trusted in part.
        raise CheckpointError(
            f"{path} contains unexpected file(s) {unexpected}; a checkpoint holds only {sorted(ALLOWED_NAMES)}. "
            "Refusing to load it"
        )
    try:
        marker = parse_json(_read_regular(marker_path, None) or b"null", str(marker_path))
    except CheckpointError:
        raise CheckpointError(f"{marker_path} is corrupt") from None
    meta_data = _read_regular(path / META)
    if not isinstance(marker, dict) or marker.get("meta_sha256") != sha256_bytes(meta_data):
        raise CheckpointError(f"{path / META} does not match the digest in {MARKER} (corrupt or modified)")
    meta = parse_json(meta_data, str(path / META))
    if not isinstance(meta, dict) or not isinstance(meta.get("files"), dict):
        raise CheckpointError(f"{path / META} has no file list")
    if meta.get("format_version") != FORMAT_VERSION:
        # Intact but from another sphgym: not "corrupt" (an older checkpoint would not help), so not skipped.
        raise IncompatibleCheckpointError(
            f"{path} has checkpoint format version {meta.get('format_version')!r} (written by sphgym "
            f"{(meta.get('versions') or {}).get('sphgym', '?')}); this sphgym reads version {FORMAT_VERSION}"
        )
    files: dict[str, bytes] = {}
    for name, entry in meta["files"].items():
        if name not in DATA_FILES:
            raise CheckpointError(f"{path / META} names an unexpected file {name!r}; refusing to read it")
        if not isinstance(entry, dict) or type(entry.get("size")) is not int or entry["size"] < 0:  # not a bool
            raise CheckpointError(f"{path / META} has a malformed entry for {name!r}")
        data = _read_regular(path / name, entry["size"])
        if sha256_bytes(data) != entry.get("sha256"):
            raise CheckpointError(f"{path / name} does not match its sha256 in meta.json (corrupt or modified)")
        files[name] = data
    missing = [name for name in REQUIRED_FILES if name not in files]
    if missing:
        raise CheckpointError(f"{path} lacks required file(s) {missing}")
    return Checkpoint(path=path, meta=meta, files=files)


def list_checkpoints(root: str | os.PathLike) -> list[Path]:
    """Checkpoint directories under ``root`` (valid or not), oldest first.

    ``root`` itself must not be a symbolic link, and linked entries in it are ignored: checkpoints are read
    from and written into the run folder only.
    """
    root = Path(root)
    refuse_symlink(root, "checkpoints/ folder")
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and parse_checkpoint_id(p.name)]
    return sorted(found, key=lambda p: parse_checkpoint_id(p.name))


def find_latest_valid(root: str | os.PathLike) -> tuple[Checkpoint | None, list[tuple[Path, str]]]:
    """Newest checkpoint that verifies, plus ``(path, problem)`` for every newer one that did not."""
    problems: list[tuple[Path, str]] = []
    for path in reversed(list_checkpoints(root)):
        try:
            return read_checkpoint(path), problems
        except CheckpointError as exc:
            problems.append((path, str(exc)))
    return None, problems


def newest_valid_id(root: str | os.PathLike) -> str:
    """Id of the newest valid checkpoint under ``root`` for messages ("none" if there is none or it is unreadable)."""
    try:
        latest, _ = find_latest_valid(root)
    except (OSError, RunnerError):
        latest = None
    return latest.id if latest is not None else "none"


def clean_temporaries(root: str | os.PathLike) -> None:
    """Remove leftovers of interrupted writes/deletes (only while holding the run lock)."""
    root = Path(root)
    if not root.is_dir():
        return
    for path in root.iterdir():
        if path.name.startswith((".tmp-", ".trash-")):
            remove_leftover(path)


def is_checkpoint_dir(path: str | os.PathLike) -> bool:
    """Whether ``path`` is (or was meant to be) one checkpoint directory rather than a run folder."""
    path = Path(path)
    return (path / MARKER).exists() or (path / META).exists() or (
        bool(parse_checkpoint_id(path.name)) and path.parent.name == "checkpoints"
    )


def stray_entries(root: str | os.PathLike) -> list[Path]:
    """Entries of ``checkpoints/`` named like a checkpoint that are not checkpoint folders (files, links)."""
    root = Path(root)
    if not root.is_dir() or root.is_symlink():
        return []
    return sorted(
        p for p in root.iterdir() if parse_checkpoint_id(p.name) and (p.is_symlink() or not p.is_dir())
    )


def rotate(root: str | os.PathLike, keep: int, protect: Path | None = None) -> list[Path]:
    """Delete all but the newest ``keep`` checkpoints (never ``protect``); returns what was removed."""
    paths = list_checkpoints(root)
    removed = []
    for path in paths[: max(0, len(paths) - keep)]:
        if protect is not None and path.resolve() == Path(protect).resolve():
            continue
        remove_tree(path)
        removed.append(path)
    return removed


# ---------------------------------------------------------------------- applying what was read

# Errors that restoring a checkpoint's content may raise when a file is well-formed on disk (digests match) but
# its content does not fit (crafted, or written by a buggy tool): reported as a CheckpointError naming the file.
_LOAD_ERRORS = (
    KeyError,
    TypeError,
    ValueError,
    IndexError,
    AttributeError,
    OverflowError,
    RecursionError,
    RuntimeError,
)


@contextmanager
def loading(path: Path, what: str) -> Iterator[None]:
    """Turn any error raised while applying the content of ``path`` into a ``CheckpointError`` naming it."""
    try:
        yield
    except RunnerError:
        raise
    except _LOAD_ERRORS as exc:
        detail = f"missing entry {exc.args[0]!r}" if isinstance(exc, KeyError) and exc.args else str(exc)
        raise CheckpointError(
            f"{path} cannot be used ({what}): {type(exc).__name__}: {detail or 'invalid content'}"
        ) from exc


# ---------------------------------------------------------------------- observation <-> arrays


def obs_to_arrays(obs: Any, prefix: str = "obs") -> tuple[Any, dict[str, np.ndarray]]:
    """Encode an observation as (structure description, arrays) for ``runner.safetensors``."""
    if obs is None:
        return None, {}
    if isinstance(obs, dict):
        kinds, arrays = {}, {}
        for key in obs:
            kinds[key], sub = obs_to_arrays(obs[key], f"{prefix}.{key}")
            arrays.update(sub)
        return {"type": "dict", "items": kinds}, arrays
    if isinstance(obs, tuple):
        kinds, arrays = [], {}
        for i, item in enumerate(obs):
            kind, sub = obs_to_arrays(item, f"{prefix}.{i}")
            kinds.append(kind)
            arrays.update(sub)
        return {"type": "tuple", "items": kinds}, arrays
    if isinstance(obs, bool):
        return {"type": "bool"}, {prefix: np.asarray(obs, dtype=np.bool_)}
    if isinstance(obs, int):
        return {"type": "int"}, {prefix: np.asarray(obs, dtype=np.int64)}
    if isinstance(obs, float):
        return {"type": "float"}, {prefix: np.asarray(obs, dtype=np.float64)}
    array = np.asarray(obs)
    return {"type": "array", "scalar": isinstance(obs, np.generic)}, {prefix: array}


def obs_from_arrays(kind: Any, arrays: dict[str, np.ndarray], prefix: str = "obs") -> Any:
    """Inverse of ``obs_to_arrays``."""
    if kind is None:
        return None
    kind_type = kind["type"]
    if kind_type == "dict":
        return {key: obs_from_arrays(sub, arrays, f"{prefix}.{key}") for key, sub in kind["items"].items()}
    if kind_type == "tuple":
        return tuple(obs_from_arrays(sub, arrays, f"{prefix}.{i}") for i, sub in enumerate(kind["items"]))
    array = arrays[prefix]
    if kind_type == "bool":
        return bool(array)
    if kind_type == "int":
        return int(array)
    if kind_type == "float":
        return float(array)
    return array[()] if kind.get("scalar") else array.copy()


# ---------------------------------------------------------------------- background writes


class BackgroundWriter:
    """Runs checkpoint disk work in one background thread, one job at a time; re-raises its errors later."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def _run(self, job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as exc:
            self._error = exc

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def failed(self) -> bool:
        """The last job raised (``wait()`` re-raises it); checked at every episode end, so a failed periodic
        checkpoint stops the run at once instead of at the next checkpoint."""
        return self._error is not None

    def submit(self, job: Callable[[], None]) -> None:
        self.wait()
        self._thread = threading.Thread(target=self._run, args=(job,), name="sphgym-checkpoint", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def join_quietly(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
