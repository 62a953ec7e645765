"""Property tests (hypothesis): damaged checkpoint files, hierarchy buffers and agent safetensors files.

Every case is either rejected with a clear error (``CheckpointError``/``IncompatibleCheckpointError`` from the
runner, ``ValueError`` with a message from the hierarchy and agents) or loaded *correctly*: the loaded object
holds exactly what the file says, bit for bit. Never another exception, a hang, a huge allocation (each load
runs under tracemalloc and a time limit) or a silently different model. Damage is truncation, bit flips, random
bytes, spliced ranges and extreme header fields; "resigned" cases recompute the checksums (the digests in
meta.json and COMPLETE, the buffer CRC32) so the damage reaches the parsers behind them, as a crafted file would.

The number of cases per property is printed in the "reliability cases" section of the pytest summary.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import struct
import time
import tracemalloc
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.runner import CheckpointError, IncompatibleCheckpointError, RunConfig, Runner, RunnerError
from agents.runner.callbacks import StopAtStep
from agents.runner.checkpoint import (
    DATA_FILES,
    arrays_from_bytes,
    arrays_to_bytes,
    json_bytes,
    read_checkpoint,
    sha256_bytes,
)
from hierarchy import Hierarchy, IODesc, IOType, LayerDesc
from hierarchy import serialization as ser
from tests.runner.runner_helpers import assert_same_run, run_fingerprint
from tests.reliability.reliability_stats import count

MAX_BYTES = 32 << 20  # peak Python/numpy allocation allowed while loading one damaged file
MAX_SECONDS = 10.0
FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,  # the same cases on every run and machine: a CI failure reproduces locally
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FUZZ_RUNS = settings(FUZZ, max_examples=40)  # each case resumes a run (~0.1-0.2 s)


def _guarded(call):
    """Run ``call`` under tracemalloc and a clock; returns (result or exception, peak bytes)."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        outcome = call()
    except Exception as exc:
        outcome = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    elapsed = time.perf_counter() - start
    assert peak < MAX_BYTES, f"loading allocated {peak} bytes"
    assert elapsed < MAX_SECONDS, f"loading took {elapsed:.1f} s"
    return outcome


# ---------------------------------------------------------------------- damage


@st.composite
def damage(draw, data: bytes):
    """A damaged copy of ``data`` (never equal to it)."""
    kind = draw(st.sampled_from(["truncate", "flip", "random", "splice", "extend"]))
    n = len(data)
    if kind == "truncate":
        new = data[: draw(st.integers(0, n - 1))]
    elif kind == "flip":
        i, bit = draw(st.integers(0, n - 1)), draw(st.integers(0, 7))
        new = data[:i] + bytes([data[i] ^ (1 << bit)]) + data[i + 1 :]
    elif kind == "random":
        new = draw(st.binary(min_size=0, max_size=min(n + 16, 4096)))
    elif kind == "splice":
        i = draw(st.integers(0, n - 1))
        chunk = draw(st.binary(min_size=1, max_size=16))
        new = data[:i] + chunk + data[i + len(chunk) :]
    else:
        new = data + draw(st.binary(min_size=1, max_size=64))
    return kind, (new if new != data else new + b"\0")


# ---------------------------------------------------------------------- checkpoint files (runner)

RUN = RunConfig(agent="random", episodes=None, steps=60, checkpoint_every=1, checkpoint_min_interval=0.0, keep=2)
END = 90


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A run stopped mid-episode at step 60 (two checkpoints kept), and the same run trained to step 90."""
    base = tmp_path_factory.mktemp("runs")
    Runner(base / "stopped", RUN, log=None).train()
    Runner(base / "reference", RUN.replace(steps=END), log=None).train()
    latest = sorted((base / "stopped" / "checkpoints").iterdir())[-1]
    assert read_checkpoint(latest).json("runner.json")["in_episode"]
    return base / "stopped", run_fingerprint(base / "reference")


def _resign(ckpt_dir, name, data):
    """Replace ``name`` in a checkpoint and recompute the digests (meta.json, COMPLETE) as a forger would."""
    (ckpt_dir / name).write_bytes(data)
    if name == "COMPLETE":
        return
    if name != "meta.json":
        meta = json.loads((ckpt_dir / "meta.json").read_text())
        meta["files"][name] = {"sha256": sha256_bytes(data), "size": len(data)}
        data = json_bytes(meta)
        (ckpt_dir / "meta.json").write_bytes(data)
    (ckpt_dir / "COMPLETE").write_bytes(json_bytes({"meta_sha256": sha256_bytes(data)}))


@pytest.fixture()
def no_fsync(monkeypatch):
    monkeypatch.setattr(os, "fsync", lambda fd: None)


@pytest.mark.slow
@FUZZ_RUNS
@given(data=st.data(), name=st.sampled_from([*DATA_FILES, "meta.json", "COMPLETE"]))
def test_damaged_latest_checkpoint_falls_back_and_resumes_exactly(tmp_path_factory, runs, no_fsync, data, name):
    """Unsigned damage (disk corruption, a torn copy): caught by the digests, the previous checkpoint is used,
    and the resumed run ends exactly like the uninterrupted one."""
    stopped, reference = runs
    work = tmp_path_factory.mktemp("fallback")
    shutil.copytree(stopped, work, dirs_exist_ok=True)
    latest = sorted((work / "checkpoints").iterdir())[-1]
    kind, new = data.draw(damage((latest / name).read_bytes()))
    (latest / name).write_bytes(new)
    try:
        read_checkpoint(latest)
        accepted = True  # harmless damage (e.g. a dropped trailing newline of COMPLETE)
    except CheckpointError:
        accepted = False
    with pytest.warns() if not accepted else _nothing():
        result = _guarded(lambda: Runner(work, resume=True, log=None, handle_signals=False).train(steps=END))
    assert not isinstance(result, Exception), repr(result)
    assert_same_run(reference, run_fingerprint(work))
    count("checkpoint files, unsigned damage -> resume", "harmless" if accepted else f"fell back ({kind})")


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@FUZZ_RUNS
@given(data=st.data(), name=st.sampled_from([*DATA_FILES, "meta.json"]))
def test_resigned_damage_is_refused_clearly_or_loaded_as_written(tmp_path_factory, runs, no_fsync, data, name):
    """Damage with valid digests (a crafted or buggy file): a RunnerError naming the file, or a run that trains
    on from exactly what the files say. Never a crash inside the runner, agent or env."""
    stopped, reference = runs
    work = tmp_path_factory.mktemp("resigned")
    shutil.copytree(stopped, work, dirs_exist_ok=True)
    for older in sorted((work / "checkpoints").iterdir())[:-1]:
        shutil.rmtree(older)  # no fallback: the damaged checkpoint itself must be judged
    latest = sorted((work / "checkpoints").iterdir())[-1]
    _, new = data.draw(damage((latest / name).read_bytes()))
    _resign(latest, name, new)
    try:
        written = read_checkpoint(latest)
    except CheckpointError:
        written = None  # refused before any content is used (the run below must refuse it too)
    probe = tmp_path_factory.mktemp("probe")
    shutil.copytree(work, probe, dirs_exist_ok=True)
    result = _guarded(lambda: Runner(work, resume=True, log=None, handle_signals=False).train(steps=END))
    if isinstance(result, Exception):
        assert isinstance(result, (CheckpointError, IncompatibleCheckpointError, RunnerError)), repr(result)
        assert str(result) and (name in str(result) or latest.name in str(result)), str(result)
        count("checkpoint files, resigned damage -> resume", "refused")
    else:
        assert result.status == "completed" and result.global_step == END, result
        assert written is not None
        _assert_loaded_as_written(probe, written)
        try:
            assert_same_run(reference, run_fingerprint(work))
            outcome = "loaded, same run (harmless change)"
        except AssertionError:
            outcome = "loaded as written (a different, valid content)"
        count("checkpoint files, resigned damage -> resume", outcome)


def _assert_loaded_as_written(run_dir, written):
    """Resume ``run_dir`` and stop before its first step: the checkpoint the runner then writes of what it
    loaded must hold the same content as ``written`` (the accepted file), value for value: nothing was
    silently dropped, defaulted or altered on the way in. Formatting may differ (the runner writes canonical
    JSON); ``runner.json``'s status is the stop's own."""
    step = int(written.json("runner.json")["global_step"])
    runner = Runner(run_dir, resume=True, log=None, handle_signals=False, callbacks=[StopAtStep(step)])
    result = runner.train(steps=END)  # the run had reached its target: raise it, or nothing is loaded
    assert result.status == "stopped" and result.global_step == step, result
    again = read_checkpoint(result.checkpoint)
    assert again.id == written.id
    for file in DATA_FILES:
        if file not in written.files:
            continue
        if file.endswith(".json"):
            before, after = written.json(file), again.json(file)
            if file == "runner.json":
                before, after = dict(before, status=None), dict(after, status=None)
            if file == "config.json":  # the target raised above
                after = dict(after, steps=before.get("steps"))
            assert after == before, f"{file} was not loaded as written"
        else:
            before, after = written.arrays(file), again.arrays(file)
            assert before.keys() == after.keys(), f"{file} was not loaded as written"
            for key in before:
                assert (before[key].dtype, before[key].shape) == (after[key].dtype, after[key].shape), (file, key)
                assert before[key].tobytes() == after[key].tobytes(), f"{file}[{key}] was not loaded as written"


HIERARCHY_RUN = RUN.replace(agent="hierarchy", tensorboard=False)
FUZZ_SMOKE = settings(FUZZ, max_examples=12)


@pytest.fixture(scope="module")
def hierarchy_runs(tmp_path_factory):
    """``runs`` with the hierarchy agent, whose weights and state files have content."""
    base = tmp_path_factory.mktemp("hierarchy_runs")
    Runner(base / "stopped", HIERARCHY_RUN, log=None).train()
    Runner(base / "reference", HIERARCHY_RUN.replace(steps=END), log=None).train()
    return base / "stopped", run_fingerprint(base / "reference")


@FUZZ_SMOKE
@given(data=st.data(), name=st.sampled_from(["weights.safetensors", "state.safetensors"]), resign=st.booleans())
def test_damaged_hierarchy_checkpoint_smoke(tmp_path_factory, hierarchy_runs, no_fsync, data, name, resign):
    """The hierarchy agent's own files damaged (smoke size): unsigned damage falls back to the previous
    checkpoint and resumes exactly; re-signed damage is refused naming the file, or loaded exactly as written."""
    stopped, reference = hierarchy_runs
    work = tmp_path_factory.mktemp("hierarchy_damage")
    shutil.copytree(stopped, work, dirs_exist_ok=True)
    latest = sorted((work / "checkpoints").iterdir())[-1]
    kind, new = data.draw(damage((latest / name).read_bytes()))
    if not resign:
        (latest / name).write_bytes(new)
        with pytest.warns():
            result = _guarded(lambda: Runner(work, resume=True, log=None, handle_signals=False).train(steps=END))
        assert not isinstance(result, Exception), repr(result)
        assert_same_run(reference, run_fingerprint(work))
        count("hierarchy agent: checkpoint files damaged (smoke)", "unsigned: fell back, resumed exactly")
        return
    for older in sorted((work / "checkpoints").iterdir())[:-1]:
        shutil.rmtree(older)
    _resign(latest, name, new)
    written = read_checkpoint(latest)
    probe = tmp_path_factory.mktemp("hierarchy_probe")
    shutil.copytree(work, probe, dirs_exist_ok=True)
    result = _guarded(lambda: Runner(work, resume=True, log=None, handle_signals=False).train(steps=END))
    if isinstance(result, Exception):
        assert isinstance(result, (CheckpointError, IncompatibleCheckpointError, RunnerError)), repr(result)
        assert name in str(result), str(result)
        count("hierarchy agent: checkpoint files damaged (smoke)", "re-signed: refused naming the file")
    else:
        _assert_loaded_as_written(probe, written)
        count("hierarchy agent: checkpoint files damaged (smoke)", "re-signed: loaded exactly as written")


def _other_rng_json() -> bytes:
    """rng.json content of other, valid global RNG states (this process's own states are put back)."""
    import random

    from agents.runner.rng_state import capture_global_rng

    saved = random.getstate(), np.random.get_state()  # put back without the code under test
    try:
        random.seed(7)
        np.random.seed(7)
        return json_bytes(capture_global_rng(), pretty=False)
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])


@pytest.mark.parametrize(
    ("name", "edit"),
    [
        ("runner.json", lambda data: json.dumps(json.loads(data)).encode()),  # other formatting, same values
        ("config.json", lambda data: json.dumps(json.loads(data), indent=3).encode()),
        ("rng.json", lambda data: _other_rng_json()),  # other valid states
    ],
)
def test_resigned_valid_content_is_loaded_exactly_as_written(tmp_path, runs, no_fsync, name, edit):
    """The "loaded as written" half of the property above, on edits that are always accepted."""
    stopped, _ = runs
    shutil.copytree(stopped, tmp_path / "run")
    latest = sorted((tmp_path / "run" / "checkpoints").iterdir())[-1]
    _resign(latest, name, edit((latest / name).read_bytes()))
    _assert_loaded_as_written(tmp_path / "run", read_checkpoint(latest))
    count("checkpoint files, resigned valid edits", "loaded exactly as written")


# ---------------------------------------------------------------------- hierarchy buffers


def _small_hierarchy(seed=3):
    h = Hierarchy(
        [
            IODesc((2, 2, 6), IOType.PREDICTION, up_radius=1, down_radius=1),
            IODesc((1, 2, 5), IOType.NONE, up_radius=1),
            IODesc((1, 1, 3), IOType.ACTION, down_radius=1, history_capacity=24),
        ],
        [LayerDesc((3, 3, 8), up_radius=1, down_radius=1), LayerDesc((2, 2, 6), up_radius=1, down_radius=1)],
        seed=seed,
    )
    rng = np.random.default_rng(seed)
    for t in range(30):
        h.step(
            [rng.integers(0, 6, 4), rng.integers(0, 5, 2), rng.integers(0, 3, 1)],
            reward=float(rng.normal()),
            terminated=t == 20,
        )
    return h


@pytest.fixture(scope="module")
def hierarchy_buffers():
    h = _small_hierarchy()
    return {
        "full": h.serialize_to_buffer().tobytes(),
        "state": h.serialize_state_to_buffer().tobytes(),
        "weights": h.serialize_weights_to_buffer().tobytes(),
    }


@functools.cache
def _other_hierarchy() -> bytes:
    """A hierarchy of the same shape as ``hierarchy_buffers``' with other content, serialised once: each case
    loads into a fresh copy of it (5x cheaper than building and stepping one per case)."""
    return _small_hierarchy(seed=11).serialize_to_buffer().tobytes()


def _fix_crc(data: bytes) -> bytes:
    body = data[:-4] if len(data) >= 4 else data
    return body + struct.pack("<I", zlib.crc32(body))


def _load(kind, data):
    """Load ``data`` with the API for ``kind``; returns the loaded hierarchy (a fresh target for state/weights)."""
    if kind == "full":
        return Hierarchy.from_buffer(data)
    target = Hierarchy.from_buffer(_other_hierarchy())  # same shape, other content
    before = (target.serialize_state_to_buffer().tobytes(), target.serialize_weights_to_buffer().tobytes())
    try:
        (target.set_state_from_buffer if kind == "state" else target.set_weights_from_buffer)(data)
    except ValueError:
        after = (target.serialize_state_to_buffer().tobytes(), target.serialize_weights_to_buffer().tobytes())
        assert after == before, f"a rejected {kind} buffer changed the hierarchy"
        raise
    return target


def _serialized(kind, h):
    return {
        "full": h.serialize_to_buffer,
        "state": h.serialize_state_to_buffer,
        "weights": h.serialize_weights_to_buffer,
    }[kind]().tobytes()


def _same_content(kind, loaded, data):
    """The loaded hierarchy holds exactly the buffer's descriptor and arrays."""
    again = _serialized(kind, loaded)
    if again == data:
        return True
    expected = {"full": ser.KIND_FULL, "state": ser.KIND_STATE, "weights": ser.KIND_WEIGHTS}[kind]
    d1, a1 = ser.read_buffer(data, expected)
    d2, a2 = ser.read_buffer(again, expected)
    return (
        json.loads(d1) == json.loads(d2)
        and a1.keys() == a2.keys()
        and all(a1[k].tobytes() == a2[k].tobytes() and a1[k].dtype == a2[k].dtype for k in a1)
    )


@pytest.mark.slow
@FUZZ
@given(data=st.data(), kind=st.sampled_from(["full", "state", "weights"]), resign=st.booleans())
def test_damaged_hierarchy_buffers(hierarchy_buffers, data, kind, resign):
    original = hierarchy_buffers[kind]
    _, new = data.draw(damage(original))
    if resign:
        new = _fix_crc(new)
    result = _guarded(lambda: _load(kind, new))
    label = f"hierarchy {kind} buffer, {'resigned' if resign else 'unsigned'} damage"
    if isinstance(result, Exception):
        assert type(result) is ValueError and str(result), repr(result)
        count(label, "rejected")
        return
    assert _same_content(kind, result, new), "a damaged buffer loaded as something else than it says"
    if not resign:
        assert new == original or _serialized(kind, result) == original
    count(label, "loaded as written")


HEADER = ser._HEAD.size  # magic, version, kind, descriptor length


def _fields(data: bytes):
    """Byte offsets of the header fields and of every array's name length, dtype, ndim and dims."""
    (dlen,) = struct.unpack_from("<I", data, HEADER - 4)
    pos = HEADER + dlen
    fields = [("descriptor length", HEADER - 4, "<I"), ("array count", pos, "<I")]
    (n,) = struct.unpack_from("<I", data, pos)
    pos += 4
    for _ in range(n):
        (nlen,) = struct.unpack_from("<H", data, pos)
        fields.append(("name length", pos, "<H"))
        pos += 2 + nlen
        fields.append(("dtype code", pos, "<B"))
        (ndim,) = struct.unpack_from("<B", data, pos + 1)
        fields.append(("ndim", pos + 1, "<B"))
        pos += 2
        for d in range(ndim):
            fields.append((f"dim {d}", pos + 4 * d, "<I"))
        shape = struct.unpack_from(f"<{ndim}I", data, pos)
        (code,) = struct.unpack_from("<B", data, pos - 2)
        pos += 4 * ndim + int(np.prod(shape, dtype=np.int64)) * ser._DTYPES[code].itemsize
    return fields


@pytest.mark.slow
@FUZZ
@given(data=st.data(), kind=st.sampled_from(["full", "state", "weights"]))
def test_extreme_length_fields_never_allocate(hierarchy_buffers, data, kind):
    """A length, count or dimension claiming up to 2^32-1 (an array of 2^40 bytes and more), with a valid CRC."""
    original = hierarchy_buffers[kind]
    fields = _fields(original)
    _, offset, fmt = data.draw(st.sampled_from(fields))
    limit = 2 ** (8 * struct.calcsize(fmt)) - 1
    value = data.draw(st.sampled_from([0, 1, 2, 255, 2**16 - 1, 2**20, 2**31, limit]).filter(lambda v: v <= limit))
    new = bytearray(original)
    struct.pack_into(fmt, new, offset, value)
    new = _fix_crc(bytes(new))
    result = _guarded(lambda: _load(kind, new))
    if isinstance(result, Exception):
        assert type(result) is ValueError and str(result), repr(result)
        count(f"hierarchy {kind} buffer, extreme header fields", "rejected")
    else:
        assert new == original or _same_content(kind, result, new)
        count(f"hierarchy {kind} buffer, extreme header fields", "loaded as written")


def test_a_dimension_claiming_two_to_the_40_bytes_is_refused_without_allocating(hierarchy_buffers):
    original = hierarchy_buffers["state"]
    dims = [(o, f) for n, o, f in _fields(original) if n == "dim 0"]
    ndims = [o for n, o, f in _fields(original) if n == "ndim"]
    new = bytearray(original)
    new[ndims[0]] = 2  # first array becomes 2-D: 2^20 x 2^20 elements of its dtype (>= 2^40 bytes)
    struct.pack_into("<II", new, dims[0][0], 2**20, 2**20)
    result = _guarded(lambda: _load("state", _fix_crc(bytes(new))))
    assert type(result) is ValueError and "runs past the end" in str(result), result


def test_a_descriptor_claiming_a_huge_hierarchy_is_refused_fast(hierarchy_buffers):
    """A few bytes claiming a 30000 x 30000 layer, a 2^24-step replay history or 200^4 recurrent connections:
    refused before anything is built (this took 49 s and ended in MemoryError before the allocation check)."""
    original = hierarchy_buffers["full"]
    (dlen,) = struct.unpack_from("<I", original, HEADER - 4)
    descriptor = json.loads(original[HEADER : HEADER + dlen])
    for change in ("layer", "history", "radius"):
        forged = json.loads(json.dumps(descriptor))
        if change == "layer":
            forged["layer_descs"][0]["hidden_size"] = [30000, 30000, 64]
        elif change == "history":
            forged["io_descs"][2]["history_capacity"] = 2**24  # the largest IODesc allows
        else:
            forged["layer_descs"][0]["hidden_size"] = [200, 200, 2]  # cheap in cells, but 200^4 field entries
            forged["layer_descs"][0]["recurrent_radius"] = 1024
        text = ser.canonical_json(forged)
        body = original[: HEADER - 4] + struct.pack("<I", len(text)) + text + original[HEADER + dlen : -4]
        result = _guarded(lambda body=body: Hierarchy.from_buffer(_fix_crc(body + b"\0\0\0\0")))
        assert type(result) is ValueError and "corrupt or crafted" in str(result), (change, result)


# ---------------------------------------------------------------------- agents via safetensors files


@pytest.fixture(scope="module")
def agents_files():
    import gymnasium as gym

    from agents.registry import make_agent, make_agent_config

    env = gym.make("CartPole-v1")
    config = make_agent_config("hierarchy", {"layers": ((3, 3, 16),), "history_capacity": 32, "obs_resolution": 8})
    agent = make_agent("hierarchy", env.observation_space, env.action_space, config, 5)
    obs, _ = env.reset(seed=5)
    for _ in range(40):
        obs, reward, terminated, truncated, _ = env.step(agent.act(obs))
        agent.observe(obs, reward, terminated, truncated)
        if terminated or truncated:
            obs, _ = env.reset()
            agent.clear_state()
    random_agent = make_agent("random", env.observation_space, env.action_space, make_agent_config("random", {}), 5)

    def fresh(name):
        seed = 9
        cfg = config if name == "hierarchy" else make_agent_config("random", {})
        return make_agent(name, env.observation_space, env.action_space, cfg, seed)

    files = {
        ("hierarchy", "state"): arrays_to_bytes(agent.get_state()),
        ("hierarchy", "weights"): arrays_to_bytes(agent.get_weights()),
        ("random", "state"): arrays_to_bytes(random_agent.get_state()),
    }
    return files, fresh


def _snapshot(agent):
    return {k: v.tobytes() for k, v in {**agent.get_state(), **agent.get_weights()}.items()}


@FUZZ
@given(
    data=st.data(),
    which=st.sampled_from([("hierarchy", "state"), ("hierarchy", "weights"), ("random", "state")]),
    inner=st.booleans(),
)
def test_damaged_agent_safetensors_files(agents_files, data, which, inner):
    """Damage the safetensors file (``inner=False``) or, for the hierarchy, the buffer inside it with its CRC
    recomputed and the file re-saved (``inner=True``): refused with a clear error, or loaded as written."""
    files, fresh = agents_files
    agent_name, part = which
    original = files[which]
    if inner and agent_name == "hierarchy":
        arrays = arrays_from_bytes(original, "file")
        _, buffer = data.draw(damage(arrays["hierarchy"].tobytes()))
        arrays["hierarchy"] = np.frombuffer(_fix_crc(buffer), np.uint8)
        new = arrays_to_bytes(arrays)
        label = f"{agent_name} agent {part}, resigned damage inside"
    else:
        _, new = data.draw(damage(original))
        label = f"{agent_name} agent {part}, damaged safetensors file"
    agent = fresh(agent_name)
    before = _snapshot(agent)

    def load():
        arrays = arrays_from_bytes(new, "agent file")
        (agent.set_state if part == "state" else agent.set_weights)(arrays)
        return arrays

    result = _guarded(load)
    if isinstance(result, Exception):
        assert isinstance(result, (CheckpointError, ValueError)) and str(result), repr(result)
        assert _snapshot(agent) == before, "a refused file changed the agent"
        count(label, "rejected")
        return
    held = agent.get_state() if part == "state" else agent.get_weights()
    assert held.keys() == result.keys()
    for key in held:
        assert np.array_equal(np.asarray(held[key]), np.asarray(result[key]).astype(held[key].dtype)), key
    count(label, "loaded as written")
