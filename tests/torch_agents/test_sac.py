"""SACAgent: learns a one-step continuous task, restore is bit-identical (mid-run, with a wrapped ring, between
act and observe), actions respect any Box's bounds, warm-up is uniform, fixed vs tuned entropy coefficient,
refusals (spaces, unbounded actions, memory, config values)."""

from __future__ import annotations

import copy

import gymnasium as gym
import numpy as np
import pytest

from agents.torch_agents.config import SACConfig
from agents.torch_agents.sac import SACAgent
from tests.torch_agents.torch_helpers import digest

FAST = SACConfig(learning_starts=32, batch_size=16, net_arch=(32, 32), buffer_size=200, total_timesteps=2000)


class Target(gym.Env):
    """One-step episodes: observe a target in [-1, 1], reward -(action - target)^2 (best: action = target)."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,))
    action_space = gym.spaces.Box(-1.0, 1.0, (1,))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.target = self.np_random.uniform(-1.0, 1.0, 1).astype(np.float32)
        return self.target.copy(), {}

    def step(self, action):
        reward = -float((np.asarray(action)[0] - self.target[0]) ** 2)
        return self.target.copy(), reward, True, False, {}


def drive(agent, env, steps: int, obs=None) -> tuple[list, object, list[float]]:
    """The runner's loop; returns the actions, the observation to continue from and the rewards."""
    actions, rewards = [], []
    if obs is None:
        obs, _ = env.reset(seed=0)
        agent.clear_state()
    for _ in range(steps):
        action = agent.act(obs)
        actions.append(np.asarray(action).tobytes())
        obs, reward, terminated, truncated, _ = env.step(action)
        agent.observe(obs, float(reward), terminated, truncated)
        rewards.append(float(reward))
        if terminated or truncated:
            obs, _ = env.reset()
            agent.clear_state()
    return actions, obs, rewards


@pytest.mark.slow
def test_learns_a_one_step_target_task():
    env = Target()
    agent = SACAgent(env.observation_space, env.action_space, FAST, seed=0)
    _, _, rewards = drive(agent, env, 600)
    assert np.mean(rewards[:32]) < -0.4  # uniform warm-up: E[-(a - t)^2] = -2/3
    agent.learn_enabled = False
    _, _, rewards = drive(agent, env, 100)
    assert np.mean(rewards) > -0.05


@pytest.mark.parametrize("steps", [10, 31, 32, 33, 450])  # warm-up, around learning_starts, wrapped ring
def test_restore_continues_bit_identically(steps):
    env = gym.make("Pendulum-v1")
    agent = SACAgent(env.observation_space, env.action_space, FAST, seed=1)
    _, obs, _ = drive(agent, env, steps)
    clone_env = copy.deepcopy(env)
    restored = SACAgent(env.observation_space, env.action_space, FAST, seed=77)
    restored.set_weights(agent.get_weights())
    restored.set_state(agent.get_state())
    expected = drive(agent, env, 60, obs=obs)[0]
    assert drive(restored, clone_env, 60, obs=obs)[0] == expected
    assert digest(restored.get_weights()) == digest(agent.get_weights())
    assert digest(restored.get_state()) == digest(agent.get_state())


def test_restore_between_act_and_observe():
    env = gym.make("Pendulum-v1")
    agent = SACAgent(env.observation_space, env.action_space, FAST, seed=2)
    _, obs, _ = drive(agent, env, 40)
    action = agent.act(obs)  # pending pair saved mid-step
    restored = SACAgent(env.observation_space, env.action_space, FAST, seed=3)
    restored.set_weights(agent.get_weights())
    restored.set_state(agent.get_state())
    next_obs, reward, terminated, truncated, _ = env.step(action)
    for a in (agent, restored):
        a.observe(next_obs, float(reward), terminated, truncated)
    assert digest(restored.get_state()) == digest(agent.get_state())
    assert digest(restored.get_weights()) == digest(agent.get_weights())


def test_actions_are_mapped_onto_asymmetric_bounds_and_warm_up_is_uniform():
    space = gym.spaces.Box(np.array([0.0, -3.0], np.float32), np.array([2.0, -1.0], np.float32))
    agent = SACAgent(gym.spaces.Box(-1, 1, (3,)), space, FAST, seed=4)
    actions = []
    for i in range(200):
        obs = np.full(3, np.sin(i), np.float32)
        actions.append(agent.act(obs))
        agent.observe(obs, 0.0, False, False)
    actions = np.array(actions)
    assert actions.dtype == np.float32 and actions.shape == (200, 2)
    assert np.all(actions >= space.low) and np.all(actions <= space.high)
    warm_up = actions[: FAST.learning_starts]
    assert abs(warm_up[:, 0].mean() - 1.0) < 0.35 and abs(warm_up[:, 1].mean() + 2.0) < 0.35
    stored = agent.buffer.actions[: agent.buffer.size]
    assert np.all(np.abs(stored) <= 1.0)  # the buffer holds the squashed action in [-1, 1]


def test_weights_hold_targets_entropy_coefficient_and_three_optimisers():
    env = gym.make("Pendulum-v1")
    agent = SACAgent(env.observation_space, env.action_space, FAST, seed=0)
    drive(agent, env, 40)
    weights = agent.get_weights()
    assert "log_ent_coef.weight" in weights and "critic_target.qf2.0.weight" in weights
    for prefix in ("actor_optimizer", "critic_optimizer", "ent_coef_optimizer"):
        assert any(k.startswith(prefix + ".") for k in weights), prefix
    assert agent.last_losses["losses/alpha"] != 1.0  # tuned away from its initial value

    fixed = SACConfig(**{**FAST.__dict__, "autotune_entropy": False, "ent_coef": 0.1})
    agent = SACAgent(env.observation_space, env.action_space, fixed, seed=0)
    drive(agent, env, 40)
    assert not any("ent_coef" in k for k in agent.get_weights())
    assert agent.last_losses["losses/alpha"] == pytest.approx(0.1)


def test_learning_disabled_acts_with_the_mean_and_keeps_weights():
    env = gym.make("Pendulum-v1")
    agent = SACAgent(env.observation_space, env.action_space, FAST, seed=5)
    _, obs, _ = drive(agent, env, 50)
    before, state = digest(agent.get_weights()), digest(agent.get_state())
    agent.learn_enabled = False
    assert np.array_equal(agent.act(obs), agent.act(obs))  # deterministic
    drive(agent, env, 30)
    # greedy acting draws no random numbers and stores nothing: weights and state are untouched
    assert digest(agent.get_weights()) == before and digest(agent.get_state()) == state
    assert agent.buffer.size == 50


@pytest.mark.parametrize(
    ("observation_space", "action_space", "named"),
    [
        (gym.spaces.Box(-1, 1, (3,)), gym.spaces.Discrete(2), "Discrete"),
        (gym.spaces.MultiBinary(3), gym.spaces.Box(-1, 1, (1,)), "MultiBinary"),
        (gym.spaces.Box(-1, 1, (3,)), gym.spaces.Box(-np.inf, np.inf, (1,)), "bounded"),
    ],
)
def test_unsupported_spaces_raise_naming_the_space(observation_space, action_space, named):
    with pytest.raises(ValueError, match=named):
        SACAgent(observation_space, action_space, FAST, 0)


def test_a_buffer_that_cannot_fit_is_refused_before_allocation():
    config = SACConfig(buffer_size=10**13)
    with pytest.raises(ValueError, match=r"SACConfig\.buffer_size = 10000000000000 needs about .* GiB .* available"):
        SACAgent(gym.spaces.Box(-1, 1, (3,)), gym.spaces.Box(-1, 1, (1,)), config, 0)


def test_discrete_observations_are_one_hot():
    agent = SACAgent(gym.spaces.Discrete(5, start=1), gym.spaces.Box(-1, 1, (1,)), FAST, 0)
    agent.act(3)
    agent.observe(5, 0.0, False, False)
    assert agent.buffer.obs[0].tolist() == [0, 0, 1, 0, 0] and agent.buffer.next_obs[0].tolist() == [0, 0, 0, 0, 1]
    with pytest.raises(ValueError, match="outside"):
        agent.act(0)


def test_mismatched_state_names_the_key():
    env = gym.make("Pendulum-v1")
    agent = SACAgent(env.observation_space, env.action_space, FAST, seed=0)
    drive(agent, env, 40)
    state = agent.get_state()
    state["buffer.actions"] = state["buffer.actions"][:-1]
    with pytest.raises(ValueError, match=r"buffer\.actions"):
        agent.set_state(state)
    state = agent.get_state()
    state["pending_action"] = state["pending_action"].astype(np.int64)
    with pytest.raises(ValueError, match="pending_action"):
        agent.set_state(state)
