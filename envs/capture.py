"""Capture and restore a Gymnasium env's state, for exact resumption of a run mid-episode.

A snapshot (:data:`EnvSnapshot`) is plain JSON-able data (``json.loads(json.dumps(s)) == s``) holding:

* ``np_random``: the base env's ``np_random.bit_generator.state`` (or None if the env never created one) and
  ``np_random_seed``;
* ``action_space`` / ``observation_space``: each space's RNG state, recursively for Dict/Tuple sub-spaces, or
  None where the space never created one (capturing never creates one: ``Space.np_random`` would, from OS
  entropy);
* ``wrapper_state``: per wrapper, outermost first: ``TimeLimit._elapsed_steps`` (``_max_episode_steps`` is
  checked on restore), ``OrderEnforcing._has_reset``, ``PassiveEnvChecker``'s checked-flags;
* ``episode_state``: for env classes registered here (CartPole, Acrobot, MountainCar, MountainCarContinuous,
  Pendulum, sphgym's CartPoleNoVelocity and DelayedCue), the attributes that carry an episode, e.g.
  CartPole's float64 ``state`` and ``steps_beyond_terminated``, stored exactly (see :mod:`envs.exact_values`).
  ``episode_state_captured`` is False (and ``episode_state`` None) for any other env class or when a wrapper
  with unknown state sits in the stack; ``not_captured`` says why.

Restoring assigns RNG states in place (``bit_generator.state = ...``) on the env's existing generators, sets
the wrapper counters and the episode attributes. After
``restore_env_state(fresh_env, capture_env_state(env))`` the two envs produce byte-identical trajectories
under the same actions, including through later ``reset()`` calls. When ``episode_state_captured`` is False,
a restore is exact only at an episode boundary (before the next ``reset``): the runner then replays from the
last boundary instead.

Example:
    >>> import json
    >>> from envs.make import make_env
    >>> env = make_env("CartPole-v1"); _ = env.reset(seed=1); _ = env.step(0)
    >>> snapshot = json.loads(json.dumps(capture_env_state(env)))
    >>> other = make_env("CartPole-v1"); _ = other.reset(seed=99)
    >>> restore_env_state(other, snapshot)
    >>> bool((other.step(1)[0] == env.step(1)[0]).all())
    True
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces, wrappers
from gymnasium.envs.classic_control.acrobot import AcrobotEnv
from gymnasium.envs.classic_control.cartpole import CartPoleEnv
from gymnasium.envs.classic_control.continuous_mountain_car import Continuous_MountainCarEnv
from gymnasium.envs.classic_control.mountain_car import MountainCarEnv
from gymnasium.envs.classic_control.pendulum import PendulumEnv

from envs.cartpole_no_velocity import CartPoleNoVelocityEnv
from envs.delayed_cue import DelayedCueEnv
from envs.errors import SnapshotMismatchError
from envs.exact_values import from_plain, to_plain

__all__ = [
    "SNAPSHOT_FORMAT",
    "SNAPSHOT_VERSION",
    "EnvSnapshot",
    "can_capture_episode_state",
    "capture_env_state",
    "register_episode_state",
    "restore_env_state",
]

EnvSnapshot = dict[str, Any]
"""A JSON-able dict produced by :func:`capture_env_state`."""

SNAPSHOT_FORMAT = "sphgym.env_snapshot"
SNAPSHOT_VERSION = 1

_ABSENT = {"type": "absent"}  # attribute not set on the env (e.g. ``state`` before the first reset)

# Exact class -> attributes that hold an episode. Exact type, not isinstance: a subclass may keep more state.
_EPISODE_STATE: dict[type, tuple[str, ...]] = {
    CartPoleEnv: ("state", "steps_beyond_terminated"),
    CartPoleNoVelocityEnv: ("state", "steps_beyond_terminated"),
    AcrobotEnv: ("state",),
    MountainCarEnv: ("state",),
    Continuous_MountainCarEnv: ("state",),
    # ``last_u`` only feeds rendering, but it is episode state all the same.
    PendulumEnv: ("state", "last_u"),
    DelayedCueEnv: ("cue", "steps_taken"),
}

# Wrapper class -> attributes captured and restored.
_WRAPPER_STATE: dict[type, tuple[str, ...]] = {
    wrappers.TimeLimit: ("_elapsed_steps",),
    wrappers.OrderEnforcing: ("_has_reset",),
    # The checker's flags only decide whether a call is checked (warnings); captured for fidelity.
    wrappers.PassiveEnvChecker: (
        "checked_reset",
        "checked_step",
        "checked_render",
        "checked_data_reuse",
        "close_called",
    ),
}

# Wrappers that hold no state between calls (their configuration comes from the env spec).
_STATELESS_WRAPPERS: frozenset[type] = frozenset(
    {
        wrappers.FlattenObservation,
        wrappers.FilterObservation,
        wrappers.ReshapeObservation,
        wrappers.RescaleObservation,
        wrappers.DtypeObservation,
        wrappers.DiscretizeObservation,
        wrappers.ClipAction,
        wrappers.RescaleAction,
        wrappers.DiscretizeAction,
        wrappers.ClipReward,
    }
)


def register_episode_state(env_class: type[gym.Env], attributes: tuple[str, ...]) -> None:
    """Declare which attributes of ``env_class`` hold its whole episode state, so it can be captured.

    Only do this if those attributes (plain numbers, numpy scalars/arrays, tuples of these) plus the env's
    ``np_random`` determine every future step and reset. Subclasses are not covered: register each class.

    Args:
        env_class: The unwrapped env class (exact type).
        attributes: Attribute names, set by ``reset``/``step``.
    """
    _EPISODE_STATE[env_class] = tuple(attributes)


def _name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _wrapper_chain(env: gym.Env) -> list[gym.Env]:
    chain = []
    while isinstance(env, gym.Wrapper):
        chain.append(env)
        env = env.env
    return chain


def _unknown_wrappers(env: gym.Env) -> list[str]:
    return [
        _name(type(w))
        for w in _wrapper_chain(env)
        if type(w) not in _WRAPPER_STATE and type(w) not in _STATELESS_WRAPPERS
    ]


def can_capture_episode_state(env: gym.Env) -> bool:
    """Whether :func:`capture_env_state` captures ``env`` mid-episode exactly.

    True when the unwrapped class is registered (classic control and sphgym's envs) and every wrapper in the
    stack has known state (TimeLimit, OrderEnforcing, PassiveEnvChecker) or none (e.g. FlattenObservation,
    RescaleAction). Anything else is False, and the runner falls back to replay from the last episode
    boundary.

    Args:
        env: The env, wrapped or not.

    Returns:
        True if a mid-episode snapshot restores exactly.
    """
    return type(env.unwrapped) in _EPISODE_STATE and not _unknown_wrappers(env)


# ---- RNG states -------------------------------------------------------------------------------------------


_BIT_GENERATORS = frozenset({"PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64"})


def _rng_state_to_plain(obj: Any) -> Any:
    # PCG64 states are dicts of ints/strings; other bit generators (MT19937, Philox, SFC64) hold arrays.
    if isinstance(obj, dict):
        return {k: _rng_state_to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (np.ndarray, np.generic)):
        return {"__exact__": to_plain(obj)}
    return obj


def _rng_state_from_plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {"__exact__"}:
            return from_plain(obj["__exact__"])
        return {k: _rng_state_from_plain(v) for k, v in obj.items()}
    return obj


def _generator_state(gen: np.random.Generator | None) -> Any:
    return None if gen is None else _rng_state_to_plain(gen.bit_generator.state)


def _restored_generator(current: np.random.Generator | None, plain_state: Any) -> np.random.Generator | None:
    """``current`` with ``plain_state`` assigned in place (a new Generator if none or of another kind)."""
    if plain_state is None:
        return None
    state = _rng_state_from_plain(plain_state)
    kind = state["bit_generator"]
    if current is None or type(current.bit_generator).__name__ != kind:
        # Only numpy's bit generators: the name comes from a file and is called, so never any np.random attribute.
        bit_generator_class = getattr(np.random, kind, None) if kind in _BIT_GENERATORS else None
        if bit_generator_class is None:
            raise ValueError(f"snapshot names an unknown numpy bit generator {kind!r}")
        current = np.random.Generator(bit_generator_class())  # its entropy seed is overwritten next line
    current.bit_generator.state = state
    return current


def _sub_spaces(space: spaces.Space) -> dict[str, spaces.Space]:
    if isinstance(space, spaces.Dict):
        return {str(k): s for k, s in space.spaces.items()}
    if isinstance(space, spaces.Tuple):
        return {str(i): s for i, s in enumerate(space.spaces)}
    return {}


def _space_rng(space: spaces.Space) -> dict[str, Any]:
    # Read ``_np_random`` directly: the ``np_random`` property would create an entropy-seeded generator.
    out: dict[str, Any] = {"rng": _generator_state(space._np_random)}
    children = _sub_spaces(space)
    if children:
        out["children"] = {k: _space_rng(s) for k, s in children.items()}
    return out


def _check_space_rng(space: spaces.Space, plain: dict[str, Any], where: str) -> None:
    children = _sub_spaces(space)
    if set(children) != set(plain.get("children", {})):
        raise SnapshotMismatchError(
            f"{where}: snapshot has sub-spaces {sorted(plain.get('children', {}))}, "
            f"this env has {sorted(children)}"
        )
    for k, s in children.items():
        _check_space_rng(s, plain["children"][k], f"{where}[{k}]")


def _restore_space_rng(space: spaces.Space, plain: dict[str, Any]) -> None:
    space._np_random = _restored_generator(space._np_random, plain["rng"])
    for k, s in _sub_spaces(space).items():
        _restore_space_rng(s, plain["children"][k])


# ---- capture / restore ------------------------------------------------------------------------------------


def capture_env_state(env: gym.Env) -> EnvSnapshot:
    """Capture everything needed to continue ``env`` exactly, as JSON-able plain data.

    Reads attributes only: it never creates a generator or advances one.

    Args:
        env: A Gymnasium env, usually from :func:`envs.make_env`.

    Returns:
        The snapshot (see the module docstring); ``snapshot["episode_state_captured"]`` tells whether a
        mid-episode restore is exact.

    Raises:
        TypeError: If a registered episode attribute holds a value that cannot be stored exactly.
    """
    base = env.unwrapped
    chain = _wrapper_chain(env)
    not_captured: list[str] = []
    wrapper_state: list[dict[str, Any]] = []
    for w in chain:
        attrs = _WRAPPER_STATE.get(type(w), ())
        wrapper_state.append({a: to_plain(getattr(w, a)) for a in attrs})
        if isinstance(w, wrappers.TimeLimit):
            wrapper_state[-1]["_max_episode_steps"] = to_plain(w._max_episode_steps)
    unknown = _unknown_wrappers(env)
    not_captured += [f"wrapper {u}: its state is unknown to envs.capture" for u in unknown]

    episode_state = None
    if type(base) not in _EPISODE_STATE:
        not_captured.append(f"episode state of {_name(type(base))}: class not registered in envs.capture")
    elif not unknown:
        episode_state = {
            a: to_plain(getattr(base, a)) if hasattr(base, a) else dict(_ABSENT)
            for a in _EPISODE_STATE[type(base)]
        }

    return {
        "format": SNAPSHOT_FORMAT,
        "version": SNAPSHOT_VERSION,
        "env_id": base.spec.id if base.spec is not None else None,
        "env_class": _name(type(base)),
        "wrappers": [_name(type(w)) for w in chain],
        "np_random": _generator_state(base._np_random),
        "np_random_seed": base._np_random_seed,
        "action_space": _space_rng(env.action_space),
        "observation_space": _space_rng(env.observation_space),
        "wrapper_state": wrapper_state,
        "episode_state_captured": episode_state is not None,
        "episode_state": episode_state,
        "not_captured": not_captured,
    }


def _check_compatible(env: gym.Env, snapshot: EnvSnapshot) -> None:
    if not isinstance(snapshot, dict) or snapshot.get("format") != SNAPSHOT_FORMAT:
        raise ValueError(
            f"not an env snapshot (expected format {SNAPSHOT_FORMAT!r}); pass capture_env_state()'s result"
        )
    if snapshot.get("version") != SNAPSHOT_VERSION:
        raise ValueError(
            f"env snapshot version {snapshot.get('version')!r} is not supported "
            f"(this code reads version {SNAPSHOT_VERSION})"
        )
    base = env.unwrapped
    env_id = base.spec.id if base.spec is not None else None
    if snapshot["env_id"] != env_id:
        raise SnapshotMismatchError(
            f"the snapshot was captured from env {snapshot['env_id']!r} but this env is {env_id!r}; "
            f"restore it into make_env({snapshot['env_id']!r}, ...) built with the run's kwargs"
        )
    if snapshot["env_class"] != _name(type(base)):
        raise SnapshotMismatchError(
            f"the snapshot was captured from env class {snapshot['env_class']} "
            f"but this env is {_name(type(base))}"
        )
    chain = _wrapper_chain(env)
    names = [_name(type(w)) for w in chain]
    if snapshot["wrappers"] != names:
        raise SnapshotMismatchError(
            f"wrapper stacks differ: snapshot {snapshot['wrappers']}, this env {names}; "
            "build the env the same way "
            "(same make_env kwargs, e.g. disable_env_checker, max_episode_steps)"
        )
    for w, saved in zip(chain, snapshot["wrapper_state"], strict=True):
        if isinstance(w, wrappers.TimeLimit):
            saved_max = from_plain(saved["_max_episode_steps"])
            if saved_max != w._max_episode_steps:
                raise SnapshotMismatchError(
                    f"TimeLimit differs: snapshot max_episode_steps={saved_max}, "
                    f"this env {w._max_episode_steps}; "
                    f"pass make_env(..., max_episode_steps={saved_max})"
                )
    _check_space_rng(env.action_space, snapshot["action_space"], "action_space")
    _check_space_rng(env.observation_space, snapshot["observation_space"], "observation_space")
    if snapshot["episode_state_captured"]:
        attrs = _EPISODE_STATE.get(type(base))
        if attrs is None or set(attrs) != set(snapshot["episode_state"]):
            raise SnapshotMismatchError(
                f"the snapshot's episode state {sorted(snapshot['episode_state'])} does not fit "
                f"{_name(type(base))} (captures {sorted(attrs or ())})"
            )


def restore_env_state(env: gym.Env, snapshot: EnvSnapshot) -> None:
    """Put ``env`` into the state captured in ``snapshot``, in place.

    ``env`` must be built like the captured one (same id, kwargs and wrappers, e.g. by
    ``make_env(env_id, **kwargs)``); whether it has been reset does not matter. Everything is checked before
    anything is changed.

    Args:
        env: The env to restore into.
        snapshot: A snapshot from :func:`capture_env_state` (possibly through JSON).

    Raises:
        SnapshotMismatchError: If the snapshot belongs to another env id, class, wrapper stack or TimeLimit.
        ValueError: If ``snapshot`` is not a snapshot or has an unsupported version.
    """
    _check_compatible(env, snapshot)
    base = env.unwrapped
    base._np_random = _restored_generator(base._np_random, snapshot["np_random"])
    base._np_random_seed = snapshot["np_random_seed"]
    _restore_space_rng(env.action_space, snapshot["action_space"])
    _restore_space_rng(env.observation_space, snapshot["observation_space"])

    for w, saved in zip(_wrapper_chain(env), snapshot["wrapper_state"], strict=True):
        for attr in _WRAPPER_STATE.get(type(w), ()):
            setattr(w, attr, from_plain(saved[attr]))
        if isinstance(w, wrappers.PassiveEnvChecker) and w._previous_data is None:
            # The first checked step compares against the previous (reset) data and fails on None; with none
            # held (env never reset), mark those warning-only checks as done.
            w.checked_step = True
            w.checked_data_reuse = True

    if snapshot["episode_state_captured"]:
        for attr, plain in snapshot["episode_state"].items():
            if plain == _ABSENT:
                if attr in vars(base):
                    delattr(base, attr)
            else:
                setattr(base, attr, from_plain(plain))
