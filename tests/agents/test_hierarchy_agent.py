"""The hierarchy agent: config validation, episode boundaries, state/weights, and that it learns."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import envs
from agents.episode import play_episode
from agents.hierarchy_agent import HierarchyAgent
from agents.hierarchy_config import HierarchyAgentConfig


def make(env_id: str = "CartPole-v1", seed: int = 0, **overrides) -> tuple[HierarchyAgent, gym.Env]:
    env = envs.make_env(env_id)
    return HierarchyAgent(env.observation_space, env.action_space, HierarchyAgentConfig(**overrides), seed), env


def episode_returns(agent: HierarchyAgent, env: gym.Env, episodes: int, seed: int = 0) -> list[float]:
    return [play_episode(agent, env, seed=seed if i == 0 else None).episode_return for i in range(episodes)]


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("layers", (), "layers must be a non-empty list"),
        ("layers", ((5, 5),), "layers must be a non-empty list"),
        ("policy_lr", 0.0, "policy_lr must be finite and > 0"),
        ("discount", 1.5, r"discount must be in \[0, 1\]"),
        ("min_steps", 5000, "min_steps must be in"),
        ("recurrent_radius", -2, "recurrent_radius must be >= -1"),
        ("skip_radius", -2, r"skip_radius must be in \[-1, 1024\]"),
        ("skip_radius", 1025, r"skip_radius must be in \[-1, 1024\]"),
    ],
)
def test_config_errors_name_the_field(field, value, match):
    with pytest.raises(ValueError, match=match):
        HierarchyAgentConfig(**{field: value})


def test_config_round_trips_through_plain_data():
    import dataclasses

    config = HierarchyAgentConfig(layers=[[4, 4, 32], [3, 3, 16]], obs_low=[-1, -2], obs_high=[1, 2])
    plain = dataclasses.asdict(config)
    assert HierarchyAgentConfig(**plain) == config
    assert config.layers == ((4, 4, 32), (3, 3, 16))


def test_learns_cartpole_within_a_small_budget():
    agent, env = make(seed=0)
    returns = episode_returns(agent, env, 100)
    early, late = np.mean(returns[:20]), np.mean(returns[-20:])
    assert late > 3 * early, (early, late)


def _mid_episode_with_context(agent: HierarchyAgent, env: gym.Env):
    """Step until the agent holds a non-zero last action and a pending reward (so clearing them is visible)."""
    obs, _ = env.reset(seed=0)
    agent.clear_state()
    for _ in range(200):
        agent.act(obs)
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            obs, _ = env.reset()
            agent.clear_state()
            continue
        agent.observe(obs, 1.0, False, False)
        state = agent.get_state()
        if state["last_action"].any() and state["pending_reward"][0] != 0.0 and agent.hierarchy.get_hidden_cis(0).any():
            return obs
    raise AssertionError("the agent never chose action 1 in 200 steps")


def test_clear_state_resets_last_action_pending_reward_and_context_but_not_weights():
    agent, env = make(seed=1)
    env.action_space.seed(0)
    obs = _mid_episode_with_context(agent, env)
    weights = agent.get_weights()["hierarchy"].tobytes()
    agent.clear_state()
    state = agent.get_state()
    assert not state["last_action"].any()
    assert state["pending_reward"][0] == 0.0
    assert not agent.hierarchy.get_hidden_cis(0).any()
    assert agent.get_weights()["hierarchy"].tobytes() == weights
    # The next step sees the action port as a fresh agent with these weights would: the same action follows.
    fresh, _ = make(seed=1)
    fresh.set_weights(agent.get_weights())
    fresh.learn_enabled = agent.learn_enabled = False
    fresh.hierarchy.set_state_from_buffer(agent.get_state()["hierarchy"])
    assert agent.act(obs) == fresh.act(obs)
    np.testing.assert_array_equal(agent.get_state()["last_action"], fresh.get_state()["last_action"])


def test_clear_state_restarts_the_discounted_return_of_reward_normalisation():
    """With ``reward_normalize`` the rewards are divided by the RMS of a running discounted return: that return
    restarts at every episode (as SB3's VecNormalize does at ``done``), the moments learnt so far are kept."""
    agent, env = make(seed=1, reward_normalize=True)
    env.action_space.seed(0)
    _mid_episode_with_context(agent, env)
    weights = agent.get_weights()["return_moments"].tobytes()
    assert agent.get_state()["return_acc"][0] != 0.0
    agent.clear_state()
    assert agent.get_state()["return_acc"][0] == 0.0
    assert agent.get_weights()["return_moments"].tobytes() == weights


@pytest.mark.parametrize(
    ("terminated", "truncated", "flag", "scale"),
    [(True, False, 1, 1.0), (False, True, 2, 1.0), (True, True, 1, 1.0), (True, False, 1, 0.5)],
)
def test_terminal_step_closes_the_episode(terminated, truncated, flag, scale):
    """The final observation is stepped at once with the final (scaled) reward and the episode's end flag (1
    terminated: V=0; 2 truncated: bootstrap), so nothing carries over into the next episode's first step."""
    agent, env = make(seed=1, reward_scale=scale)
    obs, _ = env.reset(seed=0)
    agent.clear_state()
    actor = agent.hierarchy._actors[0]
    for _ in range(3):
        agent.act(obs)
        agent.observe(obs, 1.0, False, False)
    agent.act(obs)
    size = int(actor.h_meta[1])
    agent.observe(obs, 1.0, terminated, truncated)
    assert int(actor.h_meta[1]) == size + 1  # one more replay sample: the closing step
    newest = int(actor.h_meta[0])
    assert actor.h_flags[newest] == flag
    config = agent.config
    expected = 1.0 * config.reward_scale + (config.terminal_reward if terminated else 0.0)
    assert actor.h_rewards[newest] == np.float32(expected)
    assert agent.get_state()["pending_reward"][0] == 0.0


def test_reward_waits_in_state_until_the_next_observation():
    agent, env = make(seed=2)
    obs, _ = env.reset(seed=0)
    agent.clear_state()
    agent.act(obs)
    agent.observe(obs, 1.0, False, False)
    assert agent.get_state()["pending_reward"][0] == 1.0
    agent.act(obs)
    assert agent.get_state()["pending_reward"][0] == 0.0


def test_continuing_mode_ignores_clear_state_and_adds_terminal_reward():
    agent, env = make(seed=3, episodic=False, terminal_reward=-100.0)
    obs, _ = env.reset(seed=0)
    agent.act(obs)
    agent.observe(obs, 1.0, True, False)
    before = {k: v.tobytes() for k, v in agent.get_state().items()}
    agent.clear_state()
    assert {k: v.tobytes() for k, v in agent.get_state().items()} == before
    assert agent.get_state()["pending_reward"][0] == -99.0


def test_state_from_another_agent_is_refused():
    agent, _ = make()
    with pytest.raises(ValueError, match="must hold exactly"):
        agent.set_state({"rng": np.zeros(3, np.uint8)})
    with pytest.raises(ValueError, match="last_action"):
        state = agent.get_state()
        state["last_action"] = np.zeros(5, np.int32)
        agent.set_state(state)
    with pytest.raises(ValueError, match="outside the action port"):
        state = agent.get_state()
        state["last_action"] = np.array([2], np.int32)  # CartPole's port has cells 0 and 1
        agent.set_state(state)
    with pytest.raises(ValueError, match="pending_reward"):
        state = agent.get_state()
        state["pending_reward"] = np.array([np.nan])
        agent.set_state(state)


def test_sizes_match_buffers_and_skip_off_grid_weights():
    agent, _ = make()
    assert agent.weights_size == agent.get_weights()["hierarchy"].nbytes
    assert agent.state_size == agent.get_state()["hierarchy"].nbytes
    assert agent.weights_size < 1_747_200 / 2  # the anchor allocates 1.75 MB for the same shapes


@pytest.mark.parametrize("env_id", ["MountainCarContinuous-v0", "sphgym/DelayedCue-v0", "Acrobot-v1"])
def test_drives_other_spaces(env_id):
    agent, env = make(env_id, history_capacity=64)
    obs, _ = env.reset(seed=0)
    agent.clear_state()
    for _ in range(30):
        action = agent.act(obs)
        assert env.action_space.contains(action)
        obs, reward, terminated, truncated, _ = env.step(action)
        agent.observe(obs, float(reward), terminated, truncated)
        if terminated or truncated:
            obs, _ = env.reset()
            agent.clear_state()


def test_inspect_reports_the_rng_inside_the_hierarchy_state(tmp_path):
    from agents.runner import RunConfig, Runner, inspect_checkpoint

    run_dir = tmp_path / "run"
    Runner(run_dir, RunConfig(agent="hierarchy", episodes=2, seed=0, tensorboard=False), log=None).train()
    assert "agent" in inspect_checkpoint(run_dir)["rng_states"]


def _run_steps(agent: HierarchyAgent, env: gym.Env, steps: int, seed: int = 0) -> None:
    obs, _ = env.reset(seed=seed)
    agent.clear_state()
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(agent.act(obs))
        agent.observe(obs, float(reward), terminated, truncated)
        if terminated or truncated:
            obs, _ = env.reset()
            agent.clear_state()


def test_running_statistics_live_in_the_weights_and_move_only_while_learning():
    agent, env = make(seed=4, obs_normalize=True, reward_normalize=True)
    _run_steps(agent, env, 200)
    weights = agent.get_weights()
    assert set(weights) == {"hierarchy", "obs_moments", "return_moments", "obs_range"}
    assert weights["obs_moments"][0] == 200  # one update per act(): count, then mean/m2 of the 2 velocities
    assert weights["obs_moments"].shape == (1 + 2 * 2,)
    assert "return_acc" in agent.get_state()
    agent.learn_enabled = False
    _run_steps(agent, env, 50)
    after = agent.get_weights()
    assert all(after[k].tobytes() == weights[k].tobytes() for k in ("obs_moments", "return_moments", "obs_range"))


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"obs_normalize": True, "reward_normalize": True}, id="running-statistics"),
        # The prediction the surprise bonus compares with is hierarchy state: nothing else to save.
        pytest.param({"surprise_reward": 0.3}, id="surprise-reward"),
    ],
)
def test_learned_statistics_and_options_restore_exactly(options):
    """A copy made from get_weights/get_state continues byte-identically (the runner's resume relies on it)."""
    agent, env = make(seed=5, **options)
    _run_steps(agent, env, 150)
    twin, twin_env = make(seed=99, **options)
    twin.set_weights(agent.get_weights())
    twin.set_state(agent.get_state())
    obs = np.array([0.1, 0.5, -0.02, -0.7], dtype=np.float32)
    for a in (agent, twin):
        for _ in range(20):
            a.act(obs)
            a.observe(obs, 1.0, False, False)
    for kind in ("get_weights", "get_state"):
        mine, theirs = getattr(agent, kind)(), getattr(twin, kind)()
        assert {k: v.tobytes() for k, v in mine.items()} == {k: v.tobytes() for k, v in theirs.items()}


def test_running_statistics_are_checked_on_load():
    agent, _ = make(obs_normalize=True, reward_normalize=True)
    weights = agent.get_weights()
    with pytest.raises(ValueError, match="obs_moments.*NaN"):
        agent.set_weights({**weights, "obs_moments": np.full(5, np.nan)})
    with pytest.raises(ValueError, match="return_moments.*shape"):
        agent.set_weights({**weights, "return_moments": np.zeros(7)})
    with pytest.raises(ValueError, match="must hold exactly"):
        agent.set_weights({"hierarchy": weights["hierarchy"]})
    with pytest.raises(ValueError, match="return_acc"):
        agent.set_state({**agent.get_state(), "return_acc": np.array([np.inf])})


def test_obs_normalize_centres_the_sigmoid_on_the_running_mean():
    agent, _ = make(obs_normalize=True)
    obs = [np.array([0.0, v, 0.0, 10.0 + v], dtype=np.float32) for v in (-1.0, 1.0)]
    for o in obs * 50:
        agent.act(o)
    # Velocities are centred (mean 0 and 10) and scaled by their spread (1): +1 sd lands above the middle bin.
    cis = agent._encoder.encode(np.array([0.0, 0.0, 0.0, 10.0], dtype=np.float32))
    assert cis[1] == cis[3] == 8
    assert agent._encoder.encode(np.array([0.0, 1.0, 0.0, 11.0], dtype=np.float32))[[1, 3]].tolist() == [11, 11]


def test_unbounded_box_actions_take_their_range_from_the_config():
    from gymnasium import spaces

    from envs import UnsupportedSpaceError

    obs_space, act_space = spaces.Box(-1.0, 1.0, (2,)), spaces.Box(-np.inf, np.inf, (1,))
    with pytest.raises(UnsupportedSpaceError, match="action_low/action_high"):
        HierarchyAgent(obs_space, act_space, HierarchyAgentConfig(), 0)
    config = HierarchyAgentConfig(action_low=(-3.0,), action_high=(3.0,), action_bins=3, obs_squash_scales=(1.0, 1.0))
    agent = HierarchyAgent(obs_space, act_space, config, 0)
    assert float(agent.act(np.zeros(2, np.float32))[0]) in (-2.0, 0.0, 2.0)


def test_surprise_reward_pays_for_what_the_hierarchy_failed_to_predict():
    from hierarchy import IOType

    plain, _ = make(seed=6)
    assert plain.hierarchy.get_io_type(HierarchyAgent.OBS_PORT) == IOType.NONE  # off: no decoder, no cost
    agent, env = make(seed=6, surprise_reward=0.5)
    assert agent.hierarchy.get_io_type(HierarchyAgent.OBS_PORT) == IOType.PREDICTION
    obs, _ = env.reset(seed=0)
    agent.clear_state()
    agent.act(obs)
    obs, _, _, _, _ = env.step(0)
    cis = agent._encoder.encode(obs)
    acts = agent.hierarchy.get_prediction_acts(HierarchyAgent.OBS_PORT).reshape(cis.size, -1)
    expected = 0.5 * (1.0 - acts[np.arange(cis.size), cis].mean())
    agent.observe(obs, 1.0, False, False)
    assert agent.get_state()["pending_reward"][0] == pytest.approx(1.0 + expected, rel=1e-12)
    assert 0.0 < expected <= 0.5
    # Well-predicted observations pay less: after a stretch of learning the bonus has fallen.
    surprises = []
    for _ in range(600):
        obs, _, terminated, truncated, _ = env.step(agent.act(obs))
        surprises.append(agent._surprise(agent._encoder.encode(obs)))
        agent.observe(obs, 1.0, terminated, truncated)
        if terminated or truncated:
            obs, _ = env.reset()
            agent.clear_state()
    assert np.mean(surprises[-100:]) < np.mean(surprises[:100])



@pytest.mark.parametrize("pending", [np.zeros(2), np.zeros(0), np.zeros((1, 2))])
def test_a_pending_reward_that_is_not_one_float_is_refused(pending):
    agent, _ = make()
    state = agent.get_state()
    state["pending_reward"] = pending
    with pytest.raises(ValueError, match=r"state\['pending_reward'\] must hold one float"):
        agent.set_state(state)
