import gymnasium as gym
import pytest

from agents.protocol import Agent
from agents.registry import AGENTS, get_agent_spec, make_agent, make_agent_config


def test_unknown_agent_names_close_match():
    with pytest.raises(ValueError, match="Did you mean 'hierarchy'"):
        get_agent_spec("hierachy")


def test_unknown_config_field_suggests_fix():
    with pytest.raises(ValueError, match="Unknown config field"):
        make_agent_config("random", {"sed": 1})


def test_random_agent_fits_protocol_and_restores_rng():
    env = gym.make("CartPole-v1")
    agent = make_agent("random", env.observation_space, env.action_space, None, seed=3)
    assert isinstance(agent, Agent)
    state = agent.get_state()
    first = [agent.act(None) for _ in range(20)]
    agent.set_state(state)
    assert [agent.act(None) for _ in range(20)] == first


def test_every_registered_agent_has_a_summary():
    assert all(spec.summary for spec in AGENTS.values())


def test_run_configs_take_the_baselines_env_table_under_explicit_values():
    """`sphgym train --env Acrobot-v1 --agent ppo` gets the RL Zoo's Acrobot entry; the user's values win."""
    from agents.runner import RunConfig
    from agents.torch_agents.config import PPOConfig

    zoo = PPOConfig.env_defaults("Acrobot-v1")
    assert zoo, "the Zoo table has an Acrobot-v1 PPO entry"
    resolved = RunConfig(env_id="Acrobot-v1", agent="ppo").resolved().agent_config
    assert all(resolved[key] == (list(v) if isinstance(v, tuple) else v) for key, v in zoo.items())
    assert RunConfig(env_id="CartPole-v1", agent="ppo").resolved().agent_config["n_steps"] != resolved["n_steps"]
    mine = RunConfig(env_id="Acrobot-v1", agent="ppo", agent_config={"n_steps": 128}).resolved()
    assert mine.agent_config["n_steps"] == 128
