"""Untrusted run folders: nothing in them is executed, and nothing outside them is read or written.

Payloads that would create a marker file if anything unpickled, decoded or imported them: a pickle file in a
checkpoint, pickle or object-dtype ``.npy`` bytes in place of a safetensors file, a safetensors header naming an
unknown dtype, JSON naming a class (``__class__``, jsonpickle's ``py/reduce``), an env snapshot naming a numpy
function as its bit generator, a config whose env id imports a module. Paths: names in meta.json outside the
checkpoint (``../``, absolute), and symbolic links planted for every file and folder the runner uses.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from agents.runner import (
    CheckpointError,
    RunConfig,
    Runner,
    RunnerError,
    RunnerWarning,
    evaluate,
    inspect_checkpoint,
    verify_run,
)
from agents.runner.checkpoint import find_latest_valid, json_bytes, list_checkpoints, read_checkpoint, sha256_bytes
from tests.runner.runner_helpers import assert_same_run, run_fingerprint

CONFIG = RunConfig(
    agent="random", episodes=6, checkpoint_every=2, checkpoint_min_interval=0.0, keep=3, best_every=1, seed=4,
    metric_window=2,
)


class Payload:
    """Unpickling this writes ``marker``: proof that something executed the file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "executed"))


def pickle_payload(marker: Path) -> bytes:
    data = pickle.dumps(Payload(marker))
    probe = marker.with_name(marker.name + ".probe")
    pickle.loads(pickle.dumps(Payload(probe)))  # the payload is live: unpickling it does create the file
    assert probe.read_text() == "executed"
    probe.unlink()
    return data


def npy_payload(marker: Path) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.array([Payload(marker)], dtype=object), allow_pickle=True)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    Runner(run_dir, CONFIG, log=None).train()
    return run_dir


@pytest.fixture(scope="module")
def reference(finished):
    return run_fingerprint(finished)


@pytest.fixture(autouse=True)
def no_fsync(monkeypatch):
    """Durability is not under test here; fsync system calls are most of the time on a busy disk."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)


@pytest.fixture(scope="module")
def stopped_template(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("stopped") / "run"
    Runner(run_dir, CONFIG, log=None, on_episode=lambda e: e.episode < 4).train()
    return run_dir


@pytest.fixture()
def stopped(tmp_path, stopped_template):
    """A run stopped at episode 4 (checkpoints at 0, 2, 4): a crafted newest checkpoint can fall back."""
    run_dir = tmp_path / "run"
    shutil.copytree(stopped_template, run_dir, symlinks=True)
    return run_dir


@pytest.fixture()
def marker(tmp_path):
    path = tmp_path / "EXECUTED"
    yield path
    assert not path.exists(), "a payload was executed"


def latest(run_dir: Path) -> Path:
    return list_checkpoints(run_dir / "checkpoints")[-1]


def resign(ckpt: Path, name: str, data: bytes, *, listed: bool = True) -> None:
    """Write ``name`` into a checkpoint with digests that match (a forger can always recompute them)."""
    (ckpt / name).write_bytes(data)
    meta = json.loads((ckpt / "meta.json").read_text())
    if listed:
        meta["files"][name] = {"sha256": sha256_bytes(data), "size": len(data)}
    meta_data = json_bytes(meta)
    (ckpt / "meta.json").write_bytes(meta_data)
    (ckpt / "COMPLETE").write_bytes(json_bytes({"meta_sha256": sha256_bytes(meta_data)}))


def resume_with_warnings(run_dir, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = Runner(run_dir, resume=True, log=None, **kwargs).train(episodes=CONFIG.episodes)
    return result, [str(w.message) for w in caught if issubclass(w.category, RunnerWarning)]


# ---------------------------------------------------------------------- pickle and friends


@pytest.mark.parametrize("name", ["payload.pkl", "weights.npy", "state.pt"])
def test_a_stray_pickle_file_makes_the_checkpoint_refused_and_the_previous_one_used(stopped, reference, marker, name):
    crafted = latest(stopped)
    resign(crafted, name, pickle_payload(marker), listed=name.endswith(".npy"))
    with pytest.raises(CheckpointError, match=rf"unexpected file\(s\) \['{name}'\]"):
        read_checkpoint(crafted)
    with pytest.raises(CheckpointError, match="unexpected file"):
        inspect_checkpoint(crafted)
    with pytest.raises(CheckpointError, match="unexpected file"):
        evaluate(crafted, episodes=1)
    result, messages = resume_with_warnings(stopped)
    assert any(f"Skipping checkpoint {crafted.name}" in m and name in m for m in messages), messages
    assert not (crafted / name).exists()  # the crafted checkpoint was removed (then written anew)
    assert result.status == "completed"
    assert_same_run(reference, run_fingerprint(stopped))


@pytest.mark.parametrize("target", ["weights.safetensors", "state.safetensors", "runner.safetensors"])
@pytest.mark.parametrize("payload", ["pickle", "npy-object"])
def test_pickle_bytes_in_place_of_a_safetensors_file_are_refused(stopped, marker, target, payload):
    data = pickle_payload(marker) if payload == "pickle" else npy_payload(marker)
    crafted = latest(stopped)
    for old in list_checkpoints(stopped / "checkpoints")[:-1]:
        shutil.rmtree(old)  # no fallback: the crafted checkpoint itself must be refused
    resign(crafted, target, data)
    with pytest.raises(CheckpointError, match=rf"{target} is not a valid safetensors file"):
        Runner(stopped, resume=True, log=None).train()


@pytest.mark.parametrize("dtype", ["O", "object", "PICKLE", "F128", "U8\u0000"])
def test_a_safetensors_header_naming_an_unknown_dtype_is_refused(stopped, marker, dtype):
    body = pickle_payload(marker)
    header = json.dumps({"hierarchy": {"dtype": dtype, "shape": [len(body)], "data_offsets": [0, len(body)]}})
    header_bytes = header.encode() + b" " * (-len(header) % 8)
    data = len(header_bytes).to_bytes(8, "little") + header_bytes + body
    crafted = latest(stopped)
    for old in list_checkpoints(stopped / "checkpoints")[:-1]:
        shutil.rmtree(old)
    resign(crafted, "weights.safetensors", data)
    with pytest.raises(CheckpointError, match=r"weights\.safetensors is not a valid safetensors file"):
        Runner(stopped, resume=True, log=None).train()


def test_a_safetensors_header_claiming_two_to_the_40_bytes_is_refused(stopped):
    crafted = latest(stopped)
    for old in list_checkpoints(stopped / "checkpoints")[:-1]:
        shutil.rmtree(old)
    for data in (
        (2**40).to_bytes(8, "little") + b"{}",  # header length
        _safetensors_header({"rng": {"dtype": "U8", "shape": [2**40], "data_offsets": [0, 2**40]}}),
    ):
        resign(crafted, "state.safetensors", data)
        with pytest.raises(CheckpointError, match=r"state\.safetensors is not a valid safetensors file"):
            Runner(stopped, resume=True, log=None).train()


def _safetensors_header(header: dict) -> bytes:
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text


# ---------------------------------------------------------------------- JSON naming classes


def jsonpickle_payload(marker: Path) -> dict:
    return {"py/reduce": [{"py/function": "pathlib.Path.write_text"}, {"py/tuple": [str(marker), "executed"]}]}


CLASS_JSON = {
    "__class__": lambda m: {"__class__": "os.system", "args": [f"touch {m}"]},
    "py/object": lambda m: {"py/object": "tests.reliability.test_untrusted_files.Payload", "marker": str(m)},
    "py/reduce": jsonpickle_payload,
}


@pytest.mark.parametrize("style", sorted(CLASS_JSON))
@pytest.mark.parametrize("name", ["runner.json", "rng.json", "env.json", "config.json"])
def test_json_naming_a_class_is_refused(stopped, marker, name, style):
    crafted = latest(stopped)
    for old in list_checkpoints(stopped / "checkpoints")[:-1]:
        shutil.rmtree(old)
    content = json.loads((crafted / name).read_text())
    content = {"payload": CLASS_JSON[style](marker), **content} if isinstance(content, dict) else content
    resign(crafted, name, json.dumps(content).encode())
    with pytest.raises(CheckpointError, match=rf"{name} names a Python object \('(py/|__class__)"):
        Runner(stopped, resume=True, log=None).train()


@pytest.mark.parametrize("where", ["run config.json", "meta.json", "best.json"])
def test_class_naming_json_outside_the_checkpoint_files_is_refused(stopped, marker, where):
    payload = jsonpickle_payload(marker)
    if where == "run config.json":
        config = json.loads((stopped / "config.json").read_text())
        (stopped / "config.json").write_text(json.dumps({**config, "env_kwargs": payload}))
        with pytest.raises(CheckpointError, match=r"config\.json.*names a Python object"):
            Runner(stopped, resume=True, log=None)
    elif where == "meta.json":
        crafted = latest(stopped)
        meta = json.loads((crafted / "meta.json").read_text())
        meta["versions"] = payload
        data = json_bytes(meta)
        (crafted / "meta.json").write_bytes(data)
        (crafted / "COMPLETE").write_bytes(json_bytes({"meta_sha256": sha256_bytes(data)}))
        with pytest.raises(CheckpointError, match=r"meta\.json names a Python object"):
            read_checkpoint(crafted)
    else:
        best = json.loads((stopped / "best" / "best.json").read_text())
        (stopped / "best" / "best.json").write_text(json.dumps({**best, "config": payload}))
        with pytest.raises(CheckpointError, match=r"best\.json names a Python object"):
            evaluate(stopped, episodes=1, checkpoint="best")


def test_an_env_snapshot_naming_a_numpy_function_as_bit_generator_is_refused(stopped):
    crafted = latest(stopped)
    for old in list_checkpoints(stopped / "checkpoints")[:-1]:
        shutil.rmtree(old)
    snapshot = json.loads((crafted / "env.json").read_text())
    snapshot["np_random"]["bit_generator"] = "seed"  # np.random.seed() would reseed the global RNG
    resign(crafted, "env.json", json.dumps(snapshot).encode())
    np.random.seed(123)
    before = np.random.get_state(legacy=False)["state"]["key"].copy()
    with pytest.raises(CheckpointError, match=r"env\.json.*unknown numpy bit generator 'seed'"):
        Runner(stopped, resume=True, log=None).train()
    assert np.array_equal(np.random.get_state(legacy=False)["state"]["key"], before)


@pytest.mark.parametrize("entry", ["resume", "evaluate", "verify"])
def test_an_env_id_that_imports_a_module_is_not_imported_from_a_run_folder(stopped, marker, monkeypatch, entry):
    """gymnasium.make("pkg.module:Env-v0") imports pkg.module; a run folder must not be able to ask for that."""
    monkeypatch.setenv("SPHGYM_TEST_MARKER", str(marker))
    env_id = "tests.reliability.evil_env_module:Evil-v0"
    for path in [stopped / "config.json", *(c / "config.json" for c in list_checkpoints(stopped / "checkpoints"))]:
        config = json.loads(path.read_text())
        config["env_id"] = env_id
        if path.parent.name == "run":
            path.write_text(json.dumps(config))
        else:
            resign(path.parent, "config.json", json_bytes(config))
    expected = r"would import the Python module 'tests\.reliability\.evil_env_module'.*SPHGYM_TRUSTED_ENV_MODULES"
    with pytest.raises(RunnerError, match=expected):
        if entry == "resume":
            Runner(stopped, resume=True, log=None).train()
        elif entry == "evaluate":
            evaluate(stopped, episodes=1)
        else:
            verify_run(stopped)


def test_a_trusted_env_module_may_be_imported(stopped, tmp_path, monkeypatch):
    marker = tmp_path / "IMPORTED"
    monkeypatch.setenv("SPHGYM_TEST_MARKER", str(marker))
    monkeypatch.setenv("SPHGYM_TRUSTED_ENV_MODULES", "some.other, tests.reliability.evil_env_module")
    config = json.loads((stopped / "config.json").read_text())
    config["env_id"] = "tests.reliability.evil_env_module:Evil-v0"
    (stopped / "config.json").write_text(json.dumps(config))
    for ckpt in list_checkpoints(stopped / "checkpoints"):
        resign(ckpt, "config.json", json_bytes(config))
    with pytest.raises(Exception, match="Evil"):  # imported (allowed), then Gymnasium has no such env
        Runner(stopped, resume=True, log=None).train()
    assert marker.read_text() == "imported"


# ---------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    "name", ["../../outside.json", "/etc/passwd", "sub/runner.json", "..", "weights.safetensors/../../x", ""]
)
def test_file_names_in_meta_cannot_leave_the_checkpoint(stopped, name):
    crafted = latest(stopped)
    meta = json.loads((crafted / "meta.json").read_text())
    meta["files"][name] = {"sha256": "0" * 64, "size": 1}
    data = json_bytes(meta)
    (crafted / "meta.json").write_bytes(data)
    (crafted / "COMPLETE").write_bytes(json_bytes({"meta_sha256": sha256_bytes(data)}))
    with pytest.raises(CheckpointError, match="unexpected file"):
        read_checkpoint(crafted)


def test_a_checkpoint_file_that_is_a_link_outside_is_not_read(stopped, tmp_path, reference):
    crafted = latest(stopped)
    outside = tmp_path / "outside.safetensors"
    shutil.copyfile(crafted / "weights.safetensors", outside)  # same bytes: the digest would match
    (crafted / "weights.safetensors").unlink()
    (crafted / "weights.safetensors").symlink_to(outside)
    with pytest.raises(CheckpointError, match="not a regular file"):
        read_checkpoint(crafted)
    _, messages = resume_with_warnings(stopped)
    assert any("not a regular file" in m for m in messages)
    assert_same_run(reference, run_fingerprint(stopped))


def test_a_linked_checkpoint_directory_is_ignored(stopped, tmp_path, reference):
    outside = tmp_path / "elsewhere"
    shutil.copytree(latest(stopped), outside / "ep00000009-st0000000999")
    (stopped / "checkpoints" / "ep00000009-st0000000999").symlink_to(outside / "ep00000009-st0000000999")
    assert latest(stopped).name != "ep00000009-st0000000999"
    assert find_latest_valid(stopped / "checkpoints")[0].id.startswith("ep00000004")
    resume_with_warnings(stopped)
    assert (outside / "ep00000009-st0000000999").is_dir()  # neither read nor rotated away
    (stopped / "checkpoints" / "ep00000009-st0000000999").unlink()
    assert_same_run(reference, run_fingerprint(stopped))


@pytest.mark.parametrize("entry", ["checkpoints", "episodes.csv", "config.json", "best", "run.lock"])
def test_run_folder_entries_that_are_links_are_refused_and_their_targets_untouched(stopped, tmp_path, entry):
    outside = tmp_path / f"outside-{entry}"
    path = stopped / entry
    if path.is_dir():
        shutil.move(path, outside)
    elif path.exists():
        shutil.move(path, outside)
    else:  # run.lock exists only while a process trains: point it at a precious file
        outside.write_text("precious\n")
    path.symlink_to(outside)
    before = {p: p.read_bytes() for p in ([outside] if outside.is_file() else outside.rglob("*")) if p.is_file()}
    with pytest.raises(RunnerError, match=r"is a symbolic link .*Replace it with the real file or folder"):
        Runner(stopped, resume=True, log=None).train(episodes=8)
    after = {p: p.read_bytes() for p in ([outside] if outside.is_file() else outside.rglob("*")) if p.is_file()}
    assert after == before, "a file outside the run folder was changed"


def test_a_fresh_run_refuses_a_linked_lock_file_and_leaves_its_target_alone(tmp_path):
    precious = tmp_path / "precious.txt"
    precious.write_text("do not truncate\n")
    run_dir = tmp_path / "new"
    run_dir.mkdir()
    (run_dir / "run.lock").symlink_to(precious)
    with pytest.raises(RunnerError, match=r"run\.lock.*symbolic link"):
        Runner(run_dir, CONFIG, log=None).train()
    assert precious.read_text() == "do not truncate\n"


def test_a_fifo_as_lock_file_is_refused_without_hanging(stopped):
    os.mkfifo(stopped / "run.lock")
    with pytest.raises(RunnerError, match=r"run\.lock.*not a regular file"):
        Runner(stopped, resume=True, log=None).train(episodes=8)


def test_a_fifo_as_config_or_episode_log_is_refused_without_hanging(stopped):
    for name in ("episodes.csv", "config.json"):
        os.replace(stopped / name, stopped / f"{name}.bak")
        os.mkfifo(stopped / name)
        with pytest.raises((RunnerError, CheckpointError), match="not a regular file"):
            Runner(stopped, resume=True, log=None).train(episodes=8)
        os.unlink(stopped / name)
        os.replace(stopped / f"{name}.bak", stopped / name)
