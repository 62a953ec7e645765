"""The runner drives every agent through the protocol's call order: one clear_state per episode, first."""

from __future__ import annotations

import gymnasium as gym
import pytest

from agents.random_agent import RandomAgent
from agents.registry import AGENTS, AgentSpec
from agents.runner import RunConfig, Runner

CALLS: list[str] = []


class SpyAgent(RandomAgent):
    """A random agent that records the order in which the runner calls it."""

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, config, seed: int) -> None:
        super().__init__(observation_space, action_space, config, seed)

    def clear_state(self) -> None:
        CALLS.append("clear")

    def act(self, obs):
        CALLS.append("act")
        return super().act(obs)

    def observe(self, next_obs, reward, terminated, truncated) -> None:
        CALLS.append("end" if terminated or truncated else "observe")


@pytest.fixture
def spy(monkeypatch):
    CALLS.clear()
    monkeypatch.setitem(
        AGENTS,
        "spy",
        AgentSpec("spy", f"{__name__}:SpyAgent", "agents.random_agent:RandomAgentConfig", "records calls"),
    )
    return CALLS


def test_clear_state_once_at_every_episode_start_and_nowhere_else(tmp_path, spy):
    episodes = 7
    result = Runner(
        tmp_path / "run", RunConfig(agent="spy", episodes=episodes, seed=3, tensorboard=False), log=None
    ).train()
    assert result.episode == episodes
    assert spy.count("clear") == episodes
    assert spy.count("end") == episodes
    # Every episode is: clear, then (act, observe)* , act, end.
    episode_calls, current = [], []
    for call in spy:
        current.append(call)
        if call == "end":
            episode_calls.append(current)
            current = []
    assert current == []
    for calls in episode_calls:
        assert calls[0] == "clear"
        body = calls[1:]
        assert body[0::2] == ["act"] * (len(body) // 2)
        assert body[1::2][:-1] == ["observe"] * (len(body) // 2 - 1)
