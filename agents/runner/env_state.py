"""The runner's single door to ``envs``: making an env and capturing / restoring its state.

Capture and restore are ``envs.capture``'s (owned by the envs package); the runner calls them through this
module (tests monkeypatch ``can_capture_episode_state`` here to force the replay-from-boundary fallback).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import gymnasium as gym
import numpy as np

from agents.runner.errors import EnvCreationError, RunnerError
from envs import capture as _capture
from envs import make_env as _make_env
from envs.errors import UnknownEnvironmentError

# numpy bit generators an env snapshot may name (anything else is refused before envs.capture looks it up).
BIT_GENERATORS = frozenset({"PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64"})
# Environment variable listing modules (comma-separated) that a run folder's ``module:EnvId`` may import.
TRUSTED_MODULES_VAR = "SPHGYM_TRUSTED_ENV_MODULES"

# Envs whose RNG is consumed only by reset(): the env RNG can be rebuilt by replaying one seeded reset plus
# one reset per episode started (used when a checkpoint lacks the env snapshot).
RESET_ONLY_RNG_ENVS = frozenset({"CartPole-v0", "CartPole-v1"})


def make_env(env_id: str, env_kwargs: dict[str, Any], *, from_file: bool = False) -> gym.Env:
    """Build the run's env. ``from_file``: the id was read from a run folder (resume, eval, verify).

    Gymnasium imports the module of a ``"module:EnvId"`` id, which runs its code. An id typed by the user (a
    fresh run) may do that; an id read from a run folder may not, unless the module is already imported or
    listed in ``$SPHGYM_TRUSTED_ENV_MODULES``: a crafted ``config.json`` must not be able to run code.
    """
    if from_file and isinstance(env_id, str) and ":" in env_id:
        module = env_id.split(":", 1)[0]
        trusted = {m.strip() for m in os.environ.get(TRUSTED_MODULES_VAR, "").split(",") if m.strip()}
        if module not in sys.modules and module not in trusted:
            raise RunnerError(
                f"The run's config names env {env_id!r}, which would import the Python module {module!r} "
                "(running its code). sphgym does not import modules named by files it reads. If you trust "
                f"this run folder, allow it: {TRUSTED_MODULES_VAR}={module} and run the command again."
            )
    try:
        return _make_env(env_id, **env_kwargs)
    except (RunnerError, gym.error.Error, UnknownEnvironmentError):
        raise  # already a clear message (unknown id, Box2D/MuJoCo not installed, ...)
    except Exception as exc:
        raise EnvCreationError(env_error_message(env_id, env_kwargs, exc)) from exc


def env_error_message(env_id: str, env_kwargs: dict[str, Any], exc: BaseException) -> str:
    """One line for an env that could not be made: a module that is missing, or arguments the env refused."""
    detail = " ".join(f"{type(exc).__name__}: {exc}".split())
    if isinstance(exc, ImportError):
        module = getattr(exc, "name", None)
        if ":" in env_id and isinstance(exc, ModuleNotFoundError):
            return (
                f"env id {env_id!r} names the Python module {env_id.split(':', 1)[0]!r}, which cannot be imported "
                f"({detail}): check the part before ':' or install the package that provides it"
            )
        what = f"the Python module {module!r}" if module else "a Python package"
        return (
            f"env {env_id!r} needs {what}, which is not installed ({detail}): install it, or choose another env"
        )
    if env_kwargs:
        return (
            f"cannot make env {env_id!r} with env_kwargs {env_kwargs!r} ({detail}): give only arguments the env "
            "accepts, with values of the right type (see the env's documentation); fix or drop them with "
            "--set env_kwargs.NAME=VALUE or the [env_kwargs] table of the config file"
        )
    return f"cannot make env {env_id!r} ({detail}): check the env's documentation and dependencies"


def make_run_env(config: Any, *, from_file: bool = False, log: Any = None) -> gym.Env:
    """``make_env`` for a run's config, with ``config.episode_step_limit`` applied if the env has no limit.

    Args:
        config: The ``RunConfig``.
        from_file: As for ``make_env``.
        log: Called with one line when the default limit is applied (``None``: silent).
    """
    env = make_env(config.env_id, dict(config.env_kwargs), from_file=from_file)
    limit = config.episode_step_limit
    if limit and not has_time_limit(env):
        env = gym.wrappers.TimeLimit(env, max_episode_steps=limit)
        if log is not None:
            log(
                f"Note: {config.env_id} has no episode step limit of its own: episodes are truncated after {limit} "
                "steps (episode_step_limit; change it with --set episode_step_limit=N, 0 = none)."
            )
    return env


def has_time_limit(env: gym.Env) -> bool:
    """Whether a ``TimeLimit`` wrapper is anywhere in ``env``'s wrapper stack."""
    while isinstance(env, gym.Wrapper):
        if isinstance(env, gym.wrappers.TimeLimit):
            return True
        env = env.env
    return False


def capture_env_state(env: gym.Env) -> dict[str, Any]:
    """The env's snapshot; for N envs, each sub-env's plus the vector's autoreset flags."""
    if is_vector(env):
        return _capture_vector(env)
    return dict(_capture.capture_env_state(env))


def restore_env_state(env: gym.Env, snapshot: dict[str, Any]) -> None:
    if is_vector(env):
        _restore_vector(env, snapshot)
        return
    _check_bit_generators(snapshot)
    _capture.restore_env_state(env, snapshot)


def _check_bit_generators(value: Any, depth: int = 0) -> None:
    """Every ``bit_generator`` named in a snapshot must be one of numpy's (the name is looked up, then called)."""
    if depth > 64:
        raise ValueError("env snapshot is nested too deeply")
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "bit_generator" and isinstance(item, str) and item not in BIT_GENERATORS:
                raise ValueError(f"env snapshot names an unknown numpy bit generator {item!r}")
            _check_bit_generators(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_bit_generators(item, depth + 1)


def can_capture_episode_state(env: gym.Env) -> bool:
    return all(bool(_capture.can_capture_episode_state(sub)) for sub in sub_envs(env))


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


# ---------------------------------------------------------------------- N envs (RunConfig.n_envs > 1)
VECTOR_SNAPSHOT_FORMAT = "sphgym.vector_env_snapshot"


def make_run_vector_env(config: Any, *, from_file: bool = False, log: Any = None) -> gym.vector.SyncVectorEnv:
    """``config.n_envs`` copies of ``make_run_env`` in a ``SyncVectorEnv`` with Gymnasium 1.x's default
    next-step autoreset: the step after a sub-env's episode ended resets it (its action is ignored, reward 0,
    terminated and truncated False), so a transition never spans two episodes. The default-limit note is
    logged once."""

    def thunk(index: int) -> Any:
        return lambda: make_run_env(config, from_file=from_file, log=log if index == 0 else None)

    return gym.vector.SyncVectorEnv(
        [thunk(i) for i in range(config.n_envs)], autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP
    )


def is_vector(env: Any) -> bool:
    return isinstance(env, gym.vector.VectorEnv)


def sub_envs(env: Any) -> list[gym.Env]:
    """The single envs of ``env`` (itself for a plain env), in index order."""
    return list(env.envs) if is_vector(env) else [env]


def seed_spaces(env: Any, action_seed: int, observation_seed: int) -> None:
    """Seed every (sub-)env's action and observation space: sub-env ``i`` gets seed + i (one env: the seeds)."""
    for i, sub in enumerate(sub_envs(env)):
        sub.action_space.seed(action_seed + i)
        sub.observation_space.seed(observation_seed + i)


def env_spec(env: Any) -> Any:
    """The (first sub-)env's ``EnvSpec`` (a ``SyncVectorEnv`` has none of its own)."""
    return sub_envs(env)[0].spec


def autoresetting(env: gym.vector.SyncVectorEnv) -> np.ndarray:
    """Which sub-envs take a reset step at the next ``step`` (their previous step ended an episode)."""
    return np.array(env._autoreset_envs, dtype=bool)


def _capture_vector(env: gym.vector.SyncVectorEnv) -> dict[str, Any]:
    envs = [capture_env_state(sub) for sub in env.envs]
    return {
        "format": VECTOR_SNAPSHOT_FORMAT,
        "n_envs": env.num_envs,
        "autoreset": [bool(b) for b in autoresetting(env)],
        "episode_state_captured": all(e.get("episode_state_captured", False) for e in envs),
        "envs": envs,
    }


def _restore_vector(env: gym.vector.SyncVectorEnv, snapshot: dict[str, Any]) -> None:
    """Every sub-env's snapshot, then the autoreset flags; ``ValueError`` if it does not fit (the resume stops)."""
    n = env.num_envs
    envs, autoreset = snapshot.get("envs"), snapshot.get("autoreset")
    if snapshot.get("format") != VECTOR_SNAPSHOT_FORMAT or snapshot.get("n_envs") != n:
        raise ValueError(f"the env snapshot is not one of {n} vectorised envs (n_envs differs or format unknown)")
    if not (isinstance(envs, list) and len(envs) == n and all(isinstance(e, dict) for e in envs)):
        raise ValueError(f"the vector env snapshot must list {n} env snapshots")
    if not (isinstance(autoreset, list) and len(autoreset) == n and all(isinstance(b, bool) for b in autoreset)):
        raise ValueError(f"the vector env snapshot's autoreset must be {n} booleans")
    for sub, sub_snapshot in zip(env.envs, envs, strict=True):
        restore_env_state(sub, sub_snapshot)
    env._autoreset_envs = np.array(autoreset, dtype=bool)
