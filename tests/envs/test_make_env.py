import gymnasium as gym
import pytest

from envs import make_env
from envs.errors import UnknownEnvironmentError
from envs.make import list_env_ids


def test_makes_registered_env_and_records_kwargs():
    env = make_env("CartPole-v1", max_episode_steps=20, sutton_barto_reward=True)
    assert env.spec.id == "CartPole-v1"
    assert env.spec.kwargs["sutton_barto_reward"] is True
    assert env.spec.max_episode_steps == 20
    rebuilt = gym.make(gym.envs.registration.EnvSpec.from_json(env.spec.to_json()))
    assert rebuilt.spec.kwargs == env.spec.kwargs


def test_unknown_id_lists_close_matches_and_how_to_list():
    with pytest.raises(UnknownEnvironmentError) as info:
        make_env("CartPole-v2")
    message = str(info.value)
    assert "'CartPole-v2'" in message
    assert "'CartPole-v1'" in message
    assert "pprint_registry" in message
    assert isinstance(info.value, ValueError)


def test_case_insensitive_match_comes_first():
    with pytest.raises(UnknownEnvironmentError, match=r"did you mean 'CartPole-v1'"):
        make_env("cartpole-v1")


def test_our_envs_are_suggested():
    with pytest.raises(UnknownEnvironmentError, match="sphgym/CartPoleNoVelocity-v0"):
        make_env("sphgym/CartpoleNoVelocity")


def test_no_close_match():
    with pytest.raises(UnknownEnvironmentError, match="no close matches"):
        make_env("qqqqqqqqqqqq")


def test_non_string_id():
    with pytest.raises(TypeError, match="string"):
        make_env(3)


def test_list_env_ids_includes_ours_sorted():
    ids = list_env_ids()
    assert ids == sorted(ids)
    assert "sphgym/CartPoleNoVelocity-v0" in ids and "CartPole-v1" in ids
