import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from envs import make_env
from envs.delayed_cue import BLANK, QUERY, DelayedCueEnv


def test_passes_gymnasium_env_checker():
    check_env(make_env("sphgym/DelayedCue-v0").unwrapped)


@pytest.mark.parametrize("delay", [0, 1, 4])
def test_episode_layout_and_reward(delay):
    env = make_env("sphgym/DelayedCue-v0", num_cues=3, delay=delay)
    for seed in range(6):
        obs, _ = env.reset(seed=seed)
        cue = int(obs) - 2
        assert 0 <= cue < 3
        seen = []
        for _ in range(delay + 1):
            obs, reward, terminated, truncated, _ = env.step(0)
            assert (reward, terminated, truncated) == (0.0, False, False)
            seen.append(int(obs))
        assert seen == [BLANK] * delay + [QUERY]
        answer = cue if seed % 2 == 0 else (cue + 1) % 3
        obs, reward, terminated, truncated, _ = env.step(answer)
        assert (int(obs), reward, terminated, truncated) == (BLANK, float(seed % 2 == 0), True, False)


def test_cues_are_uniform_and_seeded():
    env = make_env("sphgym/DelayedCue-v0", num_cues=4)
    env.reset(seed=123)
    cues = [int(env.reset()[0]) - 2 for _ in range(4000)]
    counts = np.bincount(cues, minlength=4)
    assert counts.min() > 900
    env2 = make_env("sphgym/DelayedCue-v0", num_cues=4)
    env2.reset(seed=123)
    assert cues == [int(env2.reset()[0]) - 2 for _ in range(4000)]


def test_step_after_end_or_before_reset_raises():
    env = DelayedCueEnv(delay=0)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    env.step(0)
    env.step(0)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"num_cues": 1}, "num_cues"),
        ({"delay": -1}, "delay"),
        ({"delay": 1.5}, "delay"),
        ({"render_mode": "human"}, "render_mode"),
    ],
)
def test_bad_arguments(kwargs, field):
    with pytest.raises(ValueError, match=field):
        DelayedCueEnv(**kwargs)


def test_invalid_action_rejected():
    env = DelayedCueEnv(num_cues=2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="not in"):
        env.step(2)
