"""Actor: dendritic actor-critic over a replay ring, PPO-style clip against a delayed policy (notes §2.5).

Each action column has a value head (Dv dendrites) and a policy head (Az cells x Dp dendrites), float32
weights, plus ``policy_delayed``: a slow EMA of the policy weights that plays PPO's "old policy". Every step
the actor samples the next action from π (its only exploration), pushes a replay sample
``{inputs, action passed in, V(s), reward passed in, boundary flag}`` (index 0 = newest), and, when learning,
replays ``history_iters`` samples chosen uniformly among those at least ``min_steps`` old.

Episode boundaries (sphgym extension). A sample's flag is 0 (mid-episode), `TERMINATED` (its return is 0:
no future value) or `BOUNDARY` (truncated, or marked by ``clear_state``: its return is its own stored value).
The λ-return recursion restarts at every flagged sample, so returns never cross an episode boundary, and a
flagged sample is never the one reinforced (the action stored with the next sample was not taken from it).

`actor_step` is the numba kernel; `lambda_returns_reference`, `actor_forward_reference` and
`actor_learn_reference` are the slow numpy references it is tested against.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .activations import softplus_sigmoid
from .rng import next_uniform, stream, take_seed

MID = 0
TERMINATED = 1
BOUNDARY = 2
_MAX_DRAWS = 8  # rejection-sampling tries for a non-boundary replay sample


@njit(cache=True)
def _value_head(zv, dv, k):
    """V from raw dendrite sums ``zv`` (scaled by ``k``); leaves each dendrite's sigmoid in ``zv``."""
    half = dv // 2
    v = 0.0
    for d in range(dv):
        sp, zv[d] = softplus_sigmoid(zv[d] * k)
        v += sp if d >= half else -sp
    return v * math.sqrt(1.0 / dv)


@njit(cache=True)
def _policy_head(zp, az, dp, k, probs, off):
    """Softmax π into ``probs[off:off+az]`` from raw dendrite sums ``zp``; leaves sigmoids in ``zp``."""
    half = dp // 2
    dscale = math.sqrt(1.0 / dp)
    max_a = -np.inf
    for o in range(az):
        a = 0.0
        for d in range(dp):
            sp, zp[o * dp + d] = softplus_sigmoid(zp[o * dp + d] * k)
            a += sp if d >= half else -sp
        a *= dscale
        probs[off + o] = a
        max_a = max(max_a, a)
    total = 0.0
    for o in range(az):
        p = math.exp(probs[off + o] - max_a)
        probs[off + o] = p
        total += p
    for o in range(az):
        probs[off + o] /= total


@njit(cache=True)
def actor_value(inp, c, col_ptr, ent_vcol, ent_base, vw, dv, zv):
    """V(s) of column c; leaves each dendrite's sigmoid (softplus slope) in ``zv``."""
    zv[:dv] = 0.0
    for e in range(col_ptr[c], col_ptr[c + 1]):
        base = (ent_base[e] + inp[ent_vcol[e]]) * dv
        row = vw[base : base + dv]
        for d in range(dv):
            zv[d] += row[d]
    return _value_head(zv, dv, math.sqrt(1.0 / max(col_ptr[c + 1] - col_ptr[c], 1)))


@njit(cache=True)
def actor_policy(inp, c, col_ptr, ent_vcol, ent_base, pw, az, dp, zp, probs, off):
    """π(·|s) of column c into ``probs[off:off+az]``; leaves dendrite sigmoids in ``zp``."""
    blk = az * dp
    zp[:blk] = 0.0
    for e in range(col_ptr[c], col_ptr[c + 1]):
        base = (ent_base[e] + inp[ent_vcol[e]]) * blk
        row = pw[base : base + blk]
        for j in range(blk):
            zp[j] += row[j]
    _policy_head(zp, az, dp, math.sqrt(1.0 / max(col_ptr[c + 1] - col_ptr[c], 1)), probs, off)


@njit(cache=True)
def lambda_returns(h_values, h_rewards, h_flags, start, maxt, smoothing, discount, rets):
    """Targets G_k for k = 0..maxt (0 = newest) into ``rets[k, c]``; see the module docstring.

    ``G_0 = V_0`` (0 if terminated); then ``G_k = s*V_k + (1-s)*(r_{k-1} + gamma*G_{k-1})``, except that a
    `TERMINATED` sample restarts with 0 and a `BOUNDARY` sample with its own stored value.
    """
    cap = h_flags.shape[0]
    ncols = h_values.shape[1]
    for c in range(ncols):
        sl = start
        f = h_flags[sl]
        g = 0.0 if f == TERMINATED else np.float64(h_values[sl, c])
        rets[0, c] = g
        for k in range(1, maxt + 1):
            newer = sl
            sl = (start + k) % cap
            f = h_flags[sl]
            if f == TERMINATED:
                g = 0.0
            elif f == BOUNDARY:
                g = np.float64(h_values[sl, c])
            else:
                g = smoothing * h_values[sl, c] + (1.0 - smoothing) * (h_rewards[newer] + discount * g)
            rets[k, c] = g


@njit(cache=True)
def actor_learn(
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
    zv,
    zp,
    zpd,
    probs,
    probs_d,
    gv,
    gp,
):
    """One replayed update of column c: stored inputs ``inp``, taken action ``a``, return ``target``."""
    # One pass over the inputs gathers the value, policy and delayed-policy dendrite sums.
    blk = az * dp
    zv[:dv] = 0.0
    zp[:blk] = 0.0
    zpd[:blk] = 0.0
    for e in range(col_ptr[c], col_ptr[c + 1]):
        cell = ent_base[e] + inp[ent_vcol[e]]
        row = vw[cell * dv : (cell + 1) * dv]
        for d in range(dv):
            zv[d] += row[d]
        row = pw[cell * blk : (cell + 1) * blk]
        row_d = pwd[cell * blk : (cell + 1) * blk]
        for j in range(blk):
            zp[j] += row[j]
            zpd[j] += row_d[j]
    k = math.sqrt(1.0 / max(col_ptr[c + 1] - col_ptr[c], 1))
    v = _value_head(zv, dv, k)
    _policy_head(zp, az, dp, k, probs, 0)
    _policy_head(zpd, az, dp, k, probs_d, 0)
    delta = target - v
    ts = max(td_scales[c] * td_decay, abs(delta))
    td_scales[c] = ts
    delta_n = delta / ts if ts > 0.0 else 0.0
    half_v = dv // 2
    for d in range(dv):
        g = vlr * delta * zv[d]
        gv[d] = g if d >= half_v else -g
    ratio = probs[a] / max(probs_d[a], 1e-30)
    clipped = (ratio < 1.0 - clip and delta < 0.0) or (ratio > 1.0 + clip and delta > 0.0)
    err = (0.0 if clipped else plr * delta_n) + mimic
    half_p = dp // 2
    for o in range(az):
        eo = err * ((1.0 if o == a else 0.0) - probs[o])
        for d in range(dp):
            g = eo * zp[o * dp + d]
            gp[o * dp + d] = g if d >= half_p else -g
    for e in range(col_ptr[c], col_ptr[c + 1]):
        cell = ent_base[e] + inp[ent_vcol[e]]
        row = vw[cell * dv : (cell + 1) * dv]
        for d in range(dv):
            row[d] += gv[d]
        row = pw[cell * blk : (cell + 1) * blk]
        for j in range(blk):
            row[j] += gp[j]


@njit(cache=True)
def actor_step(
    in_cis,
    taken,
    col_ptr,
    ent_vcol,
    ent_base,
    vw,
    pw,
    pwd,
    td_scales,
    hidden_cis,
    hidden_acts,
    h_inputs,
    h_actions,
    h_values,
    h_rewards,
    h_flags,
    h_meta,
    rng,
    az,
    dv,
    dp,
    vlr,
    plr,
    smoothing,
    delay_rate,
    clip,
    discount,
    td_decay,
    min_steps,
    iters,
    learn,
    reward,
    mimic,
    flag,
    zv,
    zp,
    zpd,
    probs,
    probs_d,
    gv,
    gp,
    rets,
    values_now,
):
    """One actor step in place: forward + sample, push the replay sample, replay-learn, move delayed policy.

    ``flag`` is the new sample's boundary flag (`MID`, `TERMINATED` or `BOUNDARY` for truncated).
    ``h_meta`` = [start slot of the newest sample, number of samples].
    """
    ncols = hidden_cis.shape[0]
    seed = take_seed(rng)
    for c in range(ncols):
        values_now[c] = actor_value(in_cis, c, col_ptr, ent_vcol, ent_base, vw, dv, zv)
        actor_policy(in_cis, c, col_ptr, ent_vcol, ent_base, pw, az, dp, zp, hidden_acts, c * az)
        s = stream(seed, c)
        s, u = next_uniform(s)
        choice = az - 1
        acc = 0.0
        for o in range(az):
            acc += hidden_acts[c * az + o]
            if u < acc:
                choice = o
                break
        hidden_cis[c] = choice
    cap = h_flags.shape[0]
    start = (h_meta[0] + cap - 1) % cap
    h_meta[0] = start
    size = min(h_meta[1] + 1, cap)
    h_meta[1] = size
    for i in range(in_cis.shape[0]):
        h_inputs[start, i] = in_cis[i]
    for c in range(ncols):
        h_actions[start, c] = taken[c]
        h_values[start, c] = values_now[c]
    h_rewards[start] = reward
    h_flags[start] = flag
    if not learn:
        return
    seed = take_seed(rng)
    if size > min_steps and iters > 0:
        s = stream(seed, 0)
        ts = np.empty(iters, np.int64)
        maxt = 0
        for it in range(iters):
            ts[it] = -1
            for _ in range(_MAX_DRAWS):
                s, u = next_uniform(s)
                t = min_steps + int(u * (size - min_steps))
                if h_flags[(start + t) % cap] == MID:
                    ts[it] = t
                    maxt = max(maxt, t)
                    break
        if maxt > 0:
            lambda_returns(h_values, h_rewards, h_flags, start, maxt, smoothing, discount, rets)
            for it in range(iters):
                t = ts[it]
                if t < 0:
                    continue
                sl = (start + t) % cap
                newer = (start + t - 1) % cap
                inp = h_inputs[sl]
                for c in range(ncols):
                    actor_learn(
                        inp,
                        c,
                        h_actions[newer, c],
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
                        vlr,
                        plr,
                        clip,
                        td_decay,
                        mimic,
                        zv,
                        zp,
                        zpd,
                        probs,
                        probs_d,
                        gv,
                        gp,
                    )
    if mimic != 0.0:
        pwd[:] = pw
    else:
        rate = np.float32(delay_rate)  # float32 arithmetic: this loop runs over every policy weight
        for j in range(pw.shape[0]):
            pwd[j] += rate * (pw[j] - pwd[j])


@njit(cache=True)
def mark_boundary(h_flags, h_meta):
    """clear_state's replay rule: flag the newest sample `BOUNDARY` unless it already carries a flag."""
    if h_meta[1] > 0 and h_flags[h_meta[0]] == MID:
        h_flags[h_meta[0]] = BOUNDARY


# ---------------------------------------------------------------------------------------------- references


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
    sp = np.where(x > 0, x + np.log1p(np.exp(-np.abs(x))), np.log1p(np.exp(np.minimum(x, 0))))
    return x, (sp * sign).sum(axis=1) * math.sqrt(1.0 / nd)


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
