"""Receptive-field tables: clipped squares, no off-grid entries, contiguous weight blocks."""

import numpy as np

from hierarchy.topology import VisibleSpec, build_connections, field_center


def test_field_center_matches_float_formula():
    for h in range(1, 9):
        for v in range(1, 9):
            for x in range(h):
                assert field_center(x, h, v) == int((x + 0.5) * v / h)


def test_entries_are_the_clipped_field_only():
    con = build_connections((5, 5, 64), [VisibleSpec((2, 2, 16), 2), VisibleSpec((5, 5, 64), 0)], 64)
    counts = np.diff(con.col_ptr)
    assert (counts == 4 + 1).all()
    # Recurrent radius 0: each column sees only itself.
    rec = [con.ent_vcol[con.col_ptr[c + 1] - 1] - con.vl_offset[1] for c in range(25)]
    assert rec == list(range(25))
    assert con.num_weights == 25 * (4 * 16 + 64) * 64
    # Bases are contiguous and disjoint.
    sizes = con.vl_z[con.ent_vl] * 64
    np.testing.assert_array_equal(con.ent_wbase, np.concatenate([[0], np.cumsum(sizes)[:-1]]))


def test_corner_field_is_clipped():
    con = build_connections((4, 4, 1), [VisibleSpec((4, 4, 3), 1)], 1)
    ents = con.ent_vcol[con.col_ptr[0] : con.col_ptr[1]]
    assert sorted(ents.tolist()) == [0, 1, 4, 5]  # (0,0),(0,1),(1,0),(1,1) with col = y + x*4
    middle = 1 + 1 * 4
    assert con.col_ptr[middle + 1] - con.col_ptr[middle] == 9
