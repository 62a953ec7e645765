"""The hierarchy agent's metrics(): read-only, per episode, exact through get_state/set_state, checked on load."""

from __future__ import annotations

import hashlib

import gymnasium as gym
import numpy as np
import pytest

from agents.registry import make_agent
from tests.torch_agents.torch_helpers import Driver


def _make(seed: int = 1):
    env = gym.make("CartPole-v1")
    return make_agent("hierarchy", env.observation_space, env.action_space, {}, seed=seed), env


def _drive(agent, env, steps: int, on_episode_end=None) -> list[int]:
    """``steps`` of the runner's loop (`Driver`); ``on_episode_end(metrics)`` before each episode's clear_state."""
    driver = Driver(agent, env)
    if on_episode_end is not None:
        clear = agent.clear_state
        agent.clear_state = lambda: (on_episode_end(agent.metrics()), clear())
    return driver.step(steps)


def _digests(agent, actions) -> tuple[str, ...]:
    return (
        hashlib.sha256(bytes(actions)).hexdigest(),
        hashlib.sha256(agent.get_weights()["hierarchy"].tobytes()).hexdigest(),
        hashlib.sha256(agent.get_state()["hierarchy"].tobytes()).hexdigest(),
    )


def test_recording_metrics_changes_no_action_weight_or_hierarchy_state():
    with_metrics, env = _make()
    logged = []
    digests = _digests(with_metrics, _drive(with_metrics, env, 300, logged.append))
    without, env = _make()
    without._metrics.record = lambda hierarchy: None
    assert _digests(without, _drive(without, env, 300)) == digests
    assert len(logged) >= 3
    first, last = logged[0], logged[-1]
    assert 0.0 < first["hierarchy/policy_entropy"] <= np.log(2) + 1e-9  # two actions: at most log 2
    assert 0.0 < first["hierarchy/replay_fill"] < last["hierarchy/replay_fill"] <= 1.0
    assert last["hierarchy/layer0/cells_used_episode"] <= last["hierarchy/layer0/cells_used_ever"] <= 1.0
    assert first["losses/abs_td_error"] >= abs(first["losses/td_error"]) > 0.0
    assert all(np.isfinite(v) for m in logged for v in m.values())


def test_clear_state_starts_a_new_episode_of_metrics_but_keeps_the_run_wide_cell_mask():
    agent, env = _make()
    _drive(agent, env, 50)
    ever = agent.metrics()["hierarchy/layer0/cells_used_ever"]
    agent.clear_state()
    m = agent.metrics()
    assert m["hierarchy/value_estimate"] == 0.0 and m["hierarchy/layer0/cells_used_episode"] == 0.0
    assert m["hierarchy/layer0/cells_used_ever"] == ever > 0.0


def test_metrics_resume_exactly_mid_episode():
    agent, env = _make()
    obs, _ = env.reset(seed=0)
    agent.clear_state()
    for _ in range(7):  # mid-episode (CartPole lasts at least 8 steps)
        obs, *_ = env.step(agent.act(obs))
        agent.observe(obs, 1.0, False, False)
    restored, _ = _make(seed=99)
    restored.set_weights(agent.get_weights())
    restored.set_state(agent.get_state())
    assert restored.metrics() == agent.metrics()
    for a in (agent, restored):
        a.observe(obs, 1.0, False, False)
        a.act(obs)
    assert restored.metrics() == agent.metrics()


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("metrics_sums", np.full(7, np.nan), "finite float64"),
        ("metrics_sums", np.array([0, 0, 0, 0, -1, 0, 0], np.float64), "negative count"),
        ("metrics_cells_used", np.full(1600, 2, np.uint8), "0/1"),
        ("metrics_cells_ever", np.zeros(3, np.uint8), "uint8 of 0/1"),
    ],
)
def test_bad_metric_state_is_refused_before_anything_changes(key, value, match):
    agent, env = _make()
    _drive(agent, env, 20)
    before = agent.get_state()
    bad = dict(before, **{key: value})
    with pytest.raises(ValueError, match=match):
        agent.set_state(bad)
    after = agent.get_state()
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_replay_view_getter_refuses_a_non_action_port():
    agent, _ = _make()
    with pytest.raises(ValueError, match="NONE"):
        agent.hierarchy.get_replay_view(agent.OBS_PORT)


def test_replay_view_getter_shows_the_ring_read_only():
    agent, env = _make()
    obs, _ = env.reset(seed=0)
    agent.clear_state()
    obs, *_ = env.step(agent.act(obs))  # sample 1: reward 0 (none came before it)
    agent.observe(obs, 0.5, False, False)  # waits for the next act
    obs, *_ = env.step(agent.act(obs))  # sample 2 carries 0.5
    agent.observe(obs, 2.0, True, False)  # the terminal step pushes sample 3, terminated, with its reward
    values, rewards, flags, meta = agent.hierarchy.get_replay_view(agent.ACTION_PORT)
    actor = agent.hierarchy._actors[0]
    cap = len(flags)
    newest = [(int(meta[0]) + k) % cap for k in range(3)]
    assert int(meta[1]) == 3 and cap == actor.h_flags.shape[0]
    assert rewards[newest].tolist() == [2.0, 0.5, 0.0] and flags[newest].tolist() == [1, 0, 0]
    assert np.shares_memory(values, actor.h_values) and np.array_equal(values, actor.h_values)
    for view in (values, rewards, flags, meta):
        with pytest.raises(ValueError, match="read-only"):
            view[0] = 1


def test_policy_and_cells_views_are_read_only_and_follow_steps_and_loads():
    agent, env = _make()
    h = agent.hierarchy
    policy, cells = h.get_prediction_acts_view(agent.ACTION_PORT), h.get_hidden_cis_view(0)
    for view in (policy, cells):
        with pytest.raises(ValueError, match="read-only"):
            view[0] = 1
    _drive(agent, env, 40)
    state = agent.get_state()
    assert np.array_equal(policy, h.get_prediction_acts(agent.ACTION_PORT))
    assert np.array_equal(cells, h.get_hidden_cis(0))
    saved_policy, saved_cells = policy.copy(), cells.copy()
    _drive(agent, env, 7)
    assert np.array_equal(policy, h.get_prediction_acts(agent.ACTION_PORT))
    agent.set_state(state)  # a load writes in place: the same views show the restored arrays
    assert np.array_equal(policy, saved_policy) and np.array_equal(cells, saved_cells)
    assert np.array_equal(cells, h.get_hidden_cis(0))
    with pytest.raises(ValueError, match="NONE"):
        h.get_prediction_acts_view(agent.OBS_PORT)
    with pytest.raises(ValueError, match="layer 5"):
        h.get_hidden_cis_view(5)


def _two_layers(seed: int = 1):
    env = gym.make("CartPole-v1")
    config = {"layers": [[4, 4, 16], [3, 3, 16]]}
    return make_agent("hierarchy", env.observation_space, env.action_space, config, seed=seed), env


def test_upper_layers_prediction_accuracy_is_the_fraction_of_columns_predicted_right():
    agent, env = _two_layers()
    obs, _ = env.reset(seed=0)
    agent.clear_state()
    held, hits, compared = None, 0, 0
    for _ in range(6):  # one episode (CartPole lasts at least 8 steps): count as the definition says
        obs, *_ = env.step(agent.act(obs))
        actual = agent.hierarchy.get_hidden_cis(0)
        if held is not None:
            hits, compared = hits + int((held == actual).sum()), compared + actual.size
        held = agent.hierarchy.get_layer_prediction_cis(1)
        agent.observe(obs, 1.0, False, False)
    m = agent.metrics()
    assert compared == 5 * 16 and m["hierarchy/layer1/prediction_accuracy"] == hits / compared
    assert "hierarchy/layer0/prediction_accuracy" not in m and "hierarchy/layer1/cells_used_ever" in m
    assert "metrics_predicted" in agent.get_state()
    agent.clear_state()
    assert agent.metrics()["hierarchy/layer1/prediction_accuracy"] == 0.0
    single, _ = _make()
    assert not any(k.endswith("prediction_accuracy") for k in single.metrics())
    assert "metrics_predicted" not in single.get_state()  # the default single-layer state is unchanged


def test_two_layer_metrics_resume_exactly_mid_episode():
    agent, env = _two_layers()
    _drive(agent, env, 40)  # a few episodes in, then mid-episode
    restored, _ = _two_layers(seed=99)
    restored.set_weights(agent.get_weights())
    restored.set_state(agent.get_state())
    assert restored.metrics() == agent.metrics()
    obs = env.observation_space.sample() * 0.1
    for a in (agent, restored):
        for _ in range(3):
            a.observe(obs, 1.0, False, False)
            a.act(obs)
    assert restored.metrics() == agent.metrics()
    assert agent.metrics()["hierarchy/layer1/prediction_accuracy"] > 0.0


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("metrics_predicted", np.full(16, 16, np.int32), "outside its layer's cells"),
        ("metrics_predicted", np.zeros(16, np.int64), "int32"),
        ("metrics_prediction_counts", np.array([1.0, 5.0, 4.0]), "hits <= comparisons"),
        ("metrics_prediction_counts", np.array([2.0, 0.0, 0.0]), "0/1 flag"),
    ],
)
def test_bad_prediction_state_is_refused_before_anything_changes(key, value, match):
    agent, env = _two_layers()
    _drive(agent, env, 20)
    before = agent.get_state()
    with pytest.raises(ValueError, match=match):
        agent.set_state(dict(before, **{key: value}))
    after = agent.get_state()
    assert all(np.array_equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("config", [{}, {"history_capacity": 8, "min_steps": 4}], ids=["default", "small-ring"])
def test_steps_added_in_blocks_equal_steps_added_one_by_one(config):
    """record() only notes a step; blocks are added later from the replay ring. Block size 1 is the step-by-step
    definition: every episode's metrics must be bit-identical (a small ring wraps inside a block of 7)."""
    env = gym.make("CartPole-v1")
    logs = []
    for block in (None, 1):
        agent = make_agent("hierarchy", env.observation_space, env.action_space, config, seed=1)
        if block is not None:
            agent._metrics._probs, agent._metrics._cis = agent._metrics._probs[:block], agent._metrics._cis[:block]
        logged = []
        _drive(agent, env, 400, logged.append)
        logs.append((logged, agent.metrics(), _digests(agent, [])[2]))
    assert len(logs[0][0]) >= 5 and logs[0] == logs[1]


def test_the_closing_step_of_an_episode_is_in_its_metrics():
    """The final observation is stepped at the episode's end (terminated/truncated): that step counts in the
    episode's metrics like any other (the replay fill they report is the hierarchy's after it)."""
    agent, env = _make()
    seen = []

    def at_end(metrics):
        _, _, flags, meta = agent.hierarchy.get_replay_view(agent.ACTION_PORT)
        seen.append((metrics["hierarchy/replay_fill"], int(meta[1]) / len(flags)))

    _drive(agent, env, 120, on_episode_end=at_end)
    assert len(seen) >= 2 and all(reported == actual for reported, actual in seen), seen
