"""An agent that acts uniformly at random: a floor for learning curves and a cheap runner test double."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from agents.protocol import ArrayDict
from agents.rng_arrays import generator_state_from_array, generator_state_to_array

__all__ = ["RandomAgent", "RandomAgentConfig"]


@dataclass(frozen=True)
class RandomAgentConfig:
    """The random agent has nothing to configure."""


class RandomAgent:
    """Samples every action from its own seeded Generator (never the action space's RNG)."""

    def __init__(
        self, observation_space: gym.Space, action_space: gym.Space, config: RandomAgentConfig, seed: int
    ) -> None:
        self.action_space = action_space
        self.config = config
        self.learn_enabled = True
        self._rng = np.random.default_rng(seed)

    def act(self, obs: Any) -> Any:
        space = self.action_space
        if isinstance(space, gym.spaces.Discrete):
            return int(space.start + self._rng.integers(space.n))
        if isinstance(space, gym.spaces.MultiDiscrete):
            return (space.start + self._rng.integers(space.nvec)).astype(space.dtype)
        if isinstance(space, gym.spaces.Box):
            return self._rng.uniform(space.low, space.high).astype(space.dtype)
        raise ValueError(f"RandomAgent cannot sample from {space!r}; use a Discrete, MultiDiscrete or Box space.")

    def observe(self, next_obs: Any, reward: float, terminated: bool, truncated: bool) -> None:
        pass

    def clear_state(self) -> None:
        pass

    def get_weights(self) -> ArrayDict:
        return {}

    def set_weights(self, arrays: ArrayDict) -> None:
        if arrays:
            raise ValueError(f"RandomAgent has no weights, got keys {sorted(arrays)}.")

    def get_state(self) -> ArrayDict:
        return {"rng": generator_state_to_array(self._rng)}

    def set_state(self, arrays: ArrayDict) -> None:
        if set(arrays) != {"rng"}:
            raise ValueError(f"RandomAgent state must hold exactly 'rng', got {sorted(arrays)}.")
        generator_state_from_array(self._rng, arrays["rng"])
