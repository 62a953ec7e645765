"""The run-config schema lives in the library: what --print-config prints, load_run_config reads, and back."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from agents.registry import AGENTS
from agents.runner import ConfigError, RunConfig, load_run_config
from agents.runner.config_schema import build_run_values, config_to_toml, make_run_config
from tests.runner.runner_helpers import REPO


@pytest.mark.parametrize("agent", sorted(AGENTS))
def test_print_config_output_loads_back_to_the_same_config_and_text(tmp_path, agent):
    config = make_run_config(
        build_run_values({"agent": agent, "seed": 3, "steps": 500}, [("env_kwargs.max_episode_steps", "200")])
    )
    text = config_to_toml(config)
    (tmp_path / "c.toml").write_text(text)
    loaded = load_run_config(tmp_path / "c.toml")
    assert loaded == config and loaded.episodes is None and loaded.steps == 500
    assert config_to_toml(loaded) == text


def test_load_run_config_reads_what_the_command_prints(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    printed = subprocess.run(
        [sys.executable, "-m", "agents.cli.main", "train", "--agent", "dqn", "--print-config"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=True,
    ).stdout
    (tmp_path / "dqn.toml").write_text(printed)
    loaded = load_run_config(tmp_path / "dqn.toml")
    assert loaded == RunConfig(agent="dqn").resolved()
    assert config_to_toml(loaded) == printed
    # and a run's own config.json (RunConfig's shape) is accepted too
    (tmp_path / "config.json").write_text(__import__("json").dumps(loaded.to_dict()))
    assert load_run_config(tmp_path / "config.json") == loaded


def test_config_errors_are_value_errors_naming_key_and_fix(tmp_path):
    (tmp_path / "typo.toml").write_text("epsiodes = 3\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'epsiodes' \(did you mean 'episodes'\?\)"):
        load_run_config(tmp_path / "typo.toml")
    with pytest.raises(ValueError, match=r"agent.gamma must be a number, got 'high'"):
        make_run_config(build_run_values({"agent": "dqn"}, [("agent.gamma", "high")]))
    with pytest.raises(ValueError, match="does not exist"):
        load_run_config(tmp_path / "missing.toml")


def test_named_budget_replaces_the_file_budget(tmp_path):
    (tmp_path / "c.toml").write_text("episodes = 7\nsteps = 900\n")
    both = build_run_values(config_file=tmp_path / "c.toml")
    assert (both["episodes"], both["steps"]) == (7, 900)
    steps_only = build_run_values({"steps": 50}, config_file=tmp_path / "c.toml")
    assert (steps_only["episodes"], steps_only["steps"]) == (None, 50)
    resumed = build_run_values({"episodes": 20}, base=RunConfig(steps=10, episodes=None).to_dict())
    assert (resumed["episodes"], resumed["steps"]) == (20, None)
