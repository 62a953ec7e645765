"""Slow numpy references of the hierarchy's numba kernels: the oracles the kernel tests compare against.

Each function computes the same thing as the kernel it names (`docs/algorithm.md` says what), written for
reading rather than speed: whole-array numpy where it helps, recomputing derived values (the encoder's weight
totals, the actor's λ-returns) from scratch instead of caching them. Float sums run in the kernels' order, so
results are bit-identical, not merely close. Library code never imports this module; tests do.
"""

from __future__ import annotations

import math

import numpy as np

from .actor import _MAX_DRAWS, BOUNDARY, MID, TERMINATED
from .rng import next_uniform, stream, take_seed

# ------------------------------------------------------------------------------------------------- encoder


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


# ------------------------------------------------------------------------------------------------- decoder


def _softplus_np(x):
    return np.where(x > 0, x + np.log1p(np.exp(-np.abs(x))), np.log1p(np.exp(np.minimum(x, 0))))


def decoder_forward_reference(inp, col_ptr, ent_vcol, ent_wbase, w, oz, nd, scale):
    """Return (hidden_cis, probabilities f64[cols*oz], sigmoid(z) f64[cols*oz*nd])."""
    ncols = len(col_ptr) - 1
    blk = oz * nd
    sign = np.where(np.arange(nd) < nd // 2, -1.0, 1.0)
    cis = np.zeros(ncols, np.int32)
    probs = np.zeros(ncols * oz)
    sig = np.zeros(ncols * blk)
    for c in range(ncols):
        ents = range(col_ptr[c], col_ptr[c + 1])
        z = np.zeros(blk)
        for e in ents:
            z += w[ent_wbase[e] + inp[ent_vcol[e]] * blk :][:blk]
        x = (z * (math.sqrt(1.0 / max(len(ents), 1)) / 127.0 * scale)).reshape(oz, nd)
        a = (_softplus_np(x) * sign).sum(axis=1) * math.sqrt(1.0 / nd)
        cis[c] = int(np.argmax(a))
        p = np.exp(a - a.max())
        probs[c * oz : (c + 1) * oz] = p / p.sum()
        sig[c * blk : (c + 1) * blk] = (1 / (1 + np.exp(-x))).ravel()
    return cis, probs, sig


def decoder_learn_reference(inp, target_cis, col_ptr, ent_vcol, ent_wbase, w, oz, nd, lr, probs, sig, uniforms):
    """Apply the update in place. ``uniforms[c]`` are column c's stochastic-rounding draws (oz*nd of them)."""
    ncols = len(col_ptr) - 1
    blk = oz * nd
    sign = np.where(np.arange(nd) < nd // 2, -1.0, 1.0)
    for c in range(ncols):
        target = np.arange(oz) == target_cis[c]
        err = lr * 127.0 * (target - probs[c * oz : (c + 1) * oz])
        x = (err[:, None] * sig[c * blk : (c + 1) * blk].reshape(oz, nd) * sign).ravel()
        deltas = np.floor(x + uniforms[c]).astype(np.int64)
        for e in range(col_ptr[c], col_ptr[c + 1]):
            base = ent_wbase[e] + inp[ent_vcol[e]] * blk
            w[base : base + blk] = np.clip(w[base : base + blk].astype(np.int64) + deltas, -127, 127).astype(np.int8)


# --------------------------------------------------------------------------------------------------- actor


def lambda_returns_reference(values, rewards, flags, smoothing, discount):
    """Targets for samples ordered newest first (index 0 = newest), by the plain recursion of the docstring.

    Args:
        values: f64[n, cols] stored V; rewards: f64[n] (reward stored with each sample); flags: int[n].
    """
    n, ncols = values.shape
    rets = np.zeros((n, ncols))
    for c in range(ncols):
        g = 0.0 if flags[0] == TERMINATED else float(values[0, c])
        rets[0, c] = g
        for k in range(1, n):
            if flags[k] == TERMINATED:
                g = 0.0
            elif flags[k] == BOUNDARY:
                g = float(values[k, c])
            else:
                g = smoothing * values[k, c] + (1 - smoothing) * (rewards[k - 1] + discount * g)
            rets[k, c] = g
    return rets


def _heads_reference(inp, c, col_ptr, ent_vcol, ent_base, w, az, nd):
    """Scaled dendrite inputs x[az, nd] and logits[az] of a signed-softplus head."""
    blk = az * nd
    ents = range(col_ptr[c], col_ptr[c + 1])
    z = np.zeros(blk)
    for e in ents:
        base = (ent_base[e] + int(inp[ent_vcol[e]])) * blk
        z += w[base : base + blk]
    x = (z * math.sqrt(1.0 / max(len(ents), 1))).reshape(az, nd)
    sign = np.where(np.arange(nd) < nd // 2, -1.0, 1.0)
    return x, (_softplus_np(x) * sign).sum(axis=1) * math.sqrt(1.0 / nd)


def actor_forward_reference(inp, c, col_ptr, ent_vcol, ent_base, vw, pw, az, dv, dp):
    """Return (V, π) of column c."""
    _, v = _heads_reference(inp, c, col_ptr, ent_vcol, ent_base, vw, 1, dv)
    _, logits = _heads_reference(inp, c, col_ptr, ent_vcol, ent_base, pw, az, dp)
    p = np.exp(logits - logits.max())
    return float(v[0]), p / p.sum()


def actor_learn_reference(
    inp,
    c,
    a,
    target,
    col_ptr,
    ent_vcol,
    ent_base,
    vw,
    pw,
    pwd,
    td_scales,
    az,
    dv,
    dp,
    vlr,
    plr,
    clip,
    td_decay,
    mimic,
):
    """Numpy version of `actor_learn` (in place)."""
    xv, v = _heads_reference(inp, c, col_ptr, ent_vcol, ent_base, vw, 1, dv)
    xp, logits = _heads_reference(inp, c, col_ptr, ent_vcol, ent_base, pw, az, dp)
    _, logits_d = _heads_reference(inp, c, col_ptr, ent_vcol, ent_base, pwd, az, dp)
    p = np.exp(logits - logits.max())
    p /= p.sum()
    pd = np.exp(logits_d - logits_d.max())
    pd /= pd.sum()
    delta = target - float(v[0])
    td_scales[c] = max(td_scales[c] * td_decay, abs(delta))
    delta_n = delta / td_scales[c] if td_scales[c] > 0 else 0.0
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    sv = np.where(np.arange(dv) < dv // 2, -1.0, 1.0)
    sp = np.where(np.arange(dp) < dp // 2, -1.0, 1.0)
    gv = vlr * delta * sig(xv[0]) * sv
    ratio = p[a] / max(pd[a], 1e-30)
    clipped = (ratio < 1 - clip and delta < 0) or (ratio > 1 + clip and delta > 0)
    err = (0.0 if clipped else plr * delta_n) + mimic
    gp = (err * ((np.arange(az) == a) - p))[:, None] * sig(xp) * sp
    for e in range(col_ptr[c], col_ptr[c + 1]):
        cell = ent_base[e] + int(inp[ent_vcol[e]])
        vw[cell * dv : (cell + 1) * dv] += gv.astype(np.float64)
        pw[cell * az * dp : (cell + 1) * az * dp] += gp.ravel()


def actor_step_reference(
    in_cis,
    taken,
    col_ptr,
    ent_vcol,
    ent_base,
    vw,
    pw,
    pwd,
    td_scales,
    ring,
    rng,
    az,
    dv,
    dp,
    p,
    learn,
    reward,
    mimic,
    flag,
):
    """Numpy version of `actor_step` (in place). ``ring`` holds the ``h_*`` arrays by name, ``p`` the params.

    Returns (sampled actions, π as float32). Uses the same random streams as the kernel.
    """
    ncols = td_scales.shape[0]
    seed = np.uint64(take_seed(rng))
    cis = np.zeros(ncols, np.int32)
    acts = np.zeros(ncols * az, np.float32)
    values = np.zeros(ncols)
    for c in range(ncols):
        values[c], pi = actor_forward_reference(in_cis, c, col_ptr, ent_vcol, ent_base, vw, pw, az, dv, dp)
        acts[c * az : (c + 1) * az] = pi
        _, u = next_uniform(np.uint64(stream(seed, c)))
        below = np.flatnonzero(u < np.cumsum(acts[c * az : (c + 1) * az].astype(np.float64)))
        cis[c] = below[0] if below.size else az - 1
    cap = ring["h_flags"].shape[0]
    start = (int(ring["h_meta"][0]) - 1) % cap
    size = min(int(ring["h_meta"][1]) + 1, cap)
    ring["h_meta"][:] = (start, size)
    ring["h_inputs"][start] = in_cis
    ring["h_actions"][start] = taken
    ring["h_values"][start] = values
    ring["h_rewards"][start] = reward
    ring["h_flags"][start] = flag
    if not learn:
        return cis, acts
    seed = np.uint64(take_seed(rng))
    if size > p.min_steps and p.history_iters > 0:
        s = np.uint64(stream(seed, 0))
        ts = []
        for _ in range(p.history_iters):
            for _ in range(_MAX_DRAWS):
                s, u = next_uniform(np.uint64(s))
                t = p.min_steps + int(u * (size - p.min_steps))
                if ring["h_flags"][(start + t) % cap] == MID:
                    ts.append(t)
                    break
        order = (start + np.arange(size)) % cap  # newest first
        rets = lambda_returns_reference(
            ring["h_values"][order].astype(np.float64),
            ring["h_rewards"][order].astype(np.float64),
            ring["h_flags"][order],
            p.smoothing,
            p.discount,
        )
        for t in ts:
            inp = ring["h_inputs"][order[t]]
            for c in range(ncols):
                actor_learn_reference(
                    inp,
                    c,
                    int(ring["h_actions"][order[t - 1], c]),
                    rets[t, c],
                    col_ptr,
                    ent_vcol,
                    ent_base,
                    vw,
                    pw,
                    pwd,
                    td_scales,
                    az,
                    dv,
                    dp,
                    p.vlr,
                    p.plr,
                    p.policy_clip,
                    p.td_scale_decay,
                    mimic,
                )
    if mimic != 0.0:
        pwd[:] = pw
    else:
        pwd += np.float32(p.delay_rate) * (pw - pwd)
    return cis, acts
