"""Disk full (``OSError(ENOSPC)``): the run says so, keeps the previous checkpoint, exits cleanly, resumes exactly.

ENOSPC is injected at every operation of a checkpoint write that can meet a full disk (opening a file for
writing, writing, fsync, mkdir, rename), at the episode log in the training thread, and in a real ``sphgym
train`` process (exit code 1, one clear line, no traceback).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

from agents.runner import CheckpointError, RunConfig, Runner
from agents.runner.checkpoint import find_latest_valid, list_checkpoints
from agents.runner.episode_log import EpisodeLog
from tests.runner.runner_helpers import REPO, assert_same_run, run_fingerprint
from tests.reliability.reliability_faults import Faults, agent_file_points
from tests.reliability.reliability_stats import count

CONFIG = RunConfig(
    agent="random", episodes=4, checkpoint_every=1, checkpoint_min_interval=0.0, keep=1, best_every=1, seed=3,
    metric_window=1,  # best/ is written at every episode (a best needs a full window)
)
TARGET_JOB = 3  # the checkpoint of episode 2 (after the initial one and episode 1's)
WRITE_KINDS = ("open", "write", "fsync", "mkdir", "rename", "replace")


@pytest.fixture(autouse=True)
def no_fsync(monkeypatch):
    """Durability is not under test here; fsync system calls are most of the time on a busy disk."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("reference")
    Runner(run_dir, CONFIG, log=None).train()
    return run_fingerprint(run_dir)


def _points():
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, Faults(TARGET_JOB, "record", real_fsync=False) as faults:
        Runner(tmp, CONFIG, log=None).train()
    return [(i, name) for i, name in enumerate(faults.points, 1) if name.startswith(WRITE_KINDS)]


def _assert_clean_failure(run_dir, error: str):
    latest, _ = find_latest_valid(run_dir / "checkpoints")
    assert latest is not None
    assert "No space left on device" in error
    assert f"({latest.id}) is intact" in error and f"sphgym resume {run_dir}" in error, error
    # no partial checkpoint left (a .trash- copy of a rotated-out one may stay: the next session removes it)
    assert not [p.name for p in (run_dir / "checkpoints").iterdir() if p.name.startswith(".tmp-")]
    # nor a temporary file of an atomic replacement (best/, config.json, episodes.csv)
    assert not [str(p) for p in run_dir.rglob("*") if ".tmp-" in p.name and "checkpoints" not in p.parts]
    assert not (run_dir / "run.lock").exists()  # the lock was released
    return latest


def test_disk_full_at_any_write_of_a_checkpoint(tmp_path, reference):
    points = _points()
    assert len(points) >= 30, points
    for at, name in points:
        run_dir = tmp_path / f"enospc-{at}"
        error = None
        with Faults(TARGET_JOB, "enospc", at=at, real_fsync=False) as faults:
            try:
                Runner(run_dir, CONFIG, log=None).train()
            except CheckpointError as exc:
                error = str(exc)
        assert faults.fired, name
        if error is None:
            # mkdir of a folder that exists (Path.mkdir(exist_ok=True) ignores the error): nothing was lost
            assert name.startswith("mkdir:"), f"ENOSPC at {name} went unreported"
            assert_same_run(reference, run_fingerprint(run_dir))
            count("disk full inside a checkpoint write", "mkdir of an existing folder: harmless")
            continue
        latest = _assert_clean_failure(run_dir, error)
        # the new checkpoint is there only if the failure came after its rename (the parent's fsync)
        assert latest.id.startswith(("ep00000001", "ep00000002")), (name, latest.id)
        rows = len((run_dir / "episodes.csv").read_text().splitlines()) - 1
        assert rows <= 3, f"the run went on for {rows} episodes after the failed write at {name}"
        Runner(run_dir, resume=True, log=None).train()
        assert_same_run(reference, run_fingerprint(run_dir))
        count("disk full inside a checkpoint write", f"ENOSPC at {name.split(':', 1)[0]}: reported, resumed exactly")


def test_disk_full_with_the_hierarchy_agent_smoke(tmp_path):
    """The hierarchy's weights and state files have content (the random agent's weights are empty): ENOSPC at
    each operation on them and at the checkpoint's rename is reported and resumed exactly (smoke size)."""
    config = CONFIG.replace(agent="hierarchy", tensorboard=False)
    Runner(tmp_path / "reference", config, log=None).train()
    reference = run_fingerprint(tmp_path / "reference")
    with Faults(TARGET_JOB, "record", real_fsync=False) as faults:
        Runner(tmp_path / "record", config, log=None).train()
    wanted = set(agent_file_points(faults.points))
    points = [(i, name) for i, name in enumerate(faults.points, 1) if i in wanted or name.startswith("rename:")]
    assert len(points) >= 7, faults.points
    for at, name in points:
        run_dir = tmp_path / f"enospc-{at}"
        with Faults(TARGET_JOB, "enospc", at=at, real_fsync=False) as faults, pytest.raises(CheckpointError) as info:
            Runner(run_dir, config, log=None).train()
        assert faults.fired, name
        _assert_clean_failure(run_dir, str(info.value))
        Runner(run_dir, resume=True, log=None).train()
        assert_same_run(reference, run_fingerprint(run_dir))
        count("hierarchy agent: disk full inside a checkpoint write (smoke)", "reported, resumed exactly")


def test_a_failed_periodic_checkpoint_stops_the_run_at_the_next_episode(tmp_path, monkeypatch):
    """Periodic checkpoints are written in the background; a failure must not go unnoticed until the next one.

    No timing involved: every background job waits until the training thread has taken its first step after
    handing the job over (so episode 4's end, which submitted it, has passed), and that step then waits until
    the write has failed; the run must stop at the end of episode 5.
    """
    from agents.runner import checkpoint as checkpoint_module

    config = CONFIG.replace(episodes=12, checkpoint_every=4)
    submitted, released, failed = [], threading.Event(), threading.Event()
    original_submit, original_run = checkpoint_module.BackgroundWriter.submit, checkpoint_module.BackgroundWriter._run

    def submit(self, job):
        released.clear()
        submitted.append(job)
        original_submit(self, job)

    def run_job(self, job):
        assert released.wait(timeout=60), "the training thread never stepped after submitting"
        original_run(self, job)
        if self._error is not None:
            failed.set()

    monkeypatch.setattr(checkpoint_module.BackgroundWriter, "submit", submit)
    monkeypatch.setattr(checkpoint_module.BackgroundWriter, "_run", run_job)
    with Faults(2, "enospc", at=1, real_fsync=False) as faults, pytest.raises(CheckpointError) as info:

        def step_hook(step):
            if not released.is_set():
                released.set()
                if len(submitted) >= 2:  # episode 4's checkpoint (job 2) was handed over: let it fail first
                    assert failed.wait(timeout=60), "the injected failure never happened"

        Runner(tmp_path, config, log=None, step_hook=step_hook).train()
    assert faults.fired
    _assert_clean_failure(tmp_path, str(info.value))
    rows = len((tmp_path / "episodes.csv").read_text().splitlines()) - 1
    assert rows == 5, rows  # stopped at the next episode end, not at episode 8's checkpoint
    assert [p.name[:10] for p in list_checkpoints(tmp_path / "checkpoints")] == ["ep00000000"]


def test_disk_full_while_appending_to_the_episode_log(tmp_path, reference, monkeypatch):
    original = EpisodeLog.append

    def append(self, episode, *args):
        if episode == 4:
            raise OSError(28, "No space left on device", str(self.path))
        return original(self, episode, *args)

    monkeypatch.setattr(EpisodeLog, "append", append)
    with pytest.raises(CheckpointError) as info:
        Runner(tmp_path, CONFIG, log=None).train()
    monkeypatch.setattr(EpisodeLog, "append", original)
    assert "episodes.csv" in str(info.value)
    _assert_clean_failure(tmp_path, str(info.value))
    Runner(tmp_path, resume=True, log=None).train()
    assert_same_run(reference, run_fingerprint(tmp_path))


LAUNCHER = """
import sys
sys.path.insert(0, {repo!r})
from tests.reliability.reliability_faults import Faults, agent_file_points
from tests.reliability.reliability_stats import count
Faults({job}, "enospc", at={at}).install()
from agents.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def test_cli_reports_disk_full_in_one_line_and_exits_1(tmp_path):
    run_dir = tmp_path / "run"
    args = ["train", "--agent", "random", "--episodes", "4", "--checkpoint-every", "1", "--keep", "1",
            "--set", "checkpoint_min_interval=0", "--set", "best_every=1", "--set", "metric_window=1", "--seed", "3",
            "--run-dir",
            str(run_dir), "--no-progress"]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(REPO))
    write_weights = next(i for i, name in _points() if name.startswith("write:") and "weights" in name)
    launcher = LAUNCHER.format(repo=str(REPO), job=TARGET_JOB, at=write_weights)
    done = subprocess.run(
        [sys.executable, "-c", launcher, *args], capture_output=True, text=True, env=env, timeout=120, cwd=REPO
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("sphgym train: error: Could not write checkpoint ep00000002"), last
    assert "No space left on device" in last and "ep00000001" in last and "is intact" in last, last
    assert f"sphgym resume {run_dir}" in last, last
    resumed = subprocess.run(
        [sys.executable, "-m", "agents.cli.main", "resume", str(run_dir), "--no-progress"],
        capture_output=True, text=True, env=env, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    config = RunConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    assert config == CONFIG.resolved()
    reference = tmp_path / "reference"
    Runner(reference, config, log=None).train()
    assert_same_run(run_fingerprint(reference), run_fingerprint(run_dir))
