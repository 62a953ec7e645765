"""The runner's single door to ``envs``: making an env and capturing / restoring its state.

``envs.make_env`` and ``envs.capture`` are owned by the envs developer. Until they exist this module falls back
to ``gymnasium.make`` and a small built-in capture for Gymnasium's classic-control envs, behind the same names,
so switching is a matter of the imports below.
"""

from __future__ import annotations

import importlib
from typing import Any

import gymnasium as gym
import numpy as np

# Envs whose RNG is consumed only by reset(): the env RNG can be rebuilt by replaying one seeded reset plus one
# reset per finished episode (used when a checkpoint lacks the env snapshot).
RESET_ONLY_RNG_ENVS = frozenset({"CartPole-v0", "CartPole-v1"})


def make_env(env_id: str, env_kwargs: dict[str, Any]) -> gym.Env:
    """``envs.make_env`` when available, else ``gymnasium.make`` (same signature semantics)."""
    factory = _envs_attr("make_env")
    if factory is not None:
        return factory(env_id, **env_kwargs)
    return gym.make(env_id, **env_kwargs)


def capture_env_state(env: gym.Env) -> dict[str, Any]:
    capture = _capture_attr("capture_env_state")
    snapshot = capture(env) if capture is not None else _fallback_capture(env)
    return dict(snapshot)


def restore_env_state(env: gym.Env, snapshot: dict[str, Any]) -> None:
    restore = _capture_attr("restore_env_state")
    if restore is not None:
        restore(env, snapshot)
    else:
        _fallback_restore(env, snapshot)


def can_capture_episode_state(env: gym.Env) -> bool:
    check = _capture_attr("can_capture_episode_state")
    if check is not None:
        return bool(check(env))
    return _fallback_can_capture(env)


def env_backend() -> str:
    """Which implementation is in use (recorded in checkpoint metadata)."""
    return "envs.capture" if _capture_attr("capture_env_state") is not None else "runner-fallback"


def reconstruct_env_rng(env: gym.Env, env_seed: int, resets: int) -> None:
    """Rebuild the env RNG of a reset-only-RNG env by replaying ``reset(seed)`` then ``resets - 1`` resets.

    Only valid at an episode boundary, for envs in ``RESET_ONLY_RNG_ENVS`` (their ``step`` draws nothing).
    """
    if resets <= 0:
        return
    env.reset(seed=env_seed)
    for _ in range(resets - 1):
        env.reset()


# ---------------------------------------------------------------------- lookup of the envs package


def _envs_attr(name: str) -> Any:
    try:
        module = importlib.import_module("envs")
    except ImportError:
        return None
    return getattr(module, name, None)


def _capture_attr(name: str) -> Any:
    try:
        module = importlib.import_module("envs.capture")
    except ImportError:
        return None
    return getattr(module, name, None)


# ---------------------------------------------------------------------- fallback (classic control only)

_CLASSIC_EPISODE_ATTRS = {
    "CartPoleEnv": ("state", "steps_beyond_terminated"),
    "AcrobotEnv": ("state",),
    "MountainCarEnv": ("state",),
    "Continuous_MountainCarEnv": ("state",),
    "PendulumEnv": ("state", "last_u"),
}


def _generator_state(generator: np.random.Generator | None) -> dict | None:
    return None if generator is None else generator.bit_generator.state


def _encode_value(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"ndarray": value.tolist(), "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, np.generic):
        return {"scalar": value.item(), "dtype": str(value.dtype)}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and "ndarray" in value:
        return np.asarray(value["ndarray"], dtype=value["dtype"]).reshape(value["shape"])
    if isinstance(value, dict) and "scalar" in value:
        return np.dtype(value["dtype"]).type(value["scalar"])
    return value


def _elapsed_steps(env: gym.Env) -> Any:
    try:
        return env.get_wrapper_attr("_elapsed_steps")
    except AttributeError:
        return None


def _fallback_can_capture(env: gym.Env) -> bool:
    return type(env.unwrapped).__name__ in _CLASSIC_EPISODE_ATTRS


def _fallback_capture(env: gym.Env) -> dict[str, Any]:
    unwrapped = env.unwrapped
    snapshot: dict[str, Any] = {
        "np_random": _generator_state(unwrapped._np_random),
        "action_space": _generator_state(env.action_space._np_random),
        "observation_space": _generator_state(env.observation_space._np_random),
        "elapsed_steps": _elapsed_steps(env),
        "episode_state_captured": False,
    }
    attrs = _CLASSIC_EPISODE_ATTRS.get(type(unwrapped).__name__)
    if attrs is not None:
        snapshot["episode_state"] = {name: _encode_value(getattr(unwrapped, name, None)) for name in attrs}
        snapshot["episode_state_captured"] = True
    return snapshot


def _fallback_restore(env: gym.Env, snapshot: dict[str, Any]) -> None:
    unwrapped = env.unwrapped
    if snapshot.get("elapsed_steps") is not None or snapshot.get("episode_state_captured"):
        env.reset(seed=0)  # sets OrderEnforcing/TimeLimit/checker flags; everything it touched is overwritten below
    for key, space in (("action_space", env.action_space), ("observation_space", env.observation_space)):
        if snapshot.get(key) is not None:
            space.np_random.bit_generator.state = snapshot[key]
    if snapshot.get("np_random") is not None:
        unwrapped.np_random.bit_generator.state = snapshot["np_random"]
    if snapshot.get("elapsed_steps") is not None:
        env.set_wrapper_attr("_elapsed_steps", snapshot["elapsed_steps"])
    if snapshot.get("episode_state_captured"):
        for name, value in snapshot["episode_state"].items():
            setattr(unwrapped, name, _decode_value(value))
