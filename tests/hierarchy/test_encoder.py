"""Encoder kernel against its numpy reference."""

import numpy as np
import pytest

from hierarchy.encoder import compute_totals, encoder_step
from hierarchy.reference import compute_totals_reference, encoder_step_reference
from hierarchy.topology import VisibleSpec, build_connections


def _setup(seed):
    rng = np.random.default_rng(seed)
    hx, hy, hz = 4, 3, 10
    vis = [VisibleSpec((3, 2, 7), 2), VisibleSpec((2, 2, 3), 1), VisibleSpec((hx, hy, hz), 1)]
    con = build_connections((hx, hy, hz), vis, hz)
    n = con.num_weights
    w0 = (255 - rng.integers(0, 8, n)).astype(np.uint8)
    w1 = (255 - rng.integers(0, 8, n)).astype(np.uint8)
    # Half-trained weights: some committed cells with lowered weights.
    low = rng.random(n) < 0.4
    w0[low] = rng.integers(0, 255, low.sum())
    committed = (rng.random(hx * hy * hz) < 0.5).astype(np.uint8)
    in_cis = np.concatenate([rng.integers(0, v.size[2], v.size[0] * v.size[1]) for v in vis]).astype(np.int32)
    hidden = rng.integers(0, hz, hx * hy).astype(np.int32)
    importance = np.array([1.0, 0.75, 0.5])
    return con, (hx, hy, hz), w0, w1, committed, in_cis, hidden, importance


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("learn", [False, True])
def test_kernel_matches_reference(seed, learn):
    con, (hx, hy, hz), w0, w1, committed, in_cis, hidden, importance = _setup(seed)
    rec = int(con.vl_offset[2])
    args = dict(hx=hx, hy=hy, hz=hz, choice=0.01, vigilance=0.6, lr=0.5, active_ratio=0.3, l_radius=1)
    r_w0, r_w1, r_com, r_in, r_hid = w0.copy(), w1.copy(), committed.copy(), in_cis.copy(), hidden.copy()
    encoder_step_reference(
        r_in,
        con.col_ptr,
        con.ent_vcol,
        con.ent_vl,
        con.ent_wbase,
        con.vl_z,
        importance,
        r_w0,
        r_w1,
        r_com,
        r_hid,
        rec,
        learn=learn,
        **args,
    )
    tot0, tot1 = compute_totals(w0, w1, con.col_ptr, con.ent_vl, con.ent_wbase, con.vl_z, hz, 3)
    col_z = np.concatenate([np.full(6, 7), np.full(4, 3)])
    bad = encoder_step(
        in_cis,
        col_z,
        con.col_ptr,
        con.ent_vcol,
        con.ent_vl,
        con.ent_wbase,
        con.vl_z,
        importance,
        w0,
        w1,
        tot0,
        tot1,
        committed,
        hidden,
        rec,
        hx,
        hy,
        hz,
        0.01,
        0.6,
        0.5,
        0.3,
        1,
        learn,
        np.zeros(hx * hy),
        np.zeros(hx * hy, np.int64),
        np.zeros((2, hz)),
        np.zeros((3, hx * hy * hz)),
        np.full(4, np.nan),
    )
    assert bad == -1
    np.testing.assert_array_equal(hidden, r_hid)
    np.testing.assert_array_equal(w0, r_w0)
    np.testing.assert_array_equal(w1, r_w1)
    np.testing.assert_array_equal(committed, r_com)
    # Incrementally maintained totals equal totals recomputed from the weights (kernel and reference).
    t0, t1 = compute_totals(w0, w1, con.col_ptr, con.ent_vl, con.ent_wbase, con.vl_z, hz, 3)
    r0, r1 = compute_totals_reference(w0, w1, con.col_ptr, con.ent_vl, con.ent_wbase, con.vl_z, hz, 3)
    np.testing.assert_array_equal(t0, r0)
    np.testing.assert_array_equal(t1, r1)
    np.testing.assert_array_equal(tot0, t0)
    np.testing.assert_array_equal(tot1, t1)
    if learn:
        assert (committed != _setup(seed)[4]).any() or (w0 != _setup(seed)[2]).any()


def test_kernel_rejects_out_of_range_input_before_changing_anything():
    con, (hx, hy, hz), w0, w1, committed, in_cis, hidden, importance = _setup(0)
    in_cis[7] = 3  # visible layer 1 has 3 cells per column
    tot0, tot1 = compute_totals(w0, w1, con.col_ptr, con.ent_vl, con.ent_wbase, con.vl_z, hz, 3)
    before = hidden.copy()
    col_z = np.concatenate([np.full(6, 7), np.full(4, 3)])
    bad = encoder_step(
        in_cis,
        col_z,
        con.col_ptr,
        con.ent_vcol,
        con.ent_vl,
        con.ent_wbase,
        con.vl_z,
        importance,
        w0,
        w1,
        tot0,
        tot1,
        committed,
        hidden,
        int(con.vl_offset[2]),
        hx,
        hy,
        hz,
        0.01,
        0.6,
        0.5,
        0.3,
        1,
        True,
        np.zeros(hx * hy),
        np.zeros(hx * hy, np.int64),
        np.zeros((2, hz)),
        np.zeros((3, hx * hy * hz)),
        np.full(4, np.nan),
    )
    assert bad == 7
    np.testing.assert_array_equal(hidden, before)
