"""`import hierarchy as neo`: hierarchies built and driven the way PyAOgmaNeo scripts do it (issue 13).

Each test is written in the style of those scripts (our own code, from the notes' list of the patterns they
use): module-level threads and RNG state, unseeded hierarchies, lower-case type names, descriptors filled in
field by field, params edited after construction, positional file / buffer loading, PyAOgmaNeo's getters.
"""

from __future__ import annotations

import copy
import hashlib
import math
import subprocess
import sys

import numpy as np
import pytest

import hierarchy as neo

# ----------------------------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def _restore_module_settings():
    """These tests change the module-level settings; give the next test the values it would have had."""
    state, threads = neo.get_global_state(), neo.get_num_threads()
    yield
    neo.set_global_state(state)
    neo.set_num_threads(threads)


def _wavy_hierarchy() -> neo.Hierarchy:
    """A wavy-line predictor as the scripts build it: no seed, descriptors filled in after construction."""
    lds = []
    for _ in range(2):
        ld = neo.LayerDesc()
        ld.hidden_size = (4, 4, 16)
        ld.up_radius = 1
        ld.recurrent_radius = 0
        ld.down_radius = 1
        lds.append(ld)
    io = neo.IODesc((1, 1, 16), neo.prediction, num_dendrites_per_cell=4, up_radius=1, down_radius=1)
    return neo.Hierarchy([io], lds)


def _wave(t: int) -> int:
    """One input column of 16 cells following a sum of two sines (period 40)."""
    v = 0.5 + 0.3 * math.sin(2 * math.pi * t / 20) + 0.15 * math.sin(2 * math.pi * t / 40)
    return min(15, max(0, int(v * 16)))


def _digest(h: neo.Hierarchy) -> str:
    return hashlib.sha256(h.serialize_to_buffer().tobytes()).hexdigest()


# ------------------------------------------------------------------------------------------- module level


def test_module_functions_and_lower_case_names():
    neo.set_num_threads(4)  # the scripts' first line (more than this machine's cores must not fail)
    assert neo.get_num_threads() == 4
    neo.set_global_state(1234)
    assert neo.get_global_state() == 1234
    assert neo.none is neo.NONE is neo.IOType.none is neo.IOType.NONE
    assert neo.prediction is neo.IOType.prediction and neo.action is neo.IOType.action
    assert str(neo.action) == "IOType.ACTION" and f"{neo.none}" == "IOType.NONE"
    with pytest.raises(ValueError, match=r"num_threads must be an int in \[1, 1024\], got 0"):
        neo.set_num_threads(0)
    with pytest.raises(ValueError, match=r"global state must be an int in \[0, 2\*\*64\)"):
        neo.set_global_state(-1)


def test_unseeded_hierarchies_follow_the_global_state():
    neo.set_global_state(77)
    a = _wavy_hierarchy()
    b = _wavy_hierarchy()  # the state advanced: another seed
    neo.set_global_state(77)
    c = _wavy_hierarchy()
    assert _digest(a) == _digest(c) and a.seed == c.seed
    assert a.seed != b.seed


def test_an_unseeded_script_is_the_same_run_to_run():
    code = (
        "import hashlib, numpy as np, hierarchy as neo;"
        "h = neo.Hierarchy([neo.IODesc((2, 2, 8), neo.none), neo.IODesc((1, 1, 3), neo.action)],"
        " [neo.LayerDesc((3, 3, 8))]);"
        "[h.step([np.array([t % 8, 1, 2, 3], np.int32), h.get_prediction_cis(1)], True, 1.0) for t in range(20)];"
        "print(hashlib.sha256(h.serialize_to_buffer().tobytes()).hexdigest())"
    )
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True) for _ in range(2)]
    assert runs[0].stdout == runs[1].stdout and len(runs[0].stdout.strip()) == 64


# ------------------------------------------------------------------------------------------- descriptors


def test_descriptors_are_mutable_structs_validated_on_assignment():
    io = neo.IODesc((2, 2, 16), neo.none, num_dendrites_per_cell=8, up_radius=2, down_radius=2)
    io.size = (3, 3, 8)
    io.io_type = neo.action
    io.value_num_dendrites_per_cell = 6
    io.history_capacity = 64
    io.value_size = 64  # PyAOgmaNeo field, inert here
    assert (io.size, io.io_type, io.history_capacity) == ((3, 3, 8), neo.IOType.ACTION, 64)
    with pytest.raises(ValueError, match=r"IODesc.up_radius must be in \[0, 1024\], got -3"):
        io.up_radius = -3
    with pytest.raises(AttributeError, match=r"IODesc has no field 'radius'"):
        io.radius = 2
    ld = neo.LayerDesc()
    ld.hidden_size = (5, 5, 64)
    ld.num_dendrites_per_cell = 6
    with pytest.raises(ValueError, match=r"LayerDesc.hidden_size must be a tuple of three positive ints"):
        ld.hidden_size = (5, 5)
    assert copy.copy(ld) == ld and copy.deepcopy(io) == io and copy.deepcopy(io) is not io


def test_a_hierarchy_keeps_its_own_descriptors():
    ld = neo.LayerDesc()
    ld.hidden_size = (3, 3, 8)
    h = neo.Hierarchy([neo.IODesc((2, 2, 4), neo.prediction)], [ld, ld])
    ld.hidden_size = (9, 9, 9)  # the script goes on editing its own descriptor
    assert h.get_hidden_size(0) == h.get_hidden_size(1) == (3, 3, 8)
    with pytest.raises(AttributeError, match=r"belongs to a built Hierarchy"):
        h.layer_descs[0].hidden_size = (2, 2, 2)
    changed = copy.copy(h.layer_descs[0])
    changed.hidden_size = (2, 2, 2)
    assert changed.hidden_size == (2, 2, 2)


# ------------------------------------------------------------------------------------------- a full script


def test_wavy_line_script_learns_to_predict():
    # One thread: the bytes are the same with two (test_hierarchy_golden.py::test_two_threads_give_the_same_bytes),
    # and 600 steps of parallel kernels on a shared 2-core machine took 14 s instead of ~1 s.
    neo.set_num_threads(1)
    neo.set_global_state(5)
    h = _wavy_hierarchy()
    h.params.layers[0].encoder.vigilance = 0.9  # params edited field by field after construction
    h.params.layers[1].decoder.lr = 0.1
    h.params.ios[0].decoder.scale = 8.0
    h.params.anticipation = True
    hits = []
    for t in range(600):
        if t >= 1:
            hits.append(int(h.get_prediction_cis(0)[0]) == _wave(t))
        h.step([np.array([_wave(t)], np.int32)], True)
    assert np.mean(hits[-100:]) >= 0.9
    assert np.mean(hits[:40]) < 0.5  # it had to learn
    assert h.sample_prediction(0, 0.0)[0] == h.get_prediction_cis(0)[0]


def test_manual_action_loop_with_positional_step_arguments():
    """A bandit driven like the manual CartPole loop: step(cis, learn, reward), action fed back."""
    neo.set_global_state(9)
    h = neo.Hierarchy(
        [neo.IODesc((1, 1, 4), neo.none, up_radius=0), neo.IODesc((1, 1, 2), neo.action, history_capacity=64)],
        [neo.LayerDesc(hidden_size=(3, 3, 16))],
    )
    p = h.params.ios[1].actor
    p.min_steps, p.history_iters, p.plr, p.vlr, p.discount = 4, 4, 0.2, 0.01, 0.0
    p.smoothing, p.td_scale_decay, p.value_range = 0.02, 0.999, 10.0  # value_range: inert here
    h.params.ios[0].importance = 1.0
    h.params.layers[0].recurrent_importance = 0.5
    rng = np.random.default_rng(0)
    rewards = []
    action = 0
    for _ in range(1500):
        obs = int(rng.integers(0, 4))
        reward = 1.0 if action == 1 else 0.0  # action 1 always pays
        h.step([np.array([obs], np.int32), np.array([action], np.int32)], True, reward)
        action = int(h.get_prediction_cis(1)[0])
        rewards.append(reward)
    assert np.mean(rewards[-300:]) > 0.8


# --------------------------------------------------------------------------------------- loading, getters


def test_positional_file_and_buffer_loading(tmp_path):
    h = _wavy_hierarchy()
    for t in range(10):
        h.step([np.array([_wave(t)], np.int32)])
    path = str(tmp_path / "h.ohr")
    h.save_to_file(path)
    from_file = neo.Hierarchy([], [], path)  # PyAOgmaNeo: file name third
    from_buffer = neo.Hierarchy([], [], "", h.serialize_to_buffer())  # buffer fourth
    assert _digest(from_file) == _digest(from_buffer) == _digest(h)
    g = neo.Hierarchy(h.io_descs, h.layer_descs)
    g.set_state_from_buffer(h.serialize_state_to_buffer())
    g.set_weights_from_buffer(h.serialize_weights_to_buffer())
    assert len(h.serialize_state_to_buffer()) == h.get_state_size()
    assert len(h.serialize_weights_to_buffer()) == h.get_weights_size() and len(h.serialize_to_buffer()) == h.get_size()
    assert g.serialize_state_to_buffer().tobytes() == h.serialize_state_to_buffer().tobytes()
    with pytest.raises(TypeError):
        neo.Hierarchy([neo.IODesc()], [neo.LayerDesc()], "", None, 3)  # seed is keyword-only


def test_getters_the_scripts_use():
    neo.set_global_state(3)
    io = [neo.IODesc((2, 2, 8), neo.prediction, up_radius=1, down_radius=2), neo.IODesc((1, 1, 3), neo.action)]
    h = neo.Hierarchy(io, [neo.LayerDesc((3, 3, 8), up_radius=1), neo.LayerDesc((2, 2, 6), up_radius=1)])
    for t in range(5):
        h.step([np.array([t % 8, 1, 2, 3], np.int32), h.get_prediction_cis(1)])
    assert (h.get_num_layers(), h.get_num_io()) == (2, 2)
    assert h.get_io_size(0) == (2, 2, 8) and h.get_io_type(1) == neo.action
    assert h.get_hidden_size(1) == (2, 2, 6) and h.get_hidden_cis(0).shape == (9,)
    assert h.get_prediction_acts(0).shape == (4 * 8,) and h.get_prediction_acts(1).shape == (3,)
    assert h.get_num_encoder_visible_layers(0) == 3 and h.get_num_encoder_visible_layers(1) == 2  # + recurrence
    assert h.get_up_radius(0, 0) == 1 and h.get_up_radius(1) == 1 and h.get_down_radius(0, 0) == 2
    field = h.get_encoder_receptive_field(0, 0, (1, 1, 5))  # centre (1, 1) on the 2x2 port: row/col 2 are off
    inside = field[:2, :2]
    assert field.shape == (3, 3, 8) and np.isfinite(inside).all() and ((inside >= 0) & (inside <= 1)).all()
    assert np.isnan(field[2]).all() and np.isnan(field[:, 2]).all()
    corner = h.get_encoder_receptive_field(0, 0, (0, 0, 5))
    assert np.isnan(corner[0]).all() and np.isfinite(corner[1:, 1:]).all()  # off-grid positions are NaN
    with pytest.raises(ValueError, match=r"visible layers"):
        h.get_encoder_receptive_field(0, 3, (0, 0, 0))


def test_sample_prediction_follows_temperature_and_restores_exactly():
    neo.set_global_state(4)
    h = neo.Hierarchy([neo.IODesc((3, 3, 6), neo.prediction)], [neo.LayerDesc((3, 3, 8))])
    for t in range(30):
        h.step([np.full(9, t % 6, np.int32)])
    g = copy.deepcopy(h)
    a, b = h.sample_prediction(0, 1.0), g.sample_prediction(0, 1.0)
    assert np.array_equal(a, b) and a.dtype == np.int32 and ((a >= 0) & (a < 6)).all()
    assert np.array_equal(h.sample_prediction(0, 0.0), np.argmax(h.get_prediction_acts(0).reshape(9, 6), axis=1))
    many = np.array([h.sample_prediction(0, 100.0) for _ in range(60)])
    assert len(np.unique(many)) > 1  # a hot temperature spreads the choices
    with pytest.raises(ValueError, match=r"temperature must be a finite number >= 0"):
        h.sample_prediction(0, -1.0)


def test_merge_average_and_random():
    io = [neo.IODesc((2, 2, 4), neo.none), neo.IODesc((1, 1, 2), neo.action, history_capacity=32)]
    lds = [neo.LayerDesc((3, 3, 8))]
    hs = [neo.Hierarchy(io, lds, seed=s) for s in (1, 2)]
    for k, h in enumerate(hs):
        h.params.ios[1].actor.min_steps = 2
        for t in range(40):
            h.step([np.array([t % 4, k, 1, 2], np.int32), h.get_prediction_cis(1)], True, float(t % 3))
    avg = neo.Hierarchy(io, lds, seed=3)
    avg.merge(hs, neo.merge_average)
    w = [h._actors[0].vw for h in hs]
    assert np.allclose(avg._actors[0].vw, (w[0].astype(np.float64) + w[1]) / 2)
    e = [h._encoders[0].w0.astype(np.float64) for h in hs]
    assert np.array_equal(avg._encoders[0].w0, np.rint((e[0] + e[1]) / 2))
    rnd = neo.Hierarchy(io, lds, seed=3)
    rnd.merge(hs, "random")
    picked = rnd._encoders[0].w0
    assert ((picked == hs[0]._encoders[0].w0) | (picked == hs[1]._encoders[0].w0)).all()
    assert (picked != hs[0]._encoders[0].w0).any() and (picked != hs[1]._encoders[0].w0).any()
    for t in range(5):  # the merged hierarchy runs (its totals were rebuilt from the merged weights)
        rnd.step([np.array([t % 4, 0, 1, 2], np.int32), rnd.get_prediction_cis(1)], True, 1.0)
    other = neo.Hierarchy(io, [neo.LayerDesc((3, 3, 6))], seed=1)
    with pytest.raises(ValueError, match=r"hierarchies\[0\] has another shape"):
        rnd.merge([other])
    with pytest.raises(ValueError, match=r"merge mode"):
        rnd.merge(hs, "median")


# ---------------------------------------------------------------------------------------- what is refused


def test_float_inputs_are_refused_with_the_cast_to_use():
    h = _wavy_hierarchy()
    with pytest.raises(ValueError, match=r"cast it with \.astype\(np\.int32\)"):
        h.step([np.array([3.7])])


def test_params_assigned_wrongly_name_the_mismatch():
    h = _wavy_hierarchy()
    h.params.layers = h.params.layers[:1]  # a list of the wrong length: refused when it is used
    with pytest.raises(ValueError, match=r"params.layers has 1 entries but the hierarchy has 2 layers"):
        h.step([np.array([1], np.int32)])
    with pytest.raises(ValueError, match=r"Params.ios\[0\] must be a IOParams, got LayerParams"):
        h.params.ios = [neo.LayerParams()]
    with pytest.raises(ValueError, match=r"params must be a hierarchy.Params, got dict"):
        h.params = {}
    h.params = neo.Params(layers=[neo.LayerParams(), neo.LayerParams()], ios=[neo.IOParams()])
    h.params.layers[1] = neo.IOParams()  # an element swapped in place: refused at the next step
    with pytest.raises(ValueError, match=r"params.layers\[1\] must be a LayerParams, got IOParams"):
        h.step([np.array([1], np.int32)])
    with pytest.raises(AttributeError, match=r"no parameter 'learning_rate'"):
        h.params.ios[0].decoder.learning_rate = 0.1
