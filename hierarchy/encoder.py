"""Encoder: per-column fuzzy ART with complement coding, byte weights, two-stage inhibition.

See docs/algorithm.md, "Encoder".

Every hidden column is an ART module whose categories are its Z cells. ``w0`` weighs the input bits
(1 on each visible column's active cell), ``w1`` the complement bits; both are uint8 read as w/255 and only
ever decrease. Per (visible layer, hidden cell) totals of ``w0`` and ``w1`` are cached as exact integers;
they are derived from the weights, so they are rebuilt on load rather than stored.

`encoder_step` is the numba kernel (forward for all columns, then learning; its numpy oracle is in
`hierarchy.reference`); `Encoder` holds one layer's arrays and says which are state and which are weights.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .merge import MergeMode, merge_array
from .parallel import PARALLEL, parallel_twin
from .serialization import check_in_range
from .topology import VisibleSpec, build_connections, field_center

_I32 = np.int32


@njit(cache=True)
def encoder_step(
    in_cis,
    col_z,
    col_ptr,
    ent_vcol,
    ent_vl,
    ent_wbase,
    vl_z,
    importance,
    w0,
    w1,
    tot0,
    tot1,
    committed,
    hidden_cis,
    rec_offset,
    hx,
    hy,
    hz,
    choice,
    vigilance,
    lr,
    active_ratio,
    l_radius,
    learn,
    comparisons,
    learn_cells,
    fscratch,
    cache,
    cache_key,
):
    """One encoder step in place. Returns -1, or the first input column out of range.

    ``in_cis`` is the concatenated input (int32); if ``rec_offset >= 0`` the kernel first copies the previous
    ``hidden_cis`` there (the recurrent visible layer). Input columns ``i < len(col_z)`` are checked against
    ``col_z[i]`` before anything is modified. ``comparisons`` (f64[Hcols]), ``learn_cells`` (i64[Hcols])
    and ``fscratch`` (f64[2, hz]) are scratch. ``cache`` (f64[3, cells]) and
    ``cache_key`` (f64[num_vl + 1], NaN = stale) hold derived per-cell terms (see `_refresh_cell`).
    """
    num_vl = vl_z.shape[0]
    # Validate the caller's inputs first: nothing changes if one is out of range.
    for i in range(col_z.shape[0]):
        if in_cis[i] < 0 or in_cis[i] >= col_z[i]:
            return i
    ncols = hx * hy
    if rec_offset >= 0:
        for c in range(ncols):
            in_cis[rec_offset + c] = hidden_cis[c]
    inv255 = 1.0 / 255.0
    # Per-cell terms that depend only on totals, importances and choice: cached, refreshed when those change.
    stale = cache_key[num_vl] != choice
    for v in range(num_vl):
        stale = stale or cache_key[v] != importance[v]
    if stale:
        for cell in prange(ncols * hz):
            _refresh_cell(cache, cell, tot0, tot1, importance, choice)
        cache_key[:num_vl] = importance
        cache_key[num_vl] = choice
    u0_shared = np.empty(hz)  # separate arrays (not rows of one) so the accumulation loops vectorise
    u1_shared = np.empty(hz)
    for c in prange(ncols):
        if PARALLEL:  # scratch of its own for every column (hierarchy.parallel)
            u0 = np.empty(hz)
            u1 = np.empty(hz)
            act = np.empty(hz)
            match = np.empty(hz)
        else:
            u0 = u0_shared
            u1 = u1_shared
            act = fscratch[0]
            match = fscratch[1]
        # Importance-weighted sums of the active cells' weights (contiguous blocks, in entry order).
        count = 0.0
        count_except = 0.0
        u0[:] = 0.0
        u1[:] = 0.0
        for e in range(col_ptr[c], col_ptr[c + 1]):
            v = ent_vl[e]
            imp = importance[v]
            count += imp
            count_except += imp * (vl_z[v] - 1)
            base = ent_wbase[e] + in_cis[ent_vcol[e]] * hz
            a0 = w0[base : base + hz]
            a1 = w1[base : base + hz]
            for h in range(hz):
                u0[h] += imp * a0[h]
            for h in range(hz):
                u1[h] += imp * a1[h]
        k0 = inv255 / count if count > 0.0 else 0.0
        k1 = inv255 / count_except if count_except > 0.0 else 0.0
        wt1 = cache[0, c * hz : (c + 1) * hz]
        den0 = cache[1, c * hz : (c + 1) * hz]
        den1 = cache[2, c * hz : (c + 1) * hz]
        for h in range(hz):
            m0 = u0[h] * k0
            m1 = (wt1[h] - u1[h]) * k1
            match[h] = max(m0, m1)
            act[h] = min(m0 * den0[h], m1 * den1[h])
        best = -1
        best_act = 0.0
        max_act = -1.0
        max_h = 0
        com = committed[c * hz : (c + 1) * hz]
        for h in range(hz):
            ah = act[h]
            if ah > max_act:
                max_act = ah
                max_h = h
            if (com[h] == 0 or match[h] >= vigilance) and ah > best_act:
                best_act = ah
                best = h
        if best >= 0:
            hidden_cis[c] = best
            learn_cells[c] = best
            comparisons[c] = max_act
        else:
            hidden_cis[c] = max_h
            learn_cells[c] = -1
            comparisons[c] = 0.0
    if not learn:
        return -1
    for c in prange(ncols):
        h = learn_cells[c]
        if h < 0:
            continue
        cx = c // hy
        cy = c - cx * hy
        num_higher = 0
        n = 1
        for ox in range(max(0, cx - l_radius), min(hx - 1, cx + l_radius) + 1):
            for oy in range(max(0, cy - l_radius), min(hy - 1, cy + l_radius) + 1):
                o = oy + ox * hy
                if o == c:
                    continue
                n += 1
                if comparisons[o] >= comparisons[c]:
                    num_higher += 1
        if num_higher > active_ratio * n:
            continue
        cell = c * hz + h
        rate = lr if committed[cell] != 0 else 1.0
        for e in range(col_ptr[c], col_ptr[c + 1]):
            v = ent_vl[e]
            a = in_cis[ent_vcol[e]]
            base = ent_wbase[e] + h
            for z in range(vl_z[v]):
                idx = base + z * hz
                if z == a:
                    d = math.ceil(rate * w1[idx])
                    w1[idx] -= d
                    tot1[v, cell] -= d
                else:
                    d = math.ceil(rate * w0[idx])
                    w0[idx] -= d
                    tot0[v, cell] -= d
        committed[cell] = 1
        _refresh_cell(cache, cell, tot0, tot1, importance, choice)
    return -1


@njit(cache=True)
def _refresh_cell(cache, cell, tot0, tot1, importance, choice):
    """Set cache[:, cell] = (weighted total1, 1/(choice + weighted total0/255), 1/(choice + wtotal1/255))."""
    inv255 = 1.0 / 255.0
    t0 = 0.0
    t1 = 0.0
    for v in range(importance.shape[0]):
        t0 += importance[v] * tot0[v, cell]
        t1 += importance[v] * tot1[v, cell]
    cache[0, cell] = t1
    cache[1, cell] = 1.0 / (choice + t0 * inv255)
    cache[2, cell] = 1.0 / (choice + t1 * inv255)


encoder_step_parallel = parallel_twin(encoder_step)


def compute_totals(w0, w1, col_ptr, ent_vl, ent_wbase, vl_z, hz, num_vl):
    """Per (visible layer, hidden cell) sums of w0 and w1 over the cell's whole field (int32).

    Runs at build and load time (the totals are derived from the weights, not stored). A numba kernel: numpy's
    gathers and ``reduceat`` made it most of the time of loading a hierarchy.
    """
    ncols = col_ptr.shape[0] - 1
    tot0 = np.zeros((num_vl, ncols * hz), np.int32)
    tot1 = np.zeros((num_vl, ncols * hz), np.int32)
    _totals(w0, w1, col_ptr, ent_vl, ent_wbase, vl_z, hz, tot0, tot1)
    return tot0, tot1


@njit(cache=True)
def _totals(w0, w1, col_ptr, ent_vl, ent_wbase, vl_z, hz, tot0, tot1):
    """Add every entry's weights into ``tot0``/``tot1`` (int32; the Encoder checks that field sums fit)."""
    for c in range(col_ptr.shape[0] - 1):
        for e in range(col_ptr[c], col_ptr[c + 1]):
            v = ent_vl[e]
            for z in range(vl_z[v]):
                base = ent_wbase[e] + z * hz
                for h in range(hz):
                    tot0[v, c * hz + h] += w0[base + h]
                    tot1[v, c * hz + h] += w1[base + h]


class Encoder:
    """One layer's encoder: its arrays, its step, its part of the state and weights.

    ``in_cis`` is the concatenated input (visible layers, then the recurrent copy of ``hidden_cis``); the
    hierarchy writes the inputs into it before `step`. Weights: ``w0``, ``w1``, ``committed``. State:
    ``hidden_cis``. ``tot0``/``tot1`` and ``cache`` are derived from the weights and rebuilt on load.
    """

    def __init__(
        self,
        hidden_size,
        visibles: list[VisibleSpec],
        recurrent: bool,
        check_cols: int,
        rng: np.random.Generator | None,
    ):
        self.hidden_size = tuple(hidden_size)
        self.visibles = list(visibles)
        hx, hy, hz = hidden_size
        self.con = build_connections(hidden_size, visibles, hz)
        # Every column has at least its field centre on every visible layer, so no column is empty.
        field_cells = np.add.reduceat(self.con.vl_z[self.con.ent_vl], self.con.col_ptr[:-1])
        if int(field_cells.max()) * 255 >= 2**31:
            raise ValueError(
                f"an encoder field of {int(field_cells.max())} visible cells is too large "
                f"(int32 weight totals); use smaller radii or fewer cells per column"
            )
        self.num_vl = len(visibles)
        self.recurrent = recurrent
        self.rec_offset = int(self.con.vl_offset[-2]) if recurrent else -1
        self.in_cis = np.zeros(int(self.con.vl_offset[-1]), _I32)
        self.col_z = self.con.input_z()[:check_cols].copy()
        n = self.con.num_weights
        if rng is None:  # about to be loaded
            self.w0, self.w1 = np.zeros(n, np.uint8), np.zeros(n, np.uint8)
        else:
            self.w0 = (255 - rng.integers(0, 8, n)).astype(np.uint8)
            self.w1 = (255 - rng.integers(0, 8, n)).astype(np.uint8)
        self.committed = np.zeros(hx * hy * hz, np.uint8)
        self.hidden_cis = np.zeros(hx * hy, _I32)
        self.importance = np.ones(self.num_vl, np.float64)
        self.comparisons = np.zeros(hx * hy, np.float64)
        self.learn_cells = np.zeros(hx * hy, np.int64)
        self.fscratch = np.zeros((2, hz), np.float64)
        self.cache = np.zeros((3, hx * hy * hz), np.float64)
        self.cache_key = np.full(self.num_vl + 1, np.nan)
        self.tot0 = np.zeros((self.num_vl, hx * hy * hz), np.int32)
        self.tot1 = np.zeros((self.num_vl, hx * hy * hz), np.int32)
        if rng is not None:  # a hierarchy being loaded rebuilds them once its weights are in
            self.rebuild_totals()

    def rebuild_totals(self) -> None:
        c = self.con
        t0, t1 = compute_totals(
            self.w0, self.w1, c.col_ptr, c.ent_vl, c.ent_wbase, c.vl_z, self.hidden_size[2], self.num_vl
        )
        self.tot0[...] = t0
        self.tot1[...] = t1
        self.cache_key[:] = np.nan  # derived per-cell terms are recomputed on the next step

    def step(self, learn: bool, p, parallel: bool = False) -> int:
        """One step of the kernel on this component's arrays (``parallel``: the multi-threaded twin)."""
        c = self.con
        hx, hy, hz = self.hidden_size
        kernel = encoder_step_parallel if parallel else encoder_step
        return kernel(
            self.in_cis,
            self.col_z,
            c.col_ptr,
            c.ent_vcol,
            c.ent_vl,
            c.ent_wbase,
            c.vl_z,
            self.importance,
            self.w0,
            self.w1,
            self.tot0,
            self.tot1,
            self.committed,
            self.hidden_cis,
            self.rec_offset,
            hx,
            hy,
            hz,
            p.choice,
            p.vigilance,
            p.lr,
            p.active_ratio,
            p.l_radius,
            learn,
            self.comparisons,
            self.learn_cells,
            self.fscratch,
            self.cache,
            self.cache_key,
        )

    def clear(self) -> None:
        self.hidden_cis[:] = 0

    def state_arrays(self, prefix: str) -> list[tuple[str, np.ndarray]]:
        return [(prefix + "hidden_cis", self.hidden_cis)]

    def check_state(self, arrays: dict[str, np.ndarray], prefix: str) -> None:
        """Refuse state values the kernel would read out of bounds (``arrays`` as `state_arrays` names them)."""
        check_in_range(arrays, prefix + "hidden_cis", self.hidden_size[2])

    def weight_arrays(self, prefix: str) -> list[tuple[str, np.ndarray]]:
        return [(prefix + "w0", self.w0), (prefix + "w1", self.w1), (prefix + "committed", self.committed)]

    def merge(self, others: list[Encoder], mode: MergeMode, rng: np.random.Generator) -> None:
        """Weights become the merge of ``others``' (same shape); a cell is committed if it is in any of them."""
        merge_array(self.w0, [o.w0 for o in others], mode, rng)
        merge_array(self.w1, [o.w1 for o in others], mode, rng)
        self.committed[...] = np.max([o.committed for o in others], axis=0)
        self.rebuild_totals()

    def receptive_field(self, vl: int, column: int, cell: int) -> np.ndarray:
        """``w0/255`` of hidden ``cell`` of ``column`` over visible layer ``vl``: float32 ``[2r+1, 2r+1, Vz]``
        indexed by field offset (x, y) and visible cell; positions off the visible grid are NaN."""
        v = self.visibles[vl]
        vx, vy, vz = v.size
        r = v.radius
        hx, hy, hz = self.hidden_size
        cx = field_center(column // hy, hx, vx)
        cy = field_center(column % hy, hy, vy)
        out = np.full((2 * r + 1, 2 * r + 1, vz), np.nan, np.float32)
        c = self.con
        for e in range(int(c.col_ptr[column]), int(c.col_ptr[column + 1])):
            if c.ent_vl[e] != vl:
                continue
            j = int(c.ent_vcol[e] - c.vl_offset[vl])
            fx, fy = j // vy, j % vy
            idx = int(c.ent_wbase[e]) + np.arange(vz) * hz + cell
            out[fx - cx + r, fy - cy + r] = self.w0[idx] / 255.0
        return out
