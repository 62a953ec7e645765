"""The runner's single door to ``envs``: making an env and capturing / restoring its state.

Capture and restore are ``envs.capture``'s (owned by the envs package); the runner calls them through this
module (tests monkeypatch ``can_capture_episode_state`` here to force the replay-from-boundary fallback).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from envs import capture as _capture
from envs import make_env as _make_env

# Envs whose RNG is consumed only by reset(): the env RNG can be rebuilt by replaying one seeded reset plus
# one reset per episode started (used when a checkpoint lacks the env snapshot).
RESET_ONLY_RNG_ENVS = frozenset({"CartPole-v0", "CartPole-v1"})


def make_env(env_id: str, env_kwargs: dict[str, Any]) -> gym.Env:
    return _make_env(env_id, **env_kwargs)


def capture_env_state(env: gym.Env) -> dict[str, Any]:
    return dict(_capture.capture_env_state(env))


def restore_env_state(env: gym.Env, snapshot: dict[str, Any]) -> None:
    _capture.restore_env_state(env, snapshot)


def can_capture_episode_state(env: gym.Env) -> bool:
    return bool(_capture.can_capture_episode_state(env))


def env_backend() -> str:
    """Which implementation captured the env (recorded in checkpoint metadata)."""
    return f"envs.capture v{_capture.SNAPSHOT_VERSION}"


def reconstruct_env_rng(env: gym.Env, env_seed: int, resets: int) -> None:
    """Rebuild the env RNG of a reset-only-RNG env by replaying ``reset(seed)`` then ``resets - 1`` resets.

    Valid at an episode boundary only, for envs in ``RESET_ONLY_RNG_ENVS`` (their ``step`` draws nothing).
    """
    if resets <= 0:
        return
    env.reset(seed=env_seed)
    for _ in range(resets - 1):
        env.reset()
