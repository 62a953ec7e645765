"""Shared by the torch-agent tests: a byte digest of an array dict, and a resumable driver of the runner's loop."""

from __future__ import annotations

import copy
import hashlib

import numpy as np


def digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}|{a.dtype}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


class Driver:
    """The runner's loop, resumable: holds the env and the observation to act on next."""

    def __init__(self, agent, env, reset_seed: int = 0) -> None:
        self.agent, self.env = agent, env
        self.obs, _ = env.reset(seed=reset_seed)
        agent.clear_state()
        self.returns: list[float] = []
        self.lengths: list[int] = []
        self.episode_return, self.episode_length = 0.0, 0

    def step(self, n: int) -> list:
        """``n`` steps with the agent's own actions; returns them (as plain Python values)."""
        actions = []
        for _ in range(n):
            action = self.agent.act(self.obs)
            actions.append(np.asarray(action).tolist())
            self.finish(action)
        return actions

    def finish(self, action) -> None:
        """Step the env with ``action`` and let the agent observe the outcome."""
        self.obs, reward, terminated, truncated, _ = self.env.step(action)
        self.agent.observe(self.obs, float(reward), terminated, truncated)
        self.episode_return += float(reward)
        self.episode_length += 1
        if terminated or truncated:
            self.returns.append(self.episode_return)
            self.lengths.append(self.episode_length)
            self.episode_return, self.episode_length = 0.0, 0
            self.obs, _ = self.env.reset()
            self.agent.clear_state()

    def fork(self, agent) -> Driver:
        """``agent`` (fresh, typically of another seed) restored from this one's weights and state, driving a copy
        of the env from the same observation and mid-episode counters (finished episodes are not copied)."""
        agent.set_weights(self.agent.get_weights())
        agent.set_state(self.agent.get_state())
        clone = object.__new__(Driver)
        clone.agent, clone.env, clone.obs = agent, copy.deepcopy(self.env), np.copy(self.obs)
        clone.returns, clone.lengths = [], []
        clone.episode_return, clone.episode_length = self.episode_return, self.episode_length
        return clone


def assert_fork_continues_bit_identically(original: Driver, restored: Driver, steps: int = 300) -> None:
    """``restored`` (a fork of ``original``) holds the same bytes, and both then act and learn identically."""
    assert digest(restored.agent.get_weights()) == digest(original.agent.get_weights())
    assert digest(restored.agent.get_state()) == digest(original.agent.get_state())
    assert restored.step(steps) == original.step(steps)
    assert digest(restored.agent.get_weights()) == digest(original.agent.get_weights())
    assert digest(restored.agent.get_state()) == digest(original.agent.get_state())
