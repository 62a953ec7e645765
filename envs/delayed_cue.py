"""A tiny memory task: see a cue, wait, then answer with it. Fast enough for unit tests.

Registered as ``sphgym/DelayedCue-v0``. An episode is ``delay + 2`` steps:

* ``reset`` shows a cue ``c`` drawn uniformly from ``num_cues`` (observation ``2 + c``);
* the next ``delay`` observations are blank (``0``), then one is the query (``1``); actions so far are ignored
  and earn 0;
* the action taken at the query earns 1 if it equals ``c``, else 0, and terminates the episode.

A policy without memory scores ``1 / num_cues`` on average; one that remembers the cue scores 1.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = ["BLANK", "QUERY", "DelayedCueEnv"]

BLANK = 0
"""Observation between the cue and the query (also the final observation)."""
QUERY = 1
"""Observation asking for the cue; the next action is scored."""


class DelayedCueEnv(gym.Env[np.int64, np.int64]):
    """Remember a cue for ``delay`` blank steps, then reproduce it.

    Observation ``Discrete(num_cues + 2)``: 0 blank, 1 query, ``2 + c`` cue ``c``. Action
    ``Discrete(num_cues)``. Episode state: ``cue`` (the cue of this episode, None before the first reset) and
    ``steps_taken``.

    Args:
        num_cues: How many different cues, >= 2.
        delay: Blank steps between the cue and the query, >= 0.
        render_mode: Only ``None`` (no rendering).

    Example:
        >>> env = DelayedCueEnv(num_cues=3, delay=1)
        >>> obs, _ = env.reset(seed=0)
        >>> cue = int(obs) - 2
        >>> [int(env.step(0)[0]) for _ in range(2)]
        [0, 1]
        >>> env.step(cue)[1:3]
        (1.0, True)
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self, num_cues: int = 2, delay: int = 3, render_mode: str | None = None) -> None:
        if isinstance(num_cues, bool) or not isinstance(num_cues, (int, np.integer)) or num_cues < 2:
            raise ValueError(
                f"num_cues must be an int >= 2, got {num_cues!r}; with one cue there is nothing to recall"
            )
        if isinstance(delay, bool) or not isinstance(delay, (int, np.integer)) or delay < 0:
            raise ValueError(f"delay must be an int >= 0, got {delay!r}; use 0 for cue then query")
        if render_mode is not None:
            raise ValueError(f"render_mode must be None, got {render_mode!r}; DelayedCueEnv does not render")
        self.num_cues = int(num_cues)
        self.delay = int(delay)
        self.render_mode = render_mode
        self.observation_space = spaces.Discrete(self.num_cues + 2)
        self.action_space = spaces.Discrete(self.num_cues)
        self.cue: int | None = None
        self.steps_taken = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.int64, dict[str, Any]]:
        super().reset(seed=seed)
        self.cue = int(self.np_random.integers(self.num_cues))
        self.steps_taken = 0
        return np.int64(2 + self.cue), {}

    def step(self, action: Any) -> tuple[np.int64, float, bool, bool, dict[str, Any]]:
        if self.cue is None or self.steps_taken > self.delay + 1:
            raise RuntimeError(
                "DelayedCueEnv.step() called before reset() or after the episode ended; call reset()"
            )
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        self.steps_taken += 1
        if self.steps_taken <= self.delay + 1:
            obs = BLANK if self.steps_taken <= self.delay else QUERY
            return np.int64(obs), 0.0, False, False, {}
        reward = 1.0 if int(action) == self.cue else 0.0
        return np.int64(BLANK), reward, True, False, {}
