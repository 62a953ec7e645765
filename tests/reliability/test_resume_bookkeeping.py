"""Resume bookkeeping around the exact core (issue 15, items 1-3): targets, final status, half-made folders.

Each test interrupts a real training process and checks that the command the run printed continues it, and
that the resumed run ends byte-identical to an uninterrupted one, final status included (``runner.json``).
"""

from __future__ import annotations

import json
import signal

import pytest

from tests.runner.runner_helpers import assert_same_run, run_fingerprint, run_proc
from tests.cli.cli_helpers import sphgym
from tests.reliability.reliability_stats import count

pytestmark = pytest.mark.slow

OPTIONS = {"env": "CartPole-v1", "agent": "random", "checkpoint_every": 4, "seed": 5}


def _episode_ends(run_dir) -> list[int]:
    return [int(line.split(",")[1]) for line in (run_dir / "episodes.csv").read_text().splitlines()[1:]]


def _status(result: dict) -> str:
    return result["status"]


def test_a_raised_target_survives_an_interruption(tmp_path):
    """resume --episodes 40 interrupted, then the printed `sphgym resume R` continues to 40 (not "finished")."""
    reference = tmp_path / "reference"
    code, result, err = run_proc(reference, episodes=40, **OPTIONS)
    assert code == 0, err
    ends = _episode_ends(reference)

    run = tmp_path / "run"
    code, result, err = run_proc(run, episodes=20, **OPTIONS)
    assert code == 0 and _status(result) == "completed", err
    k = ends[29] - 3  # inside episode 30, after the raised target took effect
    code, result, err = run_proc(
        run, resume=True, episodes=40, environ={"SPHGYM_TEST_SIGNAL_AT_STEP": f"{k}:SIGTERM"}
    )
    assert code == 128 + signal.SIGTERM and _status(result) == "interrupted", err
    assert json.loads((run / "config.json").read_text())["episodes"] == 40  # the folder records the new target

    done = sphgym("resume", str(run), "--no-progress")  # exactly what the run printed
    assert done.returncode == 0, done.stderr
    assert "already finished" not in done.stdout + done.stderr
    assert "finished the budget (episode 40," in done.stdout
    assert_same_run(run_fingerprint(reference), run_fingerprint(run))
    count("resume bookkeeping", "raised target kept")


def test_a_folder_whose_config_lags_its_checkpoints_continues_to_the_checkpoints_target(tmp_path):
    """A folder written before config.json followed a raised target: the newest checkpoint's target wins."""
    reference = tmp_path / "reference"
    assert run_proc(reference, episodes=30, **OPTIONS)[0] == 0
    ends = _episode_ends(reference)
    run = tmp_path / "run"
    assert run_proc(run, episodes=12, **OPTIONS)[0] == 0
    stale_config = (run / "config.json").read_bytes()
    code, result, err = run_proc(
        run, resume=True, episodes=30, environ={"SPHGYM_TEST_SIGNAL_AT_STEP": f"{ends[20] - 2}:SIGTERM"}
    )
    assert code == 128 + signal.SIGTERM, err
    (run / "config.json").write_bytes(stale_config)  # as older sphgym left it: episodes = 12
    code, result, err = run_proc(run, resume=True)
    assert code == 0 and _status(result) == "completed" and result["episode"] == 30, err
    assert not result["already_finished"]
    assert_same_run(run_fingerprint(reference), run_fingerprint(run))
    count("resume bookkeeping", "lagging config.json")


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_a_signal_as_the_last_episode_ends_keeps_the_final_status(tmp_path, sig):
    """The signal lands on the run's very last step: the run is complete, with status `completed`."""
    reference = tmp_path / "reference"
    code, result, err = run_proc(reference, episodes=15, **OPTIONS)
    assert code == 0 and _status(result) == "completed", err
    last_step = _episode_ends(reference)[-1]

    run = tmp_path / "run"
    code, result, err = run_proc(
        run, episodes=15, environ={"SPHGYM_TEST_SIGNAL_AT_STEP": f"{last_step}:{sig}"}, **OPTIONS
    )
    assert code == 0 and _status(result) == "completed", err
    assert json.loads((run / "checkpoints" / result["checkpoint"].rsplit("/", 1)[-1] / "runner.json")
                      .read_text())["status"] == "completed"
    assert_same_run(run_fingerprint(reference), run_fingerprint(run))  # runner.json (status) included

    code, result, err = run_proc(run, resume=True)
    assert code == 0 and result["already_finished"] and _status(result) == "completed", err
    assert "(running" not in err
    count("resume bookkeeping", f"{sig} on the last step")


def test_a_run_killed_before_its_first_checkpoint_is_resumable(tmp_path):
    """SIGKILL inside the first checkpoint write: `resume` starts the run over; `train` and `resume` agree."""
    reference = tmp_path / "reference"
    assert run_proc(reference, episodes=6, **OPTIONS)[0] == 0
    run = tmp_path / "run"
    code, _, err = run_proc(run, episodes=6, environ={"SPHGYM_TEST_KILL_IN_WRITE": "1"}, **OPTIONS)
    assert code == -signal.SIGKILL, err
    assert (run / "config.json").exists() and not any((run / "checkpoints").glob("ep*"))

    again = sphgym("train", "--run-dir", str(run), "--no-progress")
    assert again.returncode == 1 and "continue it with `sphgym resume" in again.stderr
    done = sphgym("resume", str(run), "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "no checkpoint yet" in done.stderr and "starting the run over" in done.stderr
    assert "finished the budget (episode 6," in done.stdout
    assert_same_run(run_fingerprint(reference), run_fingerprint(run))
    count("resume bookkeeping", "killed before the first checkpoint")


def test_a_failed_env_creation_leaves_no_run_folder(tmp_path):
    run = tmp_path / "new" / "run"
    result = sphgym("train", "--set", "env_kwargs.no_such_argument=1", "--run-dir", str(run), "--no-progress")
    assert result.returncode != 0
    assert not run.exists()
    count("resume bookkeeping", "failed env creation")


def test_advice_after_a_failed_write_follows_the_errno(tmp_path):
    import errno

    from agents.runner.runner import _after_write_failure

    full = _after_write_failure(tmp_path, OSError(errno.ENOSPC, "No space left on device"))
    assert "No checkpoint was written yet (a resume starts the run over); free space" in full
    in_the_way = _after_write_failure(tmp_path, NotADirectoryError(errno.ENOTDIR, "Not a directory", "x/ep1"))
    assert "free space" not in in_the_way and "remove or rename what is in the way (x/ep1)" in in_the_way
    read_only = _after_write_failure(tmp_path, OSError(errno.EROFS, "Read-only file system"))
    assert "free space" not in read_only and "make the run folder writable" in read_only
    count("resume bookkeeping", "errno advice")
