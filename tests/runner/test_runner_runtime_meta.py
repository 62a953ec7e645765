"""Checkpoints record the agent's runtime (torch version, threads, device); a mismatch on resume warns."""

from __future__ import annotations

import json

import pytest

from agents.runner import RunConfig, Runner, RunnerWarning

CONFIG = RunConfig(
    agent="dqn",
    agent_config={"learning_starts": 16, "train_freq": 8, "gradient_steps": 1, "batch_size": 8},
    episodes=3,
    seed=1,
    tensorboard=False,
)


def test_torch_runtime_is_recorded_and_a_thread_mismatch_warns_on_resume(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    Runner(run_dir, CONFIG, log=None).train()
    meta = json.loads(next((run_dir / "checkpoints").glob("*/meta.json")).read_text())
    assert meta["agent_runtime"]["torch_threads"] == 1
    assert "torch" in meta["versions"] and meta["threads"]["torch_threads"] >= 1

    from agents.torch_agents import common

    real = common.runtime_info
    monkeypatch.setattr(
        common, "runtime_info", lambda threads, device: {**real(threads, device), "torch_threads_actual": 7}
    )
    with pytest.warns(RunnerWarning, match="torch_threads_actual 1 .checkpoint. vs 7 .now."):
        Runner(run_dir, None, resume=True, log=None).train(episodes=4)
