"""User errors: exit code 1, one line naming the problem, no traceback (unless --debug)."""

from __future__ import annotations

import pytest
from tests.cli.cli_helpers import sphgym


def assert_user_error(result, *needles: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "error:" in last
    for needle in needles:
        assert needle in last, (needle, last)


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["train", "--env", "CartPol-v1"], ["CartPol-v1", "did you mean", "CartPole-v1"]),
        (["train", "--agent", "dqm"], ["dqm", "Did you mean", "dqn"]),
        (["train", "--episodes", "-3"], ["--episodes", "-3"]),
        (["train", "--steps", "0"], ["--steps", "0"]),
        (["train", "--set", "episodes=-1"], ["episodes", "-1"]),
        (["train", "--set", "sed=1"], ["sed", "did you mean 'seed'"]),
        (["train", "--agent", "dqn", "--agent.lerning_rate", "1"], ["agent.lerning_rate", "learning_rate"]),
        (["train", "--agent", "dqn", "--set", "agent.gamma=high"], ["agent.gamma", "a number", "high"]),
        (["train", "--episodes", "3", "--steps", "4"], ["not allowed with"]),
        (["train", "--bogus"], ["--bogus"]),
        (["resume", "no/such/run"], ["no/such/run", "does not exist"]),
        (["eval", "no/such/run"], ["no/such/run", "does not exist"]),
        (["inspect", "no/such/run"], ["no/such/run", "does not exist"]),
        (["verify", "no/such/run"], ["no/such/run", "does not exist"]),
        (["plot", "no/such/run"], ["no/such/run", "does not exist"]),
        ([], ["required"]),
    ],
)
def test_bad_arguments_name_the_problem(args, needles):
    assert_user_error(sphgym(*args), *needles)


def test_run_folder_already_used_suggests_resume_and_overwrite(trained_run, tmp_path):
    result = sphgym("train", "--agent", "random", "--episodes", "2", "--run-dir", str(trained_run))
    assert_user_error(result, str(trained_run), "sphgym resume", "--overwrite")


def test_overwrite_replaces_a_used_run_folder(tmp_path):
    """The old run is gone entirely (checkpoints, best/, episodes, TensorBoard file): the folder then holds
    exactly what a fresh run of the new config writes into an empty folder."""
    run_dir, fresh = tmp_path / "r", tmp_path / "fresh"
    common = ("train", "--agent", "random", "--checkpoint-every", "1", "--no-progress")
    old = sphgym(*common, "--seed", "1", "--episodes", "5", "--run-dir", str(run_dir))
    assert old.returncode == 0, old.stderr
    new = sphgym(*common, "--seed", "2", "--episodes", "2", "--run-dir", str(run_dir), "--overwrite")
    assert new.returncode == 0, new.stderr
    again = sphgym(*common, "--seed", "2", "--episodes", "2", "--run-dir", str(fresh))
    assert again.returncode == 0, again.stderr

    def listing(folder):
        names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
        return [name for name in names if not name.startswith("events.out.tfevents.")]

    assert listing(run_dir) == listing(fresh)
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 1
    for name in ("episodes.csv", "config.json"):
        assert (run_dir / name).read_bytes() == (fresh / name).read_bytes(), name


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        (None, ["does not exist"]),
        ('episodes = "ten\nseed = 1', ["not valid TOML", "line 1"]),
        ('episodes = "ten"', ["episodes", "an integer", "ten"]),
        ("epsiodes = 3", ["epsiodes", "did you mean 'episodes'"]),
        ('[agent]\nname = "dqn"\ngama = 0.9', ["agent.gama", "did you mean 'gamma'"]),
        (b"\xff\xfe\x00binary", ["not UTF-8"]),
    ],
)
def test_unreadable_or_invalid_config_file(tmp_path, content, needles):
    path = tmp_path / "cfg.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    assert_user_error(sphgym("train", "--config", str(path)), *needles)


def test_config_that_is_a_directory(tmp_path):
    assert_user_error(sphgym("train", "--config", str(tmp_path)), "is a directory")


def test_debug_shows_the_traceback():
    result = sphgym("--debug", "train", "--agent", "dqm")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "dqm" in result.stderr


def test_resume_of_a_folder_without_a_run(tmp_path):
    assert_user_error(sphgym("resume", str(tmp_path)), "nothing to resume")


def test_resume_refuses_flags_that_change_the_trajectory(trained_run):
    result = sphgym("train", "--resume", str(trained_run), "--env", "Acrobot-v1")
    assert_user_error(result, "--env", "--resume")
