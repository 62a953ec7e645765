"""Concurrency with real ``sphgym`` processes: one trainer per run folder, stale locks taken over with a warning."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from agents.runner.checkpoint import list_checkpoints
from tests.runner.runner_helpers import REPO

TRAIN = ["--agent", "random", "--set", "checkpoint_min_interval=0", "--checkpoint-every", "1", "--no-progress"]


def cli_env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO), NUMBA_NUM_THREADS="1")


def sphgym(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "agents.cli.main", *args],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=timeout,
        cwd=REPO,
    )


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "agents.cli.main", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
        cwd=REPO,
    )


def wait_for(predicate, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, f"the trainer exited early ({proc.returncode}): {proc.stderr.read()}"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def holds_checkpoints(run_dir: Path) -> bool:
    return len(list_checkpoints(run_dir / "checkpoints")) >= 2


def last_line(result: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr.strip().splitlines()[-1]


def test_a_second_train_or_resume_on_a_folder_in_use_is_refused_naming_the_pid(tmp_path):
    run_dir = tmp_path / "run"
    owner = start("train", *TRAIN, "--episodes", "1000000", "--run-dir", str(run_dir))
    try:
        wait_for(lambda: holds_checkpoints(run_dir), owner)
        config_before = (run_dir / "config.json").read_bytes()
        for args in (
            ["resume", str(run_dir), "--no-progress"],
            ["train", "--resume", str(run_dir), "--no-progress"],
            ["train", *TRAIN, "--episodes", "5", "--run-dir", str(run_dir), "--overwrite"],
        ):
            second = sphgym(*args)
            assert second.returncode == 1, (args, second.stderr)
            line = last_line(second)
            assert "is in use by another process" in line and f"pid {owner.pid} on {socket.gethostname()}" in line
        # --overwrite was refused before deleting anything, and the owner kept its lock and its run
        assert (run_dir / "config.json").read_bytes() == config_before
        assert holds_checkpoints(run_dir)
        assert json.loads((run_dir / "run.lock").read_text())["pid"] == owner.pid
        assert owner.poll() is None
    finally:
        owner.send_signal(signal.SIGTERM)
        owner.wait(timeout=60)
    assert owner.returncode == 143, owner.stderr.read()


def test_a_stale_lock_of_a_killed_trainer_is_taken_over_with_a_warning(tmp_path):
    run_dir = tmp_path / "run"
    owner = start("train", *TRAIN, "--episodes", "1000000", "--run-dir", str(run_dir))
    try:
        wait_for(lambda: holds_checkpoints(run_dir), owner)
    finally:
        owner.kill()  # SIGKILL: no chance to release anything
        owner.wait(timeout=60)
    assert json.loads((run_dir / "run.lock").read_text())["pid"] == owner.pid  # the lock file stays behind
    episodes = int(list_checkpoints(run_dir / "checkpoints")[-1].name[2:10]) + 3
    result = sphgym("resume", str(run_dir), "--episodes", str(episodes), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert f"warning: Took over a stale lock in {str(run_dir)!r} left by pid {owner.pid} (no longer running)" in (
        result.stderr
    )
    assert not (run_dir / "run.lock").exists()


def test_a_lock_file_naming_a_live_process_that_does_not_hold_the_lock_is_stale(tmp_path):
    """A pid can be reused: liveness alone does not make a lock; the kernel's flock does."""
    run_dir = tmp_path / "run"
    assert sphgym("train", *TRAIN, "--episodes", "2", "--run-dir", str(run_dir)).returncode == 0
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run_dir / "run.lock").write_text(json.dumps({"pid": bystander.pid, "host": socket.gethostname()}))
        result = sphgym("resume", str(run_dir), "--episodes", "3", "--no-progress")
    finally:
        bystander.kill()
        bystander.wait()
    assert result.returncode == 0, result.stderr
    assert f"left by pid {bystander.pid} (still running but not holding the lock)" in result.stderr


def test_two_trainers_started_together_on_one_folder(tmp_path):
    """Exactly one trains; the other is refused (in use, or already holds a run) and the run stays valid."""
    run_dir = tmp_path / "run"
    procs = [start("train", *TRAIN, "--episodes", "30", "--run-dir", str(run_dir)) for _ in range(2)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 1], (codes, errors)
    refused = errors[[p.returncode for p in procs].index(1)]
    assert "Traceback" not in refused
    assert "is in use by another process" in refused or "already holds a run" in refused, refused
    assert len((run_dir / "episodes.csv").read_text().splitlines()) == 31
    assert not (run_dir / "run.lock").exists()
