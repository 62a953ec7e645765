import gymnasium as gym
import numpy as np
from gymnasium.utils.env_checker import check_env

from envs import make_env
from envs.cartpole_no_velocity import VISIBLE_DIMS, CartPoleNoVelocityEnv


def test_passes_gymnasium_env_checker():
    # pygame is not installed here, so the render check (identical to CartPole's) is skipped.
    check_env(make_env("sphgym/CartPoleNoVelocity-v0").unwrapped, skip_render_check=True)


def test_spec_matches_cartpole_v1():
    env = make_env("sphgym/CartPoleNoVelocity-v0")
    assert env.spec.max_episode_steps == 500
    assert env.spec.reward_threshold == 475.0
    assert isinstance(env.unwrapped, CartPoleNoVelocityEnv)
    assert env.observation_space.shape == (2,)
    assert env.observation_space == gym.spaces.Box(
        gym.make("CartPole-v1").observation_space.low[VISIBLE_DIMS],
        gym.make("CartPole-v1").observation_space.high[VISIBLE_DIMS],
        dtype=np.float32,
    )


def test_same_trajectory_as_cartpole_with_velocities_dropped():
    ours, full = make_env("sphgym/CartPoleNoVelocity-v0"), gym.make("CartPole-v1")
    a, _ = ours.reset(seed=7)
    b, _ = full.reset(seed=7)
    assert a.tobytes() == b[VISIBLE_DIMS].tobytes()
    actions = np.random.default_rng(0).integers(0, 2, 2000)
    episodes = 0
    for action in actions:
        a, ra, ta, tra, _ = ours.step(int(action))
        b, rb, tb, trb, _ = full.step(int(action))
        assert a.tobytes() == b[VISIBLE_DIMS].tobytes()
        assert (ra, ta, tra) == (rb, tb, trb)
        assert ours.unwrapped.state.tobytes() == full.unwrapped.state.tobytes()
        if ta or tra:
            episodes += 1
            a, _ = ours.reset()
            b, _ = full.reset()
            assert a.tobytes() == b[VISIBLE_DIMS].tobytes()
    assert episodes > 10


def test_truncates_at_500_steps():
    env = make_env("sphgym/CartPoleNoVelocity-v0", max_episode_steps=5)
    env.reset(seed=0)
    out = [env.step(i % 2)[3] for i in range(5)]
    assert out == [False] * 4 + [True]
