"""Applying a verified checkpoint to freshly built objects: the observation, the env, the global RNGs.

Digests prove a file is what was written; its content is still checked as it is applied (a crafted checkpoint
with matching digests, or one from a buggy tool): any problem is a ``CheckpointError`` naming the file. Notes
that do not stop a resume (an older checkpoint without ``env.json`` / ``rng.json``) go to ``warn``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from agents.runner import env_state
from agents.runner.checkpoint import ENV_JSON, RNG_JSON, RUNNER_ARRAYS, Checkpoint, loading, obs_from_arrays
from agents.runner.errors import CheckpointError
from agents.runner.rng_state import restore_global_rng
from agents.runner.run_state import RunState
from agents.runner.tracking import EpisodeTracker

Warn = Callable[[str], None]


def restore_runner_arrays(ckpt: Checkpoint, state: RunState, tracker: EpisodeTracker, space: gym.Space) -> Any:
    """Load the tracker's window into ``tracker``; return the saved observation (``None`` at a boundary)."""
    with loading(ckpt.path / RUNNER_ARRAYS, "episode statistics and observation"):
        arrays = ckpt.arrays(RUNNER_ARRAYS)
        tracker.load(state.tracker, arrays)
        obs = obs_from_arrays(state.obs_kind, arrays)
        if state.in_episode and obs is None:
            raise ValueError("the checkpoint is mid-episode but holds no observation")
        if obs is not None and hasattr(space, "shape") and space.shape is not None:
            if np.shape(obs) != tuple(space.shape):
                raise ValueError(f"the observation has shape {np.shape(obs)}, the env's observations {space.shape}")
    return obs


def restore_env(env: gym.Env, ckpt: Checkpoint, state: RunState, env_id: str, warn: Warn) -> bool:
    """Restore ``env`` from the checkpoint's snapshot, or (lacking one) rebuild a reset-only env RNG.

    Returns:
        Whether the env counts as already reset with its seed (``False``: it restarts from its seed).
    """
    if ckpt.has(ENV_JSON):
        with loading(ckpt.path / ENV_JSON, "env snapshot"):
            snapshot = ckpt.json(ENV_JSON)
            if snapshot is None and state.env_reset_done:
                # The writer saves null only before the first reset; after it, null would restart the env from
                # its seed and the resumed run would silently diverge from the one that was interrupted.
                raise ValueError(
                    "the env snapshot is null but runner.json says the env was already reset: the resumed run "
                    "could not continue the same trajectory"
                )
            if snapshot is not None:
                if not isinstance(snapshot, dict):
                    raise ValueError("an env snapshot must be a JSON object")
                if state.in_episode and not snapshot.get("episode_state_captured", False):
                    raise CheckpointError(f"{ckpt.path} is mid-episode but its env snapshot lacks the episode state")
                env_state.restore_env_state(env, snapshot)
        return state.env_reset_done
    if state.in_episode:
        raise CheckpointError(
            f"Checkpoint {ckpt.path.name} is mid-episode and has no env.json: the env state cannot be restored."
        )
    if env_id in env_state.RESET_ONLY_RNG_ENVS:
        resets = state.episode
        env_state.reconstruct_env_rng(env, state.seeds["env"], resets)
        warn(
            f"Checkpoint {ckpt.path.name} has no env.json: rebuilt the {env_id} RNG by replaying one seeded reset "
            f"and {max(0, resets - 1)} more (its RNG is only used by reset). Exact if the run had no other env "
            "resets."
        )
        return state.env_reset_done
    warn(
        f"Checkpoint {ckpt.path.name} has no env.json and the RNG of {env_id} cannot be rebuilt: the env restarts "
        "from its seed, so the resumed run will NOT match an uninterrupted one."
    )
    return False


def restore_global_rngs(ckpt: Checkpoint, warn: Warn) -> None:
    """Restore Python's, numpy's and torch's global RNGs (call last: building objects may draw from them)."""
    if not ckpt.has(RNG_JSON):
        warn(
            f"Checkpoint {ckpt.path.name} has no rng.json: the global Python/numpy/torch RNGs are NOT restored; the "
            "run continues but is exact only if nothing draws from them."
        )
        return
    with loading(ckpt.path / RNG_JSON, "global RNG states"):
        for note in restore_global_rng(ckpt.json(RNG_JSON)):
            warn(note)
