"""The batched (N envs) side of the torch agents: batch-moment statistics, GAE per env column over a rollout
with autoreset rows, and the batched state's checks. Whole runs with N envs (and their exact resume) are in
tests/runner/test_vector_envs.py and tests/torch_agents/test_torch_resume.py."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from agents.registry import make_agent, make_agent_config
from agents.torch_agents.buffers import VecRollout
from agents.torch_agents.normalization import RunningMeanStd
from agents.torch_agents.ppo import column_gae, compute_gae


def test_batch_moments_update_equals_the_pooled_mean_and_variance():
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, (n, 3)) for n in (4, 1, 7)]
    stats = RunningMeanStd((3,))
    for batch in batches:
        stats.update_batch(batch)
    pooled = np.concatenate(batches)
    # SB3's initial count 1e-4 (at mean 0, var 1) weighs in slightly, as in VecNormalize
    np.testing.assert_allclose(stats.mean, pooled.mean(0), rtol=1e-4)
    np.testing.assert_allclose(stats.var, pooled.var(0), rtol=1e-4)
    assert stats.count[0] == pytest.approx(12 + 1e-4)
    one, batched = RunningMeanStd(()), RunningMeanStd(())
    one.update(2.5)
    batched.update_batch(np.array([2.5]))
    assert (one.mean, one.var, one.count[0]) == (batched.mean, batched.var, batched.count[0])  # same bits


def test_gae_runs_along_each_env_column_and_skips_autoreset_rows():
    # 2 envs x 4 vector steps; env 0 ends its episode at t=1 (terminated), resets at t=2 (invalid row)
    rollout = VecRollout(8, 2, obs_size=1, action_shape=(), action_dtype=np.int64, num_actions=2)
    valid = np.array([[1, 1], [1, 1], [0, 1], [1, 1]], dtype=bool)
    terminated = np.array([[0, 0], [1, 0], [0, 0], [0, 0]], dtype=bool)
    rewards = np.array([[1.0, 2.0], [3.0, 4.0], [0.0, 5.0], [6.0, 7.0]])
    for t in range(4):
        x = np.full((2, 1), float(t), dtype=np.float32)
        rollout.add_batch(x, np.zeros(2, np.int64), rewards[t], x, terminated[t], terminated[t], valid[t])
    assert rollout.full and rollout.valid.tolist() == valid.reshape(-1).astype(float).tolist()
    n_valid = int(valid.sum())
    values, next_values = np.linspace(0.1, 0.7, n_valid), np.linspace(0.2, 0.8, n_valid)
    got = column_gae(rollout, values, next_values, gamma=0.9, gae_lambda=0.8)
    rows = np.flatnonzero(valid.reshape(-1))
    for env in (0, 1):
        mine = np.flatnonzero(rows % 2 == env)
        expected = compute_gae(
            rollout.rewards[rows[mine]], values[mine], next_values[mine],
            rollout.terminated[rows[mine]], rollout.dones[rows[mine]], 0.9, 0.8,
        )
        np.testing.assert_array_equal(got[mine], expected)
    # env 0's terminated step bootstraps from nothing, so its advantage ignores everything after the reset
    assert got[2] == np.float32(3.0 - values[2])


@pytest.mark.parametrize(
    ("agent", "env_id"), [("ppo", "CartPole-v1"), ("dqn", "CartPole-v1"), ("sac", "Pendulum-v1")]
)
def test_batched_state_checks_its_shapes_and_mask(agent, env_id):
    env = gym.make(env_id)
    config = make_agent_config(agent, {"net_arch": (8,)}, env_id=env_id)
    batched = make_agent(agent, env.observation_space, env.action_space, config, seed=1)
    batched.set_n_envs(4)
    vec = gym.vector.SyncVectorEnv([lambda: gym.make(env_id)] * 4)
    obs, _ = vec.reset(seed=0)
    batched.act_batch(obs, np.array([True, False, True, True]))
    state = batched.get_state()
    assert state["pending_active"].tolist() == [1, 0, 1, 1] and state["pending_obs"].shape[0] == 4
    other = make_agent(agent, env.observation_space, env.action_space, config, seed=2)
    other.set_n_envs(4)
    other.set_state(state)
    assert other.pending_active.tolist() == [1, 0, 1, 1]
    with pytest.raises(ValueError, match="pending_active"):
        other.set_state(dict(state, pending_active=np.array([1, 2, 0, 1], dtype=np.uint8)))
    single = make_agent(agent, env.observation_space, env.action_space, config, seed=2)
    with pytest.raises(ValueError):
        single.set_state(state)  # a 4-env state does not fit a one-env agent
