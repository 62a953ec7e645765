"""PPOAgent: learning smoke test on CartPole, GAE, bit-identical restore (mid-rollout, right before an update,
between act and observe), learn-off, pickle-free arrays, space and config errors."""

from __future__ import annotations

import copy

import gymnasium as gym
import numpy as np
import pytest
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from agents.torch_agents.config import PPOConfig
from agents.torch_agents.ppo import PPOAgent, compute_gae
from tests.torch_agents.torch_helpers import Driver, assert_fork_continues_bit_identically, digest

FAST = PPOConfig(n_steps=64, batch_size=32, n_epochs=2, net_arch=(32, 32), total_timesteps=2000)


def make(config: PPOConfig = FAST, seed: int = 0) -> tuple[PPOAgent, gym.Env]:
    env = gym.make("CartPole-v1")
    return PPOAgent(env.observation_space, env.action_space, config, seed), env


def fork(driver: Driver, config: PPOConfig = FAST) -> Driver:
    """A fresh agent (other seed) restored from ``driver``'s weights and state, on a copy of its env."""
    return driver.fork(make(config, seed=4321)[0])


@pytest.mark.slow
def test_learns_cartpole_on_a_tiny_budget():
    config = PPOConfig(
        n_steps=128,
        batch_size=64,
        n_epochs=10,
        learning_rate_schedule="constant",
        clip_range_schedule="constant",
        gamma=0.99,
        gae_lambda=0.95,
    )
    driver = Driver(*make(config, seed=0))
    driver.step(6000)
    first, last = np.mean(driver.returns[:10]), np.mean(driver.returns[-10:])
    assert last > 80 and last > 2.5 * first, (first, last)  # random play averages ~22


@pytest.mark.parametrize(
    "steps",
    [
        150,  # mid-episode, mid-rollout
        FAST.n_steps * 3 - 1,  # the next observe() completes the rollout and updates
        FAST.n_steps * 3,  # right after an update: empty rollout
    ],
)
def test_restore_continues_bit_identically(steps):
    original = Driver(*make())
    original.step(steps)
    assert_fork_continues_bit_identically(original, fork(original))


def test_restore_between_act_and_observe():
    original = Driver(*make())
    original.step(FAST.n_steps - 1)
    action = original.agent.act(original.obs)  # the pending step completes the rollout
    restored = fork(original)
    original.finish(action)
    restored.finish(action)
    assert original.agent.n_updates == restored.agent.n_updates == 1
    assert restored.step(200) == original.step(200)
    assert digest(restored.agent.get_weights()) == digest(original.agent.get_weights())


def test_learning_disabled_keeps_weight_bytes_and_rollout():
    driver = Driver(*make())
    driver.step(100)
    weights, state = digest(driver.agent.get_weights()), driver.agent.get_state()
    driver.agent.learn_enabled = False
    driver.step(300)  # greedy actions: no RNG draws, nothing stored, no update
    assert digest(driver.agent.get_weights()) == weights
    after = driver.agent.get_state()
    # the only change: the episode starts (clear_state) closed the rollout's GAE chain at its last row
    assert after.pop("rollout.dones")[:-1].tolist() == state.pop("rollout.dones")[:-1].tolist()
    assert digest(after) == digest(state)


def test_arrays_are_plain_and_survive_safetensors():
    driver = Driver(*make())
    driver.step(90)
    for arrays in (driver.agent.get_weights(), driver.agent.get_state()):
        for key, value in arrays.items():
            assert isinstance(key, str) and isinstance(value, np.ndarray), key
            assert value.dtype.kind in "fiub", (key, value.dtype)
            assert value.ndim >= 1, key  # np.ascontiguousarray (used when saving) turns 0-d into 1-d
        assert digest(st_load(st_save(arrays))) == digest(arrays)
    assert driver.agent.get_state()["rollout.obs"].shape == (90 - FAST.n_steps, 4)  # filled rows only


def test_weights_hold_adam_moments_and_steps():
    driver = Driver(*make())
    driver.step(FAST.n_steps * 2)
    weights = driver.agent.get_weights()
    steps = [v for k, v in weights.items() if k.endswith(".step")]
    per_update = FAST.n_epochs * (FAST.n_steps // FAST.batch_size)
    assert steps and all(s.tolist() == [2 * per_update] for s in steps)
    assert any(k.startswith("optimizer.critic.") and k.endswith(".exp_avg") for k in weights)


def test_gae_cuts_at_episode_ends_and_bootstraps_only_truncation():
    rewards = np.ones(4, np.float32)
    values = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    next_values = np.array([2.0, 10.0, 4.0, 5.0], np.float32)
    terminated = np.array([0, 1, 0, 0], np.float32)
    dones = np.array([0, 1, 1, 0], np.float32)  # step 1 terminated, step 2 truncated, step 3 rollout end
    adv = compute_gae(rewards, values, next_values, terminated, dones, gamma=0.5, gae_lambda=0.5)
    delta = [1 + 0.5 * 2 - 1, 1 + 0 - 2, 1 + 0.5 * 4 - 3, 1 + 0.5 * 5 - 4]
    assert adv.tolist() == pytest.approx([delta[0] + 0.25 * delta[1], delta[1], delta[2], delta[3]])


def test_clear_state_ends_the_gae_chain():
    agent, env = make()
    obs, _ = env.reset(seed=0)
    agent.clear_state()
    for _ in range(3):
        agent.act(obs)
        obs, *_ = env.step(0)
        agent.observe(obs, 1.0, False, False)
    agent.clear_state()  # e.g. the runner cut the episode off without a truncation flag
    assert agent.rollout.dones[:3].tolist() == [0.0, 0.0, 1.0]
    assert agent.rollout.terminated[:3].tolist() == [0.0, 0.0, 0.0]


def test_learning_rate_and_clip_range_follow_the_linear_schedule():
    config = PPOConfig(n_steps=32, batch_size=32, n_epochs=1, total_timesteps=64, net_arch=(8,))
    driver = Driver(*make(config))
    driver.step(32)
    assert driver.agent.last_losses["charts/learning_rate"] == pytest.approx(1e-3 * 0.5)
    driver.step(32)
    assert driver.agent.last_losses["charts/learning_rate"] == 0.0


def test_mismatched_arrays_name_the_key():
    agent, _ = make()
    weights = agent.get_weights()
    weights["actor.0.bias"] = weights["actor.0.bias"].astype(np.float64)
    with pytest.raises(ValueError, match=r"actor\.0\.bias"):
        agent.set_weights(weights)
    state = agent.get_state()
    state.pop("np_rng")
    with pytest.raises(ValueError, match="np_rng"):
        agent.set_state(state)


@pytest.mark.parametrize(
    ("observation_space", "action_space", "named"),
    [
        (gym.spaces.MultiBinary(4), gym.spaces.Discrete(2), "MultiBinary"),
        (gym.spaces.Box(-1, 1, (3,)), gym.spaces.MultiDiscrete([2, 2]), "MultiDiscrete"),
    ],
)
def test_unsupported_spaces_raise_naming_the_space(observation_space, action_space, named):
    with pytest.raises(ValueError, match=named):
        PPOAgent(observation_space, action_space, FAST, 0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n_steps", 1),
        ("batch_size", 512),
        ("gae_lambda", 1.2),
        ("learning_rate_schedule", "cosine"),
        ("clip_range", 0.0),
        ("net_arch", ()),
        ("normalize_advantage", "yes"),
    ],
)
def test_config_errors_name_field_and_value(field, value):
    with pytest.raises(ValueError, match=field) as info:
        PPOConfig(**{field: value})
    assert repr(value) in str(info.value)


# ------------------------------------------------------------------------------------ Box actions (Gaussian)
BOX = PPOConfig(
    n_steps=64,
    batch_size=32,
    n_epochs=2,
    net_arch=(16, 16),
    total_timesteps=2000,
    normalize_observations=True,
    normalize_rewards=True,
)


def make_box(config: PPOConfig = BOX, seed: int = 0, space=None) -> PPOAgent:
    env = gym.make("Pendulum-v1")
    return PPOAgent(env.observation_space, space or env.action_space, config, seed)


def test_gaussian_log_prob_and_entropy_match_torch_distributions():
    import torch

    from agents.torch_agents.ppo import gaussian_evaluate

    actor = torch.nn.Linear(3, 2)
    log_std = torch.tensor([-0.5, 0.3])
    obs, actions = torch.randn(5, 3), torch.randn(5, 2)
    log_prob, entropy = gaussian_evaluate(actor, log_std)(obs, actions)
    normal = torch.distributions.Normal(actor(obs), log_std.exp())
    assert torch.allclose(log_prob, normal.log_prob(actions).sum(1), atol=1e-6)
    assert torch.allclose(entropy, normal.entropy().sum(1), atol=1e-6)


def test_box_actions_are_clipped_for_the_env_but_stored_as_sampled():
    space = gym.spaces.Box(np.float32(-0.1), np.float32(0.1), (1,))
    agent = make_box(PPOConfig(**{**BOX.__dict__, "log_std_init": 1.0}), space=space)
    actions, obs = [], np.zeros(3, np.float32)
    for _ in range(40):
        actions.append(agent.act(obs))
        agent.observe(obs, -1.0, False, False)
    actions = np.array(actions)
    assert actions.dtype == np.float32 and actions.shape == (40, 1)
    assert np.all(np.abs(actions) <= 0.1)
    stored = agent.rollout.actions[:40, 0]
    assert np.abs(stored).max() > 0.5  # std e^1: the stored (trained-on) samples exceed the bounds


def test_box_restore_continues_bit_identically_with_normalisation():
    env = gym.make("Pendulum-v1")
    original = PPOAgent(env.observation_space, env.action_space, BOX, 0)
    driver = Driver(original, env)
    for _ in range(150):  # mid-rollout, after two updates
        driver.finish(original.act(driver.obs))
    restored = PPOAgent(env.observation_space, env.action_space, BOX, 99)
    restored.set_weights(original.get_weights())
    restored.set_state(original.get_state())
    env_copy, obs = copy.deepcopy(env), driver.obs.copy()
    expected = []
    for _ in range(100):
        expected.append(original.act(driver.obs).tobytes())
        driver.finish(np.frombuffer(expected[-1], np.float32))
    clone = Driver.__new__(Driver)
    clone.agent, clone.env, clone.obs, clone.returns, clone.lengths = restored, env_copy, obs, [], []
    clone.episode_return, clone.episode_length = 0.0, 0
    got = []
    for _ in range(100):
        got.append(restored.act(clone.obs).tobytes())
        clone.finish(np.frombuffer(got[-1], np.float32))
    assert got == expected
    assert digest(restored.get_weights()) == digest(original.get_weights())
    assert digest(restored.get_state()) == digest(original.get_state())


def test_normalisation_statistics_are_weights_and_frozen_when_not_learning():
    agent = make_box()
    env = gym.make("Pendulum-v1")
    driver = Driver(agent, env)
    for _ in range(30):
        driver.finish(agent.act(driver.obs))
    weights = agent.get_weights()
    assert weights["obs_rms.count"].tolist() == pytest.approx([30 + 1e-4])
    assert weights["ret_rms.mean"].shape == (1,) and "running_return" in agent.get_state()
    agent.learn_enabled = False
    for _ in range(30):
        driver.finish(agent.act(driver.obs))
    assert digest(agent.get_weights()) == digest(weights)
    plain = make_box(PPOConfig(**{**BOX.__dict__, "normalize_observations": False, "normalize_rewards": False}))
    assert not any("rms" in k for k in plain.get_weights()) and "running_return" not in plain.get_state()


def test_running_mean_std_matches_the_batch_statistics():
    from agents.torch_agents.normalization import RunningMeanStd

    data = np.random.default_rng(0).normal(3.0, 2.0, (500, 2))
    rms = RunningMeanStd((2,))
    for row in data:
        rms.update(row)
    assert rms.mean == pytest.approx(data.mean(0), rel=1e-5)
    assert rms.var == pytest.approx(data.var(0), rel=1e-3)


def test_discrete_observations_are_one_hot():
    agent = PPOAgent(gym.spaces.Discrete(4), gym.spaces.Discrete(2), FAST, 0)
    agent.act(2)
    agent.observe(3, 0.0, False, False)
    assert agent.rollout.obs[0].tolist() == [0, 0, 1, 0] and agent.rollout.next_obs[0].tolist() == [0, 0, 0, 1]


@pytest.mark.parametrize("field", ["learning_rate", "clip_range", "gamma", "gae_lambda", "ent_coef", "log_std_init"])
def test_non_finite_floats_are_refused(field):
    for value in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match=f"PPOConfig.{field} = {value!r} is invalid: use a finite number"):
            PPOConfig(**{field: value})
