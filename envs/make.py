"""``make_env``: ``gymnasium.make`` with a helpful error for an unknown id."""

from __future__ import annotations

import difflib
from typing import Any

import gymnasium as gym

from envs.errors import UnknownEnvironmentError

__all__ = ["list_env_ids", "make_env"]

# gymnasium's DependencyNotInstalled names its own extra; ours installs the same packages with sphgym.
_SPHGYM_EXTRAS = {
    "box2d": 'pip install "sphgym[box2d]" (from a checkout: pip install -e ".[box2d]")',
    "minigrid": 'pip install "sphgym[minigrid]" (from a checkout: pip install -e ".[minigrid]")',
}

_HOW_TO_LIST = 'list every id with: python -c "import envs, gymnasium; gymnasium.pprint_registry()"'


def list_env_ids() -> list[str]:
    """Return every environment id registered with Gymnasium (sphgym's included), sorted."""
    return sorted(gym.registry)


def _close_matches(env_id: str, n: int = 5) -> list[str]:
    ids = list(gym.registry)
    by_lower: dict[str, list[str]] = {}
    for i in ids:
        by_lower.setdefault(i.lower(), []).append(i)
    matches = list(by_lower.get(env_id.lower(), []))
    for lower in difflib.get_close_matches(env_id.lower(), list(by_lower), n=n, cutoff=0.6):
        matches.extend(m for m in by_lower[lower] if m not in matches)
    return matches[:n]


def make_env(env_id: str, **kwargs: Any) -> gym.Env:
    """Create an environment with ``gymnasium.make(env_id, **kwargs)``.

    The kwargs are recorded in ``env.spec.kwargs`` (Gymnasium does that), so the env can be rebuilt from its
    spec. sphgym's own envs (``sphgym/...``) are registered when ``envs`` is imported.

    Args:
        env_id: A registered id such as ``"CartPole-v1"`` or ``"sphgym/CartPoleNoVelocity-v0"`` (the
            ``"module:Id"`` form that imports a module first is passed through to Gymnasium).
        **kwargs: Passed to ``gymnasium.make`` (e.g. ``max_episode_steps``, ``render_mode``, env arguments).

    Returns:
        The env with Gymnasium's default wrappers.

    Raises:
        UnknownEnvironmentError: If ``env_id`` is not registered; the message lists close matches and how to
            list all ids.
        gymnasium.error.DependencyNotInstalled: If the env needs an optional package (Box2D for
            LunarLander); the message names sphgym's extra that installs it.
        TypeError: If ``env_id`` is not a string.

    Example:
        >>> make_env("CartPole-v2")
        Traceback (most recent call last):
        ...
        envs.errors.UnknownEnvironmentError: unknown environment id 'CartPole-v2'; did you mean ...
    """
    if not isinstance(env_id, str):
        raise TypeError(
            f"env_id must be a string such as 'CartPole-v1', got {type(env_id).__name__} {env_id!r}"
        )
    if ":" not in env_id and env_id not in gym.registry:
        matches = _close_matches(env_id)
        hint = f"did you mean {', '.join(repr(m) for m in matches)}?" if matches else "no close matches"
        raise UnknownEnvironmentError(f"unknown environment id {env_id!r}; {hint} ({_HOW_TO_LIST})")
    try:
        return gym.make(env_id, **kwargs)
    except gym.error.DependencyNotInstalled as exc:
        for extra, command in _SPHGYM_EXTRAS.items():
            if extra in str(exc).lower():
                message = f"{env_id} needs {extra}, which is not installed: {command}"
                raise gym.error.DependencyNotInstalled(message) from exc
        raise
