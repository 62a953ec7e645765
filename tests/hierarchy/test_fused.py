"""The one-call step (hierarchy.fused) against the per-component path it replaces, and what it relies on."""

from __future__ import annotations

import numpy as np
import pytest
from tests.hierarchy.hierarchy_helpers import cartpole_like, drive, every_kind

from hierarchy import Hierarchy, IODesc, IOType, LayerDesc
from hierarchy.fused import fused_step


def _bytes(h: Hierarchy) -> tuple[bytes, bytes]:
    return h.serialize_state_to_buffer().tobytes(), h.serialize_weights_to_buffer().tobytes()


def _every_kind_skip(seed: int) -> Hierarchy:
    return every_kind(seed, skip_radius=1)


@pytest.mark.parametrize("make", [every_kind, lambda seed: cartpole_like(seed, layers=2), _every_kind_skip])
def test_fused_step_gives_the_bytes_of_one_kernel_call_per_component(make):
    """Same outputs, state and weights, step for step, with params changed mid-run (the parameter vector is
    refilled only when they change)."""
    fused, split = make(3), make(3)
    split._fused = None  # the per-component path (what several threads run)
    assert fused._fused is not None
    for h in (fused, split):
        h.params.layers[0].encoder.vigilance = 0.9
    outs_f = drive(fused, 60, seed=4)
    outs_s = drive(split, 60, seed=4)
    for h in (fused, split):
        h.params.anticipation = False
        h.params.ios[-1].actor.plr = 0.1
        h.params.layers[-1].recurrent_importance = 0.25
    outs_f += drive(fused, 60, seed=5)
    outs_s += drive(split, 60, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(outs_f, outs_s, strict=True))
    assert _bytes(fused) == _bytes(split)
    assert fused_step.signatures


@pytest.mark.parametrize("skip_radius", [-1, 1])
def test_arena_holds_the_arrays_the_hierarchy_serialises(skip_radius):
    """Loading, restoring and merging write into the arena the kernel reads (no stale copies)."""
    h = every_kind(1, skip_radius)
    drive(h, 30, seed=2)
    arena = h._fused.arena
    for _, component in h._named_components():
        for _, a in component.state_arrays("") + component.weight_arrays(""):
            assert np.shares_memory(a, arena)
    assert np.shares_memory(h._rng, arena)
    other = every_kind(1, skip_radius)
    other.set_state_from_buffer(h.serialize_state_to_buffer())
    other.set_weights_from_buffer(h.serialize_weights_to_buffer())
    loaded = Hierarchy.from_buffer(h.serialize_to_buffer())
    outs = [drive(g, 20, seed=6) for g in (h, other, loaded)]
    assert all(np.array_equal(a, b) for a, b in zip(outs[0], outs[1], strict=True))
    assert all(np.array_equal(a, b) for a, b in zip(outs[0], outs[2], strict=True))
    assert _bytes(h) == _bytes(other) == _bytes(loaded)


def test_wide_hierarchies_take_the_per_component_path():
    """Over 256 cells per column the replay ring holds int32 indices: no fused kernel, same API."""
    h = Hierarchy(
        [IODesc((2, 2, 8), IOType.NONE, up_radius=1), IODesc((1, 1, 2), IOType.ACTION, history_capacity=16)],
        [LayerDesc((2, 2, 300))],
        seed=0,
    )
    assert h._fused is None
    drive(h, 5, seed=1)
    assert h.get_prediction_cis(1).shape == (1,)


def test_an_out_of_range_input_changes_nothing_on_the_fused_path():
    h = cartpole_like(0)
    drive(h, 5)
    before = _bytes(h)
    with pytest.raises(ValueError, match=r"input_cis\[0\]\[2\] = 16 is out of range"):
        h.step([np.array([0, 1, 16, 3], np.int32), np.zeros(1, np.int32)])
    assert _bytes(h) == before
