"""A live TensorBoard shows what PPO, DQN and hierarchy runs logged: tags and series read through the real server's
HTTP data API equal what the runs wrote (read back from their event files)."""

from __future__ import annotations

import warnings

import pytest

from agents.runner import RunConfig, Runner
from tests.runner.runner_helpers import NONDETERMINISTIC_TAGS, tb_scalars_plugin_reader
from tests.runner.tensorboard_server import tensorboard_server

RUNS = {
    "ppo": (RunConfig(agent="ppo", steps=600, episodes=None, seed=0), {"losses/value_loss", "losses/clipfrac"}),
    "dqn": (
        RunConfig(agent="dqn", steps=400, episodes=None, seed=0, agent_config={"learning_starts": 100}),
        {"losses/td_loss", "losses/q_values", "charts/epsilon"},
    ),
    "hierarchy": (
        RunConfig(agent="hierarchy", episodes=4, seed=0),
        {"losses/td_error", "hierarchy/policy_entropy", "hierarchy/layer0/cells_used_ever"},
    ),
}
EVERY_RUN = {"charts/episodic_return", "rollout/ep_rew_mean", "time/fps"}


@pytest.mark.slow
def test_live_tensorboard_shows_every_agents_tags_and_series(tmp_path):
    logdir = tmp_path / "runs"
    written = {}
    for name, (config, _) in RUNS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Runner(logdir / name, config.replace(checkpoint_every=10**6), log=None, handle_signals=False).train()
        written[name] = tb_scalars_plugin_reader(logdir / name)
    with tensorboard_server(logdir) as server:
        server.wait_for_runs(set(RUNS))
        tags = server.scalar_tags()
        for name, (_, agent_tags) in RUNS.items():
            assert set(tags[name]) == set(written[name]) | NONDETERMINISTIC_TAGS, name
            assert agent_tags | EVERY_RUN <= set(tags[name]), name
            for tag, series in written[name].items():
                assert server.scalars(name, tag) == series, (name, tag)
