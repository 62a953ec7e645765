"""Agents too large for the machine are refused before allocating (issue 15 item 8): the estimate and the
available memory are in the one-line message; nothing is left behind. Every subprocess runs under a memory
ceiling (prlimit), so a regression fails the test instead of endangering the machine."""

from __future__ import annotations

import subprocess

import gymnasium as gym
import numpy as np
import pytest

from agents import memory
from agents.registry import make_agent_config
from tests.cli.cli_helpers import cli_env, sphgym_argv
from tests.reliability.reliability_stats import count


def _train(tmp_path, *args: str) -> subprocess.CompletedProcess:
    argv = sphgym_argv("train", "--episodes", "1", "--run-dir", str(tmp_path / "run"), "--no-progress", *args)
    return subprocess.run(["prlimit", f"--as={4 << 30}", *argv], capture_output=True, text=True, env=cli_env(),
                          timeout=120)  # fmt: skip


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--set", "agent.layers=[[3000, 3000, 64]]"], "the hierarchy agent (layers=[[3000, 3000, 64]]) would need"),
        (["--agent", "dqn", "--set", "agent.buffer_size=100000000000"], "the dqn agent (buffer_size=100000000000)"),
    ],
)
def test_an_agent_too_large_for_the_machine_is_refused_in_one_line(tmp_path, args, expected):
    result = _train(tmp_path, *args)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("sphgym train: error: ") and expected in line and "GiB available" in line, line
    assert not (tmp_path / "run").exists()
    count("memory limits", "refused before allocating")


def test_the_estimate_follows_the_config_and_the_available_memory(monkeypatch):
    env = gym.make("CartPole-v1")
    small = make_agent_config("hierarchy", {"layers": [[5, 5, 64]]})
    big = make_agent_config("hierarchy", {"layers": [[200, 200, 64]]})
    spaces = (env.observation_space, env.action_space)
    assert memory.estimate_agent_bytes("hierarchy", small, *spaces) < 16 << 20
    assert memory.estimate_agent_bytes("hierarchy", big, *spaces) > 1 << 30
    monkeypatch.setattr(memory, "available_memory", lambda: 1 << 30)
    memory.check_agent_memory("hierarchy", small, *spaces)
    with pytest.raises(memory.AgentTooLargeError, match=r"would need about .* GiB .* 1\.0 GiB available"):
        memory.check_agent_memory("hierarchy", big, *spaces)
    dqn = make_agent_config("dqn", {"buffer_size": 10**9})
    with pytest.raises(memory.AgentTooLargeError, match="buffer_size=1000000000"):
        memory.check_agent_memory("dqn", dqn, *spaces)
    count("memory limits", "estimate vs available")


def test_the_estimate_counts_the_actors_direct_view_of_the_observation():
    """``skip_radius`` gives the actor the observation columns as inputs: more weights and a wider replay ring."""
    obs = gym.spaces.Box(-1.0, 1.0, (400,), np.float32)
    spaces = (obs, gym.spaces.Discrete(2))
    plain = make_agent_config("hierarchy", {"skip_radius": -1})
    skip = make_agent_config("hierarchy", {"skip_radius": 8})
    columns = 20 * 20  # 400 Box elements: one column each
    ring = plain.history_capacity * 4 * columns  # the estimate charges 4 bytes per replayed input column
    grown = memory.estimate_agent_bytes("hierarchy", skip, *spaces) - memory.estimate_agent_bytes(
        "hierarchy", plain, *spaces
    )
    assert grown >= ring
