"""Decoder: dendritic softmax next-step predictor with int8 weights (notes §2.4).

Each output column is a softmax over its Oz cells; each cell has D dendrites, the first D//2 inhibitory. A
dendrite's input is the sum of the weights of the active input cells, scaled by ``sqrt(1/count)/127*scale``;
the cell logit is ``sqrt(1/D) * sum_d sign_d * softplus(z_d)``. Learning is the cross-entropy gradient,
``lr*127*(1[c = target] - p_c) * sign_d * sigmoid(z_d)``, stochastically rounded to int8 steps with a
per-column random stream, applied to the inputs of the *previous* forward pass (state at t-1 -> input at t).

`decoder_step` is the numba kernel; `decoder_forward_reference` / `decoder_learn_reference` are the slow
numpy references it is tested against.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .activations import softplus_sigmoid
from .rng import next_uniform, stream, take_seed


@njit(cache=True)
def decoder_forward(inp, col_ptr, ent_vcol, ent_wbase, w, oz, nd, scale, hidden_cis, hidden_acts, dendrite_acts, z):
    """Forward pass of all output columns on input CSDR ``inp``. ``z`` is f64[oz*nd] scratch."""
    ncols = col_ptr.shape[0] - 1
    blk = oz * nd
    half = nd // 2
    dscale = math.sqrt(1.0 / nd)
    for c in range(ncols):
        for j in range(blk):
            z[j] = 0.0
        n = col_ptr[c + 1] - col_ptr[c]
        for e in range(col_ptr[c], col_ptr[c + 1]):
            base = ent_wbase[e] + inp[ent_vcol[e]] * blk
            row = w[base : base + blk]
            for j in range(blk):
                z[j] += row[j]
        k = math.sqrt(1.0 / max(n, 1)) / 127.0 * scale
        max_a = -np.inf
        best = 0
        for o in range(oz):
            a = 0.0
            for d in range(nd):
                x = z[o * nd + d] * k
                sp, sig = softplus_sigmoid(x)
                dendrite_acts[(c * oz + o) * nd + d] = sig
                a += sp if d >= half else -sp
            a *= dscale
            hidden_acts[c * oz + o] = a
            if a > max_a:
                max_a = a
                best = o
        hidden_cis[c] = best
        total = 0.0
        for o in range(oz):
            p = math.exp(hidden_acts[c * oz + o] - max_a)
            hidden_acts[c * oz + o] = p
            total += p
        for o in range(oz):
            hidden_acts[c * oz + o] /= total


@njit(cache=True)
def decoder_learn(
    inp, target_cis, col_ptr, ent_vcol, ent_wbase, w, oz, nd, lr, hidden_acts, dendrite_acts, seed, deltas
):
    """Cross-entropy update toward ``target_cis`` using the activations of a forward pass on ``inp``."""
    ncols = col_ptr.shape[0] - 1
    blk = oz * nd
    half = nd // 2
    for c in range(ncols):
        s = stream(seed, c)
        t = target_cis[c]
        for o in range(oz):
            err = lr * 127.0 * ((1.0 if o == t else 0.0) - hidden_acts[c * oz + o])
            for d in range(nd):
                x = err * dendrite_acts[(c * oz + o) * nd + d]
                if d < half:
                    x = -x
                s, u = next_uniform(s)
                deltas[o * nd + d] = math.floor(x + u)
        for e in range(col_ptr[c], col_ptr[c + 1]):
            base = ent_wbase[e] + inp[ent_vcol[e]] * blk
            row = w[base : base + blk]
            for j in range(blk):
                v = row[j] + deltas[j]
                row[j] = min(127, max(-127, v))


@njit(cache=True)
def decoder_step(
    in_cis,
    in_prev,
    target_cis,
    col_ptr,
    ent_vcol,
    ent_wbase,
    w,
    oz,
    nd,
    scale,
    lr,
    hidden_cis,
    hidden_acts,
    dendrite_acts,
    valid,
    feedback_offset,
    anticipation,
    learn,
    rng,
    z,
    deltas,
    scratch_in,
):
    """One decoder step in place (notes §2.6, downward pass).

    1. If learning and the last forward is valid: learn toward ``target_cis`` from that forward (inputs
       ``in_prev``).
    2. Anticipation (if on, learning, and there is a feedback input at ``feedback_offset``): forward on the
       previous hidden state with the *current* hidden state standing in for feedback, and learn again.
    3. Forward on ``in_cis``; remember it in ``in_prev``; mark valid.

    Two seeds are taken from ``rng`` whenever learning is on, so the stream does not depend on validity.
    """
    if learn:
        seed1 = take_seed(rng)
        seed2 = take_seed(rng)
        if valid[0] != 0:
            decoder_learn(
                in_prev,
                target_cis,
                col_ptr,
                ent_vcol,
                ent_wbase,
                w,
                oz,
                nd,
                lr,
                hidden_acts,
                dendrite_acts,
                seed1,
                deltas,
            )
            if anticipation and feedback_offset >= 0:
                n = in_cis.shape[0]
                for i in range(feedback_offset):
                    scratch_in[i] = in_prev[i]
                for i in range(feedback_offset, n):
                    scratch_in[i] = in_cis[i - feedback_offset]
                decoder_forward(
                    scratch_in,
                    col_ptr,
                    ent_vcol,
                    ent_wbase,
                    w,
                    oz,
                    nd,
                    scale,
                    hidden_cis,
                    hidden_acts,
                    dendrite_acts,
                    z,
                )
                decoder_learn(
                    scratch_in,
                    target_cis,
                    col_ptr,
                    ent_vcol,
                    ent_wbase,
                    w,
                    oz,
                    nd,
                    lr,
                    hidden_acts,
                    dendrite_acts,
                    seed2,
                    deltas,
                )
    decoder_forward(in_cis, col_ptr, ent_vcol, ent_wbase, w, oz, nd, scale, hidden_cis, hidden_acts, dendrite_acts, z)
    for i in range(in_cis.shape[0]):
        in_prev[i] = in_cis[i]
    valid[0] = 1


# ---------------------------------------------------------------------------------------------- references


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
