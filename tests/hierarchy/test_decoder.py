"""Decoder kernels against their numpy references."""

import numpy as np
import pytest

from hierarchy.decoder import decoder_forward, decoder_learn, decoder_step
from hierarchy.reference import decoder_forward_reference, decoder_learn_reference
from hierarchy.rng import next_uniform, stream
from hierarchy.topology import VisibleSpec, build_connections


def _setup(seed, oz=5, nd=4):
    rng = np.random.default_rng(seed)
    vis = [VisibleSpec((4, 4, 9), 1), VisibleSpec((4, 4, 9), 1)]
    con = build_connections((3, 2, oz), vis, oz * nd)
    w = rng.integers(-60, 61, con.num_weights).astype(np.int8)
    inp = rng.integers(0, 9, 32).astype(np.int32)
    return con, w, inp, rng


def _uniforms(seed, ncols, n):
    out = []
    for c in range(ncols):
        s = stream(np.uint64(seed), c)
        u = []
        for _ in range(n):
            s, x = next_uniform(np.uint64(s))
            u.append(x)
        out.append(np.array(u))
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_forward_and_learn_match_reference(seed):
    oz, nd = 5, 4
    con, w, inp, rng = _setup(seed, oz, nd)
    cis, acts, dacts = np.zeros(6, np.int32), np.zeros(6 * oz, np.float32), np.zeros(6 * oz * nd, np.float32)
    decoder_forward(inp, con.col_ptr, con.ent_vcol, con.ent_wbase, w, oz, nd, 8.0, cis, acts, dacts, np.zeros(oz * nd))
    r_cis, r_p, r_sig = decoder_forward_reference(inp, con.col_ptr, con.ent_vcol, con.ent_wbase, w, oz, nd, 8.0)
    np.testing.assert_array_equal(cis, r_cis)
    np.testing.assert_allclose(acts, r_p, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dacts, r_sig, rtol=1e-5, atol=1e-7)
    target = rng.integers(0, oz, 6).astype(np.int32)
    r_w = w.copy()
    decoder_learn(
        inp,
        target,
        con.col_ptr,
        con.ent_vcol,
        con.ent_wbase,
        w,
        oz,
        nd,
        0.1,
        acts,
        dacts,
        np.uint64(99),
        np.zeros(oz * nd, np.int64),
    )
    decoder_learn_reference(
        inp,
        target,
        con.col_ptr,
        con.ent_vcol,
        con.ent_wbase,
        r_w,
        oz,
        nd,
        0.1,
        acts.astype(np.float64),
        dacts.astype(np.float64),
        _uniforms(99, 6, oz * nd),
    )
    np.testing.assert_array_equal(w, r_w)
    assert (w != _setup(seed, oz, nd)[1]).any()


def test_decoder_learns_a_fixed_mapping():
    oz, nd = 5, 4
    con, w, inp, _ = _setup(3, oz, nd)
    target = np.array([0, 1, 2, 3, 4, 0], np.int32)
    cis, acts, dacts = np.zeros(6, np.int32), np.zeros(6 * oz, np.float32), np.zeros(6 * oz * nd, np.float32)
    in_prev, valid, r = np.zeros(32, np.int32), np.zeros(1, np.uint8), np.zeros(1, np.uint64)
    for _ in range(30):
        decoder_step(
            inp,
            in_prev,
            target,
            con.col_ptr,
            con.ent_vcol,
            con.ent_wbase,
            w,
            oz,
            nd,
            8.0,
            0.5,
            cis,
            acts,
            dacts,
            valid,
            16,
            True,
            True,
            r,
            np.zeros(oz * nd),
            np.zeros(oz * nd, np.int64),
            np.zeros(32, np.int32),
        )
    np.testing.assert_array_equal(cis, target)
