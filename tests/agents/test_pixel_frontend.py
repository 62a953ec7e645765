"""The hierarchy agent on pixel observations: image encoder in front, exact restore, all-or-nothing loading."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import envs
from agents.episode import play_episode
from agents.hierarchy_agent import HierarchyAgent
from agents.hierarchy_config import HierarchyAgentConfig
from agents.pixel_frontend import PixelFrontend, covering_radius
from tests.agents.test_agent_contract import _digest as digest
from tests.agents.test_agent_contract import _run as run

ENV = "sphgym/PixelCatch-v0"


def make(seed: int = 0, env_id: str = ENV, **overrides) -> tuple[HierarchyAgent, object]:
    env = envs.make_env(env_id)
    return HierarchyAgent(env.observation_space, env.action_space, HierarchyAgentConfig(**overrides), seed), env


def test_image_spaces_get_the_frontend_and_others_do_not():
    agent, _ = make()
    assert isinstance(agent._pixels, PixelFrontend)
    assert agent.hierarchy.get_io_size(HierarchyAgent.OBS_PORT) == (8, 8, 16)
    assert set(agent.get_weights()) == {"hierarchy", "image_encoder"}
    metrics = {"metrics_sums", "metrics_cells_used", "metrics_cells_ever"}
    assert set(agent.get_state()) == {"hierarchy", "last_action", "pending_reward", "image_encoder", *metrics}
    assert agent.rng_state_keys == ("hierarchy", "image_encoder")
    assert agent.weights_size == sum(len(a) for a in agent.get_weights().values())
    plain, _ = make(env_id="CartPole-v1")
    assert plain._pixels is None and set(plain.get_weights()) == {"hierarchy", "obs_range"}  # a bounded Box
    assert plain.rng_state_keys == ("hierarchy",)


def test_config_shapes_the_image_encoder():
    agent, _ = make(image_hidden_size=(4, 4, 8), image_radius=2, image_scale=0.5)
    enc = agent._pixels.encoder
    assert enc.get_visible_size(0) == (4, 4, 1) and enc.visible_layer_descs[0].radius == 2
    assert agent.hierarchy.get_io_size(HierarchyAgent.OBS_PORT) == (4, 4, 8)
    assert covering_radius((64, 64, 3), (8, 8, 16)) == 4
    with pytest.raises(ValueError, match="image_hidden_size must be an"):
        HierarchyAgentConfig(image_hidden_size=(4, 4))
    with pytest.raises(ValueError, match=r"image_scale must be in \(0, 1\]"):
        HierarchyAgentConfig(image_scale=0.0)
    with pytest.raises(ValueError, match="image_radius must be >= -1"):
        HierarchyAgentConfig(image_radius=-2)


def test_same_seed_same_run_and_mid_episode_restore_is_exact():
    a, env_a = make(seed=5)
    b, env_b = make(seed=5)
    assert run(a, env_a, 60)[0] == run(b, env_b, 60)[0]
    assert digest(a.get_weights()) == digest(b.get_weights()) and digest(a.get_state()) == digest(b.get_state())

    _, obs = run(a, env_a, 17)  # mid-episode (episodes are 7 steps)
    weights, state = a.get_weights(), a.get_state()
    env_copy = copy.deepcopy(env_a)
    restored, _ = make(seed=99)  # another seed: everything must come from the buffers
    restored.set_weights(weights)
    restored.set_state(state)
    assert run(restored, env_copy, 40, obs=obs)[0] == run(a, env_a, 40, obs=obs)[0]
    assert digest(restored.get_weights()) == digest(a.get_weights())
    assert digest(restored.get_state()) == digest(a.get_state())


def test_learning_disabled_leaves_image_encoder_weights_untouched():
    agent, env = make(seed=2, image_learn_recon=True)
    run(agent, env, 30)
    before = agent.get_weights()
    agent.learn_enabled = False
    run(agent, env, 30, reset_seed=7)
    after = agent.get_weights()
    assert after["image_encoder"].tobytes() == before["image_encoder"].tobytes()
    assert after["hierarchy"].tobytes() == before["hierarchy"].tobytes()
    agent.learn_enabled = True
    run(agent, env, 5, reset_seed=8)
    assert agent.get_weights()["image_encoder"].tobytes() != before["image_encoder"].tobytes()


def test_a_refused_checkpoint_changes_nothing():
    agent, env = make(seed=3)
    run(agent, env, 20)
    other, other_env = make(seed=4)
    run(other, other_env, 20)
    before_w, before_s = digest(agent.get_weights()), digest(agent.get_state())
    bad = other.get_weights()
    bad["hierarchy"] = bad["hierarchy"][:-3]  # the image encoder part is fine, the hierarchy part is not
    with pytest.raises(ValueError, match="truncated"):
        agent.set_weights(bad)
    bad_state = other.get_state()
    bad_state["hierarchy"] = bad_state["hierarchy"][:-3]
    with pytest.raises(ValueError, match="truncated"):
        agent.set_state(bad_state)
    damaged = other.get_state()
    damaged["image_encoder"] = damaged["image_encoder"].copy()
    damaged["image_encoder"][20] ^= 1
    with pytest.raises(ValueError, match="CRC32"):
        agent.set_state(damaged)
    missing = other.get_weights()
    del missing["image_encoder"]
    with pytest.raises(ValueError, match=r"must hold exactly \['hierarchy', 'image_encoder'\]"):
        agent.set_weights(missing)
    assert digest(agent.get_weights()) == before_w and digest(agent.get_state()) == before_s


def test_learns_to_catch_from_pixels():
    agent, env = make(seed=0)
    returns = [play_episode(agent, env, seed=0 if i == 0 else None).episode_return for i in range(500)]
    # A random policy averages about -0.3; following the ball scores 1.
    assert np.mean(returns[:100]) < 0.2 < 0.6 < np.mean(returns[-100:]), (np.mean(returns[:100]), returns[-100:])
