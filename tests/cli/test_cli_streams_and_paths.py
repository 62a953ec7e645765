"""Paths and streams (issue 15 item 11): a too-long path is a one-line user error in every command; a stdout or
stderr that cannot be written never loses the training nor hides that something went wrong."""

from __future__ import annotations

import subprocess

import pytest

from tests.cli.cli_helpers import cli_env, sphgym, sphgym_argv
from tests.reliability.reliability_stats import count

TRAIN = ("train", "--agent", "random", "--episodes", "3", "--no-progress")


def _rows(run) -> int:
    return len((run / "episodes.csv").read_text().splitlines()) - 1


@pytest.mark.parametrize("command", ["train", "resume", "eval", "inspect", "verify", "plot"])
def test_a_path_component_too_long_is_a_one_line_user_error(tmp_path, command):
    long = str(tmp_path / ("x" * 300))
    args = ("train", "--agent", "random", "--run-dir", long) if command == "train" else (command, long)
    result = sphgym(*args)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"sphgym {command}: error: ") and ("too long" in line or "does not exist" in line), line
    count("paths and streams", "name too long")


def test_a_full_stdout_keeps_the_training_and_says_so(tmp_path):
    run = tmp_path / "run"
    with open("/dev/full", "w") as full:
        result = subprocess.run(sphgym_argv(*TRAIN, "--run-dir", str(run)), stdout=full, stderr=subprocess.PIPE,
                                text=True, env=cli_env(), timeout=120)  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "the run finished (completed" in result.stderr and "could not be written to stdout" in result.stderr
    assert _rows(run) == 3
    count("paths and streams", "stdout full")


def test_a_full_stderr_does_not_stop_the_training(tmp_path):
    run = tmp_path / "run"
    with open("/dev/full", "w") as full:
        result = subprocess.run(sphgym_argv(*TRAIN, "--run-dir", str(run)), stdout=subprocess.PIPE, stderr=full,
                                text=True, env=cli_env(), timeout=120)  # fmt: skip
    assert result.returncode == 0 and "finished the budget (episode 3," in result.stdout
    assert _rows(run) == 3
    count("paths and streams", "stderr full")


def test_a_reader_that_leaves_early_does_not_change_the_outcome(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen(sphgym_argv(*TRAIN, "--run-dir", str(run)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=cli_env())  # fmt: skip
    proc.stdout.close()  # the pipe's reader is gone before the summary is written
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "Traceback" not in err
    assert _rows(run) == 3
    count("paths and streams", "closed pipe")
