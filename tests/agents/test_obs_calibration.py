"""The hierarchy agent's observation calibration (``obs_calibrate_steps``, `agents.running_range`)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from agents.hierarchy_agent import HierarchyAgent
from agents.hierarchy_config import HierarchyAgentConfig
from agents.running_range import RunningRange, calibrated_bounds

# Element 0 is declared +-10 but moves within +-1; element 1 fills its declared [0, 1]; element 2 is unbounded.
SPACE = gym.spaces.Box(np.array([-10.0, 0.0, -np.inf]), np.array([10.0, 1.0, np.inf]), dtype=np.float64)


def _obs(rng: np.random.Generator) -> np.ndarray:
    return np.array([rng.uniform(-1, 1), rng.uniform(0, 1), rng.normal()])


def _agent(steps: int = 20, **fields) -> HierarchyAgent:
    config = HierarchyAgentConfig(layers=[[3, 3, 8]], obs_calibrate_steps=steps, **fields)
    return HierarchyAgent(SPACE, gym.spaces.Discrete(2), config, seed=0)


def _drive(agent: HierarchyAgent, steps: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        agent.act(_obs(rng))
        agent.observe(_obs(rng), 0.0, False, False)


def test_running_range_records_the_first_limit_vectors():
    r = RunningRange(2, limit=3)
    for x in ([1.0, -1.0], [3.0, 0.0], [2.0, -5.0], [100.0, 100.0]):
        r.update(np.array(x))
    assert r.full and r.count == 3
    assert r.low.tolist() == [1.0, -5.0] and r.high.tolist() == [3.0, 0.0]  # the fourth vector is ignored


def test_calibrated_bounds_narrow_only_far_wider_declared_ranges():
    seen = RunningRange(3, limit=2)
    for x in ([-1.0, 0.0, 2.0], [1.0, 1.0, 2.0]):
        seen.update(np.array(x))
    low, high = calibrated_bounds(np.array([-10.0, 0.0, 0.0]), np.array([10.0, 1.0, 10.0]), seen, ratio=0.25)
    # [-1, 1] plus 10 % each side; [0, 1] is the whole declared range; a constant element keeps its bounds.
    assert low.tolist() == [-1.2, 0.0, 0.0] and high.tolist() == [1.2, 1.0, 10.0]
    low, high = calibrated_bounds(np.array([-1.5, 0.0, 0.0]), np.array([1.5, 1.0, 10.0]), seen, ratio=0.25)
    assert low.tolist()[0] == -1.5  # 2.4 wide is not under a quarter of 3.0: the declared range stays


def test_the_agent_bins_over_the_observed_range_after_the_warm_up():
    agent = _agent(steps=20)
    encoder = agent._encoder
    _drive(agent, 19)
    assert encoder.low.tolist()[:2] == [-10.0, 0.0] and encoder.high.tolist()[:2] == [10.0, 1.0]
    _drive(agent, 1, seed=1)
    assert -1.3 < encoder.low[0] < -0.8 and 0.8 < encoder.high[0] < 1.3
    assert (encoder.low[1], encoder.high[1]) == (0.0, 1.0)
    frozen = encoder.low.copy(), encoder.high.copy()
    _drive(agent, 30, seed=2)  # later observations never move it again
    assert np.array_equal(encoder.low, frozen[0]) and np.array_equal(encoder.high, frozen[1])
    # 0.9 now lands in the top cells instead of the middle ones
    assert agent._encoder.encode(np.array([0.9, 0.5, 0.0]))[0] >= 14


def test_nothing_is_recorded_with_learning_off():
    agent = _agent(steps=5)
    agent.learn_enabled = False
    _drive(agent, 10)
    assert agent._obs_range.count == 0 and agent._encoder.low[0] == -10.0


def test_the_record_is_part_of_the_weights():
    trained = _agent(steps=20)
    _drive(trained, 25)
    weights = trained.get_weights()
    assert weights["obs_range"][0] == 20.0
    fresh = _agent(steps=20)
    fresh.set_weights(weights)
    assert np.array_equal(fresh._encoder.low, trained._encoder.low)
    assert np.array_equal(fresh._encoder.high, trained._encoder.high)
    # an earlier record (mid warm-up) brings the declared bounds back
    early = _agent(steps=20)
    _drive(early, 3)
    fresh.set_weights(early.get_weights())
    assert fresh._encoder.low[0] == -10.0 and fresh._obs_range.count == 3


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda a: a.__setitem__(0, 21.0), r"count 21.0, expected a whole number in \[0, 20\]"),
        (lambda a: a.__setitem__(0, 2.5), "expected a whole number"),
        (lambda a: a.__setitem__(1, np.nan), "NaN or infinity"),
        (lambda a: a.__setitem__(1, 50.0), "a low above its high"),
    ],
)
def test_a_damaged_record_is_refused_and_changes_nothing(mutate, match):
    agent = _agent(steps=20)
    _drive(agent, 25)
    weights = agent.get_weights()
    before = agent._encoder.low.copy(), agent._obs_range.array.copy()
    bad = weights["obs_range"].copy()
    mutate(bad)
    with pytest.raises(ValueError, match=match):
        agent.set_weights({**weights, "obs_range": bad})
    with pytest.raises(ValueError, match="float64 array of shape"):
        agent.set_weights({**weights, "obs_range": bad[:-1]})
    assert np.array_equal(agent._encoder.low, before[0]) and np.array_equal(agent._obs_range.array, before[1])


def test_off_or_without_bounded_elements_there_is_no_record():
    assert "obs_range" not in _agent(steps=0).get_weights()
    unbounded = gym.spaces.Box(-np.inf, np.inf, (2,), np.float64)
    agent = HierarchyAgent(unbounded, gym.spaces.Discrete(2), HierarchyAgentConfig(layers=[[3, 3, 8]]), seed=0)
    assert "obs_range" not in agent.get_weights()


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("obs_calibrate_steps", -1, r"obs_calibrate_steps must be in \[0, 1e9\]"),
        ("obs_calibrate_ratio", 0.0, r"obs_calibrate_ratio must be in \(0, 1\]"),
        ("obs_calibrate_ratio", 1.5, r"obs_calibrate_ratio must be in \(0, 1\]"),
    ],
)
def test_config_errors_name_the_field(field, value, match):
    with pytest.raises(ValueError, match=match):
        HierarchyAgentConfig(**{field: value})
