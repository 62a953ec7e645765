import warnings

import gymnasium as gym

import envs
from envs.registration import SPHGYM_ENV_IDS, register_envs


def test_import_registers_our_envs():
    assert set(SPHGYM_ENV_IDS) <= set(gym.registry)
    assert gym.spec("sphgym/CartPoleNoVelocity-v0").reward_threshold == 475.0
    assert gym.spec("sphgym/DelayedCue-v0").reward_threshold == 0.95


def test_registering_again_is_silent_and_harmless():
    before = {i: gym.spec(i) for i in SPHGYM_ENV_IDS}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        register_envs()
    assert {i: gym.spec(i) for i in SPHGYM_ENV_IDS} == before


def test_all_exports_exist():
    for name in envs.__all__:
        assert hasattr(envs, name), name
