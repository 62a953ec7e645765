"""Kernels of the image encoder: a self-organising map per hidden column over raw pixels (byte weights).

Every hidden column sees a square field (clipped at the edges) on each visible image. Its input is the field's
pixels scaled to [0, 1], centred on their mean over the whole field (every visible layer, every channel) and
doubled. Each of the column's Z cells holds one byte weight per field value, read as ``(2w - 255) / 255`` in
[-1, 1]; a cell's activation is the dot product of input and weights divided by the weights' Euclidean norm, and
the column's code is the arg-max cell (the first on ties).

Learning moves the winner and its neighbours along the cell axis (``|h - winner| <= n_radius``) toward the
centred input at rate ``resource[cell] * falloff^|h - winner|``, rounded to bytes and clipped; each updated
cell's resource then shrinks by ``lr * rate`` (fast at first, settling later).

Reconstruction uses a second byte weight set (``rw``, read as w / 255): a pixel is the mean of the ``rw`` of the
winning cells whose fields cover it, stretched around 0.5 by ``scale`` and clipped to [0, 1]. Learning it nudges
the winners' ``rw`` toward the true pixel byte at rate ``rr`` with stochastic rounding, drawing from one
``take_seed`` per step and one stream per hidden column (so results do not depend on the column order).

Layout: the tables come from `topology.build_connections` with ``block = Z``: entry ``e`` (one field pixel of one
visible layer) owns weights ``ent_wbase[e] + ch * Z + h`` for channel ``ch`` and cell ``h``; ``ent_poff[e]`` is
the byte offset of that pixel's first channel in the concatenated input. Each numba kernel has a numpy reference
below it that does the same float operations in the same order, so their results are bit-identical.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .rng import next_uniform, stream, take_seed

_W_SCALE = 2.0 / 255.0


@njit(cache=True)
def image_encoder_step(
    in_px,
    col_ptr,
    ent_poff,
    ent_vl,
    ent_wbase,
    vl_c,
    hz,
    w,
    rw,
    resource,
    hidden_cis,
    learn,
    learn_recon,
    falloff,
    lr,
    rr,
    n_radius,
    rng,
    centred,
    acc,
    nrm,
):
    """Encode ``in_px`` (uint8, all visible layers concatenated) into ``hidden_cis``, learning in place.

    ``centred`` (f64[max field values]), ``acc`` and ``nrm`` (f64[Z]) are scratch. ``rng`` (uint64[1]) advances
    by one draw only when ``learn_recon`` is set.
    """
    seed = take_seed(rng) if learn_recon else np.uint64(0)
    ncols = col_ptr.shape[0] - 1
    for c in range(ncols):
        # Centred input of the whole field.
        total = 0.0
        k = 0
        for e in range(col_ptr[c], col_ptr[c + 1]):
            p = ent_poff[e]
            for ch in range(vl_c[ent_vl[e]]):
                total += in_px[p + ch]
                k += 1
        mean = total / (255.0 * k)
        k = 0
        for e in range(col_ptr[c], col_ptr[c + 1]):
            p = ent_poff[e]
            for ch in range(vl_c[ent_vl[e]]):
                centred[k] = 2.0 * (in_px[p + ch] / 255.0 - mean)
                k += 1
        # Normalised dot products, field value outer and cell inner (contiguous weights).
        acc[:] = 0.0
        nrm[:] = 0.0
        k = 0
        for e in range(col_ptr[c], col_ptr[c + 1]):
            for ch in range(vl_c[ent_vl[e]]):
                base = ent_wbase[e] + ch * hz
                x = centred[k]
                for h in range(hz):
                    wf = w[base + h] * _W_SCALE - 1.0
                    acc[h] += x * wf
                    nrm[h] += wf * wf
                k += 1
        best = 0
        best_act = -np.inf
        for h in range(hz):
            a = acc[h] / math.sqrt(nrm[h])
            if a > best_act:
                best_act = a
                best = h
        hidden_cis[c] = best
        if learn:
            for h in range(max(0, best - n_radius), min(hz - 1, best + n_radius) + 1):
                cell = c * hz + h
                fall = 1.0
                for _ in range(abs(h - best)):
                    fall *= falloff
                rate = resource[cell] * fall
                k = 0
                for e in range(col_ptr[c], col_ptr[c + 1]):
                    for ch in range(vl_c[ent_vl[e]]):
                        i = ent_wbase[e] + ch * hz + h
                        old = np.float64(w[i])
                        v = math.floor(old + rate * ((centred[k] + 1.0) * 127.5 - old) + 0.5)
                        w[i] = min(255.0, max(0.0, v))
                        k += 1
                resource[cell] -= lr * rate
        if learn_recon:
            s = stream(seed, c)
            for e in range(col_ptr[c], col_ptr[c + 1]):
                p = ent_poff[e]
                for ch in range(vl_c[ent_vl[e]]):
                    i = ent_wbase[e] + ch * hz + best
                    old = np.float64(rw[i])
                    s, u = next_uniform(s)
                    v = old + math.floor(rr * (in_px[p + ch] - old) + u)
                    rw[i] = min(255.0, max(0.0, v))


@njit(cache=True)
def image_reconstruct(cis, col_ptr, ent_poff, ent_vl, ent_wbase, vl_c, hz, rw, scale, sums, counts, out):
    """Write into ``out`` (uint8, all visible layers concatenated) the image the codes ``cis`` stand for.

    ``sums`` and ``counts`` (int64, one per input byte) are scratch; integer sums make the result independent of
    the column order. Bytes no field covers read as 0.5 before stretching.
    """
    sums[:] = 0
    counts[:] = 0
    for c in range(col_ptr.shape[0] - 1):
        h = cis[c]
        for e in range(col_ptr[c], col_ptr[c + 1]):
            p = ent_poff[e]
            for ch in range(vl_c[ent_vl[e]]):
                sums[p + ch] += rw[ent_wbase[e] + ch * hz + h]
                counts[p + ch] += 1
    for i in range(out.shape[0]):
        m = sums[i] / (255.0 * counts[i]) if counts[i] > 0 else 0.5
        v = min(1.0, max(0.0, 0.5 + scale * (m - 0.5)))
        out[i] = math.floor(v * 255.0 + 0.5)


# --------------------------------------------------------------------------------------- numpy references


def _field(col_ptr, ent_poff, ent_vl, ent_wbase, vl_c, hz, c):
    """(pixel byte indices, weight row starts) of column c's field values, in kernel order."""
    px, rows = [], []
    for e in range(col_ptr[c], col_ptr[c + 1]):
        for ch in range(vl_c[ent_vl[e]]):
            px.append(ent_poff[e] + ch)
            rows.append(ent_wbase[e] + ch * hz)
    return np.asarray(px, np.int64), np.asarray(rows, np.int64)


def image_encoder_step_reference(
    in_px, col_ptr, ent_poff, ent_vl, ent_wbase, vl_c, hz, w, rw, resource, hidden_cis, learn, learn_recon,
    falloff, lr, rr, n_radius, rng,
):  # fmt: skip
    """Slow numpy version of `image_encoder_step` (same effects, bit for bit).

    numba hands uint64 results back as Python ints, which it would retype as int64 on the next call: every RNG
    word is wrapped in ``np.uint64`` again.
    """
    seed = np.uint64(take_seed(rng)) if learn_recon else np.uint64(0)
    for c in range(col_ptr.shape[0] - 1):
        px, rows = _field(col_ptr, ent_poff, ent_vl, ent_wbase, vl_c, hz, c)
        vals = in_px[px].astype(np.float64)
        total = 0.0
        for v in vals:  # sequential, as the kernel (exact anyway: integers)
            total += v
        centred = 2.0 * (vals / 255.0 - total / (255.0 * len(vals)))
        wf = w[rows[:, None] + np.arange(hz)] * _W_SCALE - 1.0  # [field value, cell]
        acc, nrm = np.zeros(hz), np.zeros(hz)
        for k in range(len(vals)):
            acc += centred[k] * wf[k]
            nrm += wf[k] * wf[k]
        best = int(np.argmax(acc / np.sqrt(nrm)))
        hidden_cis[c] = best
        if learn:
            for h in range(max(0, best - n_radius), min(hz - 1, best + n_radius) + 1):
                cell = c * hz + h
                fall = 1.0
                for _ in range(abs(h - best)):
                    fall *= falloff
                rate = float(resource[cell]) * fall
                old = w[rows + h].astype(np.float64)
                w[rows + h] = np.clip(np.floor(old + rate * ((centred + 1.0) * 127.5 - old) + 0.5), 0, 255)
                resource[cell] = float(resource[cell]) - lr * rate
        if learn_recon:
            s = np.uint64(stream(seed, c))
            us = np.empty(len(vals))
            for k in range(len(vals)):
                s, us[k] = next_uniform(s)
                s = np.uint64(s)
            old = rw[rows + best].astype(np.float64)
            rw[rows + best] = np.clip(old + np.floor(rr * (vals - old) + us), 0, 255)


def image_reconstruct_reference(cis, col_ptr, ent_poff, ent_vl, ent_wbase, vl_c, hz, rw, scale, out):
    """Numpy version of `image_reconstruct`."""
    sums = np.zeros(out.shape[0], np.int64)
    counts = np.zeros(out.shape[0], np.int64)
    for c in range(col_ptr.shape[0] - 1):
        px, rows = _field(col_ptr, ent_poff, ent_vl, ent_wbase, vl_c, hz, c)
        np.add.at(sums, px, rw[rows + cis[c]].astype(np.int64))
        np.add.at(counts, px, 1)
    m = np.where(counts > 0, sums / (255.0 * np.maximum(counts, 1)), 0.5)
    out[:] = np.floor(np.clip(0.5 + scale * (m - 0.5), 0.0, 1.0) * 255.0 + 0.5)
