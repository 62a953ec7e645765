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
"""

from __future__ import annotations

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
