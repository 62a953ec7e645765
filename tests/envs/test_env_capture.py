import copy
import json

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers import FlattenObservation, RecordEpisodeStatistics

from envs import make_env
from envs.capture import (
    SNAPSHOT_FORMAT,
    can_capture_episode_state,
    capture_env_state,
    register_episode_state,
    restore_env_state,
)
from envs.errors import SnapshotMismatchError

CAPTURABLE = [
    ("CartPole-v1", {}),
    ("Acrobot-v1", {}),
    ("MountainCar-v0", {}),
    ("MountainCarContinuous-v0", {}),
    ("Pendulum-v1", {}),
    ("sphgym/CartPoleNoVelocity-v0", {}),
    ("sphgym/DelayedCue-v0", {"delay": 2}),
]
IDS = [c[0] for c in CAPTURABLE]


def run(env, steps, resets_wanted=None):
    """Step with actions sampled from env.action_space; reset (no seed) on episode end. Returns raw bytes."""
    record = []
    resets = 0
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        record.append((np.asarray(obs).tobytes(), float(reward).hex(), terminated, truncated))
        if terminated or truncated:
            obs, _ = env.reset()
            record.append(("reset", np.asarray(obs).tobytes()))
            resets += 1
            if resets_wanted is not None and resets >= resets_wanted:
                break
    return record


def started(env_id, kwargs, k, seed=11):
    env = make_env(env_id, **kwargs)
    env.reset(seed=seed)
    env.action_space.seed(seed + 1)
    run(env, k)
    return env


def short_episodes(env_id):
    """A short time limit, so that several resets happen inside the compared stretch."""
    return {} if env_id == "sphgym/DelayedCue-v0" else {"max_episode_steps": 40}


@pytest.mark.parametrize(("env_id", "kwargs"), CAPTURABLE, ids=IDS)
def test_restore_into_fresh_env_gives_identical_trajectory_through_resets(env_id, kwargs):
    kwargs = {**kwargs, **short_episodes(env_id)}
    env = started(env_id, kwargs, k=17)
    assert can_capture_episode_state(env)
    snapshot = json.loads(json.dumps(capture_env_state(env), allow_nan=False))
    assert snapshot["episode_state_captured"] is True
    expected = run(env, 150)
    assert sum(1 for r in expected if r[0] == "reset") >= 2

    fresh = make_env(env_id, **kwargs)
    fresh.reset(seed=999)
    fresh.action_space.seed(4242)
    restore_env_state(fresh, snapshot)
    assert run(fresh, 150) == expected


@pytest.mark.parametrize(("env_id", "kwargs"), CAPTURABLE, ids=IDS)
def test_restore_into_env_that_was_never_reset(env_id, kwargs):
    env = started(env_id, kwargs, k=5)
    snapshot = capture_env_state(env)
    expected = run(env, 60)
    fresh = make_env(env_id, **kwargs)
    restore_env_state(fresh, snapshot)
    assert run(fresh, 60) == expected


def test_capture_is_read_only_and_repeatable():
    env = started("CartPole-v1", {}, k=9)
    first = capture_env_state(env)
    second = capture_env_state(env)
    assert first == second
    expected = run(copy.deepcopy(env), 50)
    capture_env_state(env)
    assert run(env, 50) == expected


def test_capture_does_not_create_generators():
    env = make_env("CartPole-v1")
    snapshot = capture_env_state(env)
    assert snapshot["np_random"] is None and snapshot["np_random_seed"] is None
    assert snapshot["action_space"]["rng"] is None and snapshot["observation_space"]["rng"] is None
    assert env.unwrapped._np_random is None
    assert env.action_space._np_random is None and env.observation_space._np_random is None


def test_restore_of_absent_generators_clears_them():
    blank = capture_env_state(make_env("CartPole-v1"))
    env = started("CartPole-v1", {}, k=3)
    restore_env_state(env, blank)
    assert env.unwrapped._np_random is None and env.action_space._np_random is None
    assert env.get_wrapper_attr("_elapsed_steps") is None
    assert env.unwrapped.state is None


def test_restore_assigns_rng_state_in_place_and_keeps_seed():
    env = started("CartPole-v1", {}, k=3, seed=5)
    snapshot = capture_env_state(env)
    fresh = make_env("CartPole-v1")
    fresh.reset(seed=77)
    generator = fresh.unwrapped._np_random
    space_generator = fresh.action_space.np_random
    restore_env_state(fresh, snapshot)
    assert fresh.unwrapped._np_random is generator
    assert fresh.action_space._np_random is space_generator
    assert fresh.unwrapped.np_random_seed == 5


def test_snapshot_contents_cartpole():
    env = started("CartPole-v1", {"max_episode_steps": 500}, k=4)
    snapshot = capture_env_state(env)
    assert snapshot["format"] == SNAPSHOT_FORMAT
    assert snapshot["env_id"] == "CartPole-v1"
    assert snapshot["wrappers"][0].endswith("TimeLimit")
    elapsed = env.get_wrapper_attr("_elapsed_steps")
    assert snapshot["wrapper_state"][0]["_elapsed_steps"] == {"type": "int", "value": elapsed}
    state = snapshot["episode_state"]["state"]
    assert state["dtype"] == "float64"
    assert [float.fromhex(h) for h in state["data"]] == env.unwrapped.state.tolist()
    assert snapshot["not_captured"] == []


def test_state_dtype_preserved_acrobot_float32_after_reset():
    env = make_env("Acrobot-v1")
    env.reset(seed=0)
    assert env.unwrapped.state.dtype == np.float32  # Acrobot keeps float32 until its first step
    fresh = make_env("Acrobot-v1")
    fresh.reset(seed=1)
    fresh.step(0)
    restore_env_state(fresh, capture_env_state(env))
    assert fresh.unwrapped.state.dtype == np.float32
    assert fresh.unwrapped.state.tobytes() == env.unwrapped.state.tobytes()


def test_mountain_car_tuple_state_after_step():
    env = started("MountainCar-v0", {}, k=3)
    assert isinstance(env.unwrapped.state, tuple)
    fresh = make_env("MountainCar-v0")
    restore_env_state(fresh, capture_env_state(env))
    assert type(fresh.unwrapped.state) is tuple
    assert [type(v) for v in fresh.unwrapped.state] == [type(v) for v in env.unwrapped.state]


def test_cartpole_explicit_restore_matches_deepcopy_continuation():
    env = started("CartPole-v1", {"max_episode_steps": 60}, k=23)
    cloned = copy.deepcopy(env)
    restored = make_env("CartPole-v1", max_episode_steps=60)
    restored.reset(seed=3)
    restore_env_state(restored, json.loads(json.dumps(capture_env_state(env))))
    by_copy = run(cloned, 200)
    assert sum(1 for r in by_copy if r[0] == "reset") >= 2
    assert run(restored, 200) == by_copy
    assert capture_env_state(restored) == capture_env_state(cloned)


def test_terminated_cartpole_keeps_steps_beyond_terminated():
    env = make_env("CartPole-v1")
    env.reset(seed=0)
    while not env.step(0)[2]:
        pass
    assert env.unwrapped.steps_beyond_terminated == 0
    fresh = make_env("CartPole-v1")
    fresh.reset(seed=0)
    restore_env_state(fresh, capture_env_state(env))
    assert fresh.unwrapped.steps_beyond_terminated == 0


def test_wrong_env_id_is_rejected_naming_both():
    snapshot = capture_env_state(started("CartPole-v1", {}, k=2))
    other = make_env("Acrobot-v1")
    with pytest.raises(SnapshotMismatchError, match=r"'CartPole-v1'.*'Acrobot-v1'"):
        restore_env_state(other, snapshot)


def test_other_time_limit_or_wrapper_stack_is_rejected():
    snapshot = capture_env_state(started("CartPole-v1", {}, k=2))
    with pytest.raises(SnapshotMismatchError, match="max_episode_steps=500"):
        restore_env_state(make_env("CartPole-v1", max_episode_steps=100), snapshot)
    with pytest.raises(SnapshotMismatchError, match="wrapper stacks differ"):
        restore_env_state(make_env("CartPole-v1", disable_env_checker=True), snapshot)


def test_mismatch_changes_nothing():
    snapshot = capture_env_state(started("CartPole-v1", {}, k=2))
    target = make_env("CartPole-v1", max_episode_steps=100)
    target.reset(seed=8)
    before = capture_env_state(target)
    with pytest.raises(SnapshotMismatchError):
        restore_env_state(target, snapshot)
    assert capture_env_state(target) == before


def test_not_a_snapshot():
    with pytest.raises(ValueError, match="not an env snapshot"):
        restore_env_state(make_env("CartPole-v1"), {"state": [1, 2]})
    snapshot = capture_env_state(make_env("CartPole-v1"))
    with pytest.raises(ValueError, match="version"):
        restore_env_state(make_env("CartPole-v1"), {**snapshot, "version": 99})


def test_unknown_wrapper_means_no_episode_state():
    env = RecordEpisodeStatistics(make_env("CartPole-v1"))
    env.reset(seed=0)
    assert not can_capture_episode_state(env)
    snapshot = capture_env_state(env)
    assert snapshot["episode_state_captured"] is False and snapshot["episode_state"] is None
    assert any("RecordEpisodeStatistics" in reason for reason in snapshot["not_captured"])


def test_stateless_wrapper_is_fine():
    env = FlattenObservation(make_env("sphgym/DelayedCue-v0"))
    assert can_capture_episode_state(env)


class _UnregisteredCartPole(gym.envs.classic_control.cartpole.CartPoleEnv):
    pass


def test_unregistered_env_class_falls_back_but_rng_still_restores_at_boundaries():
    gym.register("test/UnregisteredCartPole-v0", entry_point=_UnregisteredCartPole, max_episode_steps=30)
    try:
        env = make_env("test/UnregisteredCartPole-v0")
        assert not can_capture_episode_state(env)
        env.reset(seed=4)
        env.action_space.seed(4)
        run(env, 100, resets_wanted=1)  # stops right after a reset: an episode boundary
        while not any(env.step(env.action_space.sample())[2:4]):
            pass  # run to the end of the episode: the next call is a reset
        snapshot = json.loads(json.dumps(capture_env_state(env)))
        assert snapshot["episode_state_captured"] is False
        assert "not registered" in snapshot["not_captured"][0]
        env.reset()
        expected = run(env, 80)
        fresh = make_env("test/UnregisteredCartPole-v0")
        restore_env_state(fresh, snapshot)
        fresh.reset()
        assert run(fresh, 80) == expected
    finally:
        del gym.registry["test/UnregisteredCartPole-v0"]


def test_register_episode_state_makes_a_class_capturable():
    class Counter(gym.Env):
        observation_space = gym.spaces.Discrete(100)
        action_space = gym.spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.count = int(self.np_random.integers(10))
            return self.count, {}

        def step(self, action):
            self.count += int(action) + 1
            return self.count % 100, 0.0, False, False, {}

    env = Counter()
    assert not can_capture_episode_state(env)
    register_episode_state(Counter, ("count",))
    assert can_capture_episode_state(env)
    env.reset(seed=1)
    env.step(1)
    other = Counter()
    restore_env_state(other, capture_env_state(env))
    assert other.count == env.count and other.step(0)[0] == env.step(0)[0]


def test_composite_space_rngs_are_captured_per_sub_space():
    space = gym.spaces.Dict({"a": gym.spaces.Discrete(5), "b": gym.spaces.Box(0, 1, (2,))})

    class DictActions(gym.Env):
        observation_space = gym.spaces.Discrete(2)
        action_space = space

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            return 0, {}

        def step(self, action):
            return 0, 0.0, False, False, {}

    env = DictActions()
    env.action_space.seed(3)
    env.action_space.sample()
    snapshot = json.loads(json.dumps(capture_env_state(env)))
    assert set(snapshot["action_space"]["children"]) == {"a", "b"}
    expected = [env.action_space.sample() for _ in range(5)]
    other = DictActions()
    other.action_space = copy.deepcopy(space)
    other.action_space.seed(100)
    restore_env_state(other, snapshot)
    got = [other.action_space.sample() for _ in range(5)]
    assert [e["a"] for e in expected] == [g["a"] for g in got]
    assert all(e["b"].tobytes() == g["b"].tobytes() for e, g in zip(expected, got, strict=True))
