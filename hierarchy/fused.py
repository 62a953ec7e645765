"""One jitted call per `Hierarchy.step` (single-threaded): every kernel array in one byte arena.

Calling a numba kernel costs about 80 ns per array argument (type check and unboxing) on top of a fixed
cost, and the per-component kernels take 22 to 44 arguments each: on the CartPole shapes that was a third of
a learning-off step. Here every array the kernels touch (weights, state, scratch, connection tables) is a view
into one ``uint8`` arena, described by an ``int64`` layout table, and the per-step parameters are a ``float64``
vector: `fused_step` takes those three arrays and runs the whole step (encoders up, decoders and actors down)
by calling the very same kernels (`encoder_step`, `decoder_step`, `actor_step`) on views rebuilt from the
layout. Same kernels, same arguments, same order: the results are bit-identical to the per-component path.

`FusedStep` moves the components' arrays into the arena (each attribute becomes a view of it, so serialisation,
getters and the multi-threaded per-component path see the same memory). Layout of the table, in int64s:

* header: ``[num_layers, num layer-0 decoders, num actors]``, the RNG word's slot, then the record start of
  every encoder, of every decoder of layer 0, of every actor, of every layer > 0 decoder (one per layer, -1
  for layer 0);
* an array slot is four ints: byte offset, byte length, rows, columns (-1 for a 1-D array);
* records list their array slots then scalars in the ``_E_*``, ``_D_*``, ``_A_*`` orders below.

The parameter vector (refilled from ``params`` by `FusedStep.step` when they changed): ``anticipation``, every
port's ``importance``, per layer its encoder's ``[choice, vigilance, lr, active_ratio, l_radius]`` and
``recurrent_importance``, per layer above 0 its decoder's ``[scale, lr]``, per layer-0 decoder its port's
``[scale, lr]``, per actor its port's ``[vlr, plr, smoothing, delay_rate, policy_clip, discount, td_scale_decay,
min_steps, history_iters]``. Records hold where their block starts.
"""

from __future__ import annotations

import hashlib
from operator import attrgetter
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

from .actor import actor_step, gather_inputs
from .decoder import decoder_step
from .encoder import encoder_step

_ALIGN = 64  # byte alignment of every array in the arena

# Records: array slots (4 ints each, named by the component attribute they hold), then scalars. The kernel reads
# slot k of a record starting at r at ``r + 4 * k``; the constants below are those ``4 * k``.
_E_ARRAYS = (
    "in_cis", "col_z", "col_ptr", "ent_vcol", "ent_vl", "ent_wbase", "vl_z", "importance", "w0", "w1", "tot0",
    "tot1", "committed", "hidden_cis", "comparisons", "learn_cells", "fscratch", "cache", "cache_key", "down_in",
)  # fmt: skip
(E_IN_CIS, E_COL_Z, E_COL_PTR, E_ENT_VCOL, E_ENT_VL, E_ENT_WBASE, E_VL_Z, E_IMPORTANCE, E_W0, E_W1, E_TOT0, E_TOT1,
 E_COMMITTED, E_HIDDEN_CIS, E_COMPARISONS, E_LEARN_CELLS, E_FSCRATCH, E_CACHE, E_CACHE_KEY, E_DOWN_IN,
 ) = range(0, 4 * len(_E_ARRAYS), 4)  # fmt: skip
# then: rec_offset, hx, hy, hz, recurrent, layer parameters start, ports whose importance it reads
E_SCALARS = 4 * len(_E_ARRAYS)

_D_ARRAYS = (
    "in_prev", "col_ptr", "ent_vcol", "ent_wbase", "w", "hidden_cis", "hidden_acts", "dendrite_acts", "valid", "z",
    "deltas", "scratch_in",
)  # fmt: skip
(D_IN_PREV, D_COL_PTR, D_ENT_VCOL, D_ENT_WBASE, D_W, D_HIDDEN_CIS, D_HIDDEN_ACTS, D_DENDRITE_ACTS, D_VALID, D_Z,
 D_DELTAS, D_SCRATCH_IN) = range(0, 4 * len(_D_ARRAYS), 4)  # fmt: skip
# then: oz, nd, feedback_offset, target start, target end, parameters start (scale, lr)
D_SCALARS = 4 * len(_D_ARRAYS)

_A_ARRAYS = (
    "col_ptr", "ent_vcol", "ent_wbase", "vw", "pw", "pwd", "td_scales", "hidden_cis", "hidden_acts", "h_inputs",
    "h_actions", "h_values", "h_rewards", "h_flags", "h_meta", "zv", "zp", "zpd", "probs", "probs_d", "gv", "gp",
    "rets", "values_now", "skip_src", "in_cis",
)  # fmt: skip
(A_COL_PTR, A_ENT_VCOL, A_ENT_WBASE, A_VW, A_PW, A_PWD, A_TD_SCALES, A_HIDDEN_CIS, A_HIDDEN_ACTS, A_H_INPUTS,
 A_H_ACTIONS, A_H_VALUES, A_H_REWARDS, A_H_FLAGS, A_H_META, A_ZV, A_ZP, A_ZPD, A_PROBS, A_PROBS_D, A_GV, A_GP, A_RETS,
 A_VALUES_NOW, A_SKIP_SRC, A_IN_CIS) = range(0, 4 * len(_A_ARRAYS), 4)  # fmt: skip
# then: az, dv, dp, taken start, taken end, parameters start (vlr ... history_iters)
A_SCALARS = 4 * len(_A_ARRAYS)

_CON = frozenset({"col_ptr", "ent_vcol", "ent_vl", "ent_wbase", "vl_z"})  # copied from the component's tables
H_RNG = 3  # header: num_layers, num layer-0 decoders, num actors, the RNG word's slot, then the record lists
H_LISTS = 7


_ENCODER_PARAMS = attrgetter("choice", "vigilance", "lr", "active_ratio", "l_radius")
_DECODER_PARAMS = attrgetter("scale", "lr")
_ACTOR_PARAMS = attrgetter(
    "vlr", "plr", "smoothing", "delay_rate", "policy_clip", "discount", "td_scale_decay", "min_steps", "history_iters"
)


# ------------------------------------------------------------------------------------------------ kernel side


@njit
def _view(arena, lay, k, dtype):
    """The 1-D array of the slot at ``lay[k]`` (``dtype`` is a numpy scalar type, e.g. ``np.int32``)."""
    return arena[lay[k] : lay[k] + lay[k + 1]].view(dtype)


@njit
def _view2(arena, lay, k, dtype):
    """The 2-D array of the slot at ``lay[k]``."""
    return arena[lay[k] : lay[k] + lay[k + 1]].view(dtype).reshape(lay[k + 2], lay[k + 3])


def _kernel_sources_digest() -> str:
    """SHA-256 of the source files whose kernels `fused_step` compiles in."""
    digest = hashlib.sha256()
    for name in ("actor.py", "activations.py", "decoder.py", "encoder.py", "parallel.py", "rng.py"):
        digest.update(Path(__file__).with_name(name).read_bytes())
    return digest.hexdigest()


def _make_fused_step(sources_digest: str):
    """`fused_step`, closed over the digest of the kernels' sources.

    Numba's on-disk cache of a function is invalidated by changes to its own file only, not to the kernels it
    calls from other files: an edited `encoder_step` would keep running its old compiled code inside a cached
    `fused_step`. The cache key does include a hash of the function's closure variables, so closing over the
    digest of those files makes any edit of them recompile `fused_step`.
    """

    @njit(cache=True)
    def fused_step(arena, lay, pv, learn, reward, mimic, flag):
        if len(sources_digest) == 0:  # never true: the reference puts the digest into the cache key
            return -2
        return _fused_step(arena, lay, pv, learn, reward, mimic, flag)

    fused_step.__doc__ = _fused_step.__doc__
    return fused_step


@njit
def _fused_step(arena, lay, pv, learn, reward, mimic, flag):
    """One whole hierarchy step (docs/algorithm.md, "One step") on the arena, parameters ``pv``. Returns -1, or
    the first input column of layer 0 out of range (nothing has changed then)."""
    num_layers = lay[0]
    num_dec0 = lay[1]
    num_act = lay[2]
    enc_at = H_LISTS
    dec0_at = enc_at + num_layers
    act_at = dec0_at + num_dec0
    dec_at = act_at + num_act  # one per layer; layer 0's entry unused
    rng = _view(arena, lay, H_RNG, np.uint64)
    anticipation = pv[0] != 0.0

    # Upward pass: every encoder sees its inputs and its own previous state.
    for li in range(num_layers):
        r = lay[enc_at + li]
        s = r + E_SCALARS
        in_cis = _view(arena, lay, r + E_IN_CIS, np.int32)
        importance = _view(arena, lay, r + E_IMPORTANCE, np.float64)
        lp = lay[s + 5]
        for i in range(lay[s + 6]):
            importance[i] = pv[1 + i]
        if lay[s + 4] != 0:
            importance[importance.shape[0] - 1] = pv[lp + 5]
        if li > 0:
            below = _view(arena, lay, lay[enc_at + li - 1] + E_HIDDEN_CIS, np.int32)
            for c in range(below.shape[0]):
                in_cis[c] = below[c]
        bad = encoder_step(
            in_cis,
            _view(arena, lay, r + E_COL_Z, np.int64),
            _view(arena, lay, r + E_COL_PTR, np.int64),
            _view(arena, lay, r + E_ENT_VCOL, np.int64),
            _view(arena, lay, r + E_ENT_VL, np.int64),
            _view(arena, lay, r + E_ENT_WBASE, np.int64),
            _view(arena, lay, r + E_VL_Z, np.int64),
            importance,
            _view(arena, lay, r + E_W0, np.uint8),
            _view(arena, lay, r + E_W1, np.uint8),
            _view2(arena, lay, r + E_TOT0, np.int32),
            _view2(arena, lay, r + E_TOT1, np.int32),
            _view(arena, lay, r + E_COMMITTED, np.uint8),
            _view(arena, lay, r + E_HIDDEN_CIS, np.int32),
            lay[s],
            lay[s + 1],
            lay[s + 2],
            lay[s + 3],
            pv[lp],
            pv[lp + 1],
            pv[lp + 2],
            pv[lp + 3],
            np.int64(pv[lp + 4]),
            learn,
            _view(arena, lay, r + E_COMPARISONS, np.float64),
            _view(arena, lay, r + E_LEARN_CELLS, np.int64),
            _view2(arena, lay, r + E_FSCRATCH, np.float64),
            _view2(arena, lay, r + E_CACHE, np.float64),
            _view(arena, lay, r + E_CACHE_KEY, np.float64),
        )
        if bad >= 0:
            return bad

    # Downward pass: decoders learn last step's prediction, then predict the next step; actors act.
    top = num_layers - 1
    for li in range(top, -1, -1):
        r = lay[enc_at + li]
        hidden = _view(arena, lay, r + E_HIDDEN_CIS, np.int32)
        down = _view(arena, lay, r + E_DOWN_IN, np.int32)
        n = hidden.shape[0]
        for c in range(n):
            down[c] = hidden[c]
        if li < top:
            above = _view(arena, lay, lay[dec_at + li + 1] + D_HIDDEN_CIS, np.int32)
            for c in range(above.shape[0]):
                down[n + c] = above[c]
        if li == 0:
            inputs = _view(arena, lay, r + E_IN_CIS, np.int32)
            for k in range(num_dec0):
                _decoder(arena, lay, lay[dec0_at + k], down, inputs, learn, anticipation, pv, rng)
            for k in range(num_act):
                _actor(arena, lay, lay[act_at + k], down, inputs, learn, reward, mimic, flag, pv, rng)
        else:
            below = _view(arena, lay, lay[enc_at + li - 1] + E_HIDDEN_CIS, np.int32)
            _decoder(arena, lay, lay[dec_at + li], down, below, learn, anticipation, pv, rng)
    return -1


@njit
def _decoder(arena, lay, r, down, targets, learn, anticipation, pv, rng):
    """`decoder_step` of the decoder whose record starts at ``r``; its target CSDR is a slice of ``targets``."""
    s = r + D_SCALARS
    decoder_step(
        down,
        _view(arena, lay, r + D_IN_PREV, np.int32),
        targets[lay[s + 3] : lay[s + 4]],
        _view(arena, lay, r + D_COL_PTR, np.int64),
        _view(arena, lay, r + D_ENT_VCOL, np.int64),
        _view(arena, lay, r + D_ENT_WBASE, np.int64),
        _view(arena, lay, r + D_W, np.int8),
        lay[s],
        lay[s + 1],
        pv[lay[s + 5]],
        pv[lay[s + 5] + 1],
        _view(arena, lay, r + D_HIDDEN_CIS, np.int32),
        _view(arena, lay, r + D_HIDDEN_ACTS, np.float32),
        _view(arena, lay, r + D_DENDRITE_ACTS, np.float32),
        _view(arena, lay, r + D_VALID, np.uint8),
        lay[s + 2],
        anticipation,
        learn,
        rng,
        _view(arena, lay, r + D_Z, np.float64),
        _view(arena, lay, r + D_DELTAS, np.int64),
        _view(arena, lay, r + D_SCRATCH_IN, np.int32),
    )


@njit
def _actor(arena, lay, r, down, inputs, learn, reward, mimic, flag, pv, rng):
    """`actor_step` of the actor whose record starts at ``r``; the action taken is a slice of ``inputs``, and the
    actor's input is ``down`` followed by the input columns it sees directly (`gather_inputs`)."""
    s = r + A_SCALARS
    p = lay[s + 5]
    actor_step(
        gather_inputs(
            down, inputs, _view(arena, lay, r + A_SKIP_SRC, np.int64), _view(arena, lay, r + A_IN_CIS, np.int32)
        ),
        inputs[lay[s + 3] : lay[s + 4]],
        _view(arena, lay, r + A_COL_PTR, np.int64),
        _view(arena, lay, r + A_ENT_VCOL, np.int64),
        _view(arena, lay, r + A_ENT_WBASE, np.int64),
        _view(arena, lay, r + A_VW, np.float32),
        _view(arena, lay, r + A_PW, np.float32),
        _view(arena, lay, r + A_PWD, np.float32),
        _view(arena, lay, r + A_TD_SCALES, np.float32),
        _view(arena, lay, r + A_HIDDEN_CIS, np.int32),
        _view(arena, lay, r + A_HIDDEN_ACTS, np.float32),
        _view2(arena, lay, r + A_H_INPUTS, np.uint8),
        _view2(arena, lay, r + A_H_ACTIONS, np.uint8),
        _view2(arena, lay, r + A_H_VALUES, np.float32),
        _view(arena, lay, r + A_H_REWARDS, np.float32),
        _view(arena, lay, r + A_H_FLAGS, np.uint8),
        _view(arena, lay, r + A_H_META, np.int64),
        rng,
        lay[s],
        lay[s + 1],
        lay[s + 2],
        pv[p],
        pv[p + 1],
        pv[p + 2],
        pv[p + 3],
        pv[p + 4],
        pv[p + 5],
        pv[p + 6],
        np.int64(pv[p + 7]),
        np.int64(pv[p + 8]),
        learn,
        reward,
        mimic,
        flag,
        _view(arena, lay, r + A_ZV, np.float64),
        _view(arena, lay, r + A_ZP, np.float64),
        _view(arena, lay, r + A_ZPD, np.float64),
        _view(arena, lay, r + A_PROBS, np.float64),
        _view(arena, lay, r + A_PROBS_D, np.float64),
        _view(arena, lay, r + A_GV, np.float64),
        _view(arena, lay, r + A_GP, np.float64),
        _view2(arena, lay, r + A_RETS, np.float64),
        _view(arena, lay, r + A_VALUES_NOW, np.float64),
    )


fused_step = _make_fused_step(_kernel_sources_digest())


# ------------------------------------------------------------------------------------------------ Python side


class _Arena:
    """Collects arrays, then copies them into one aligned uint8 arena and hands back views of it."""

    def __init__(self) -> None:
        self.lay: list[int] = []
        self._items: list[tuple[np.ndarray, int, Any, str | None]] = []  # array, byte offset, owner, attribute
        self._size = 0

    def slot(self, array: np.ndarray, owner: Any = None, attr: str | None = None) -> None:
        """Reserve the next slot of the layout for ``array``; ``owner.attr`` becomes its arena view."""
        if array.ndim > 2 or not array.flags.c_contiguous:
            raise ValueError("arena arrays are C-contiguous, 1-D or 2-D")
        offset = self._size
        self._size += -(-array.nbytes // _ALIGN) * _ALIGN
        self._items.append((array, offset, owner, attr))
        self.lay += [offset, array.nbytes, array.shape[0], array.shape[1] if array.ndim == 2 else -1]

    def build(self) -> np.ndarray:
        arena = np.zeros(max(self._size, _ALIGN), np.uint8)
        for array, offset, owner, attr in self._items:
            view = arena[offset : offset + array.nbytes].view(array.dtype).reshape(array.shape)
            view[...] = array
            if owner is not None:
                setattr(owner, attr, view)
        return arena


def fusable(actors: list[Any]) -> bool:
    """The fused kernel is compiled for byte-sized replay inputs and actions (hidden and action columns of at
    most 256 cells, i.e. every usual shape); other hierarchies keep the per-component calls."""
    return all(a.h_inputs.dtype == np.uint8 and a.h_actions.dtype == np.uint8 for a in actors)


class FusedStep:
    """The arena, its layout and the parameter vector of one hierarchy.

    Building it moves the hierarchy's kernel arrays into the arena: every component attribute the kernels
    read, the hierarchy's ``_rng`` and ``_down_in`` buffers become views of it (same values).

    Attributes:
        arena: uint8 array holding every kernel array.
        lay: int64 layout table (module docstring).
        pv: float64 parameter vector, refilled by `step` when the params changed.
    """

    def __init__(self, hierarchy: Any) -> None:
        h = hierarchy
        ar = _Arena()
        encoders, decoders, actors = h._encoders, h._decoders, h._actors
        num_layers = len(encoders)
        header = [num_layers, len(decoders[0]), len(actors)]
        ar.lay += header
        ar.slot(h._rng, h, "_rng")
        starts_at = len(ar.lay)
        ar.lay += [0] * (num_layers + len(decoders[0]) + len(actors) + num_layers)
        starts: list[int] = []
        num_io = h._num_io
        # Parameter vector positions (module docstring): anticipation, port importances, then blocks.
        layer_at = 1 + num_io
        dec_at = layer_at + 6 * num_layers
        dec0_at = dec_at + 2 * (num_layers - 1)
        act_at = dec0_at + 2 * len(decoders[0])
        self._dec_ports = list(h._dec_ports)
        self._act_ports = list(h._act_ports)
        for li, enc in enumerate(encoders):
            starts.append(len(ar.lay))
            for name in _E_ARRAYS:
                if name == "down_in":
                    ar.slot(h._down_in[li], _ListSlot(h._down_in, li), "value")
                elif name in _CON:
                    ar.slot(getattr(enc.con, name))
                else:
                    ar.slot(getattr(enc, name), enc, name)
            hx, hy, hz = enc.hidden_size
            ar.lay += [enc.rec_offset, hx, hy, hz, int(enc.recurrent), layer_at + 6 * li, num_io if li == 0 else 0]

        def decoder(dec: Any, target: tuple[int, int], params_at: int) -> None:
            starts.append(len(ar.lay))
            for name in _D_ARRAYS:
                if name in _CON:
                    ar.slot(getattr(dec.con, name))
                else:
                    ar.slot(getattr(dec, name), dec, name)
            ar.lay += [dec.out_size[2], dec.nd, dec.feedback_offset, target[0], target[1], params_at]

        for k, dec in enumerate(decoders[0]):
            port = h._dec_ports[k]
            decoder(dec, h._io_slices[port], dec0_at + 2 * k)
        for k, act in enumerate(actors):
            port = h._act_ports[k]
            starts.append(len(ar.lay))
            for name in _A_ARRAYS:
                if name in _CON:
                    ar.slot(getattr(act.con, name))
                else:
                    ar.slot(getattr(act, name), act, name)
            ar.lay += [act.az, act.dv, act.dp, *h._io_slices[port], act_at + 9 * k]
        starts.append(-1)  # layer 0 has no layer decoder
        for li in range(1, num_layers):
            dec = decoders[li][0]
            decoder(dec, (0, encoders[li - 1].hidden_cis.shape[0]), dec_at + 2 * (li - 1))
        ar.lay[starts_at : starts_at + len(starts)] = starts
        self.arena = ar.build()
        self.lay = np.asarray(ar.lay, np.int64)
        self.pv = np.zeros(act_at + 9 * len(actors), np.float64)
        self._last: list[Any] = []

    def step(self, params: Any, learn: bool, reward: float, mimic: float, flag: int) -> int:
        """One step with the current ``params``; returns `fused_step`'s value."""
        ios = params.ios
        layers = params.layers
        vals = [params.anticipation]
        vals += [ip.importance for ip in ios]
        for lp in layers:
            vals += _ENCODER_PARAMS(lp.encoder)
            vals.append(lp.recurrent_importance)
        for lp in layers[1:]:
            vals += _DECODER_PARAMS(lp.decoder)
        for i in self._dec_ports:
            vals += _DECODER_PARAMS(ios[i].decoder)
        for i in self._act_ports:
            vals += _ACTOR_PARAMS(ios[i].actor)
        if vals != self._last:  # parameters rarely change: skip the list -> float64 conversion
            self.pv[:] = vals
            self._last = vals
        return fused_step(self.arena, self.lay, self.pv, learn, reward, mimic, flag)


class _ListSlot:
    """Stands for ``items[index]`` where `_Arena` sets an attribute."""

    def __init__(self, items: list, index: int) -> None:
        self._items = items
        self._index = index

    @property
    def value(self) -> Any:
        return self._items[self._index]

    @value.setter
    def value(self, v: Any) -> None:
        self._items[self._index] = v
