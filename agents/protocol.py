"""The Agent protocol: the small contract between the episode runner and every agent.

The runner drives any agent through one loop::

    obs, _ = env.reset(...)
    agent.clear_state()                      # at every episode start
    while True:
        action = agent.act(obs)
        obs, reward, terminated, truncated, _ = env.step(action)
        agent.observe(obs, reward, terminated, truncated)
        if terminated or truncated:
            break

A checkpoint may be taken between any ``observe`` and the next ``act`` (mid-episode included), so
everything an agent carries from one call to the next must be in ``get_state()``; everything it learns
must be in ``get_weights()``. Both return flat ``name -> numpy array`` dicts (plain data, no pickle) that
the runner stores in safetensors files and digests. Restoring both into a freshly built agent of the
same config must make every later call bit-identical to the original agent's.

An agent keeps its own RNG state in ``get_state()``: under a key containing ``rng``, or under keys it names in an
optional class attribute ``rng_state_keys`` (so that ``sphgym inspect`` can report it).

Optional hooks (``AgentHooks``; an agent may define any of them, the runner asks through the functions below):

- ``rng_state_keys``: names of ``get_state()`` keys that hold the agent's RNG (recorded in ``meta.json``).
- ``runtime_info() -> dict``: settings that must match for a bit-identical resume (thread counts, device,
  ...); recorded in every checkpoint and compared on resume (a difference is a warning).
- ``metrics() -> dict[str, float]``: scalars the runner logs to TensorBoard at every episode end, tag = key
  (e.g. ``"losses/value_loss"``). They must be computed from the agent's weights/state only, so that a resumed
  run logs the same values as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

ArrayDict = dict[str, np.ndarray]


@runtime_checkable
class Agent(Protocol):
    """What the runner needs from an agent. Small on purpose: a torch agent fits it too."""

    learn_enabled: bool
    """When False the agent must not change its weights (its temporal state still moves)."""

    def act(self, obs: Any) -> Any:
        """Return the env action for observation ``obs`` (sampling from the agent's own RNG)."""
        ...

    def observe(self, next_obs: Any, reward: float, terminated: bool, truncated: bool) -> None:
        """Take the outcome of the last action. ``terminated``: no future value; ``truncated``: bootstrap."""
        ...

    def clear_state(self) -> None:
        """Forget temporal context at an episode start; weights and learned statistics stay."""
        ...

    def get_weights(self) -> ArrayDict:
        """Everything learned (incl. slow/target copies, optimiser moments)."""
        ...

    def set_weights(self, arrays: ArrayDict) -> None:
        """Inverse of ``get_weights``; raise ``ValueError`` naming the key on a mismatch."""
        ...

    def get_state(self) -> ArrayDict:
        """Everything else that influences the future: temporal context, buffers, counters, own RNG."""
        ...

    def set_state(self, arrays: ArrayDict) -> None:
        """Inverse of ``get_state``; raise ``ValueError`` naming the key on a mismatch."""
        ...


class AgentHooks(Protocol):
    """The optional part of the contract (see the module docstring); none of it is required."""

    rng_state_keys: Sequence[str]

    def runtime_info(self) -> dict[str, Any]:
        """Settings a bit-identical resume depends on (plain JSON values)."""
        ...

    def metrics(self) -> dict[str, float]:
        """Scalars to log at an episode end, TensorBoard tag -> value."""
        ...


def agent_rng_state_keys(agent: Any) -> tuple[str, ...]:
    """The agent's declared ``rng_state_keys`` (empty when it declares none)."""
    return tuple(getattr(agent, "rng_state_keys", ()))


def agent_runtime_info(agent: Any) -> dict[str, Any]:
    """``agent.runtime_info()``, or ``{}`` for an agent without the hook."""
    hook = getattr(agent, "runtime_info", None)
    return hook() if callable(hook) else {}


def agent_metrics_hook(agent: Any) -> Any:
    """The agent's bound ``metrics`` method, or ``None`` (looked up once per run, called per episode)."""
    hook = getattr(agent, "metrics", None)
    return hook if callable(hook) else None
