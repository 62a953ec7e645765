"""sphgym/PixelCatch-v0: the env checker, the rules, exact capture mid-episode."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from envs import can_capture_episode_state, capture_env_state, make_env, restore_env_state
from envs.pixel_catch import PixelCatchEnv


def test_passes_the_gymnasium_checker_and_is_an_image_env():
    check_env(make_env("sphgym/PixelCatch-v0").unwrapped, skip_render_check=False)
    env = make_env("sphgym/PixelCatch-v0")
    assert env.observation_space.shape == (8, 8) and env.observation_space.dtype == np.uint8


def test_following_the_ball_always_catches_it_and_standing_still_mostly_misses():
    env = PixelCatchEnv(size=8)
    follow, still = [], []
    for seed in range(30):
        obs, _ = env.reset(seed=seed)
        done = False
        while not done:
            ball = int(np.flatnonzero(obs[:-1].max(axis=0))[0]) if obs[:-1].any() else env.ball_col
            paddle = int(np.flatnonzero(obs[-1])[len(np.flatnonzero(obs[-1])) // 2])
            obs, reward, done, _, _ = env.step(1 + int(np.sign(ball - paddle)))
        follow.append(reward)
        env.reset(seed=seed)
        for _ in range(7):
            _, reward, done, _, _ = env.step(1)
        assert done
        still.append(reward)
    assert follow == [1.0] * 30
    assert np.mean(still) < 0


def test_capture_mid_episode_restores_exactly():
    env = make_env("sphgym/PixelCatch-v0")
    env.reset(seed=3)
    env.step(0)
    assert can_capture_episode_state(env)
    snapshot = json.loads(json.dumps(capture_env_state(env)))
    other = make_env("sphgym/PixelCatch-v0")
    other.reset(seed=99)
    restore_env_state(other, snapshot)
    for action in (2, 2, 1, 0, 1, 2):
        a, b = env.step(action), other.step(action)
        assert a[0].tobytes() == b[0].tobytes() and a[1:4] == b[1:4]
    assert env.reset()[0].tobytes() == other.reset()[0].tobytes()


def test_bad_arguments_and_calls():
    with pytest.raises(ValueError, match="size must be an int >= 4"):
        PixelCatchEnv(size=3)
    with pytest.raises(ValueError, match="render_mode must be None or 'rgb_array'"):
        PixelCatchEnv(render_mode="human")
    env = PixelCatchEnv()
    with pytest.raises(RuntimeError, match="before reset"):
        env.step(1)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="is not in Discrete"):
        env.step(3)
