"""Torn writes and crashes at every durable operation of a checkpoint write: nothing is lost, resume is exact.

A reference run (random agent, CartPole, 3 episodes, a checkpoint after every episode, keep=1, best/ refreshed
every episode) is trained once. The third checkpoint job (episode 2) fsyncs the logs, writes best/ (two atomic
file replacements), writes the checkpoint directory (9 files, each opened, written and fsynced; the directory
fsynced, renamed into place, the parent fsynced) and deletes the previous checkpoint (rename to trash, fsync,
unlink each file, rmdir). The test first records every one of these operations, then for each one forks a
child that trains the same run and is killed right before it:

* ``kill``: SIGKILL (process death);
* ``torn``: at each data write, half of the bytes are written, then SIGKILL;
* ``power``: SIGKILL, then a modelled power cut: every byte not yet fsynced, and every directory entry
  (create, rename) made since its directory was last fsynced, is lost (see ``power_cut``).

After each crash a valid checkpoint (the previous or the new one) must exist, and resuming must end exactly
like the uninterrupted run (weights, state, counters, RNGs, env snapshot, episodes.csv, best/, TensorBoard).
"""

from __future__ import annotations

import os
import shutil
import signal

import pytest

from agents.runner import RunConfig, Runner
from agents.runner.checkpoint import find_latest_valid, list_checkpoints, parse_checkpoint_id
from tests.runner.runner_helpers import assert_same_run, run_fingerprint
from tests.reliability.reliability_faults import Faults, agent_file_points, durable_state, power_cut, run_forked
from tests.reliability.reliability_stats import count

CONFIG = RunConfig(
    agent="random", episodes=3, checkpoint_every=1, checkpoint_min_interval=0.0, keep=1, best_every=1, seed=3,
    metric_window=1,  # best/ is written at every episode (a best needs a full window)
)
TARGET_JOB = 3  # jobs: initial (episode 0), episode 1, episode 2 (the target), final (episode 3)


def _no_fsync(monkeypatch):
    """Durability is not what the in-process parts test: skip fsync system calls (they dominate the time)."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("reference")
    Runner(run_dir, CONFIG, log=None).train()
    return run_fingerprint(run_dir)


@pytest.fixture(scope="module")
def points(tmp_path_factory):
    with Faults(TARGET_JOB, "record", real_fsync=False) as faults:
        Runner(tmp_path_factory.mktemp("record"), CONFIG, log=None).train()
    names = faults.points
    kinds = {name.split(":", 1)[0] for name in names}
    assert {"open", "write", "fsync", "rename", "replace", "mkdir", "unlink", "rmdir"} <= kinds, names
    assert any("best" in name for name in names), "the target job must also write best/"
    assert any(name.endswith("COMPLETE") for name in names if name.startswith("write:"))
    return names


def _crash_and_resume(run_dir, mode, at, reference, monkeypatch, config=CONFIG):
    log = run_dir.parent / f"{run_dir.name}.fsyncs"
    kill_mode = "kill" if mode == "power" else mode

    def child():
        faults = Faults(TARGET_JOB, kill_mode, at=at, real_fsync=False, fsync_log=log).install()
        Runner(run_dir, config, log=None).train()
        raise AssertionError(f"the fault at point {at} never fired ({len(faults.points)} points)")

    code = run_forked(child)
    assert code == -signal.SIGKILL, f"child exited with {code}"
    if mode == "power":
        power_cut(run_dir, log)
    found, _ = find_latest_valid(run_dir / "checkpoints")
    assert found is not None, "no valid checkpoint survived"
    assert parse_checkpoint_id(found.id)[0] in (1, 2), found.id  # the previous one or the new one
    _no_fsync(monkeypatch)
    result = Runner(run_dir, resume=True, log=None).train()
    monkeypatch.undo()
    assert result.status == "completed"
    assert not [p.name for p in (run_dir / "checkpoints").iterdir() if p.name.startswith(".")]
    assert_same_run(reference, run_fingerprint(run_dir))


@pytest.mark.slow
def test_a_crash_at_every_operation_of_the_checkpoint_write_loses_nothing(tmp_path, reference, points, monkeypatch):
    """SIGKILL before each recorded operation (kill) and, for each fsync and rename, the same followed by a
    power cut (power): the durable states a crash can leave, each resumed to the exact end."""
    cases = [("kill", i) for i in range(1, len(points) + 1)]
    cases += [("power", i) for i, name in enumerate(points, 1) if name.startswith(("fsync", "rename", "replace"))]
    cases.append(("power", len(points)))  # everything but the last operation done
    for mode, at in cases:
        try:
            _crash_and_resume(tmp_path / f"{mode}-{at}", mode, at, reference, monkeypatch)
        except AssertionError as exc:
            raise AssertionError(f"{mode} before point {at} ({points[at - 1]}): {exc}") from exc
        kind = points[at - 1].split(":", 1)[0]
        count(f"crash inside a checkpoint write ({len(points)} operations)", f"{mode} before {kind}, resumed exactly")


def test_a_torn_write_of_any_checkpoint_file_loses_nothing(tmp_path, reference, points, monkeypatch):
    writes = [i for i, name in enumerate(points, 1) if name.startswith("write:")]
    assert len(writes) >= 11  # 2 best/ files + 7 data files + meta.json + COMPLETE
    for at in writes:
        try:
            _crash_and_resume(tmp_path / f"torn-{at}", "torn", at, reference, monkeypatch)
        except AssertionError as exc:
            raise AssertionError(f"torn write at point {at} ({points[at - 1]}): {exc}") from exc
        count(f"crash inside a checkpoint write ({len(points)} operations)", "torn write, resumed exactly")


@pytest.mark.slow
def test_a_crash_while_resuming_a_crashed_run_loses_nothing(tmp_path, reference, monkeypatch):
    """The start of a resume also writes: it takes the lock, removes a partial checkpoint and a torn newer one,
    cuts episodes.csv back to the checkpoint and opens a TensorBoard file. Kill it before each of those
    operations (and again with a power cut); the next resume must still end exactly."""
    template = tmp_path / "template"

    def crash_mid_write():  # leaves a partial .tmp- checkpoint, a torn checkpoint and extra episodes.csv rows
        Faults(TARGET_JOB + 1, "kill", at=30, real_fsync=False).install()
        Runner(template, CONFIG, log=None).train()

    assert run_forked(crash_mid_write) == -signal.SIGKILL
    torn = template / "checkpoints" / "ep00000009-st0000009999"
    shutil.copytree(list_checkpoints(template / "checkpoints")[-1], torn)
    (torn / "COMPLETE").unlink()
    scratch = tmp_path / "scratch"
    shutil.copytree(template, scratch)
    with Faults(0, "record", real_fsync=False, thread="MainThread") as faults:
        Runner(scratch, resume=True, log=None).train()
    points = faults.points
    kinds = {name.split(":", 1)[0] for name in points}
    assert {"fsync", "rename", "replace", "unlink", "rmdir", "open", "write"} <= kinds, points
    for mode in ("kill", "power"):
        for at in range(1, len(points) + 1):
            run_dir = tmp_path / f"{mode}-{at}"
            shutil.copytree(template, run_dir)
            log = tmp_path / f"{mode}-{at}.fsyncs"

            def child(run_dir=run_dir, at=at, log=log):
                Faults(0, "kill", at=at, real_fsync=False, fsync_log=log, thread="MainThread").install()
                Runner(run_dir, resume=True, log=None).train()

            durable = durable_state(run_dir)  # what the earlier crash left is on disk already
            assert run_forked(child) == -signal.SIGKILL, (mode, at, points[at - 1])
            if mode == "power":
                power_cut(run_dir, log, durable)
            try:
                _no_fsync(monkeypatch)
                Runner(run_dir, resume=True, log=None).train()
                monkeypatch.undo()
                assert_same_run(reference, run_fingerprint(run_dir))
            except (AssertionError, Exception) as exc:
                raise AssertionError(f"{mode} before resume operation {at} ({points[at - 1]}): {exc!r}") from exc
            count(f"crash while resuming ({len(points)} operations)", f"{mode}, resumed exactly")


def test_a_power_cut_after_the_run_ended_loses_no_checkpoint(tmp_path, reference):
    """Every rename of a finished checkpoint write is made durable (its directories fsynced): a power cut
    right after a completed run keeps the final checkpoint, best/ and the logs, exactly as written. With
    ``keep`` large no rotation follows the last rename (a rotation fsyncs checkpoints/ and would hide a
    missing directory fsync)."""
    run_dir, log = tmp_path / "run", tmp_path / "run.fsyncs"
    config = CONFIG.replace(keep=100)

    def child():
        Faults(0, "record", real_fsync=False, fsync_log=log).install()
        Runner(run_dir, config, log=None).train()

    assert run_forked(child) == 0
    expected = run_fingerprint(run_dir)
    assert expected["checkpoint_id"] == reference["checkpoint_id"]
    power_cut(run_dir, log)
    assert [p.name for p in list_checkpoints(run_dir / "checkpoints")][-1] == reference["checkpoint_id"]
    assert_same_run(expected, run_fingerprint(run_dir))
    count("power cut after a finished run", "final checkpoint, best/ and logs kept")


# ---------------------------------------------------------------------- the hierarchy agent (smoke size)

HIERARCHY = CONFIG.replace(agent="hierarchy", tensorboard=False)


def test_hierarchy_agent_crash_smoke(tmp_path, monkeypatch):
    """The random agent's weights file is empty; the hierarchy's is not (and its state holds its RNG and replay
    memory). Smoke size: a kill before, and a torn write of, each operation on its weights and state files, and
    a power cut at each rename and directory fsync of the checkpoint."""
    Runner(tmp_path / "reference", HIERARCHY, log=None).train()
    reference = run_fingerprint(tmp_path / "reference")
    with Faults(TARGET_JOB, "record", real_fsync=False) as faults:
        Runner(tmp_path / "record", HIERARCHY, log=None).train()
    points = faults.points
    agent_files = agent_file_points(points)
    assert len(agent_files) == 6, points  # open, write, fsync of each
    files = (".json", ".safetensors", "COMPLETE", ".csv")
    directory_ops = [
        i for i, name in enumerate(points, 1) if name.startswith(("rename:", "fsync:")) and not name.endswith(files)
    ]
    assert len(directory_ops) >= 5, points  # fsync of the new checkpoint, rename, fsync of checkpoints/ and run/
    cases = [("kill", i) for i in agent_files]
    cases += [("torn", i) for i in agent_files if points[i - 1].startswith("write:")]
    cases += [("power", i) for i in directory_ops]
    for mode, at in cases:
        try:
            _crash_and_resume(tmp_path / f"{mode}-{at}", mode, at, reference, monkeypatch, HIERARCHY)
        except AssertionError as exc:
            raise AssertionError(f"{mode} before point {at} ({points[at - 1]}): {exc}") from exc
        count("hierarchy agent: crash inside a checkpoint write (smoke)", f"{mode}, resumed exactly")


def test_a_power_cut_right_after_a_periodic_checkpoint_keeps_the_logs_it_covers(tmp_path, reference, monkeypatch):
    """The logs (episodes.csv, this session's TensorBoard file) are handed to the OS and fsynced before each
    checkpoint: killed the moment callbacks hear of the episode-2 checkpoint, then a power cut, the resume still
    ends exactly (a TensorBoard row lost before the checkpoint's step would never come back)."""
    from agents.runner.callbacks import Callback

    run_dir, log = tmp_path / "run", tmp_path / "run.fsyncs"

    class DieAtEpisode2(Callback):
        def on_checkpoint(self, event):
            if event.episode == 2:
                os.kill(os.getpid(), signal.SIGKILL)

    def child():
        Faults(0, "record", real_fsync=False, fsync_log=log).install()
        Runner(run_dir, CONFIG, log=None, callbacks=[DieAtEpisode2()]).train()

    assert run_forked(child) == -signal.SIGKILL
    power_cut(run_dir, log)
    assert find_latest_valid(run_dir / "checkpoints")[0].id.startswith("ep00000002")
    _no_fsync(monkeypatch)
    assert Runner(run_dir, resume=True, log=None).train().status == "completed"
    monkeypatch.undo()
    assert_same_run(reference, run_fingerprint(run_dir))
    count("power cut after a periodic checkpoint", "logs it covers kept, resumed exactly")
