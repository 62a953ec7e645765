"""The run folder: the name of every file and folder in it, and the reads and writes of the folder as a whole.

One owner for the layout (README "Exact resumption: what is saved and where")::

    <run>/config.json  episodes.csv  run.lock  events.out.tfevents.*  checkpoints/<id>/  best/

The content of one checkpoint directory is ``agents.runner.checkpoint``'s; the lines of ``episodes.csv`` are
``agents.runner.episode_log``'s. Everything else that knows a name in the folder imports it from here.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.runner.checkpoint import (
    CONFIG_JSON,
    CheckpointError,
    arrays_from_bytes,
    find_latest_valid,
    json_bytes,
    loading,
    parse_json,
)
from agents.runner.config import RunConfig
from agents.runner.errors import RunnerError
from agents.runner.fsutil import atomic_write_bytes, read_regular_file, refuse_symlink, remove_tree, sha256_bytes

CONFIG_FILE = "config.json"
EPISODES_CSV = "episodes.csv"
LOCK_NAME = "run.lock"
CHECKPOINTS_DIR = "checkpoints"
BEST_DIR = "best"
BEST_WEIGHTS = "weights.safetensors"
BEST_INFO = "best.json"
EVENTS_PREFIX = "events.out.tfevents."
DEFAULT_RUNS_ROOT = Path("runs")
DEFAULT_SWEEPS_ROOT = Path("sweeps")

# What a run folder may hold under these names: real files/folders, never links (see fsutil.refuse_symlink).
RUN_ENTRIES = {
    CONFIG_FILE: "run config",
    EPISODES_CSV: "episode log",
    LOCK_NAME: "lock file",
    CHECKPOINTS_DIR: "checkpoints/ folder",
    BEST_DIR: "best/ folder",
}
# A folder holding any of these holds a run: a fresh run into it is refused without --overwrite.
RUN_MARKERS = (CONFIG_FILE, CHECKPOINTS_DIR, EPISODES_CSV)


def holds_a_run(run_dir: str | Path) -> bool:
    """True if ``run_dir`` holds (part of) a run: a config, checkpoints or an episode log."""
    return any((Path(run_dir) / name).exists() for name in RUN_MARKERS)


def check_entries(run_dir: str | Path) -> None:
    """``RunnerError`` if any file or folder the runner uses in ``run_dir`` is a symbolic link."""
    for name, what in RUN_ENTRIES.items():
        refuse_symlink(Path(run_dir) / name, what)


def read_config(run_dir: str | Path) -> RunConfig | None:
    """The ``config.json`` of a run folder (``None`` if there is none), read safely.

    Unlike ``load_run_config`` (for config files the user names), this refuses a symbolic link or a FIFO in
    place of the file and any JSON naming a class: ``CheckpointError``/``RunnerError`` with the reason.
    """
    path = Path(run_dir) / CONFIG_FILE
    if not path.exists() and not path.is_symlink():
        return None
    try:
        return RunConfig.from_dict(parse_json(read_regular_file(path, "run config"), str(path)))
    except (OSError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{path} is unreadable or invalid: {exc}") from None


def read_run_config(run_dir: str | Path) -> RunConfig:
    """The run's config: its ``config.json``, else (an older or damaged folder) the newest valid checkpoint's.

    Raises:
        CheckpointError: Neither exists or can be read.
    """
    saved = read_config(run_dir)
    if saved is not None:
        return saved
    latest, _ = find_latest_valid(Path(run_dir) / CHECKPOINTS_DIR)
    if latest is None:
        raise CheckpointError(f"{str(run_dir)!r} has no config.json and no valid checkpoint.")
    with loading(latest.path / CONFIG_JSON, "run config"):
        return RunConfig.from_dict(latest.json(CONFIG_JSON))


def write_config(run_dir: str | Path, config: RunConfig) -> None:
    atomic_write_bytes(Path(run_dir) / CONFIG_FILE, json_bytes(config.to_dict()))


def resume_command(run_dir: str | Path) -> str:
    """The shell command that continues the run in ``run_dir``."""
    return f"sphgym resume {shlex.quote(str(run_dir))}"


def remove_run(run_dir: str | Path) -> None:
    """Delete a previous run's files (``--overwrite``); the lock and unrelated files stay."""
    run_dir = Path(run_dir)
    for name in (CHECKPOINTS_DIR, BEST_DIR):
        remove_tree(run_dir / name)
    for path in list(run_dir.iterdir()):
        if path.name in (CONFIG_FILE, EPISODES_CSV) or path.name.startswith(EVENTS_PREFIX):
            path.unlink()


# ---------------------------------------------------------------------- best/


@dataclass(frozen=True)
class BestWeights:
    """What ``best/`` holds: the weights at the best rolling mean, and where they were taken."""

    config: RunConfig
    weights: dict[str, np.ndarray]
    episode: int
    global_step: int
    path: Path


def write_best(run_dir: str | Path, weights: bytes, info: dict[str, Any], config: RunConfig) -> None:
    """Replace ``best/`` with ``weights`` (safetensors bytes) and ``best.json`` (``info`` + digest + config)."""
    best_dir = Path(run_dir) / BEST_DIR
    refuse_symlink(best_dir, "best/ folder")
    best_dir.mkdir(exist_ok=True)
    info = dict(info, weights_sha256=sha256_bytes(weights), config=config.to_dict())
    # weights first, then best.json naming its digest: a reader can always tell if they belong together.
    atomic_write_bytes(best_dir / BEST_WEIGHTS, weights)
    atomic_write_bytes(best_dir / BEST_INFO, json_bytes(info))


def is_best_dir(path: str | Path) -> bool:
    return (Path(path) / BEST_INFO).exists()


def read_best(best_dir: str | Path) -> BestWeights:
    """Read and verify a ``best/`` folder (the weights must match the digest in ``best.json``)."""
    best_dir = Path(best_dir)
    info = parse_json(read_regular_file(best_dir / BEST_INFO, BEST_INFO), str(best_dir / BEST_INFO))
    weights_bytes = read_regular_file(best_dir / BEST_WEIGHTS, "best weights")
    if not isinstance(info, dict) or sha256_bytes(weights_bytes) != info.get("weights_sha256"):
        raise CheckpointError(f"{best_dir / BEST_WEIGHTS} does not match the digest in {BEST_INFO}")
    weights = arrays_from_bytes(weights_bytes, str(best_dir / BEST_WEIGHTS))
    with loading(best_dir / BEST_INFO, "best weights record"):
        return BestWeights(
            config=RunConfig.from_dict(info["config"]),
            weights=weights,
            episode=int(info["episode"]),
            global_step=int(info["global_step"]),
            path=best_dir,
        )


# ---------------------------------------------------------------------- curves (sphgym plot)


def read_curve(run_dir: str | Path) -> list[tuple[int, int, float, int]]:
    """``(episode, global_step, return, length)`` of every complete row of the run's ``episodes.csv``.

    Raises:
        RunnerError: ``episodes.csv`` is not a regular file (a FIFO would block), is unreadable, or does not
            start with the expected header.
    """
    from agents.runner.episode_log import read_rows

    path = Path(run_dir) / EPISODES_CSV
    if path.exists() and not path.is_file():  # a FIFO or device would block or never end
        raise RunnerError(f"{path} is not a regular file; refusing to read learning curves from it")
    try:
        return read_rows(path)
    except OSError as exc:
        raise RunnerError(f"cannot read {path}: {exc.strerror or exc}") from None


def run_folders_in(path: str | Path) -> Iterator[Path]:
    """Run folders directly inside ``path`` (those holding an ``episodes.csv``), sorted by name."""
    return iter(sorted(p.parent for p in Path(path).glob(f"*/{EPISODES_CSV}")))


# ---------------------------------------------------------------------- default names


def sanitize(text: str) -> str:
    """A path-safe version of an env id or agent name (``sphgym/CartPoleNoVelocity-v0`` ->
    ``sphgym--CartPoleNoVelocity-v0``)."""
    out = text.replace("/", "--").replace("\\", "--")
    return "".join(c if c.isalnum() or c in "-_.+=" else "_" for c in out).strip(".") or "env"


def _unused(root: Path, base: str) -> Path:
    """``root/base``, or ``root/base-2``, ``-3``, ... when that exists (two runs started in the same second)."""
    candidate, n = root / base, 2
    while candidate.exists():
        candidate, n = root / f"{base}-{n}", n + 1
    return candidate


def default_run_dir(config: Any, root: Path = DEFAULT_RUNS_ROOT) -> Path:
    """``runs/<env>__<agent>__s<seed>__<YYYYmmdd-HHMMSS>``; ``/`` in env ids becomes ``--``; never an
    existing folder (a ``-2``, ``-3``, ... suffix when two runs start in the same second)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return _unused(root, f"{sanitize(config.env_id)}__{sanitize(config.agent)}__s{config.seed}__{stamp}")


def default_sweep_dir(config: Any, root: Path = DEFAULT_SWEEPS_ROOT) -> Path:
    """``sweeps/<env>__<agent>__<YYYYmmdd-HHMMSS>``, never an existing folder."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return _unused(root, f"{sanitize(config.env_id)}__{sanitize(config.agent)}__{stamp}")
