"""DQNAgent: learning smoke test, bit-identical restore (mid-episode, before an update, between act and
observe), learn-off, pickle-free arrays, space and config errors, SB3 semantics of the schedule."""

from __future__ import annotations


import gymnasium as gym
import numpy as np
import pytest
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from agents.torch_agents.config import DQNConfig
from agents.torch_agents.dqn import DQNAgent, linear_epsilon
from tests.torch_agents.torch_helpers import Driver, assert_fork_continues_bit_identically, digest

# Small enough to train for a few hundred gradient steps in well under a second.
FAST = DQNConfig(
    learning_starts=64,
    train_freq=16,
    gradient_steps=4,
    batch_size=16,
    net_arch=(32, 32),
    buffer_size=500,
    total_timesteps=1000,
)


def make(config: DQNConfig = FAST, seed: int = 0) -> tuple[DQNAgent, gym.Env]:
    env = gym.make("CartPole-v1")
    return DQNAgent(env.observation_space, env.action_space, config, seed), env


def fork(driver: Driver, config: DQNConfig = FAST) -> Driver:
    """A fresh agent (other seed) restored from ``driver``'s weights and state, on a copy of its env."""
    return driver.fork(make(config, seed=1234)[0])


class Chain(gym.Env):
    """Walk right along ``n`` cells to the goal (reward 1, terminated); truncated after 25 steps.

    Random play needs ~22 steps (often truncated); the optimum is ``n - 1`` = 7 steps.
    """

    def __init__(self, n: int = 8) -> None:
        self.n = n
        self.observation_space = gym.spaces.Box(0.0, 1.0, (n,))
        self.action_space = gym.spaces.Discrete(2)

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.n, np.float32)
        obs[self.pos] = 1.0
        return obs

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos, self.t = 0, 0
        return self._obs(), {}

    def step(self, action):
        self.pos = max(0, self.pos + (1 if action == 1 else -1))
        self.t += 1
        terminated = self.pos == self.n - 1
        return self._obs(), float(terminated), terminated, self.t >= 25 and not terminated, {}


def test_learns_a_tiny_task_on_a_tiny_budget():
    config = DQNConfig(
        learning_starts=200,
        train_freq=4,
        gradient_steps=1,
        batch_size=32,
        net_arch=(32,),
        learning_rate=3e-3,
        target_update_interval=50,
        exploration_fraction=0.5,
        exploration_final_eps=0.02,
        total_timesteps=1500,
        buffer_size=1500,
        gamma=0.9,
    )
    env = Chain()
    driver = Driver(DQNAgent(env.observation_space, env.action_space, config, 0), env)
    driver.step(1500)
    lengths = driver.lengths
    assert np.mean(lengths[:10]) > 15  # random walk
    assert np.mean(lengths[-10:]) < 9, lengths[-10:]  # optimum: 7


@pytest.mark.parametrize(
    "steps",
    [
        150,  # mid-episode, between updates
        FAST.train_freq * 6 - 1,  # the next observe() runs an update
        FAST.learning_starts - 1,  # the next action is the first epsilon-greedy one
    ],
)
def test_restore_continues_bit_identically(steps):
    original = Driver(*make())
    original.step(steps)
    assert_fork_continues_bit_identically(original, fork(original))


def test_restore_between_act_and_observe_and_with_full_ring():
    config = DQNConfig(**{**FAST.__dict__, "buffer_size": 100})  # the ring wraps several times
    original = Driver(*make(config))
    original.step(537)
    action = original.agent.act(original.obs)  # checkpoint with an act() not yet observed
    restored = fork(original, config)
    for driver in (original, restored):
        driver.finish(action)
    assert restored.agent.buffer.size == 100
    assert restored.step(200) == original.step(200)
    assert digest(restored.agent.get_weights()) == digest(original.agent.get_weights())


def test_fresh_agent_round_trip_is_exact():
    """A fresh agent's weights and state copied into an agent of another seed: from then on both act, learn
    and draw alike (the copy is what makes them equal: before it their weights, RNG and actions differ)."""
    a, env = make(seed=3)
    b, _ = make(seed=4)
    assert digest(a.get_weights()) != digest(b.get_weights())
    assert digest(a.get_state()) != digest(b.get_state())
    b.set_weights(a.get_weights())
    b.set_state(a.get_state())
    assert digest(a.get_weights()) == digest(b.get_weights())
    assert digest(a.get_state()) == digest(b.get_state())
    da, db = Driver(a, env), Driver(b, gym.make("CartPole-v1"))
    assert da.step(200) == db.step(200)
    assert digest(a.get_weights()) == digest(b.get_weights())
    assert digest(a.get_state()) == digest(b.get_state())


def test_learning_disabled_keeps_weight_bytes_and_acts_greedily():
    driver = Driver(*make())
    driver.step(200)
    agent = driver.agent
    weights, state = digest(agent.get_weights()), agent.get_state()
    agent.learn_enabled = False
    for _ in range(300):
        greedy = int(np.argmax(agent.q_numpy(np.asarray(driver.obs, dtype=np.float32))))
        action = agent.act(driver.obs)
        assert action == greedy
        driver.finish(action)
    assert digest(agent.get_weights()) == weights
    # greedy: no RNG draws, no stored transitions, no counters moved
    assert digest(agent.get_state()) == digest(state)


def test_arrays_are_plain_and_survive_safetensors():
    driver = Driver(*make())
    driver.step(120)
    for arrays in (driver.agent.get_weights(), driver.agent.get_state()):
        for key, value in arrays.items():
            assert isinstance(key, str) and isinstance(value, np.ndarray), key
            assert value.dtype.kind in "fiub", (key, value.dtype)
            assert value.ndim >= 1, key  # np.ascontiguousarray (used when saving) turns 0-d into 1-d
        loaded = st_load(st_save(arrays))
        assert digest(loaded) == digest(arrays)
    restored = fork(driver)
    restored.agent.set_weights(st_load(st_save(driver.agent.get_weights())))
    restored.agent.set_state(st_load(st_save(driver.agent.get_state())))
    assert restored.step(100) == driver.step(100)


def test_weights_hold_target_network_and_adam_moments():
    driver = Driver(*make())
    driver.step(200)
    weights = driver.agent.get_weights()
    assert any(k.startswith("target_network.") for k in weights)
    assert any(k.endswith(".exp_avg_sq") for k in weights)
    steps = [v for k, v in weights.items() if k.endswith(".step")]
    assert steps and all(s.tolist() == [driver.agent.n_updates] for s in steps)


def test_truncated_bootstraps_terminated_does_not():
    agent, env = make()
    obs, _ = env.reset(seed=0)
    agent.act(obs)
    agent.observe(obs, 1.0, terminated=False, truncated=True)
    agent.act(obs)
    agent.observe(obs, 1.0, terminated=True, truncated=False)
    assert agent.buffer.terminated[:2].tolist() == [0.0, 1.0]


def test_epsilon_schedule_matches_sb3_linear_fn():
    config = DQNConfig()
    assert linear_epsilon(config, 0) == 1.0
    assert linear_epsilon(config, 4000) == pytest.approx(1.0 - 0.96 * 0.5)
    assert linear_epsilon(config, 8000) == pytest.approx(0.04)
    assert linear_epsilon(config, 10**6) == 0.04


def test_mismatched_arrays_name_the_key():
    agent, _ = make()
    weights = agent.get_weights()
    weights.pop("q_network.0.weight")
    with pytest.raises(ValueError, match=r"q_network\.0\.weight"):
        agent.set_weights(weights)
    other, _ = make(DQNConfig(**{**FAST.__dict__, "net_arch": (16, 16)}))
    with pytest.raises(ValueError, match="shape"):
        agent.set_weights(other.get_weights())
    state = agent.get_state()
    state["counters"] = state["counters"].astype(np.float64)
    with pytest.raises(ValueError, match="counters"):
        agent.set_state(state)


@pytest.mark.parametrize(
    ("observation_space", "action_space", "named"),
    [
        (gym.spaces.MultiBinary(4), gym.spaces.Discrete(2), "MultiBinary"),
        (gym.spaces.Box(-1, 1, (3,)), gym.spaces.Box(-1, 1, (1,)), "Box"),
        (gym.spaces.Box(-1, 1, (3,)), gym.spaces.MultiDiscrete([2, 2]), "MultiDiscrete"),
    ],
)
def test_unsupported_spaces_raise_naming_the_space(observation_space, action_space, named):
    with pytest.raises(ValueError, match=named):
        DQNAgent(observation_space, action_space, FAST, 0)


def test_image_like_box_observations_are_flattened():
    agent = DQNAgent(gym.spaces.Box(0, 1, (2, 3)), gym.spaces.Discrete(3, start=1), FAST, 0)
    action = agent.act(np.zeros((2, 3), dtype=np.float32))
    assert action in (1, 2, 3)
    agent.observe(np.ones((2, 3)), 0.0, False, False)
    assert agent.buffer.obs.shape == (FAST.buffer_size, 6)


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("gamma", 1.5, "gamma"),
        ("batch_size", 0, "batch_size"),
        ("buffer_size", 8, "buffer_size"),
        ("net_arch", (64, 0), "net_arch"),
        ("device", "tpu", "device"),
        ("torch_threads", 0, "torch_threads"),
        ("exploration_final_eps", -0.1, "exploration_final_eps"),
        ("learning_rate", "fast", "learning_rate"),
    ],
)
def test_config_errors_name_field_and_value(field, value, fragment):
    with pytest.raises(ValueError, match=fragment) as info:
        DQNConfig(**{field: value})
    assert repr(value) in str(info.value)


def test_config_accepts_lists_from_toml_and_runtime_info_is_plain():
    config = DQNConfig(net_arch=[32, 32])  # type: ignore[arg-type]
    assert config.net_arch == (32, 32) and hash(config)
    agent, _ = make(config)
    info = agent.runtime_info()
    assert info["torch_threads"] == 1 and info["device"] == "cpu" and info["deterministic_algorithms"]
    assert all(isinstance(v, (str, int, bool)) for v in info.values())


def test_discrete_observations_are_one_hot():
    agent = DQNAgent(gym.spaces.Discrete(6, start=-1), gym.spaces.Discrete(2), FAST, 0)
    agent.act(-1)
    agent.observe(4, 0.0, False, False)
    assert agent.buffer.obs[0].tolist() == [1, 0, 0, 0, 0, 0] and agent.buffer.next_obs[0].tolist() == [0] * 5 + [1]


def test_a_buffer_that_cannot_fit_is_refused_before_allocation():
    with pytest.raises(ValueError, match=r"DQNConfig\.buffer_size = 10000000000000 needs about .* available"):
        DQNAgent(gym.spaces.Box(-1, 1, (4,)), gym.spaces.Discrete(2), DQNConfig(buffer_size=10**13), 0)


@pytest.mark.parametrize(
    ("column", "value", "match"),
    [
        ("buffer.actions", 7, r"action indices outside \[0, 2\)"),
        ("buffer.actions", -1, r"action indices outside \[0, 2\)"),
        ("buffer.rewards", float("nan"), "non-finite"),
        ("buffer.obs", float("inf"), "non-finite"),
        ("buffer.terminated", 0.5, "only 0 and 1"),
    ],
)
def test_crafted_buffer_values_are_refused_before_anything_changes(column, value, match):
    """A re-signed checkpoint with an out-of-range action index or a NaN in the replay buffer: a clear
    ValueError at load (not an index error or NaN weights at the next update), and the agent is unchanged."""
    driver = Driver(*make())
    driver.step(80)
    state = driver.agent.get_state()
    crafted = {key: value_.copy() for key, value_ in state.items()}
    crafted[column].reshape(-1)[0] = value
    fresh, _ = make(seed=5)
    before = digest(fresh.get_state())
    with pytest.raises(ValueError, match=match):
        fresh.set_state(crafted)
    assert digest(fresh.get_state()) == before
