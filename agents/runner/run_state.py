"""``RunState``: the runner's counters and status, as saved in every checkpoint's ``runner.json``.

One owner for that file's schema: the runner builds a ``RunState`` to write it and ``RunState.from_dict``
checks every value (type and range) before a resume uses any of them. The episode tracker's own state (best
metric, early stopping) is a nested table checked by ``EpisodeTracker.load``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

FINAL_STATUSES = ("completed", "solved", "stopped_early")
STATUSES = ("running", "interrupted", "stopped", *FINAL_STATUSES)
# Seeds a checkpoint must name: the owners of RNGs the runner seeds and restores itself.
REQUIRED_SEEDS = frozenset({"agent", "env", "action_space", "observation_space"})


@dataclass(frozen=True)
class RunState:
    """Where a run is: counters, status, seeds, the episode log's position and digest.

    Attributes:
        episode: Finished episodes.
        global_step: Env steps taken in total.
        episode_step: Steps into the current episode (0 at a boundary).
        in_episode: The checkpoint was taken mid-episode (the observation is saved with it).
        episode_return: Return so far in the current episode.
        env_reset_done: The env has been reset with its seed once (later resets are unseeded).
        status: One of ``STATUSES``.
        seeds: Seed of every RNG owner (``RunConfig.derived_seeds``).
        obs_kind: Structure of the saved observation (``checkpoint.obs_to_arrays``), ``None`` at a boundary.
        tracker: ``EpisodeTracker.state_json()``.
        reward_threshold: The "solved" threshold in force (``None``: never solved).
        episodes_csv_rows: Rows of ``episodes.csv`` the checkpoint covers.
        episodes_csv_sha256: Digest of those rows (with the header).
    """

    episode: int
    global_step: int
    episode_step: int
    in_episode: bool
    episode_return: float
    env_reset_done: bool
    status: str
    seeds: dict[str, int]
    obs_kind: Any
    tracker: dict[str, Any]
    reward_threshold: float | None
    episodes_csv_rows: int
    episodes_csv_sha256: str

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``runner.json`` (values exactly as held: an int threshold stays an int)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, info: Any) -> RunState:
        """Check and build; ``ValueError``/``KeyError`` naming the field that does not fit.

        Besides each value's type and range, the counters must agree with each other (a step count inside an
        episode only while in one, never more than the global step).
        """
        if not isinstance(info, dict):
            raise ValueError(f"runner.json must hold an object, got {type(info).__name__}")
        seeds = info["seeds"]
        if not isinstance(seeds, dict):
            raise ValueError(f"seeds must be an object of integers, got {seeds!r}")
        seeds = {str(k): _int(f"seeds.{k}", v) for k, v in seeds.items()}
        missing = REQUIRED_SEEDS - set(seeds)
        if missing:
            raise ValueError(f"seeds lacks {sorted(missing)}")
        status = info["status"]
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        sha = info["episodes_csv_sha256"]
        if not isinstance(sha, str):
            raise ValueError("episodes_csv_sha256 must be a string")
        tracker = info["tracker"]
        if not isinstance(tracker, dict):
            raise ValueError(f"tracker must be an object, got {tracker!r}")
        obs_kind = info["obs_kind"]
        if obs_kind is not None and not isinstance(obs_kind, dict):
            raise ValueError(f"obs_kind must be an object or null, got {obs_kind!r}")
        threshold = info.get("reward_threshold")
        if threshold is not None and not _is_finite_number(threshold):
            raise ValueError(f"reward_threshold must be a finite number or null, got {threshold!r}")
        state = cls(
            episode=_int("episode", info["episode"]),
            global_step=_int("global_step", info["global_step"]),
            episode_step=_int("episode_step", info["episode_step"]),
            in_episode=_bool("in_episode", info["in_episode"]),
            episode_return=_float("episode_return", info["episode_return"]),
            env_reset_done=_bool("env_reset_done", info["env_reset_done"]),
            status=status,
            seeds=seeds,
            obs_kind=obs_kind,
            tracker=tracker,
            reward_threshold=threshold,
            episodes_csv_rows=_int("episodes_csv_rows", info.get("episodes_csv_rows", info["episode"])),
            episodes_csv_sha256=sha,
        )
        if state.episode_step > state.global_step or (state.episode_step and not state.in_episode):
            raise ValueError(f"episode_step {state.episode_step} is inconsistent with the other counters")
        return state


def _int(name: str, value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)
