"""Actor: dendritic actor-critic over a replay ring, PPO-style clip against a delayed policy.

See docs/algorithm.md, "Actor".

Each action column has a value head (Dv dendrites) and a policy head (Az cells x Dp dendrites), float32
weights, plus ``policy_delayed``: a slow EMA of the policy weights that plays PPO's "old policy". Every step
the actor samples the next action from π (its only exploration), pushes a replay sample
``{inputs, action passed in, V(s), reward passed in, boundary flag}`` (index 0 = newest), and, when learning,
replays ``history_iters`` samples chosen uniformly among those at least ``min_steps`` old.

Episode boundaries (sphgym extension). A sample's flag is 0 (mid-episode), `TERMINATED` (its return is 0:
no future value) or `BOUNDARY` (truncated, or marked by ``clear_state``: its return is its own stored value).
The λ-return recursion restarts at every flagged sample, so returns never cross an episode boundary, and a
flagged sample is never the one reinforced (the action stored with the next sample was not taken from it).

`actor_step` is the numba kernel (its numpy oracles are in `hierarchy.reference`); `Actor` holds one
actor's arrays and says which are state and which are weights.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .activations import softplus_sigmoid
from .descs import IODesc
from .merge import MergeMode, merge_array
from .parallel import PARALLEL, parallel_twin
from .rng import next_uniform, stream, take_seed
from .serialization import check_in_range, raise_out_of_range
from .topology import VisibleSpec, build_connections

_I32 = np.int32

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
    for c in prange(ncols):
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
    for c in prange(ncols):
        if PARALLEL:  # scratch of its own for every column (hierarchy.parallel)
            zvc = np.empty(dv)
            zpc = np.empty(az * dp)
        else:
            zvc = zv
            zpc = zp
        values_now[c] = actor_value(in_cis, c, col_ptr, ent_vcol, ent_base, vw, dv, zvc)
        actor_policy(in_cis, c, col_ptr, ent_vcol, ent_base, pw, az, dp, zpc, hidden_acts, c * az)
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
            # Columns are independent (own weights, own td scale): each replays every chosen sample in order.
            for c in prange(ncols):
                if PARALLEL:
                    zvc = np.empty(dv)
                    zpc = np.empty(az * dp)
                    zpdc = np.empty(az * dp)
                    probs_c = np.empty(az)
                    probs_dc = np.empty(az)
                    gvc = np.empty(dv)
                    gpc = np.empty(az * dp)
                else:
                    zvc = zv
                    zpc = zp
                    zpdc = zpd
                    probs_c = probs
                    probs_dc = probs_d
                    gvc = gv
                    gpc = gp
                for it in range(iters):
                    t = ts[it]
                    if t < 0:
                        continue
                    sl = (start + t) % cap
                    newer = (start + t - 1) % cap
                    actor_learn(
                        h_inputs[sl],
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
                        zvc,
                        zpc,
                        zpdc,
                        probs_c,
                        probs_dc,
                        gvc,
                        gpc,
                    )
    if mimic != 0.0:
        pwd[:] = pw
    else:
        rate = np.float32(delay_rate)  # float32 arithmetic: this loop runs over every policy weight
        for j in prange(pw.shape[0]):
            pwd[j] += rate * (pw[j] - pwd[j])


lambda_returns_parallel = parallel_twin(lambda_returns)
actor_step_parallel = parallel_twin(actor_step, lambda_returns=lambda_returns_parallel)


@njit(cache=True)
def gather_inputs(down, inputs, skip_src, out):
    """The actor's input CSDR: layer 0's ``down`` buffer (hidden state, feedback), then the layer-0 input
    columns ``inputs[skip_src]`` it sees directly (`IODesc.skip_radius`). Without any (``skip_src`` empty) it is
    ``down`` itself: no copy on the path of hierarchies that do not use the direct view."""
    if skip_src.shape[0] == 0:
        return down
    n = down.shape[0]
    out[:n] = down
    for j in range(skip_src.shape[0]):
        out[n + j] = inputs[skip_src[j]]
    return out


def mark_boundary(h_flags, h_meta):
    """clear_state's replay rule: flag the newest sample `BOUNDARY` unless it already carries a flag."""
    if h_meta[1] > 0 and h_flags[h_meta[0]] == MID:
        h_flags[h_meta[0]] = BOUNDARY


def _cis_dtype(max_z: int) -> np.dtype:
    """Smallest dtype that holds column indices below ``max_z`` (the replay ring is most of the state)."""
    return np.dtype(np.uint8) if max_z <= 256 else np.dtype(np.int32)


class Actor:
    """One actor: its arrays, its step, its part of the state and weights (see the module docstring).

    Weights: value, policy and delayed policy weights, per-column td scales. State: the current outputs
    (``hidden_cis`` sampled actions, ``hidden_acts`` π) and the whole replay ring (``h_*``).
    """

    def __init__(
        self,
        desc: IODesc,
        visibles: list[VisibleSpec],
        rng: np.random.Generator | None,
        skip_src: np.ndarray | None = None,
    ):
        """``skip_src``: where, in layer 0's input buffer, the columns of the visible layers after layer 0's
        (``visibles`` minus the first one or two) are (`gather_inputs`); None: the actor sees layer 0 only."""
        ax, ay, az = desc.size
        self.az = az
        self.dv = desc.value_num_dendrites_per_cell
        self.dp = desc.num_dendrites_per_cell
        self.con = build_connections(desc.size, visibles, 1)
        n = self.con.num_weights
        ncols = ax * ay
        n_in = int(self.con.vl_offset[-1])
        cap = desc.history_capacity
        if rng is None:
            self.vw, self.pw = np.zeros(n * self.dv, np.float32), np.zeros(n * az * self.dp, np.float32)
        else:
            self.vw = rng.uniform(-0.01, 0.01, n * self.dv).astype(np.float32)
            self.pw = rng.uniform(-0.01, 0.01, n * az * self.dp).astype(np.float32)
        self.pwd = self.pw.copy()
        self.td_scales = np.zeros(ncols, np.float32)
        self.hidden_cis = np.zeros(ncols, _I32)
        self.hidden_acts = np.zeros(ncols * az, np.float32)
        self.h_inputs = np.zeros((cap, n_in), _cis_dtype(max(v.size[2] for v in visibles)))
        self.h_actions = np.zeros((cap, ncols), _cis_dtype(az))
        self.h_values = np.zeros((cap, ncols), np.float32)
        self.h_rewards = np.zeros(cap, np.float32)
        self.h_flags = np.zeros(cap, np.uint8)
        self.h_meta = np.zeros(2, np.int64)
        self.zv = np.zeros(self.dv)
        self.zp = np.zeros(az * self.dp)
        self.zpd = np.zeros(az * self.dp)
        self.probs = np.zeros(az)
        self.probs_d = np.zeros(az)
        self.gv = np.zeros(self.dv)
        self.gp = np.zeros(az * self.dp)
        self.rets = np.zeros((cap, ncols))
        self.values_now = np.zeros(ncols)
        self.skip_src = np.zeros(0, np.int64) if skip_src is None else np.asarray(skip_src, np.int64)
        self.in_cis = np.zeros(n_in, _I32)

    def step(
        self, in_cis, taken, learn: bool, reward: float, mimic: float, flag: int, p, rng, parallel: bool = False
    ) -> None:
        """One step of the kernel on this component's arrays (``parallel``: the multi-threaded twin)."""
        c = self.con
        kernel = actor_step_parallel if parallel else actor_step
        kernel(
            in_cis,
            taken,
            c.col_ptr,
            c.ent_vcol,
            c.ent_wbase,
            self.vw,
            self.pw,
            self.pwd,
            self.td_scales,
            self.hidden_cis,
            self.hidden_acts,
            self.h_inputs,
            self.h_actions,
            self.h_values,
            self.h_rewards,
            self.h_flags,
            self.h_meta,
            rng,
            self.az,
            self.dv,
            self.dp,
            p.vlr,
            p.plr,
            p.smoothing,
            p.delay_rate,
            p.policy_clip,
            p.discount,
            p.td_scale_decay,
            p.min_steps,
            p.history_iters,
            learn,
            reward,
            mimic,
            flag,
            self.zv,
            self.zp,
            self.zpd,
            self.probs,
            self.probs_d,
            self.gv,
            self.gp,
            self.rets,
            self.values_now,
        )

    def clear(self) -> None:
        self.hidden_cis[:] = 0
        self.hidden_acts[:] = 0
        mark_boundary(self.h_flags, self.h_meta)

    def state_arrays(self, prefix: str) -> list[tuple[str, np.ndarray]]:
        return [
            (prefix + "hidden_cis", self.hidden_cis),
            (prefix + "hidden_acts", self.hidden_acts),
            (prefix + "history_inputs", self.h_inputs),
            (prefix + "history_actions", self.h_actions),
            (prefix + "history_values", self.h_values),
            (prefix + "history_rewards", self.h_rewards),
            (prefix + "history_flags", self.h_flags),
            (prefix + "history_meta", self.h_meta),
        ]

    def check_state(self, arrays: dict[str, np.ndarray], prefix: str) -> None:
        """Refuse state values the kernel would read out of bounds (``arrays`` as `state_arrays` names them)."""
        check_in_range(arrays, prefix + "hidden_cis", self.az)
        check_in_range(arrays, prefix + "history_inputs", self.con.input_z())
        check_in_range(arrays, prefix + "history_actions", self.az)
        check_in_range(arrays, prefix + "history_flags", BOUNDARY + 1)
        meta = arrays[prefix + "history_meta"]
        cap = self.h_flags.shape[0]
        if not (0 <= meta[0] < cap and 0 <= meta[1] <= cap):
            raise_out_of_range(prefix + "history_meta")

    def weight_arrays(self, prefix: str) -> list[tuple[str, np.ndarray]]:
        return [
            (prefix + "value_weights", self.vw),
            (prefix + "policy_weights", self.pw),
            (prefix + "policy_weights_delayed", self.pwd),
            (prefix + "td_scales", self.td_scales),
        ]

    def merge(self, others: list[Actor], mode: MergeMode, rng: np.random.Generator) -> None:
        """Weights (value, policy, delayed policy, td scales) become the merge of ``others``' (same shape)."""
        for name in ("vw", "pw", "pwd", "td_scales"):
            merge_array(getattr(self, name), [getattr(o, name) for o in others], mode, rng)
