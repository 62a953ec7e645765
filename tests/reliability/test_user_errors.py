"""User errors through the real ``sphgym`` command: exit code 1, one clear last line, no traceback.

The ones not already covered by tests/cli/test_cli_errors.py (unknown env/agent, typos with "did you mean",
negative budgets, bad config files, used run folder, nothing to resume) and tests/reliability/test_concurrency.py
(run in use). The README's "User errors" table lists every user error with its message and the test that checks it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agents.runner.checkpoint import json_bytes, list_checkpoints, sha256_bytes
from tests.runner.runner_helpers import REPO

BAD_ENVS = "tests.reliability.bad_envs"


def sphgym(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "agents.cli.main", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO), NUMBA_NUM_THREADS="1", **env),
        timeout=timeout,
        cwd=REPO,
    )


def error_line(result: subprocess.CompletedProcess, command: str = "train") -> str:
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"sphgym {command}: error: "), line
    return line


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A finished random-agent run of 6 episodes with checkpoints at 0, 2, 4, 6 (copy it before changing it)."""
    run_dir = tmp_path_factory.mktemp("trained") / "run"
    result = sphgym(
        "train", "--agent", "random", "--episodes", "6", "--checkpoint-every", "2", "--keep", "4",
        "--set", "checkpoint_min_interval=0", "--run-dir", str(run_dir), "--no-progress",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return run_dir


@pytest.fixture()
def run(tmp_path, trained) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    return copy


def test_unsupported_observation_space_leaves_no_half_made_run(tmp_path):
    run_dir = tmp_path / "run"
    line = error_line(sphgym("train", "--env", f"{BAD_ENVS}:sphgym-test/TextObs-v0", "--run-dir", str(run_dir)))
    assert "cannot encode observation space Text(" in line and "supported observation spaces are Box" in line
    assert "FlattenObservation" in line
    assert not run_dir.exists() or not any(run_dir.iterdir())  # nothing to resume, nothing to --overwrite


def test_nan_observations_stop_the_run_saying_where(tmp_path):
    result = sphgym("train", "--env", f"{BAD_ENVS}:sphgym-test/NaNObs-v0", "--run-dir", str(tmp_path / "r"))
    line = error_line(result)
    assert "from the env is nan: NaN/inf has no column index" in line and "Check the env" in line
    assert "Training stopped by an error in episode 1, global step 3; the newest checkpoint" in result.stderr


def test_resume_with_a_config_that_changes_the_trajectory(run):
    line = error_line(sphgym("resume", str(run), "--set", "metric_window=7"), "resume")
    assert f"Cannot resume {str(run)!r} with a different config: metric_window: 100 (checkpoint) != 7 (now)" in line
    assert "Only episodes, steps, checkpoint_every, keep and stop_when_solved may change on resume" in line


def test_checkpoint_from_another_format_version(run):
    for ckpt in list_checkpoints(run / "checkpoints"):
        meta = json.loads((ckpt / "meta.json").read_text())
        meta["format_version"] = 99
        data = json_bytes(meta)
        (ckpt / "meta.json").write_bytes(data)
        (ckpt / "COMPLETE").write_bytes(json_bytes({"meta_sha256": sha256_bytes(data)}))
    line = error_line(sphgym("resume", str(run), "--episodes", "8"), "resume")
    assert "has checkpoint format version 99" in line and "this sphgym reads version 1" in line


def test_every_checkpoint_corrupt(run):
    for ckpt in list_checkpoints(run / "checkpoints"):
        (ckpt / "COMPLETE").unlink()
    result = sphgym("resume", str(run), "--episodes", "8")
    line = error_line(result, "resume")
    assert f"No valid checkpoint in {str(run / 'checkpoints')!r}, the run cannot be resumed: ep00000006" in line
    assert "ep00000000-st0000000000: has no COMPLETE marker (the write was interrupted)" in line
    assert "Using an older one" not in result.stderr  # there is none


def test_a_corrupt_latest_checkpoint_is_reported_and_the_previous_one_used(run):
    latest = list_checkpoints(run / "checkpoints")[-1]
    data = bytearray((latest / "state.safetensors").read_bytes())
    data[-1] ^= 1
    (latest / "state.safetensors").write_bytes(bytes(data))
    result = sphgym("resume", str(run), "--episodes", "8", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert f"warning: Skipping checkpoint {latest.name}:" in result.stderr
    assert "state.safetensors does not match its sha256 in meta.json (corrupt or modified). Using an older one." in (
        result.stderr
    )


def test_negative_budget_in_a_config_file(tmp_path):
    (tmp_path / "c.toml").write_text("episodes = -5\n")
    line = error_line(sphgym("train", "--config", str(tmp_path / "c.toml"), "--run-dir", str(tmp_path / "r")))
    assert "episodes must be an integer >= 1, got -5" in line


def _immutable(path: Path) -> bool:
    """Make ``path`` unwritable even for root (chattr +i); False if the filesystem cannot."""
    if os.geteuid() != 0:
        path.chmod(0o555)
        return True
    if shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0


def _writable(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    path.chmod(0o755)


def test_unwritable_run_folder(tmp_path, run):
    parent = tmp_path / "locked"
    parent.mkdir()
    if not _immutable(parent) or not _immutable(run):
        pytest.skip("cannot make a folder unwritable here")
    try:
        fresh = error_line(sphgym("train", "--agent", "random", "--run-dir", str(parent / "new")))
        resumed = error_line(sphgym("resume", str(run), "--episodes", "8"), "resume")
    finally:
        _writable(parent)
        _writable(run)
    for line, folder in ((fresh, parent / "new"), (resumed, run)):
        assert f"Cannot write to the run folder {str(folder)!r}" in line, line
        assert "Choose a folder you can write to (--run-dir) or fix its permissions." in line


def test_a_linked_file_in_the_run_folder(run, tmp_path):
    shutil.move(run / "episodes.csv", tmp_path / "elsewhere.csv")
    (run / "episodes.csv").symlink_to(tmp_path / "elsewhere.csv")
    line = error_line(sphgym("resume", str(run), "--episodes", "8"), "resume")
    assert f"{str(run / 'episodes.csv')!r} is a symbolic link" in line and "Replace it with the real file" in line


def test_an_env_id_from_the_run_folder_is_not_imported(run):
    for path in [run / "config.json", *(c / "config.json" for c in list_checkpoints(run / "checkpoints"))]:
        config = json.loads(path.read_text())
        config["env_id"] = f"{BAD_ENVS}:sphgym-test/NaNObs-v0"
        data = json_bytes(config)
        path.write_bytes(data)
        if path.parent != run:
            meta = json.loads((path.parent / "meta.json").read_text())
            meta["files"]["config.json"] = {"sha256": sha256_bytes(data), "size": len(data)}
            meta_data = json_bytes(meta)
            (path.parent / "meta.json").write_bytes(meta_data)
            (path.parent / "COMPLETE").write_bytes(json_bytes({"meta_sha256": sha256_bytes(meta_data)}))
    line = error_line(sphgym("resume", str(run), "--episodes", "8"), "resume")
    assert f"would import the Python module {BAD_ENVS!r}" in line
    assert f"SPHGYM_TRUSTED_ENV_MODULES={BAD_ENVS}" in line


def test_a_fifo_in_place_of_the_run_config_is_refused_without_hanging(run):
    (run / "config.json").unlink()
    os.mkfifo(run / "config.json")  # reading it would block forever
    line = error_line(sphgym("resume", str(run), "--episodes", "8", timeout=60), "resume")
    assert f"{str(run / 'config.json')!r} is not a regular file; refusing to read the run config from it." in line
