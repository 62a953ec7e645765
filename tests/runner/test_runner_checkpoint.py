"""Checkpoint files: atomic writes, digests, torn/corrupt checkpoints, crashes inside the write, disk full."""

from __future__ import annotations

import errno
import json
import re
import shutil
import signal
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.runner import CheckpointError, IncompatibleCheckpointError, RunConfig, Runner, RunnerWarning
from agents.runner import checkpoint as checkpoint_module
from agents.runner.checkpoint import (
    DATA_FILES,
    arrays_to_bytes,
    find_latest_valid,
    list_checkpoints,
    read_checkpoint,
    write_checkpoint,
)
from tests.runner.runner_helpers import assert_same_run, run_fingerprint, run_proc

CONFIG = RunConfig(agent="random", episodes=40, checkpoint_every=5, checkpoint_min_interval=0.0, seed=5)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("reference")
    Runner(run_dir, CONFIG, log=None).train()
    return run_fingerprint(run_dir)


def _stopped_run(run_dir, at_episode=23):
    result = Runner(run_dir, CONFIG, log=None, on_episode=lambda e: e.episode < at_episode).train()
    assert result.status == "stopped" and result.checkpoint.name.startswith(f"ep{at_episode:08d}")
    return result.checkpoint


def _resume_collecting_warnings(run_dir):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = Runner(run_dir, resume=True, log=None).train()
    return result, [str(w.message) for w in caught if issubclass(w.category, RunnerWarning)]


def _truncate(path):
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def _flip_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


CORRUPTIONS = {
    "truncated-state": (lambda c: _truncate(c / "state.safetensors"), "state.safetensors has"),
    "truncated-runner-json": (lambda c: _truncate(c / "runner.json"), "runner.json has"),
    "flipped-byte-state": (lambda c: _flip_byte(c / "state.safetensors"), "does not match its sha256"),
    "flipped-byte-env": (lambda c: _flip_byte(c / "env.json"), "does not match its sha256"),
    "flipped-byte-meta": (lambda c: _flip_byte(c / "meta.json"), "does not match the digest in COMPLETE"),
    "missing-marker": (lambda c: (c / "COMPLETE").unlink(), "no COMPLETE marker"),
    "missing-file": (lambda c: (c / "runner.json").unlink(), "runner.json is missing"),
    "garbage-marker": (lambda c: (c / "COMPLETE").write_bytes(b"\x00\xff garbage"), "COMPLETE"),
}


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_corrupt_latest_checkpoint_is_reported_and_the_previous_one_used(tmp_path, reference, kind):
    corrupt, expected_problem = CORRUPTIONS[kind]
    latest = _stopped_run(tmp_path)
    corrupt(latest)
    with pytest.raises(CheckpointError, match=expected_problem):
        read_checkpoint(latest)
    found, problems = find_latest_valid(tmp_path / "checkpoints")
    assert found.id.startswith("ep00000020") and problems[0][0] == latest
    result, messages = _resume_collecting_warnings(tmp_path)
    assert result.status == "completed"
    assert any(f"Skipping checkpoint {latest.name}" in m and expected_problem in m for m in messages), (
        messages
    )
    assert_same_run(reference, run_fingerprint(tmp_path))


def test_every_checkpoint_corrupt_is_a_clear_error(tmp_path):
    _stopped_run(tmp_path, at_episode=7)
    for path in list_checkpoints(tmp_path / "checkpoints"):
        (path / "COMPLETE").unlink()
    with pytest.raises(CheckpointError, match="No valid checkpoint"):
        Runner(tmp_path, resume=True, log=None).train()


def test_unexpected_file_names_in_meta_are_refused(tmp_path):
    files = {name: b"{}" for name in DATA_FILES}
    files["weights.safetensors"] = files["state.safetensors"] = files["runner.safetensors"] = arrays_to_bytes(
        {}
    )
    path = write_checkpoint(tmp_path, "ep00000001-st0000000001", files, {})
    meta = json.loads((path / "meta.json").read_text())
    meta["files"]["../../etc/passwd"] = {"sha256": "0" * 64, "size": 1}
    data = (json.dumps(meta)).encode()
    (path / "meta.json").write_bytes(data)
    (path / "COMPLETE").write_bytes(
        checkpoint_module.json_bytes({"meta_sha256": checkpoint_module.sha256_bytes(data)})
    )
    with pytest.raises(CheckpointError, match="unexpected file"):
        read_checkpoint(path)


@pytest.mark.parametrize("meta", [b"[]", b"{}", b'{"files": []}'])
def test_a_meta_json_without_a_file_list_is_refused(tmp_path, meta):
    """A re-signed meta.json that is JSON but not an object with a file list: a CheckpointError, no crash."""
    files = {name: b"{}" for name in DATA_FILES}
    files["weights.safetensors"] = files["state.safetensors"] = files["runner.safetensors"] = arrays_to_bytes({})
    path = write_checkpoint(tmp_path, "ep00000001-st0000000001", files, {})
    (path / "meta.json").write_bytes(meta)
    (path / "COMPLETE").write_bytes(
        checkpoint_module.json_bytes({"meta_sha256": checkpoint_module.sha256_bytes(meta)})
    )
    with pytest.raises(CheckpointError, match="has no file list"):
        read_checkpoint(path)


def test_a_temporary_folder_an_earlier_crash_left_is_replaced(tmp_path):
    """``.tmp-<id>-<pid>`` of a killed process with this process's pid: the write starts from an empty one."""
    import os

    files = {name: b"{}" for name in DATA_FILES}
    files["weights.safetensors"] = files["state.safetensors"] = files["runner.safetensors"] = arrays_to_bytes({})
    leftover = tmp_path / f".tmp-ep00000001-st0000000001-{os.getpid()}"
    leftover.mkdir()
    (leftover / "stale.bin").write_bytes(b"old")
    path = write_checkpoint(tmp_path, "ep00000001-st0000000001", files, {})
    assert read_checkpoint(path).id == path.name and not leftover.exists()


def test_a_checkpoint_with_a_file_of_an_unknown_name_is_never_written(tmp_path):
    with pytest.raises(ValueError, match=r"Unknown checkpoint file name\(s\) \['payload.pkl'\]"):
        write_checkpoint(tmp_path, "ep00000001-st0000000001", {"payload.pkl": b"x"}, {})
    assert list(tmp_path.iterdir()) == []


def test_identical_checkpoint_is_not_rewritten_and_a_different_one_replaces_it(tmp_path):
    files = {name: b"null\n" for name in ("runner.json", "config.json")}
    files.update(
        {
            name: arrays_to_bytes({})
            for name in ("weights.safetensors", "state.safetensors", "runner.safetensors")
        }
    )
    path = write_checkpoint(tmp_path, "ep00000001-st0000000001", files, {"kind": "a"})
    before = (path / "meta.json").read_bytes()
    write_checkpoint(tmp_path, "ep00000001-st0000000001", files, {"kind": "b"})
    assert (path / "meta.json").read_bytes() == before
    files["runner.json"] = b"1\n"
    write_checkpoint(tmp_path, "ep00000001-st0000000001", files, {"kind": "c"})
    assert read_checkpoint(path).meta["kind"] == "c"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_rotation_keeps_the_last_k(tmp_path):
    Runner(tmp_path, CONFIG.replace(keep=2, metric_window=10), log=None).train()
    names = [p.name[:10] for p in list_checkpoints(tmp_path / "checkpoints")]
    assert names == ["ep00000035", "ep00000040"]
    assert (tmp_path / "best" / "weights.safetensors").exists()


def test_disk_full_during_a_checkpoint_keeps_the_previous_one(tmp_path, reference, monkeypatch):
    original = checkpoint_module.write_file_synced
    calls = [0]

    def failing(path, data):
        calls[0] += 1
        if calls[0] == 9 * 3 + 4:  # inside the third periodic checkpoint (9 files per checkpoint)
            raise OSError(errno.ENOSPC, "No space left on device")
        original(path, data)

    monkeypatch.setattr(checkpoint_module, "write_file_synced", failing)
    with pytest.raises(CheckpointError, match=r"No space left on device.*ep00000010.* is intact"):
        Runner(tmp_path, CONFIG, log=None).train()
    monkeypatch.undo()
    assert not [p for p in (tmp_path / "checkpoints").iterdir() if p.name.startswith(".")]  # temp dir removed
    assert find_latest_valid(tmp_path / "checkpoints")[0].id.startswith("ep00000010")
    Runner(tmp_path, resume=True, log=None).train()
    assert_same_run(reference, run_fingerprint(tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize(
    "variable,call",
    [
        ("SPHGYM_TEST_KILL_IN_WRITE", 9 * 2 + 1),  # first file of the second periodic checkpoint
        ("SPHGYM_TEST_KILL_IN_WRITE", 9 * 2 + 5),  # a middle file
        ("SPHGYM_TEST_KILL_IN_WRITE", 9 * 2 + 8),  # meta.json
        ("SPHGYM_TEST_KILL_IN_WRITE", 9 * 2 + 9),  # the COMPLETE marker
        ("SPHGYM_TEST_KILL_IN_FSYNC_DIR", 2 * 2 + 1),  # temp dir written, not yet renamed
        ("SPHGYM_TEST_KILL_IN_FSYNC_DIR", 2 * 2 + 2),  # renamed, parent not yet fsynced
    ],
)
def test_sigkill_inside_the_checkpoint_write_loses_nothing(tmp_path, reference, variable, call):
    options = {"seed": 5, "episodes": 40, "checkpoint_every": 5}
    code, _, err = run_proc(tmp_path, environ={variable: str(call)}, **options)
    assert code == -signal.SIGKILL, err
    found, problems = find_latest_valid(tmp_path / "checkpoints")
    assert found is not None and not problems
    code, _, err = run_proc(tmp_path, resume=True, **options)
    assert code == 0, err
    assert not [p for p in (tmp_path / "checkpoints").iterdir() if p.name.startswith(".")]
    assert_same_run(reference, run_fingerprint(tmp_path))


def test_checkpoint_from_another_format_version_is_refused_not_skipped(tmp_path):
    latest = _stopped_run(tmp_path, at_episode=6)
    meta = json.loads((latest / "meta.json").read_text())
    meta["format_version"] = 99
    data = checkpoint_module.json_bytes(meta)
    (latest / "meta.json").write_bytes(data)
    (latest / "COMPLETE").write_bytes(
        checkpoint_module.json_bytes({"meta_sha256": checkpoint_module.sha256_bytes(data)})
    )
    with pytest.raises(IncompatibleCheckpointError, match=r"format version 99.*reads version 1"):
        Runner(tmp_path, resume=True, log=None).train()


@pytest.fixture(scope="module")
def pristine_checkpoint(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("pristine")
    return _stopped_run(run_dir, at_episode=3)


FILE_NAMES = (*DATA_FILES, "meta.json", "COMPLETE")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(FILE_NAMES),
    mutation=st.sampled_from(["truncate", "flip", "replace", "append", "nested"]),
    position=st.floats(0, 1),
    payload=st.binary(min_size=0, max_size=64),
)
def test_any_damaged_file_is_rejected_with_a_clear_error(
    tmp_path_factory, pristine_checkpoint, name, mutation, position, payload
):
    """Truncated, bit-flipped, replaced or extended files: a CheckpointError, or (if the damage is harmless,
    e.g. a dropped trailing newline in COMPLETE) exactly the original content. Never another exception."""
    work = tmp_path_factory.mktemp("fuzz") / pristine_checkpoint.name
    shutil.copytree(pristine_checkpoint, work)
    target = work / name
    data = target.read_bytes()
    cut = int(position * len(data))
    if mutation == "truncate":
        new = data[:cut] if cut < len(data) else data[:-1]
    elif mutation == "flip":
        index = min(cut, len(data) - 1)
        new = data[:index] + bytes([data[index] ^ (1 << (len(payload) % 8))]) + data[index + 1 :]
    elif mutation == "replace":
        new = payload if payload != data else payload + b"x"
    elif mutation == "append":
        new = data + (payload or b"\0")
    else:
        new = b"[" * 100000 + b"]" * 100000  # deeply nested JSON
    target.write_bytes(new)
    try:
        loaded = read_checkpoint(work)
    except CheckpointError:
        return
    assert loaded.files == read_checkpoint(pristine_checkpoint).files


def _minimal_files() -> dict[str, bytes]:
    files = {name: b"{}" for name in DATA_FILES}
    files["weights.safetensors"] = files["state.safetensors"] = files["runner.safetensors"] = arrays_to_bytes({})
    return files


def _resign(path, meta: dict) -> None:
    data = checkpoint_module.json_bytes(meta)
    (path / "meta.json").write_bytes(data)
    (path / "COMPLETE").write_bytes(checkpoint_module.json_bytes({"meta_sha256": checkpoint_module.sha256_bytes(data)}))


@pytest.mark.parametrize("entry", ["x", None, {"sha256": "0" * 64}, {"size": "2"}, {"size": -1}, {"size": True}])
def test_a_malformed_file_entry_in_meta_json_is_refused_by_name(tmp_path, entry):
    """A re-signed meta.json whose entry for a file is not ``{"size": int >= 0, ...}``: refused, naming the file."""
    path = write_checkpoint(tmp_path, "ep00000001-st0000000001", _minimal_files(), {})
    meta = json.loads((path / "meta.json").read_bytes())
    meta["files"]["config.json"] = entry
    _resign(path, meta)
    with pytest.raises(CheckpointError, match="malformed entry for 'config.json'"):
        read_checkpoint(path)


@pytest.mark.parametrize("name", ["weights.safetensors", "runner.json", "config.json"])
def test_a_checkpoint_whose_meta_json_leaves_out_a_required_file_is_refused(tmp_path, name):
    path = write_checkpoint(tmp_path, "ep00000001-st0000000001", _minimal_files(), {})
    meta = json.loads((path / "meta.json").read_bytes())
    del meta["files"][name]
    _resign(path, meta)
    with pytest.raises(CheckpointError, match=f"lacks required file.*{name}"):
        read_checkpoint(path)


def test_write_checkpoint_creates_missing_folders_and_returns_the_path_also_when_it_keeps_one(tmp_path):
    root = tmp_path / "run" / "checkpoints"  # neither exists yet
    path = write_checkpoint(root, "ep00000001-st0000000001", _minimal_files(), {})
    assert path == root / "ep00000001-st0000000001" and read_checkpoint(path).id == path.name
    again = write_checkpoint(root, "ep00000001-st0000000001", _minimal_files(), {})  # identical: kept
    assert again == path
    assert write_checkpoint(root, "ep00000002-st0000000002", _minimal_files(), {}).parent == root  # root exists


def test_a_corrupt_checkpoint_of_the_same_id_is_replaced(tmp_path):
    path = write_checkpoint(tmp_path, "ep00000001-st0000000001", _minimal_files(), {"kind": "a"})
    (path / "COMPLETE").write_bytes(b"garbage")
    assert write_checkpoint(tmp_path, "ep00000001-st0000000001", _minimal_files(), {"kind": "b"}) == path
    assert read_checkpoint(path).meta["kind"] == "b"


def test_a_failed_write_reports_its_own_error_even_if_cleaning_up_fails(tmp_path, monkeypatch):
    """ENOSPC while writing, then the temporary folder cannot be removed either: the caller hears of the disk full
    (which it handles), not of the failed clean-up."""
    import os

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    def cannot_remove(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(checkpoint_module, "write_file_synced", full)
    monkeypatch.setattr(os, "rmdir", cannot_remove)
    with pytest.raises(OSError) as caught:
        write_checkpoint(tmp_path, "ep00000001-st0000000001", _minimal_files(), {})
    assert caught.value.errno == errno.ENOSPC


def test_a_resume_removes_the_newer_broken_checkpoints_it_skipped(tmp_path):
    """A broken checkpoint newer than the one resumed from would shadow what this session writes (and be reported
    again at every resume): it is removed, here by a session that stops before reaching its episode."""
    latest = _stopped_run(tmp_path)
    _flip_byte(latest / "weights.safetensors")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        result = Runner(tmp_path, resume=True, log=None).train(episodes=22)
    assert result.status == "completed" and result.checkpoint.name.startswith("ep00000022")
    assert not latest.exists()
    assert list_checkpoints(tmp_path / "checkpoints")[-1] == result.checkpoint


def test_rotate_returns_what_it_removed_and_never_the_protected_checkpoint(tmp_path):
    from agents.runner.checkpoint import rotate

    paths = [write_checkpoint(tmp_path, f"ep{i:08d}-st{i:010d}", _minimal_files(), {}) for i in range(1, 5)]
    assert rotate(tmp_path, 1, protect=paths[0]) == paths[1:3]
    assert list_checkpoints(tmp_path) == [paths[0], paths[3]]
    assert rotate(tmp_path, 5) == []


@pytest.mark.parametrize(("versions", "named"), [({"sphgym": "9.1"}, "9.1"), (None, "?"), ("absent", "?")])
def test_a_checkpoint_of_another_format_version_names_the_sphgym_that_wrote_it(tmp_path, versions, named):
    path = write_checkpoint(tmp_path, "ep00000001-st0000000001", _minimal_files(), {})
    meta = json.loads((path / "meta.json").read_bytes())
    meta["format_version"] = 99
    if versions == "absent":
        meta.pop("versions", None)
    else:
        meta["versions"] = versions
    _resign(path, meta)
    with pytest.raises(IncompatibleCheckpointError, match=rf"version 99 \(written by sphgym {re.escape(named)}\)"):
        read_checkpoint(path)


def test_list_checkpoints_takes_a_path_given_as_text(tmp_path):
    path = write_checkpoint(tmp_path, "ep00000001-st0000000001", _minimal_files(), {})
    assert list_checkpoints(str(tmp_path)) == [path]


def test_list_checkpoints_of_a_missing_folder_is_empty_and_of_a_linked_one_refused(tmp_path):
    from agents.runner.errors import RunnerError

    assert list_checkpoints(tmp_path / "missing") == []
    assert find_latest_valid(tmp_path / "missing") == (None, [])
    real = tmp_path / "elsewhere"
    write_checkpoint(real, "ep00000001-st0000000001", _minimal_files(), {})
    (tmp_path / "checkpoints").symlink_to(real)
    with pytest.raises(RunnerError, match="symbolic link"):
        list_checkpoints(tmp_path / "checkpoints")


def test_a_re_signed_meta_json_that_is_not_json_is_refused_as_such(tmp_path):
    path = write_checkpoint(tmp_path, "ep00000001-st0000000001", _minimal_files(), {})
    data = b'{"files": {'
    (path / "meta.json").write_bytes(data)
    (path / "COMPLETE").write_bytes(checkpoint_module.json_bytes({"meta_sha256": checkpoint_module.sha256_bytes(data)}))
    with pytest.raises(CheckpointError, match=r"meta\.json is not valid JSON"):
        read_checkpoint(path)
