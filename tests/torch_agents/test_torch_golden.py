"""Golden digests of DQN and PPO on CartPole-v1, recorded before the TorchAgent refactor (issue 11 part 4)
and the continuous-action work (issue 16): the default n_envs = 1, Discrete-action path must stay bit-identical.

If one of these fails, a change moved the numbers of an existing baseline; that needs a deliberate decision
(and a note in BENCHMARKS.md), not a new digest.

Deliberate change (issue 14): PPO's state digests were re-recorded when its ``last_losses`` gained
``losses/old_approx_kl`` and ``losses/explained_variance`` (two more float64 values in the state); its weights and
action digests did not move.
"""

from __future__ import annotations

import hashlib

import gymnasium as gym
import numpy as np
import pytest

from agents.registry import make_agent
from tests.torch_agents.torch_helpers import digest

SMALL_DQN = {
    "learning_starts": 64,
    "train_freq": 16,
    "gradient_steps": 4,
    "batch_size": 16,
    "net_arch": (32, 32),
    "buffer_size": 300,
}
SMALL_PPO = {"n_steps": 64, "batch_size": 32, "n_epochs": 2, "net_arch": (32, 32), "total_timesteps": 1500}

# name: (agent, config overrides, env steps, (weights digest, state digest, actions digest))
GOLDEN = {
    "dqn-small": (
        "dqn",
        SMALL_DQN,
        700,
        (
            "4f66909d01906b0c07237dad4aa4dee52b686f76df16d377544a25a9b8af141d",
            "b2793fb872ac2387e807db1a3278614e2905e7fcfc0f020e7eea0db2601d6a23",
            "d0f9d9d8dead0f97e49b7cb26672737afe2beb55af95439e9d46beaf7403736c",
        ),
    ),
    "dqn-default": (
        "dqn",
        {},
        1300,
        (
            "ce5f6c699d293a0695e362ae3082f0a78363f959b67d546ae9e1fc5ff2ee03ee",
            "c0f584b48c1b624be781dff8650629b3422b62ed2a6463f5d8170aaf11854208",
            "2599e12f64d2162fb8f8ed144cb7f7e9122783652cbcd79cecf8056906a6a877",
        ),
    ),
    "ppo-small": (
        "ppo",
        SMALL_PPO,
        700,
        (
            "95c5b0faaadf207dfbfff1e856dbbf5bae2dde6fc9f3e221892b7a28304a5a75",
            "b160735828853f6479209aecf58ee0b2b34205a0f9129d429628b43b35f94a44",
            "4ca78b375964b71b4bb1d97a6e7a17ff43bf970d28560ea5a2e204f4f6bed664",
        ),
    ),
    "ppo-default": (
        "ppo",
        {},
        600,
        (
            "b639abc9815da77ca300231e6680f78c9d8e42162533cc1604d672c7b8e1039f",
            "942652dbd104a7d188082378e2fedfde86506ba363b678b545d54fde6063434c",
            "d2bb3fb7f9084824385030e9aed80c55ac044725f071c5b84a5a7249c5db3a4f",
        ),
    ),
}


@pytest.mark.parametrize("case", list(GOLDEN))
def test_cartpole_digests_are_unchanged(case):
    agent_name, overrides, steps, expected = GOLDEN[case]
    env = gym.make("CartPole-v1")
    agent = make_agent(agent_name, env.observation_space, env.action_space, overrides, seed=3)
    obs, _ = env.reset(seed=0)
    agent.clear_state()
    actions = []
    for _ in range(steps):
        action = agent.act(obs)
        actions.append(int(action))
        obs, reward, terminated, truncated, _ = env.step(action)
        agent.observe(obs, float(reward), terminated, truncated)
        if terminated or truncated:
            obs, _ = env.reset()
            agent.clear_state()
    got = (digest(agent.get_weights()), digest(agent.get_state()), hashlib.sha256(bytes(actions)).hexdigest())
    assert got == expected
