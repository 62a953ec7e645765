"""Envs without a time limit (issue 15 item 13): a default episode step limit, configurable, logged, exact."""

from __future__ import annotations

import signal

from agents.runner import RunConfig
from agents.runner.config import DEFAULT_EPISODE_STEP_LIMIT
from tests.runner.runner_helpers import assert_same_run, run_fingerprint, run_proc
from tests.cli.cli_helpers import sphgym
from tests.reliability.reliability_stats import count


def _lengths(run_dir) -> list[int]:
    return [int(line.split(",")[3]) for line in (run_dir / "episodes.csv").read_text().splitlines()[1:]]


def test_cliffwalking_episodes_end_at_the_default_limit_and_it_is_said(tmp_path):
    run = tmp_path / "run"
    result = sphgym("train", "--env", "CliffWalking-v1", "--agent", "random", "--episodes", "2", "--run-dir", str(run),
                    "--no-progress")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "CliffWalking-v1 has no episode step limit of its own" in result.stderr
    assert f"truncated after {DEFAULT_EPISODE_STEP_LIMIT} steps" in result.stderr
    assert len(_lengths(run)) == 2 and max(_lengths(run)) <= DEFAULT_EPISODE_STEP_LIMIT
    count("episode step limit", "default applied and logged")


def test_the_limit_is_configurable_and_a_run_with_it_resumes_exactly(tmp_path):
    options = {"env": "CliffWalking-v1", "agent": "random", "episodes": 6, "checkpoint_every": 2, "seed": 1}
    # runner_proc builds RunConfig(...) directly: the default applies there too; a small one via the CLI below.
    reference = tmp_path / "reference"
    assert run_proc(reference, **options)[0] == 0
    ends = [int(line.split(",")[1]) for line in (reference / "episodes.csv").read_text().splitlines()[1:]]
    run = tmp_path / "run"
    k = ends[2] + 5  # inside episode 4
    code, result, err = run_proc(run, environ={"SPHGYM_TEST_SIGNAL_AT_STEP": f"{k}:SIGTERM"}, **options)
    assert code == 128 + signal.SIGTERM and result["status"] == "interrupted", err  # (boundary replay: no capture)
    code, result, err = run_proc(run, resume=True, episodes=6)
    assert code == 0 and result["status"] == "completed", err
    assert_same_run(run_fingerprint(reference), run_fingerprint(run))

    small = tmp_path / "small"
    done = sphgym("train", "--env", "CliffWalking-v1", "--agent", "random", "--episodes", "3", "--set",
                  "episode_step_limit=40", "--run-dir", str(small), "--no-progress")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "truncated after 40 steps" in done.stderr and max(_lengths(small)) <= 40
    count("episode step limit", "configured, resumed exactly")


def test_envs_with_a_limit_keep_theirs_and_old_run_configs_keep_none(tmp_path):
    from agents.runner.env_state import make_run_env

    notes = []
    env = make_run_env(RunConfig(env_id="CartPole-v1", agent="random"), log=notes.append)
    assert env.spec.max_episode_steps == 500 and notes == []
    env.close()
    assert RunConfig.from_dict({"env_id": "CliffWalking-v1"}).episode_step_limit == 0  # a pre-field config.json
    assert RunConfig().episode_step_limit == DEFAULT_EPISODE_STEP_LIMIT
    bad = sphgym("train", "--set", "episode_step_limit=-1", "--run-dir", str(tmp_path / "x"))
    assert bad.returncode == 1 and "episode_step_limit must be an integer >= 0" in bad.stderr
    count("episode step limit", "own limit kept / old configs / bad value")
