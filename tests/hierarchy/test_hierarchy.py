"""Hierarchy behaviour: determinism, learning, clear_state, persistence, exact continuation, input errors."""

from __future__ import annotations

import copy
import pickle
import re
import subprocess
import sys

import numpy as np
import pytest
from tests.hierarchy.hierarchy_helpers import cartpole_like, drive, every_kind

from hierarchy import Hierarchy, IODesc, IOType, LayerDesc
from hierarchy import serialization as ser


def _bufs(h: Hierarchy) -> tuple[bytes, bytes]:
    return h.serialize_state_to_buffer().tobytes(), h.serialize_weights_to_buffer().tobytes()


# ------------------------------------------------------------------------------------------- determinism


def test_same_seed_same_everything_different_seed_differs():
    a, b, c = every_kind(3), every_kind(3), every_kind(4)
    oa, ob, oc = drive(a, 60), drive(b, 60), drive(c, 60)
    assert all(np.array_equal(x, y) for x, y in zip(oa, ob, strict=True))
    assert _bufs(a) == _bufs(b)
    assert a.serialize_to_buffer().tobytes() == b.serialize_to_buffer().tobytes()
    assert _bufs(a)[1] != _bufs(c)[1]
    assert any(not np.array_equal(x, y) for x, y in zip(oa, oc, strict=True))


# ------------------------------------------------------------------------------------------------ learning


def _sequence_accuracy(seq, steps, recurrent_radius=0, seed=1):
    h = Hierarchy(
        [IODesc((1, 1, 16), IOType.PREDICTION)],
        [LayerDesc((4, 4, 32), recurrent_radius=recurrent_radius)],
        seed=seed,
    )
    hits = []
    pred = None
    for t in range(steps):
        s = seq[t % len(seq)]
        if pred is not None:
            hits.append(pred == s)
        h.step([np.array([s], np.int32)])
        pred = int(h.get_prediction_cis(0)[0])
    return np.array(hits)


def test_learns_a_repeating_sequence():
    seq = [3, 14, 0, 9, 7, 12, 5, 1]  # period 8 over 16 symbols
    hits = _sequence_accuracy(seq, 400)
    assert hits[-160:].mean() >= 0.95
    assert hits[:8].mean() < 0.5  # it really had to learn it


def test_learns_a_sequence_that_needs_memory():
    # 1, 2, 3 occur in both halves; what follows 3 depends on the symbol 3 steps back.
    seq = [0, 1, 2, 3, 4, 5, 6, 1, 2, 3, 7, 8]
    hits = _sequence_accuracy(seq, 1500)
    ambiguous = np.array([(i + 1) % 12 in (4, 10) for i in range(len(hits))])  # hits[i] targets seq[i+1]
    assert hits[-240:].mean() >= 0.95
    assert hits[-240:][ambiguous[-240:]].mean() >= 0.95
    # Control: without recurrence the ambiguous step cannot be better than a coin flip in the long run.
    hits = _sequence_accuracy(seq, 1500, recurrent_radius=-1)
    assert hits[-240:][ambiguous[-240:]].mean() <= 0.6


def test_action_port_improves_reward_on_a_bandit():
    h = Hierarchy(
        [IODesc((1, 1, 4), IOType.NONE), IODesc((1, 1, 4), IOType.ACTION, history_capacity=64)],
        [LayerDesc((3, 3, 16))],
        seed=0,
    )
    h.params.ios[1].actor.discount = 0.0
    means = np.array([0.2, 0.4, 0.9, 0.1])
    rng = np.random.default_rng(0)
    action, reward, chosen = np.zeros(1, np.int32), 0.0, []
    for _ in range(2000):
        h.step([np.zeros(1, np.int32), action], True, reward)
        action = h.get_prediction_cis(1)
        chosen.append(int(action[0]))
        reward = float(rng.random() < means[action[0]])
    chosen = np.array(chosen)
    assert (chosen[:200] == 2).mean() < 0.35
    assert (chosen[-500:] == 2).mean() > 0.42


def test_learning_disabled_keeps_weights_and_moves_state():
    h = every_kind(0)
    drive(h, 30)
    state, weights = _bufs(h)
    drive(h, 30, seed=1, learn=False)
    state2, weights2 = _bufs(h)
    assert weights2 == weights
    assert state2 != state


# --------------------------------------------------------------------------------------------- clear_state


def test_clear_state_resets_context_keeps_weights_and_replay():
    h = every_kind(0)
    drive(h, 40)
    _, weights = _bufs(h)
    actor = h._actors[0]
    ring = actor.h_inputs.copy()
    size = int(actor.h_meta[1])
    flags = actor.h_flags.copy()
    h.clear_state()
    assert _bufs(h)[1] == weights
    for layer in range(h.get_num_layers()):
        assert not h.get_hidden_cis(layer).any()
    assert not h.get_prediction_cis(0).any() and not h.get_prediction_cis(2).any()
    assert not h.get_prediction_acts(0).any()
    assert not h.get_layer_prediction_cis(1).any()
    # Replay kept; the newest sample becomes a boundary unless already flagged.
    np.testing.assert_array_equal(actor.h_inputs, ring)
    assert int(actor.h_meta[1]) == size
    newest = int(actor.h_meta[0])
    assert actor.h_flags[newest] != 0
    if flags[newest] == 0:
        assert actor.h_flags[newest] == 2
        flags[newest] = 2
    np.testing.assert_array_equal(actor.h_flags, flags)
    # A fresh hierarchy's context equals a cleared one's: same inputs -> same outputs.
    fresh = every_kind(0)
    fresh.set_weights_from_buffer(h.serialize_weights_to_buffer())
    inputs = [np.arange(6, dtype=np.int32) % 8, np.array([1, 4], np.int32), np.array([2], np.int32)]
    h.step(inputs, learn_enabled=False)
    fresh.step(inputs, learn_enabled=False)
    np.testing.assert_array_equal(h.get_hidden_cis(1), fresh.get_hidden_cis(1))
    np.testing.assert_array_equal(h.get_prediction_cis(0), fresh.get_prediction_cis(0))


def _state_arrays(h: Hierarchy) -> dict[str, np.ndarray]:
    return ser.read_buffer(h.serialize_state_to_buffer(), ser.KIND_STATE)[1]


def test_cleared_context_equals_a_fresh_hierarchys_and_learns_like_it():
    """Every context array (hidden states, decoder predictions, inputs remembered for learning, the decoders'
    "last forward is valid" flags) is a fresh hierarchy's after clear_state; with learning ON the next steps
    then learn exactly like a fresh hierarchy holding the same weights, RNG and replay memory (a decoder
    still flagged valid would learn across the reset from the previous episode's inputs)."""
    h = every_kind(0)
    drive(h, 40)
    h.clear_state()
    fresh = every_kind(0)
    cleared, new = _state_arrays(h), _state_arrays(fresh)
    valid_flags = [name for name in new if name.endswith("decoder.valid")]
    assert valid_flags and all(new[name].tolist() == [0] for name in valid_flags)
    for name, array in new.items():
        if not (name == "rng" or ".history_" in name):
            np.testing.assert_array_equal(cleared[name], array, err_msg=f"{name} not cleared")
    # Same weights and kept arrays in a fresh hierarchy; learning on from here must match step by step.
    hybrid = [(n, cleared[n] if (n == "rng" or ".history_" in n) else a) for n, a in new.items()]
    fresh.set_state_from_buffer(ser.write_buffer(ser.KIND_STATE, fresh._shape_json, hybrid))
    fresh.set_weights_from_buffer(h.serialize_weights_to_buffer())
    assert _bufs(fresh) == _bufs(h)
    steps = [
        [np.arange(6, dtype=np.int32) * k % 8, np.array([k % 5, 4], np.int32), np.array([k % 3], np.int32)]
        for k in range(1, 6)
    ]
    for inputs in steps:
        h.step(inputs, learn_enabled=True, reward=1.0)
        fresh.step(inputs, learn_enabled=True, reward=1.0)
    assert _bufs(fresh) == _bufs(h)


def test_terminated_step_marks_boundary_and_clear_keeps_it():
    h = cartpole_like()
    obs, act = np.zeros(4, np.int32), np.zeros(1, np.int32)
    for _ in range(5):
        h.step([obs, act], reward=1.0)
    h.step([obs, act], reward=1.0, terminated=True)
    a = h._actors[0]
    assert a.h_flags[a.h_meta[0]] == 1
    h.clear_state()
    assert a.h_flags[a.h_meta[0]] == 1  # not overwritten by the clear_state rule
    h.step([obs, act], reward=0.0, truncated=True)
    assert a.h_flags[a.h_meta[0]] == 2
    h.step([obs, act])
    assert a.h_flags[a.h_meta[0]] == 0
    assert int(a.h_meta[1]) == 8


@pytest.mark.parametrize(
    ("suffix", "bad"),
    [("decoder.hidden_cis", 8), ("encoder.hidden_cis", 12), ("decoder.valid", 2), ("actor.history_flags", 9)],
)
def test_a_state_buffer_with_out_of_range_values_is_refused_and_changes_nothing(suffix, bad):
    """Well-formed buffers (sizes and checksum right) whose values no hierarchy could hold: refused by name
    before anything is assigned (a kernel would index out of bounds with them)."""
    h = every_kind(0)
    drive(h, 10)
    arrays = dict(_state_arrays(h))
    name = next(n for n in arrays if n.endswith(suffix))
    arrays[name] = arrays[name].copy()
    arrays[name].flat[0] = bad
    buffer = ser.write_buffer(ser.KIND_STATE, h._shape_json, list(arrays.items()))
    before = _bufs(h)
    with pytest.raises(ValueError, match=f"{re.escape(name)}.*out-of-range"):
        h.set_state_from_buffer(buffer)
    assert _bufs(h) == before


# ------------------------------------------------------------------------------------------ persistence


def test_state_and_weights_round_trip_and_sizes():
    h = every_kind(0)
    drive(h, 50)
    state, weights = _bufs(h)
    assert h.get_state_size() == len(state)
    assert h.get_weights_size() == len(weights)
    assert h.get_size() == len(h.serialize_to_buffer())
    g = every_kind(9)
    g.set_state_from_buffer(np.frombuffer(state, np.uint8))
    g.set_weights_from_buffer(weights)
    assert _bufs(g) == (state, weights)


def test_full_buffer_round_trip_keeps_params():
    h = every_kind(0)
    h.params.ios[2].actor.plr = 0.123
    h.params.layers[1].encoder.vigilance = 0.7
    h.params.anticipation = False
    drive(h, 30)
    buf = h.serialize_to_buffer()
    g = Hierarchy.from_buffer(buf)
    assert g.serialize_to_buffer().tobytes() == buf.tobytes()
    assert g.params == h.params and g.seed == h.seed
    assert g.io_descs == h.io_descs and g.layer_descs == h.layer_descs
    g2 = Hierarchy(buffer=buf)
    assert g2.serialize_to_buffer().tobytes() == buf.tobytes()


@pytest.mark.parametrize("layers", [1, 2])
def test_state_plus_weights_restore_continues_bit_identically(layers):
    if layers == 1:
        make = lambda: cartpole_like(5, history_capacity=48)  # noqa: E731
    else:
        make = lambda: every_kind(5)  # noqa: E731
    a = make()
    drive(a, 70)
    state, weights = _bufs(a)
    b = make()
    drive(b, 13, seed=7)  # different history before the restore
    b.set_state_from_buffer(state)
    b.set_weights_from_buffer(weights)
    oa = drive(a, 80, seed=2)
    ob = drive(b, 80, seed=2)
    assert all(np.array_equal(x, y) for x, y in zip(oa, ob, strict=True))
    assert _bufs(a) == _bufs(b)
    assert (
        [np.array_equal(a.get_prediction_acts(i), b.get_prediction_acts(i)) for i in (0, 2)] == [True] * 2
        if layers == 2
        else np.array_equal(a.get_prediction_acts(1), b.get_prediction_acts(1))
    )


def test_copies_and_pickles_are_by_value():
    h = every_kind(0)
    drive(h, 20)
    for g in (copy.copy(h), copy.deepcopy(h), pickle.loads(pickle.dumps(h))):
        assert g.serialize_to_buffer().tobytes() == h.serialize_to_buffer().tobytes()
        oa, ob = drive(g, 15, seed=4), drive(copy.deepcopy(h), 15, seed=4)
        assert all(np.array_equal(x, y) for x, y in zip(oa, ob, strict=True))
    assert h.serialize_to_buffer().tobytes() != g.serialize_to_buffer().tobytes()  # the copies moved alone


def test_package_imports_only_numpy_and_numba():
    code = (
        "import sys, hierarchy; mods = {m.split('.')[0] for m in sys.modules};"
        "print(sorted(mods & {'gymnasium', 'torch', 'agents', 'envs', 'pyaogmaneo'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_save_to_file_and_load(tmp_path):
    h = every_kind(0)
    drive(h, 20)
    path = tmp_path / "h.sphh"
    h.save_to_file(path)
    ref = h.serialize_to_buffer().tobytes()
    oa = drive(h, 10, seed=3)
    for g in (Hierarchy.from_file(path), Hierarchy(file_name=str(path))):
        assert g.serialize_to_buffer().tobytes() == ref
        ob = drive(g, 10, seed=3)
        assert all(np.array_equal(x, y) for x, y in zip(oa, ob, strict=True))
    assert [p.name for p in tmp_path.iterdir()] == ["h.sphh"]  # no temp file left behind


# --------------------------------------------------------------------------------------------- bad buffers


def test_bad_buffers_raise_clear_errors():
    h = every_kind(0)
    drive(h, 10)
    state = h.serialize_state_to_buffer()
    with pytest.raises(ValueError, match=r"truncated|CRC32"):
        h.set_state_from_buffer(state[:-10])
    with pytest.raises(ValueError, match=r"truncated"):
        h.set_state_from_buffer(state[:10])
    bad = state.copy()
    bad[:8] = np.frombuffer(b"NOTASPHH", np.uint8)
    with pytest.raises(ValueError, match=r"magic"):
        h.set_state_from_buffer(bad)
    bad = state.copy()
    bad[len(bad) // 2] ^= 0x10
    with pytest.raises(ValueError, match=r"CRC32"):
        h.set_state_from_buffer(bad)
    with pytest.raises(ValueError, match=r"expected a weights buffer, got a state buffer"):
        h.set_weights_from_buffer(state)
    with pytest.raises(ValueError, match=r"expected a full buffer"):
        Hierarchy.from_buffer(state)
    other = cartpole_like()
    with pytest.raises(ValueError, match=r"another shape: io_descs has 2 entries"):
        h.set_state_from_buffer(other.serialize_state_to_buffer())
    wider = Hierarchy(list(h.io_descs), [LayerDesc((3, 3, 13), recurrent_radius=1), h.layer_descs[1]], seed=0)
    with pytest.raises(ValueError, match=r"layer_descs\[0\].hidden_size"):
        h.set_weights_from_buffer(wider.serialize_weights_to_buffer())
    with pytest.raises(ValueError, match=r"1-D uint8"):
        h.set_state_from_buffer(state.astype(np.int32))
    before = _bufs(h)
    with pytest.raises(ValueError):
        h.set_state_from_buffer(state[:-1])
    assert _bufs(h) == before  # a rejected buffer changes nothing


def test_bad_version_is_named():
    h = cartpole_like()
    buf = h.serialize_weights_to_buffer()
    buf[8] = 99  # version field; the checksum is checked after the version
    with pytest.raises(ValueError, match=r"format version 99"):
        h.set_weights_from_buffer(buf)


# ---------------------------------------------------------------------------------------------- bad inputs


def test_bad_inputs_raise_clear_errors_and_change_nothing():
    h = cartpole_like()
    obs, act = np.zeros(4, np.int32), np.zeros(1, np.int32)
    h.step([obs, act])
    before = _bufs(h)
    with pytest.raises(ValueError, match=r"has 1 arrays but the hierarchy has 2 IO ports"):
        h.step([obs])
    with pytest.raises(ValueError, match=r"input_cis\[0\]\[2\] = 16 is out of range.*0\.\.15"):
        h.step([np.array([0, 1, 16, 3], np.int32), act])
    with pytest.raises(ValueError, match=r"input_cis\[1\]\[0\] = -1 is out of range"):
        h.step([obs, np.array([-1], np.int32)])
    with pytest.raises(ValueError, match=r"input_cis\[1\]\[0\] = 7 is out of range"):
        h.step([obs, np.array([7], np.int64)])
    with pytest.raises(ValueError, match=r"integer column indices, got dtype float"):
        h.step([obs.astype(np.float32), act])
    with pytest.raises(ValueError, match=r"input_cis\[0\] has 3 column indices.*needs 4"):
        h.step([obs[:3], act])
    assert _bufs(h) == before
    # Other integer dtypes, lists and 2-D arrays of the right size are accepted.
    h.step([[1, 2, 3, 4], np.array([[1]], np.int64)])
    h.step([obs.reshape(2, 2), act.astype(np.uint8)])


def test_bad_descriptors_and_params():
    with pytest.raises(ValueError, match=r"IODesc.size"):
        IODesc((0, 1, 2))
    with pytest.raises(ValueError, match=r"io_type"):
        IODesc(io_type=7)
    with pytest.raises(ValueError, match=r"recurrent_radius"):
        LayerDesc(recurrent_radius=-2)
    with pytest.raises(ValueError, match=r"io_descs is empty"):
        Hierarchy([], [LayerDesc()])
    with pytest.raises(ValueError, match=r"seed"):
        Hierarchy([IODesc()], [LayerDesc()], seed=-1)
    h = cartpole_like()
    with pytest.raises(ValueError, match=r"ActorParams.discount must be in \[0.0, 1.0\]"):
        h.params.ios[1].actor.discount = 1.5
    with pytest.raises(AttributeError, match=r"no parameter 'plrr'"):
        h.params.ios[1].actor.plrr = 0.1
    with pytest.raises(ValueError, match=r"NONE"):
        h.get_prediction_cis(0)
    with pytest.raises(ValueError, match=r"port 5 does not exist"):
        h.get_prediction_cis(5)


def test_unseeded_hierarchy_records_its_seed():
    h = Hierarchy([IODesc((1, 1, 4))], [LayerDesc((2, 2, 4))])
    g = Hierarchy([IODesc((1, 1, 4))], [LayerDesc((2, 2, 4))], seed=h.seed)
    assert g.serialize_weights_to_buffer().tobytes() == h.serialize_weights_to_buffer().tobytes()


def test_no_weights_off_grid():
    # The anchor's CartPole shape: a (2,2) port under radius 2 has 4 positions, not 25.
    h = Hierarchy(
        [IODesc((2, 2, 16), IOType.NONE, up_radius=2), IODesc((1, 1, 2), IOType.ACTION)],
        [LayerDesc((5, 5, 64))],
        seed=0,
    )
    enc = h._encoders[0]
    assert enc.w0.size == 25 * 64 * (4 * 16 + 1 * 2 + 1 * 64)
    assert h._actors[0].vw.size == 25 * 64 * 8


def test_crafted_full_buffer_claiming_a_huge_hierarchy_is_refused_fast():
    import json
    import time

    from hierarchy import serialization as ser

    h = cartpole_like()
    desc, arrays = ser.read_buffer(h.serialize_to_buffer(), ser.KIND_FULL)
    d = json.loads(desc)
    d["layer_descs"][0]["hidden_size"] = [3000, 3000, 64]
    crafted = ser.write_buffer(ser.KIND_FULL, ser.canonical_json(d), list(arrays.items()))
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="corrupt or crafted"):
        Hierarchy.from_buffer(crafted)
    assert time.perf_counter() - t0 < 5.0
