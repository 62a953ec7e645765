"""One episode in the Agent protocol's call order: for evaluation scripts, benchmarks and tests.

The runner has its own loop (it checkpoints between any two steps); everything else that just wants to play
episodes uses this one, so the call order (reset, clear_state, act/observe until done) is written once.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym

from agents.protocol import Agent


@dataclass(frozen=True)
class EpisodeOutcome:
    """What one episode gave: the undiscounted return and the number of env steps."""

    episode_return: float
    length: int


def play_episode(agent: Agent, env: gym.Env, seed: int | None = None) -> EpisodeOutcome:
    """Reset ``env`` (with ``seed`` if given), clear the agent's temporal state and play until done.

    Learning happens or not according to ``agent.learn_enabled``.
    """
    obs, _ = env.reset(seed=seed)
    agent.clear_state()
    total, length, done = 0.0, 0, False
    while not done:
        action = agent.act(obs)
        obs, reward, terminated, truncated, _ = env.step(action)
        agent.observe(obs, float(reward), terminated, truncated)
        total += float(reward)
        length += 1
        done = terminated or truncated
    return EpisodeOutcome(total, length)
