"""Encoder: per-column fuzzy ART with complement coding, byte weights, two-stage inhibition (notes §2.3).

Every hidden column is an ART module whose categories are its Z cells. ``w0`` weighs the input bits
(1 on each visible column's active cell), ``w1`` the complement bits; both are uint8 read as w/255 and only
ever decrease. Per (visible layer, hidden cell) totals of ``w0`` and ``w1`` are cached as exact integers;
they are derived from the weights, so they are rebuilt on load rather than stored.

`encoder_step` is the numba kernel (forward for all columns, then learning); `encoder_step_reference` is the
slow numpy reference it is tested against.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


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
        for cell in range(ncols * hz):
            _refresh_cell(cache, cell, tot0, tot1, importance, choice)
        cache_key[:num_vl] = importance
        cache_key[num_vl] = choice
    u0 = np.empty(hz)  # separate arrays (not rows of one) so the accumulation loops vectorise
    u1 = np.empty(hz)
    act = fscratch[0]
    match = fscratch[1]
    for c in range(ncols):
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
    for c in range(ncols):
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


@njit(cache=True)
def compute_totals(w0, w1, col_ptr, ent_vl, ent_wbase, vl_z, hz, num_vl):
    """Per (visible layer, hidden cell) sums of w0 and w1 over the cell's whole field (int32)."""
    ncols = col_ptr.shape[0] - 1
    tot0 = np.zeros((num_vl, ncols * hz), np.int32)
    tot1 = np.zeros((num_vl, ncols * hz), np.int32)
    for c in range(ncols):
        for e in range(col_ptr[c], col_ptr[c + 1]):
            v = ent_vl[e]
            t0 = tot0[v, c * hz : (c + 1) * hz]
            t1 = tot1[v, c * hz : (c + 1) * hz]
            for z in range(vl_z[v]):
                base = ent_wbase[e] + z * hz
                for h in range(hz):
                    t0[h] += w0[base + h]
                    t1[h] += w1[base + h]
    return tot0, tot1


def compute_totals_reference(w0, w1, col_ptr, ent_vl, ent_wbase, vl_z, hz, num_vl):
    """Numpy version of `compute_totals`."""
    ncols = col_ptr.shape[0] - 1
    tot0 = np.zeros((num_vl, ncols * hz), np.int32)
    tot1 = np.zeros((num_vl, ncols * hz), np.int32)
    for c in range(ncols):
        for e in range(col_ptr[c], col_ptr[c + 1]):
            v = ent_vl[e]
            n = vl_z[v] * hz
            blk0 = w0[ent_wbase[e] : ent_wbase[e] + n].reshape(vl_z[v], hz).astype(np.int64)
            blk1 = w1[ent_wbase[e] : ent_wbase[e] + n].reshape(vl_z[v], hz).astype(np.int64)
            tot0[v, c * hz : (c + 1) * hz] += blk0.sum(axis=0)
            tot1[v, c * hz : (c + 1) * hz] += blk1.sum(axis=0)
    return tot0, tot1


def encoder_step_reference(
    in_cis,
    col_ptr,
    ent_vcol,
    ent_vl,
    ent_wbase,
    vl_z,
    importance,
    w0,
    w1,
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
):
    """Slow numpy reference of `encoder_step` (same effects, totals recomputed from scratch each call)."""
    ncols = hx * hy
    if rec_offset >= 0:
        in_cis[rec_offset : rec_offset + ncols] = hidden_cis
    tot0, tot1 = compute_totals_reference(w0, w1, col_ptr, ent_vl, ent_wbase, vl_z, hz, len(vl_z))
    comparisons = np.zeros(ncols)
    winners = np.full(ncols, -1)
    for c in range(ncols):
        ents = range(col_ptr[c], col_ptr[c + 1])
        count = sum(importance[ent_vl[e]] for e in ents)
        count_except = sum(importance[ent_vl[e]] * (vl_z[ent_vl[e]] - 1) for e in ents)
        cells = slice(c * hz, (c + 1) * hz)
        sum0, sum1, t0, t1 = np.zeros(hz), np.zeros(hz), np.zeros(hz), np.zeros(hz)
        for e in ents:  # same order as the kernel: the float sums are then bit-identical
            imp = importance[ent_vl[e]]
            sum0 += imp * w0[ent_wbase[e] + in_cis[ent_vcol[e]] * hz :][:hz]
            sum1 += imp * w1[ent_wbase[e] + in_cis[ent_vcol[e]] * hz :][:hz]
        for v in range(len(vl_z)):
            t0 += importance[v] * tot0[v, cells]
            t1 += importance[v] * tot1[v, cells]
        k0 = 1 / 255 / count if count > 0 else 0.0
        k1 = 1 / 255 / count_except if count_except > 0 else 0.0
        match0 = sum0 * k0
        match1 = (t1 - sum1) * k1
        act = np.minimum(match0 * (1 / (choice + t0 * (1 / 255))), match1 * (1 / (choice + t1 * (1 / 255))))
        match = np.maximum(match0, match1)
        ok = ((committed[cells] == 0) | (match >= vigilance)) & (act > 0)
        if ok.any():
            cand = np.where(ok, act, -np.inf)
            winners[c] = int(np.argmax(cand))
            hidden_cis[c] = winners[c]
            comparisons[c] = act.max()
        else:
            hidden_cis[c] = int(np.argmax(act))
    if not learn:
        return
    for c in range(ncols):
        h = winners[c]
        if h < 0:
            continue
        cx, cy = divmod(c, hy)
        nb = [
            oy + ox * hy
            for ox in range(max(0, cx - l_radius), min(hx - 1, cx + l_radius) + 1)
            for oy in range(max(0, cy - l_radius), min(hy - 1, cy + l_radius) + 1)
            if oy + ox * hy != c
        ]
        num_higher = sum(comparisons[o] >= comparisons[c] for o in nb)
        if num_higher > active_ratio * (1 + len(nb)):
            continue
        cell = c * hz + h
        rate = lr if committed[cell] else 1.0
        for e in range(col_ptr[c], col_ptr[c + 1]):
            z = vl_z[ent_vl[e]]
            idx = ent_wbase[e] + h + np.arange(z) * hz
            active = np.arange(z) == in_cis[ent_vcol[e]]
            d1 = np.ceil(rate * w1[idx[active]].astype(np.float64)).astype(np.int64)
            w1[idx[active]] = (w1[idx[active]] - d1).astype(np.uint8)
            d0 = np.ceil(rate * w0[idx[~active]].astype(np.float64)).astype(np.int64)
            w0[idx[~active]] = (w0[idx[~active]] - d0).astype(np.uint8)
        committed[cell] = 1
