"""Kernels of the image encoder: a self-organising map per hidden column over raw pixels (byte weights).

Every hidden column sees a square field (clipped at the edges) on each visible image. Its input is the field's
pixels scaled to [0, 1], centred on their mean over the whole field (every visible layer, every channel) and
doubled: ``x_k = 2 (p_k / 255 - mean)``. Each of the column's Z cells holds one byte weight per field value,
read as ``(2w - 255) / 255`` in [-1, 1]; a cell's activation is the dot product of input and weights divided by
the weights' Euclidean norm, and the column's code is the arg-max cell (the first on ties).

Computed exactly: with n field values, pixel sum P, S_h = sum_k p_k w_kh, T_h = sum_k w_kh and
N_h = sum_k (2 w_kh - 255)^2, the activation is ``(4 / 255^2) (n S_h - P T_h) / (n sqrt(N_h) / 255)``, so the
kernel ranks cells by ``(n S_h - P T_h) / sqrt(N_h)``: integer sums (order-free, SIMD-friendly), then one float
division per cell. T and N are cached per cell (``wsum``, ``wnorm2``; derived from the weights, rebuilt on
load, updated when a cell learns).

Learning moves the winner and its neighbours along the cell axis (``|h - winner| <= n_radius``) toward the
centred input at half its amplitude, ``x_k / 2 = p_k / 255 - P / (255 n)`` (in bytes ``127.5 + (p_k - P/n) / 2``),
at rate ``resource[cell] * falloff^|h - winner|``, rounded to bytes. Each updated cell's resource then shrinks by
``lr * rate`` (fast at first, settling later). The half amplitude is what PyAOgmaNeo 2.14.4 does (probed from
outside: one column, one image, weights read back with ``get_receptive_field``): the target never leaves
[0, 255], so no weight is clipped. Moving toward ``x_k`` itself clipped every pixel further than 127.5 from the
field's mean, which bent the learned weights away from the input's direction: with neighbours learning
(``n_radius = 1``) codes then kept changing for tens of epochs (BENCHMARKS.md, image encoder).

Reconstruction uses a second byte weight set (``rw``, read as w / 255): a pixel is the mean of the ``rw`` of the
winning cells whose fields cover it, stretched around 0.5 by ``scale`` and clipped to [0, 1]. Learning it nudges
the winners' ``rw`` toward the true pixel byte at rate ``rr`` with stochastic rounding, drawing from one
``take_seed`` per step and one stream per hidden column (so results do not depend on the column order).

Layout (cell-major, so each cell's dot product is one long contiguous loop): column c's field values are
``col_fptr[c]:col_fptr[c + 1]`` (n_c of them), ``fld_px[f]`` is the input byte of field value f, and cell h's
weight for the column's k-th field value is ``w[Z * col_fptr[c] + h * n_c + k]`` (``rw`` alike). Each numba
kernel has a numpy reference below it with bit-identical results.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .parallel import PARALLEL, parallel_twin
from .rng import next_uniform, stream, take_seed


@njit(cache=True)
def image_weight_stats(w, col_fptr, hz, wsum, wnorm2):
    """Fill the per-cell caches: ``wsum`` = sum of w, ``wnorm2`` = sum of (2w - 255)^2 over the field (int64)."""
    for c in prange(col_fptr.shape[0] - 1):
        n = col_fptr[c + 1] - col_fptr[c]
        for h in range(hz):
            row = hz * col_fptr[c] + h * n
            wr = w[row : row + n]  # a view indexed from 0: no negative-index checks, so the loop vectorises
            s1 = 0
            s2 = 0
            for k in range(n):
                v = np.int64(wr[k])
                s1 += v
                s2 += (2 * v - 255) * (2 * v - 255)
            wsum[c * hz + h] = s1
            wnorm2[c * hz + h] = s2


@njit(cache=True)
def image_encoder_step(
    in_px,
    col_fptr,
    fld_px,
    hz,
    w,
    rw,
    resource,
    wsum,
    wnorm2,
    hidden_cis,
    learn,
    learn_recon,
    falloff,
    lr,
    rr,
    n_radius,
    rng,
    fp,
):
    """Encode ``in_px`` (uint8, all visible layers concatenated) into ``hidden_cis``, learning in place.

    ``fp`` (int16[max field values]) is scratch (the parallel twin allocates its own per column). ``rng``
    (uint64[1]) advances by one draw only when ``learn_recon`` is set.
    """
    seed = take_seed(rng) if learn_recon else np.uint64(0)
    for c in prange(col_fptr.shape[0] - 1):
        f0 = col_fptr[c]
        n = col_fptr[c + 1] - f0
        if PARALLEL:  # scratch of its own for every column (hierarchy.parallel)
            fpc = np.empty(n, np.int16)
        else:
            fpc = fp
        fld = fld_px[f0 : f0 + n]
        total = 0
        for k in range(n):
            v = in_px[fld[k]]
            fpc[k] = v
            total += v
        best = 0
        best_act = -np.inf
        for h in range(hz):
            wr = w[hz * f0 + h * n : hz * f0 + (h + 1) * n]  # views indexed from 0 vectorise (see above)
            dot = 0
            for k in range(n):
                dot += fpc[k] * wr[k]
            cell = c * hz + h
            a = np.float64(n * dot - total * wsum[cell]) / math.sqrt(np.float64(wnorm2[cell]))
            if a > best_act:
                best_act = a
                best = h
        hidden_cis[c] = best
        if learn:
            shift = 0.5 * total / n - 127.5  # target 0.5 * p - shift = 127.5 + (p - P/n) / 2, inside [0, 255]
            for h in range(max(0, best - n_radius), min(hz - 1, best + n_radius) + 1):
                cell = c * hz + h
                wr = w[hz * f0 + h * n : hz * f0 + (h + 1) * n]
                fall = 1.0
                for _ in range(abs(h - best)):
                    fall *= falloff
                rate = resource[cell] * fall
                s1 = 0
                s2 = 0
                for k in range(n):
                    old = np.float64(wr[k])
                    v = np.int64(math.floor(old + rate * (0.5 * fpc[k] - shift - old) + 0.5))
                    v = min(255, max(0, v))
                    wr[k] = v
                    s1 += v
                    s2 += (2 * v - 255) * (2 * v - 255)
                wsum[cell] = s1
                wnorm2[cell] = s2
                resource[cell] -= lr * rate
        if learn_recon:
            s = stream(seed, c)
            rwr = rw[hz * f0 + best * n : hz * f0 + (best + 1) * n]
            for k in range(n):
                old = np.float64(rwr[k])
                s, u = next_uniform(s)
                rwr[k] = min(255.0, max(0.0, old + math.floor(rr * (fpc[k] - old) + u)))


@njit(cache=True)
def image_reconstruct(cis, col_fptr, fld_px, hz, rw, scale, sums, counts, out):
    """Write into ``out`` (uint8, all visible layers concatenated) the image the codes ``cis`` stand for.

    ``sums`` and ``counts`` (int64, one per input byte) are scratch; integer sums make the result independent of
    the column order. Bytes no field covers read as 0.5 before stretching.
    """
    sums[:] = 0
    counts[:] = 0
    for c in range(col_fptr.shape[0] - 1):
        f0 = col_fptr[c]
        n = col_fptr[c + 1] - f0
        rwr = rw[hz * f0 + cis[c] * n : hz * f0 + (cis[c] + 1) * n]
        fld = fld_px[f0 : f0 + n]
        for k in range(n):
            sums[fld[k]] += rwr[k]
            counts[fld[k]] += 1
    for i in range(out.shape[0]):
        m = sums[i] / (255.0 * counts[i]) if counts[i] > 0 else 0.5
        v = min(1.0, max(0.0, 0.5 + scale * (m - 0.5)))
        out[i] = math.floor(v * 255.0 + 0.5)


# Multi-threaded twins (`hierarchy.parallel`): columns on several threads, bit-identical results. The
# reconstruction stays serial: its columns add into shared per-pixel sums.
image_weight_stats_parallel = parallel_twin(image_weight_stats)
image_encoder_step_parallel = parallel_twin(image_encoder_step)


# --------------------------------------------------------------------------------------- numpy references


def _cell_weights(w, col_fptr, hz, c):
    """Column c's weights as an int64 [cell, field value] matrix (a copy) and the index of its first weight."""
    f0, n = col_fptr[c], col_fptr[c + 1] - col_fptr[c]
    return w[hz * f0 : hz * (f0 + n)].reshape(hz, n).astype(np.int64), hz * f0


def image_weight_stats_reference(w, col_fptr, hz):
    """Numpy version of `image_weight_stats`: returns (wsum, wnorm2)."""
    ncols = col_fptr.shape[0] - 1
    wsum, wnorm2 = np.zeros(ncols * hz, np.int64), np.zeros(ncols * hz, np.int64)
    for c in range(ncols):
        wk, _ = _cell_weights(w, col_fptr, hz, c)
        wsum[c * hz : (c + 1) * hz] = wk.sum(axis=1)
        wnorm2[c * hz : (c + 1) * hz] = ((2 * wk - 255) ** 2).sum(axis=1)
    return wsum, wnorm2


def image_encoder_step_reference(
    in_px, col_fptr, fld_px, hz, w, rw, resource, hidden_cis, learn, learn_recon, falloff, lr, rr, n_radius, rng
):
    """Slow numpy version of `image_encoder_step` (same effects, bit for bit; weight stats from scratch).

    numba hands uint64 results back as Python ints, which it would retype as int64 on the next call: every RNG
    word is wrapped in ``np.uint64`` again.
    """
    seed = np.uint64(take_seed(rng)) if learn_recon else np.uint64(0)
    for c in range(col_fptr.shape[0] - 1):
        p = in_px[fld_px[col_fptr[c] : col_fptr[c + 1]]].astype(np.int64)
        n, total = len(p), int(p.sum())
        wk, w0 = _cell_weights(w, col_fptr, hz, c)
        num = (n * (wk @ p) - total * wk.sum(axis=1)).astype(np.float64)
        best = int(np.argmax(num / np.sqrt(((2 * wk - 255) ** 2).sum(axis=1).astype(np.float64))))
        hidden_cis[c] = best
        if learn:
            shift = 0.5 * total / n - 127.5
            for h in range(max(0, best - n_radius), min(hz - 1, best + n_radius) + 1):
                cell = c * hz + h
                fall = 1.0
                for _ in range(abs(h - best)):
                    fall *= falloff
                rate = float(resource[cell]) * fall
                old = wk[h].astype(np.float64)
                w[w0 + h * n : w0 + (h + 1) * n] = np.clip(np.floor(old + rate * (0.5 * p - shift - old) + 0.5), 0, 255)
                resource[cell] = float(resource[cell]) - lr * rate
        if learn_recon:
            s = np.uint64(stream(seed, c))
            us = np.empty(n)
            for k in range(n):
                s, us[k] = next_uniform(s)
                s = np.uint64(s)
            seg = slice(w0 + best * n, w0 + (best + 1) * n)
            old = rw[seg].astype(np.float64)
            rw[seg] = np.clip(old + np.floor(rr * (p - old) + us), 0, 255)


def image_reconstruct_reference(cis, col_fptr, fld_px, hz, rw, scale, out):
    """Numpy version of `image_reconstruct`."""
    sums = np.zeros(out.shape[0], np.int64)
    counts = np.zeros(out.shape[0], np.int64)
    for c in range(col_fptr.shape[0] - 1):
        wk, _ = _cell_weights(rw, col_fptr, hz, c)
        px = fld_px[col_fptr[c] : col_fptr[c + 1]]
        np.add.at(sums, px, wk[cis[c]])
        np.add.at(counts, px, 1)
    m = np.where(counts > 0, sums / (255.0 * np.maximum(counts, 1)), 0.5)
    out[:] = np.floor(np.clip(0.5 + scale * (m - 0.5), 0.0, 1.0) * 255.0 + 0.5)
