"""Decoder: dendritic softmax next-step predictor with int8 weights (docs/algorithm.md, "Decoder").

Each output column is a softmax over its Oz cells; each cell has D dendrites, the first D//2 inhibitory. A
dendrite's input is the sum of the weights of the active input cells, scaled by ``sqrt(1/count)/127*scale``;
the cell logit is ``sqrt(1/D) * sum_d sign_d * softplus(z_d)``. Learning is the cross-entropy gradient,
``lr*127*(1[c = target] - p_c) * sign_d * sigmoid(z_d)``, stochastically rounded to int8 steps with a
per-column random stream, applied to the inputs of the *previous* forward pass (state at t-1 -> input at t).

`decoder_step` is the numba kernel (its numpy oracles are in `hierarchy.reference`); `Decoder` holds one
decoder's arrays and says which of them are state and which are weights.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .activations import softplus_sigmoid
from .merge import MergeMode, merge_array
from .parallel import PARALLEL, parallel_twin
from .rng import next_uniform, stream, take_seed
from .serialization import check_in_range
from .topology import VisibleSpec, build_connections

_I32 = np.int32


@njit(cache=True)
def decoder_forward(inp, col_ptr, ent_vcol, ent_wbase, w, oz, nd, scale, hidden_cis, hidden_acts, dendrite_acts, z):
    """Forward pass of all output columns on input CSDR ``inp``. ``z`` is f64[oz*nd] scratch."""
    ncols = col_ptr.shape[0] - 1
    blk = oz * nd
    half = nd // 2
    dscale = math.sqrt(1.0 / nd)
    for c in prange(ncols):
        if PARALLEL:  # scratch of its own for every column (hierarchy.parallel)
            zc = np.empty(blk)
        else:
            zc = z
        for j in range(blk):
            zc[j] = 0.0
        n = col_ptr[c + 1] - col_ptr[c]
        for e in range(col_ptr[c], col_ptr[c + 1]):
            base = ent_wbase[e] + inp[ent_vcol[e]] * blk
            row = w[base : base + blk]
            for j in range(blk):
                zc[j] += row[j]
        k = math.sqrt(1.0 / max(n, 1)) / 127.0 * scale
        max_a = -np.inf
        best = 0
        for o in range(oz):
            a = 0.0
            for d in range(nd):
                x = zc[o * nd + d] * k
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
    for c in prange(ncols):
        if PARALLEL:
            dc = np.empty(blk, np.int64)
        else:
            dc = deltas
        s = stream(seed, c)
        t = target_cis[c]
        for o in range(oz):
            err = lr * 127.0 * ((1.0 if o == t else 0.0) - hidden_acts[c * oz + o])
            for d in range(nd):
                x = err * dendrite_acts[(c * oz + o) * nd + d]
                if d < half:
                    x = -x
                s, u = next_uniform(s)
                dc[o * nd + d] = math.floor(x + u)
        for e in range(col_ptr[c], col_ptr[c + 1]):
            base = ent_wbase[e] + inp[ent_vcol[e]] * blk
            row = w[base : base + blk]
            for j in range(blk):
                v = row[j] + dc[j]
                row[j] = min(127, max(-127, v))


decoder_forward_parallel = parallel_twin(decoder_forward)
decoder_learn_parallel = parallel_twin(decoder_learn)


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
    """One decoder step in place (docs/algorithm.md, "One step": the downward pass).

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


decoder_step_parallel = parallel_twin(
    decoder_step, own_loops=False, decoder_forward=decoder_forward_parallel, decoder_learn=decoder_learn_parallel
)


class Decoder:
    """One decoder: its arrays, its step, its part of the state and weights.

    It predicts a CSDR of ``out_size`` from ``in_cis`` = [own layer's hidden CSDR, feedback (optional)].
    Weights: ``w``. State: the last prediction (``hidden_cis``, ``hidden_acts``, ``dendrite_acts``), the
    inputs of that forward pass (``in_prev``) and whether there was one (``valid``).
    """

    def __init__(self, out_size, num_dendrites: int, visibles: list[VisibleSpec], rng: np.random.Generator | None):
        self.out_size = tuple(out_size)
        ox, oy, oz = out_size
        self.nd = num_dendrites
        self.con = build_connections(out_size, visibles, oz * num_dendrites)
        self.feedback_offset = int(self.con.vl_offset[1]) if len(visibles) > 1 else -1
        n_in = int(self.con.vl_offset[-1])
        n = self.con.num_weights
        self.w = np.zeros(n, np.int8) if rng is None else rng.integers(-4, 5, n).astype(np.int8)
        ncols = ox * oy
        self.hidden_cis = np.zeros(ncols, _I32)
        self.hidden_acts = np.zeros(ncols * oz, np.float32)
        self.dendrite_acts = np.zeros(ncols * oz * num_dendrites, np.float32)
        self.in_prev = np.zeros(n_in, _I32)
        self.valid = np.zeros(1, np.uint8)
        self.z = np.zeros(oz * num_dendrites, np.float64)
        self.deltas = np.zeros(oz * num_dendrites, np.int64)
        self.scratch_in = np.zeros(n_in, _I32)

    def step(self, in_cis, target, learn: bool, anticipation: bool, p, rng, parallel: bool = False) -> None:
        """One step of the kernel on this component's arrays (``parallel``: the multi-threaded twin)."""
        c = self.con
        kernel = decoder_step_parallel if parallel else decoder_step
        kernel(
            in_cis,
            self.in_prev,
            target,
            c.col_ptr,
            c.ent_vcol,
            c.ent_wbase,
            self.w,
            self.out_size[2],
            self.nd,
            p.scale,
            p.lr,
            self.hidden_cis,
            self.hidden_acts,
            self.dendrite_acts,
            self.valid,
            self.feedback_offset,
            anticipation,
            learn,
            rng,
            self.z,
            self.deltas,
            self.scratch_in,
        )

    def clear(self) -> None:
        self.hidden_cis[:] = 0
        self.hidden_acts[:] = 0
        self.dendrite_acts[:] = 0
        self.in_prev[:] = 0
        self.valid[0] = 0

    def state_arrays(self, prefix: str) -> list[tuple[str, np.ndarray]]:
        return [
            (prefix + "hidden_cis", self.hidden_cis),
            (prefix + "hidden_acts", self.hidden_acts),
            (prefix + "dendrite_acts", self.dendrite_acts),
            (prefix + "in_prev", self.in_prev),
            (prefix + "valid", self.valid),
        ]

    def check_state(self, arrays: dict[str, np.ndarray], prefix: str) -> None:
        """Refuse state values the kernel would read out of bounds (``arrays`` as `state_arrays` names them)."""
        check_in_range(arrays, prefix + "hidden_cis", self.out_size[2])
        check_in_range(arrays, prefix + "in_prev", self.con.input_z())
        check_in_range(arrays, prefix + "valid", 2)

    def weight_arrays(self, prefix: str) -> list[tuple[str, np.ndarray]]:
        return [(prefix + "weights", self.w)]

    def merge(self, others: list[Decoder], mode: MergeMode, rng: np.random.Generator) -> None:
        """Weights become the merge of ``others``' (same shape)."""
        merge_array(self.w, [o.w for o in others], mode, rng)
