"""Env errors are user errors (issue 15 item 7): exit 1, one error line naming what to fix, no traceback, and no
run folder left behind."""

from __future__ import annotations

import pytest

from tests.cli.cli_helpers import sphgym
from tests.reliability.reliability_stats import count

CASES = [
    pytest.param(["--set", "env_kwargs.foo=1"], ["env_kwargs {'foo': 1}", "unexpected keyword argument 'foo'",
                                                 "--set env_kwargs.NAME=VALUE"], id="unknown-kwarg"),
    pytest.param(["--env", "FrozenLake-v1", "--set", 'env_kwargs.map_name="9x9"'],
                 ["cannot make env 'FrozenLake-v1'", "KeyError: '9x9'"], id="bad-map-name"),
    pytest.param(["--set", "env_kwargs.max_episode_steps=abc"], ["max_episode_steps", "integer"],
                 id="max-episode-steps-type"),
    pytest.param(["--set", "env_kwargs.a.b=1"], ["'a.b'"], id="nested-key"),
    pytest.param(["--env", "no_such_module_xyz:Foo-v0"],
                 ["names the Python module 'no_such_module_xyz', which cannot be imported"], id="missing-module"),
    pytest.param(["--env", "GymV26Environment-v0"], ["needs a Python package", "shimmy"], id="missing-dependency"),
]


@pytest.mark.parametrize(("args", "expected"), CASES)
def test_env_errors_are_one_line_user_errors(tmp_path, args, expected):
    run = tmp_path / "run"
    result = sphgym("train", "--agent", "random", "--episodes", "1", *args, "--run-dir", str(run), "--no-progress")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if ": error:" in line or "Error" in line]
    assert len(errors) == 1 and errors[0].startswith("sphgym train: error: "), result.stderr
    for text in expected:
        assert text in errors[0], errors[0]
    assert not run.exists()
    count("env errors", "user error, one line")


def test_nested_env_kwargs_table_in_a_config_file(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('agent = "random"\nepisodes = 1\n[env_kwargs.sub]\nx = 1\n')
    result = sphgym("train", "--config", str(config), "--run-dir", str(tmp_path / "run"), "--no-progress")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("sphgym train: error: ")
    count("env errors", "nested table")
