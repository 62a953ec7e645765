"""`Hierarchy`: a Sparse Predictive Hierarchy (encoders up, decoders and actors down), PyAOgmaNeo-style API.

Read `_step_components` top to bottom: it follows docs/algorithm.md ("One step, and what is state"). The hot work
is in numba kernels (`encoder_step`, `decoder_step`, `actor_step`) on preallocated arrays. With one thread `step`
makes a single kernel call, `hierarchy.fused.fused_step`, which runs those same kernels in that same order on
arrays held in one arena; with several threads (or replay indices wider than a byte) it calls each component's
kernel (their parallel twins) in turn. Python only copies the inputs in and reads the params.

What is *state* and what is *weights* (serialised separately; together they restore the hierarchy exactly):

* state: the RNG word, encoder hidden CSDRs, decoder predictions / activations / last inputs, actor current
  outputs and the whole replay ring (inputs, actions, values, rewards, boundary flags, ring position).
* weights: encoder byte weights and committed flags, decoder int8 weights, actor value / policy / delayed
  policy weights and td scales. Encoder weight totals are exact integer sums of the weights, rebuilt on load.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import serialization as ser
from .actor import BOUNDARY, MID, TERMINATED, Actor, gather_inputs
from .decoder import Decoder
from .descs import IODesc, IOType, LayerDesc
from .encoder import Encoder
from .fused import FusedStep, fusable
from .merge import MergeMode, checked_sources, merge_rng
from .params import IOParams, LayerParams, Params
from .parallel import use_threads
from .rng import mix64_py, next_uniform, stream, take_seed
from .settings import kernel_threads, next_default_seed
from .topology import VisibleSpec, count_connections

_I32 = np.int32
_I32_DTYPE = np.dtype(np.int32)
# Loading a full buffer allocates at most this multiple of its length plus this slack (in bytes): a consistent
# buffer holds every array, so real hierarchies stay far below; a crafted descriptor claiming more is refused.
MAX_BUILD_FACTOR = 16
MAX_BUILD_SLACK = 16 << 20


class Hierarchy(ser.BufferCopyable):
    """A Sparse Predictive Hierarchy.

    Build one from descriptors (``Hierarchy(io_descs, layer_descs, seed=0)``), or load one
    (``Hierarchy.from_file(path)``, ``Hierarchy.from_buffer(buf)``; ``Hierarchy(file_name=path)``,
    ``Hierarchy(buffer=buf)`` and PyAOgmaNeo's positional ``Hierarchy([], [], path)`` work too).

    Args:
        io_descs: one `IODesc` per port, in the order `step` takes inputs.
        layer_descs: one `LayerDesc` per layer, bottom first.
        file_name: load a hierarchy saved with `save_to_file` (descriptors and seed are then ignored; ``""``
            means none, as in PyAOgmaNeo).
        buffer: load a hierarchy from `serialize_to_buffer` output (takes priority over ``file_name``; an
            empty buffer means none).
        seed: keyword-only. Seeds weight initialisation and the hierarchy's RNG (action sampling, stochastic
            rounding, replay choice). ``None`` takes the next seed from the module's default RNG state
            (`hierarchy.set_global_state`), so unseeded scripts are reproducible; it is kept in ``self.seed``.

    Episodes (sphgym extension of PyAOgmaNeo's API): pass an episode's final observation to `step` with
    ``terminated=True`` (no future value) or ``truncated=True`` (cut off: bootstrap from V(final obs)); the
    actors store it as a boundary replay sample, so λ-returns never cross episodes and no update reinforces
    an action across a reset. Then call `clear_state` before the next episode's first observation. Callers
    that never pass those flags and only call `clear_state` at episode starts stay correct too (the newest
    replay sample is marked as a boundary then); callers that do neither get PyAOgmaNeo's continuing stream.

    Attributes:
        params: run-time `Params` (``h.params.ios[i].actor.plr`` ...); read by every `step`.
        seed: the seed the hierarchy was built with.
    """

    def __init__(
        self,
        io_descs: Sequence[IODesc] | None = None,
        layer_descs: Sequence[LayerDesc] | None = None,
        file_name: str | os.PathLike | None = None,
        buffer: Any = None,
        *,
        seed: int | None = None,
    ):
        if buffer is not None and not (hasattr(buffer, "__len__") and len(buffer) == 0):
            self._load_full(buffer)
            return
        if file_name is not None and os.fspath(file_name) != "":
            with open(file_name, "rb") as f:
                self._load_full(f.read())
            return
        if io_descs is None or layer_descs is None:
            raise ValueError("Hierarchy needs io_descs and layer_descs (or file_name= / buffer= to load one)")
        self._build(io_descs, layer_descs, seed)

    @property
    def params(self) -> Params:
        """Run-time parameters (``h.params.ios[i].actor.plr`` ...), read by every `step`."""
        return self._params

    @params.setter
    def params(self, value: Params) -> None:
        self._check_params(value)
        self._params = value

    def _check_params(self, p: Any) -> None:
        """Params that fit this hierarchy: one LayerParams per layer, one IOParams per port (names the mismatch)."""
        if not isinstance(p, Params):
            raise ValueError(f"params must be a hierarchy.Params, got {type(p).__name__}")
        for field, items, kind, count, what in (
            ("layers", p.layers, LayerParams, len(self.layer_descs), "layers"),
            ("ios", p.ios, IOParams, len(self.io_descs), "IO ports"),
        ):
            if len(items) != count:
                raise ValueError(
                    f"params.{field} has {len(items)} entries but the hierarchy has {count} {what} (one each)"
                )
            for i, item in enumerate(items):
                if not isinstance(item, kind):
                    raise ValueError(f"params.{field}[{i}] must be a {kind.__name__}, got {type(item).__name__}")

    # ------------------------------------------------------------------------------------------ building

    def _build(
        self,
        io_descs: Sequence[IODesc],
        layer_descs: Sequence[LayerDesc],
        seed: int | None,
        max_bytes: int | None = None,
        init_weights: bool = True,
    ) -> None:
        """Allocate everything for these descriptors. ``max_bytes`` (set when loading a buffer): refuse, before
        allocating, descriptors whose arrays would need more (a few crafted bytes must not claim gigabytes).
        ``init_weights=False`` (loading) leaves the weights zero instead of drawing their initial values, and the
        params unset (the loader sets those of the buffer)."""
        io_descs = list(io_descs)
        layer_descs = list(layer_descs)
        for i, d in enumerate(io_descs):
            if not isinstance(d, IODesc):
                raise ValueError(f"io_descs[{i}] must be an IODesc, got {type(d).__name__}")
        for i, d in enumerate(layer_descs):
            if not isinstance(d, LayerDesc):
                raise ValueError(f"layer_descs[{i}] must be a LayerDesc, got {type(d).__name__}")
        if not io_descs:
            raise ValueError("io_descs is empty: a hierarchy needs at least one IO port")
        if not layer_descs:
            raise ValueError("layer_descs is empty: a hierarchy needs at least one layer")
        spent = [0]

        def charge(size, visibles: list[VisibleSpec], block: int, weight_bytes: int, per_cell: int, extra=0):
            if max_bytes is None:
                return
            cells = size[0] * size[1] * size[2]
            estimate = cells * per_cell + sum(v.size[0] * v.size[1] for v in visibles) * 16 + extra
            if spent[0] + estimate <= max_bytes:  # only then are the O(X + Y) counts below cheap too
                entries, weights = count_connections(size, visibles, block)
                estimate += entries * 24 + weights * weight_bytes
            spent[0] += estimate
            if spent[0] > max_bytes:
                raise ValueError(
                    f"the descriptors describe a hierarchy needing at least {spent[0]} bytes of arrays, far more "
                    f"than a buffer of this size can hold (limit {max_bytes}); the buffer is corrupt or crafted"
                )

        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
        self.seed = next_default_seed() if seed is None else int(seed)
        # Own locked copies: a script may keep editing its descriptors without changing this hierarchy.
        self.io_descs = tuple(d.locked_copy() for d in io_descs)
        self.layer_descs = tuple(d.locked_copy() for d in layer_descs)
        if init_weights:  # a hierarchy being loaded gets its params from the buffer
            self.params = Params(layers=[LayerParams() for _ in layer_descs], ios=[IOParams() for _ in io_descs])
        init_rng = np.random.default_rng(self.seed) if init_weights else None
        self._rng = np.array([mix64_py(self.seed ^ 0x5350484759)], np.uint64)
        num_layers = self._num_layers = len(layer_descs)
        self._num_io = len(io_descs)
        self._io_cols = [d.size[0] * d.size[1] for d in io_descs]

        # Encoders, bottom up.
        self._encoders: list[Encoder] = []
        for li, ld in enumerate(layer_descs):
            if li == 0:
                visibles = [VisibleSpec(d.size, d.up_radius) for d in io_descs]
                check = sum(self._io_cols)
            else:
                visibles = [VisibleSpec(layer_descs[li - 1].hidden_size, ld.up_radius)]
                check = 0
            recurrent = ld.recurrent_radius >= 0
            if recurrent:
                visibles.append(VisibleSpec(ld.hidden_size, ld.recurrent_radius))
            charge(ld.hidden_size, visibles, ld.hidden_size[2], 2, 40 + 16 * len(visibles))
            self._encoders.append(Encoder(ld.hidden_size, visibles, recurrent, check, init_rng))
        offs = self._encoders[0].con.vl_offset
        self._io_slices = [(int(offs[i]), int(offs[i + 1])) for i in range(self._num_io)]

        # Decoders and actors, with the input buffer ([hidden, feedback]) shared by a layer's consumers.
        self._down_in: list[np.ndarray] = []
        self._decoders: list[list[Decoder]] = []
        self._dec_ports: list[int] = []  # port of each layer-0 decoder
        self._actors: list[Actor] = []
        self._act_ports: list[int] = []
        self._slot: list[int] = []  # port -> index into _decoders[0] or _actors (-1 for NONE)
        for li, ld in enumerate(layer_descs):
            hsize = ld.hidden_size
            has_fb = li < num_layers - 1
            self._down_in.append(np.zeros(hsize[0] * hsize[1] * (2 if has_fb else 1), _I32))

            def vis(radius: int, hsize=hsize, has_fb=has_fb) -> list[VisibleSpec]:
                return [VisibleSpec(hsize, radius)] * (2 if has_fb else 1)

            decs: list[Decoder] = []
            if li == 0:
                for i, d in enumerate(io_descs):
                    if d.io_type == IOType.PREDICTION:
                        self._slot.append(len(decs))
                        self._dec_ports.append(i)
                        charge(
                            d.size,
                            vis(d.down_radius),
                            d.size[2] * d.num_dendrites_per_cell,
                            1,
                            8 + 4 * d.num_dendrites_per_cell,
                        )
                        decs.append(Decoder(d.size, d.num_dendrites_per_cell, vis(d.down_radius), init_rng))
                    elif d.io_type == IOType.ACTION:
                        self._slot.append(len(self._actors))
                        self._act_ports.append(i)
                        columns = d.size[0] * d.size[1]
                        avis, skip_src = vis(d.down_radius), None
                        if d.skip_radius >= 0:  # the actor also sees the non-action ports directly
                            seen = [j for j, e in enumerate(io_descs) if e.io_type != IOType.ACTION]
                            avis = avis + [VisibleSpec(io_descs[j].size, d.skip_radius) for j in seen]
                            skip_src = np.concatenate(
                                [np.arange(*self._io_slices[j], dtype=np.int64) for j in seen] + [np.zeros(0, np.int64)]
                            )
                        inputs = sum(v.size[0] * v.size[1] for v in avis)
                        charge(
                            d.size,
                            avis,
                            1,
                            4 * (d.value_num_dendrites_per_cell + 2 * d.size[2] * d.num_dendrites_per_cell),
                            8,
                            d.history_capacity * (4 * inputs + 24 * columns + 8),
                        )
                        self._actors.append(Actor(d, avis, init_rng, skip_src))
                    else:
                        self._slot.append(-1)
                    if d.io_type != IOType.ACTION and d.skip_radius >= 0:
                        raise ValueError(
                            f"io_descs[{i}].skip_radius = {d.skip_radius}, but only an ACTION port's actor can see "
                            f"the other ports directly: leave it at -1 for a {d.io_type} port"
                        )
            else:
                below = layer_descs[li - 1].hidden_size
                charge(
                    below,
                    vis(ld.down_radius),
                    below[2] * ld.num_dendrites_per_cell,
                    1,
                    8 + 4 * ld.num_dendrites_per_cell,
                )
                decs.append(
                    Decoder(
                        layer_descs[li - 1].hidden_size,
                        ld.num_dendrites_per_cell,
                        vis(ld.down_radius),
                        init_rng,
                    )
                )
            self._decoders.append(decs)

        # One arena for every kernel array (the attributes above become views of it), for the one-call step.
        self._fused = FusedStep(self) if fusable(self._actors) else None
        self._io_views = [self._encoders[0].in_cis[a:b] for a, b in self._io_slices]
        self._io_buffers = [memoryview(v) for v in self._io_views]
        self._state_specs = self._specs(self._state_arrays())
        self._weight_specs = self._specs(self._weight_arrays())
        self._shape_json = ser.canonical_json(self._shape_dict())
        self._state_size = ser.buffer_size(self._shape_json, self._state_specs)
        self._weights_size = ser.buffer_size(self._shape_json, self._weight_specs)

    # --------------------------------------------------------------------------------------------- step

    def step(
        self,
        input_cis: Sequence[np.ndarray],
        learn_enabled: bool = True,
        reward: float = 0.0,
        mimic: float = 0.0,
        terminated: bool = False,
        truncated: bool = False,
    ) -> None:
        """Advance one time step (docs/algorithm.md, "One step, and what is state").

        Args:
            input_cis: one int CSDR per port (``size[0]*size[1]`` column indices each), including ``NONE``
                ports and, for ``ACTION`` ports, the action actually taken before this observation.
            learn_enabled: learn (False leaves the weights byte-identical; the state still moves).
            reward: the reward that came with this observation (for the action passed in), shared by actors.
            mimic: behaviour-cloning strength toward the passed action (0 = pure RL).
            terminated: this is an episode's final observation and the episode ended (no future value): the
                actors store a final replay sample whose return is 0 and that marks the episode boundary.
            truncated: this is an episode's final observation but the episode was cut off: the final sample
                bootstraps from V(final observation) and marks the boundary.

        Raises:
            ValueError: wrong number of ports, wrong dtype or size, or a column index out of range (nothing
                is changed then).
        """
        params = self._params
        # A script may have replaced, resized or refilled params.layers / params.ios: cheap exact-type test,
        # the full check (which names the mismatch) only when it fails.
        if len(params.layers) != self._num_layers or len(params.ios) != self._num_io:
            self._check_params(params)
        for lp in params.layers:
            if lp.__class__ is not LayerParams:
                self._check_params(params)
        for ip in params.ios:
            if ip.__class__ is not IOParams:
                self._check_params(params)
        # Inputs into layer 0's encoder buffer (validated: dtype, size here; range inside the kernel).
        if len(input_cis) != self._num_io:
            raise ValueError(
                f"input_cis has {len(input_cis)} arrays but the hierarchy has {self._num_io} IO "
                f"ports (one CSDR per port, including NONE and ACTION ports)"
            )
        for i, a in enumerate(input_cis):
            n = self._io_cols[i]
            if type(a) is not np.ndarray or a.dtype is not _I32_DTYPE and a.dtype != _I32_DTYPE:
                a = self._coerce_input(i, a)
            if a.ndim != 1 or a.shape[0] != n:
                if a.size != n:
                    raise ValueError(
                        f"input_cis[{i}] has {a.size} column indices, port {i} of size "
                        f"{self.io_descs[i].size} needs {n}"
                    )
                a = a.reshape(-1)
            self._io_buffers[i][:] = memoryview(a)  # a memoryview copy: half the cost of view[:] = a
        flag = TERMINATED if terminated else (BOUNDARY if truncated else MID)
        learn = bool(learn_enabled)
        reward = float(reward)  # one kernel signature whatever scalar type the caller passes
        mimic = float(mimic)
        threads = kernel_threads()
        if threads == 1 and self._fused is not None:  # the whole step in one kernel call (hierarchy.fused)
            bad = self._fused.step(params, learn, reward, mimic, flag)
            if bad >= 0:
                self._raise_range(bad)
            return
        self._step_components(params, learn, reward, mimic, flag, threads)

    def _step_components(self, params: Params, learn: bool, reward: float, mimic: float, flag: int, threads: int):
        """The step as one kernel call per component (several threads, or shapes `fused_step` does not take)."""
        parallel = threads > 1
        if parallel:
            use_threads(threads)

        # Upward pass: every encoder sees its inputs and its own previous state.
        enc0 = self._encoders[0]
        imp = enc0.importance
        for i in range(self._num_io):
            imp[i] = params.ios[i].importance
        for li, enc in enumerate(self._encoders):
            lp = params.layers[li]
            if enc.recurrent:
                enc.importance[-1] = lp.recurrent_importance
            if li > 0:
                below = self._encoders[li - 1].hidden_cis
                enc.in_cis[: below.shape[0]] = below
            bad = enc.step(learn, lp.encoder, parallel)
            if bad >= 0:
                self._raise_range(bad)

        # Downward pass: decoders learn last step's prediction, then predict the next step; actors act.
        anticipation = params.anticipation
        top = len(self._encoders) - 1
        for li in range(top, -1, -1):
            down = self._down_in[li]
            hidden = self._encoders[li].hidden_cis
            n = hidden.shape[0]
            down[:n] = hidden
            if li < top:
                down[n:] = self._decoders[li + 1][0].hidden_cis
            if li == 0:
                for k, dec in enumerate(self._decoders[0]):
                    port = self._dec_ports[k]
                    dec.step(
                        down, self._io_views[port], learn, anticipation, params.ios[port].decoder, self._rng, parallel
                    )
                for k, act in enumerate(self._actors):
                    port = self._act_ports[k]
                    act.step(
                        gather_inputs(down, enc0.in_cis, act.skip_src, act.in_cis),
                        self._io_views[port],
                        learn,
                        reward,
                        mimic,
                        flag,
                        params.ios[port].actor,
                        self._rng,
                        parallel,
                    )
            else:
                self._decoders[li][0].step(
                    down,
                    self._encoders[li - 1].hidden_cis,
                    learn,
                    anticipation,
                    params.layers[li].decoder,
                    self._rng,
                    parallel,
                )

    def _coerce_input(self, i: int, a: Any) -> np.ndarray:
        arr = np.asarray(a)
        if arr.dtype.kind not in "iu":
            raise ValueError(
                f"input_cis[{i}] must hold integer column indices, got dtype {arr.dtype}: "
                f"cast it with .astype(np.int32) (floats are never truncated silently)"
            )
        if arr.size and (arr.min() < 0 or arr.max() >= self.io_descs[i].size[2]):
            self._raise_range_port(i, arr.reshape(-1))
        return arr.astype(_I32)

    def _raise_range(self, col: int) -> None:
        for i, (a, b) in enumerate(self._io_slices):
            if a <= col < b:
                self._raise_range_port(i, self._encoders[0].in_cis[a:b])

    def _raise_range_port(self, i: int, cis: np.ndarray) -> None:
        z = self.io_descs[i].size[2]
        j = int(np.flatnonzero((cis < 0) | (cis >= z))[0])
        raise ValueError(
            f"input_cis[{i}][{j}] = {int(cis[j])} is out of range: port {i} has {z} cells per "
            f"column (valid indices 0..{z - 1})"
        )

    def clear_state(self) -> None:
        """Reset temporal context: encoder hidden CSDRs, decoder predictions and feedback, actor outputs.

        Weights and learned statistics stay. Unlike PyAOgmaNeo, the actors' replay memory is *kept* (it is a
        learning memory, and dropping it stalls learning for ``min_steps`` steps after every reset); instead
        the newest replay sample is marked as an episode boundary (bootstrapping from its stored value) if
        `step` did not already mark it with ``terminated``/``truncated``. So callers that never pass those
        flags and just call ``clear_state`` at episode starts still never mix two episodes in a return.
        """
        for enc in self._encoders:
            enc.clear()
        for decs in self._decoders:
            for dec in decs:
                dec.clear()
        for act in self._actors:
            act.clear()

    # ----------------------------------------------------------------------------------------- getters

    def get_prediction_cis(self, i: int) -> np.ndarray:
        """Next-step prediction of a PREDICTION port, or the sampled next action of an ACTION port (copy)."""
        slot = self._port_slot(i)
        if self.io_descs[i].io_type == IOType.ACTION:
            return self._actors[slot].hidden_cis.copy()
        return self._decoders[0][slot].hidden_cis.copy()

    def get_prediction_acts(self, i: int) -> np.ndarray:
        """Softmax probabilities behind `get_prediction_cis`, flat ``[column][cell]`` float32 (a copy)."""
        slot = self._port_slot(i)
        if self.io_descs[i].io_type == IOType.ACTION:
            return self._actors[slot].hidden_acts.copy()
        return self._decoders[0][slot].hidden_acts.copy()

    def get_prediction_acts_view(self, i: int) -> np.ndarray:
        """`get_prediction_acts` as a read-only view instead of a copy, for per-step diagnostics.

        Loads and steps write the hierarchy's arrays in place, so the view stays current for the hierarchy's life.
        """
        slot = self._port_slot(i)
        owner = self._actors[slot] if self.io_descs[i].io_type == IOType.ACTION else self._decoders[0][slot]
        return _read_only(owner.hidden_acts)

    def get_hidden_cis_view(self, l: int) -> np.ndarray:  # noqa: E741 (PyAOgmaNeo name)
        """`get_hidden_cis` as a read-only view (current for the hierarchy's life, like
        `get_prediction_acts_view`)."""
        self._check_layer(l)
        return _read_only(self._encoders[l].hidden_cis)

    def get_layer_prediction_cis(self, l: int) -> np.ndarray:  # noqa: E741 (PyAOgmaNeo name)
        """Layer ``l``'s (>= 1) prediction of layer ``l-1``'s next hidden CSDR."""
        if not 1 <= l < len(self._encoders):
            raise ValueError(f"layer {l} has no layer prediction: valid layers are 1..{len(self._encoders) - 1}")
        return self._decoders[l][0].hidden_cis.copy()

    def _port_slot(self, i: int) -> int:
        if not 0 <= i < self._num_io:
            raise ValueError(f"port {i} does not exist: the hierarchy has {self._num_io} IO ports")
        slot = self._slot[i]
        if slot < 0:
            raise ValueError(f"port {i} is an input-only (NONE) port: it has no prediction")
        return slot

    def get_hidden_cis(self, l: int) -> np.ndarray:  # noqa: E741 (PyAOgmaNeo name)
        """Layer ``l``'s current hidden CSDR (a copy)."""
        self._check_layer(l)
        return self._encoders[l].hidden_cis.copy()

    def get_replay_view(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Read-only views of ACTION port ``i``'s replay ring, for diagnostics (no copy: cheap every step).

        Returns:
            (values ``[capacity, columns]`` float32 V stored with each sample, rewards ``[capacity]`` that came with
            each sample's observation, flags ``[capacity]`` uint8 (0 mid-episode, 1 terminated, 2 episode
            boundary: truncated or cleared), meta ``[2]`` int64 = [slot of the newest sample, samples held]).
            The ring is written backwards: the sample before slot ``s`` is at ``(s + 1) % capacity``.
        """
        slot = self._port_slot(i)
        if self.io_descs[i].io_type != IOType.ACTION:
            raise ValueError(f"port {i} is not an ACTION port: it has no replay memory")
        act = self._actors[slot]
        return tuple(_read_only(a) for a in (act.h_values, act.h_rewards, act.h_flags, act.h_meta))

    def get_hidden_size(self, l: int) -> tuple[int, int, int]:  # noqa: E741 (PyAOgmaNeo name)
        self._check_layer(l)
        return self.layer_descs[l].hidden_size

    def _check_layer(self, l: int) -> None:  # noqa: E741 (PyAOgmaNeo name)
        if not 0 <= l < len(self._encoders):
            raise ValueError(f"layer {l} does not exist: the hierarchy has {len(self._encoders)} layers")

    def get_num_layers(self) -> int:
        return len(self._encoders)

    def get_num_io(self) -> int:
        return self._num_io

    def get_io_size(self, i: int) -> tuple[int, int, int]:
        self._check_port(i)
        return self.io_descs[i].size

    def get_io_type(self, i: int) -> IOType:
        self._check_port(i)
        return self.io_descs[i].io_type

    def _check_port(self, i: int) -> None:
        if not 0 <= i < self._num_io:
            raise ValueError(f"port {i} does not exist: the hierarchy has {self._num_io} IO ports")

    def get_num_encoder_visible_layers(self, l: int) -> int:  # noqa: E741 (PyAOgmaNeo name)
        self._check_layer(l)
        return self._encoders[l].num_vl

    def get_up_radius(self, l: int, i: int = 0) -> int:  # noqa: E741 (PyAOgmaNeo name)
        """Layer 0: port ``i``'s encoder radius; layers > 0: the layer's radius onto the layer below."""
        self._check_layer(l)
        if l == 0:
            self._check_port(i)
            return self.io_descs[i].up_radius
        return self.layer_descs[l].up_radius

    def get_down_radius(self, l: int, i: int = 0) -> int:  # noqa: E741 (PyAOgmaNeo name)
        """Layer 0: port ``i``'s decoder/actor radius; layers > 0: the layer's decoder radius."""
        self._check_layer(l)
        if l == 0:
            self._check_port(i)
            return self.io_descs[i].down_radius
        return self.layer_descs[l].down_radius

    def get_encoder_receptive_field(self, l: int, vli: int, pos: Sequence[int]) -> np.ndarray:  # noqa: E741
        """What hidden cell ``pos = (x, y, z)`` of layer ``l`` has learnt to respond to on visible layer ``vli``.

        Visible layers of layer 0's encoder are the IO ports in order, of higher layers the layer below; then,
        if the layer is recurrent, its own previous state (`get_num_encoder_visible_layers`). Returns the
        cell's input weights ``w0/255`` (1 = still open to that input, lower = the cell learnt it is absent)
        as float32 ``[2r+1, 2r+1, Vz]``: field offset x, offset y, visible cell; off-grid positions are NaN.
        """
        self._check_layer(l)
        enc = self._encoders[l]
        if not 0 <= vli < enc.num_vl:
            raise ValueError(f"layer {l}'s encoder has {enc.num_vl} visible layers, got visible layer {vli}")
        hx, hy, hz = enc.hidden_size
        try:
            x, y, z = (int(v) for v in pos)
        except (TypeError, ValueError):
            raise ValueError(f"pos must be a hidden cell (x, y, z), got {pos!r}") from None
        if not (0 <= x < hx and 0 <= y < hy and 0 <= z < hz):
            raise ValueError(f"pos {tuple(pos)} is outside layer {l}'s hidden size {enc.hidden_size}")
        return enc.receptive_field(vli, y + x * hy, z)

    def sample_prediction(self, i: int, temperature: float = 1.0) -> np.ndarray:
        """Sample each column of port ``i``'s prediction from its softmax sharpened by ``temperature``.

        ``p ∝ get_prediction_acts(i) ** (1 / temperature)`` per column; ``temperature = 0`` gives the most
        probable cell. Draws advance the hierarchy's own RNG (part of its state), so a restored hierarchy
        samples the same values. Returns int32 column indices.

        Raises:
            ValueError: port ``i`` is NONE or does not exist, or ``temperature`` is negative or not finite.
        """
        probs = self.get_prediction_acts(i).astype(np.float64).reshape(-1, self.io_descs[i].size[2])
        t = float(temperature)
        if not np.isfinite(t) or t < 0:
            raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
        if t == 0:
            return np.argmax(probs, axis=1).astype(_I32)
        with np.errstate(divide="ignore"):
            logits = np.log(probs) / t
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        cdf = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
        seed = np.uint64(take_seed(self._rng))  # numba hands uint64 back as a Python int
        out = np.empty(len(cdf), _I32)
        for c, row in enumerate(cdf):
            _, u = next_uniform(np.uint64(stream(seed, c)))
            out[c] = min(int(np.searchsorted(row, u, side="right")), len(row) - 1)
        return out

    def merge(self, hierarchies: Sequence[Hierarchy], mode: MergeMode | str = MergeMode.AVERAGE) -> None:
        """Set this hierarchy's weights to the merge of ``hierarchies``' weights (include ``self`` to count it).

        ``MergeMode.AVERAGE``: the mean of each weight; ``MergeMode.RANDOM``: each weight from one hierarchy
        picked at random (drawn from this hierarchy's RNG). An encoder cell is committed if it is in any of
        them. State and params are not touched. Meant for agents of one shape trained in parallel.

        Raises:
            ValueError: an empty list, something that is not a Hierarchy, another shape, or an unknown mode.
        """
        mode = MergeMode.parse(mode, "merge mode")
        others = checked_sources(self, hierarchies, "hierarchies", "hierarchy")
        rng = merge_rng(mode, self._rng)
        groups = [g._named_components() for g in others]
        for j, (_, component) in enumerate(self._named_components()):
            component.merge([grp[j][1] for grp in groups], mode, rng)

    # --------------------------------------------------------------------------------- serialisation

    def _shape_dict(self) -> dict[str, Any]:
        return {
            "io_descs": [d.to_dict() for d in self.io_descs],
            "layer_descs": [d.to_dict() for d in self.layer_descs],
        }

    def _named_components(self) -> list[tuple[str, Encoder | Decoder | Actor]]:
        """Every component with the prefix of its arrays' names, in buffer order: per layer its encoder, then
        its decoders; then the actors."""
        out: list[tuple[str, Encoder | Decoder | Actor]] = []
        for li, enc in enumerate(self._encoders):
            out.append((f"layers.{li}.encoder.", enc))
            for k, dec in enumerate(self._decoders[li]):
                out.append((f"ios.{self._dec_ports[k]}.decoder." if li == 0 else f"layers.{li}.decoder.", dec))
        for k, act in enumerate(self._actors):
            out.append((f"ios.{self._act_ports[k]}.actor.", act))
        return out

    def _state_arrays(self) -> list[tuple[str, np.ndarray]]:
        out = [("rng", self._rng)]
        for prefix, component in self._named_components():
            out += component.state_arrays(prefix)
        return out

    def _weight_arrays(self) -> list[tuple[str, np.ndarray]]:
        out: list[tuple[str, np.ndarray]] = []
        for prefix, component in self._named_components():
            out += component.weight_arrays(prefix)
        return out

    @staticmethod
    def _specs(arrays: list[tuple[str, np.ndarray]]) -> list[ser.ArraySpec]:
        return [(name, a.dtype, a.shape) for name, a in arrays]

    def serialize_state_to_buffer(self) -> np.ndarray:
        """Everything that moves while the hierarchy runs (see the module docstring), as a uint8 array."""
        return ser.write_buffer(ser.KIND_STATE, self._shape_json, self._state_arrays())

    def serialize_weights_to_buffer(self) -> np.ndarray:
        """Everything learned (see the module docstring), as a uint8 array."""
        return ser.write_buffer(ser.KIND_WEIGHTS, self._shape_json, self._weight_arrays())

    def set_state_from_buffer(self, buffer: Any) -> None:
        """Restore `serialize_state_to_buffer` output of a hierarchy of the same shape.

        Raises:
            ValueError: another shape, format version or kind, or a truncated / corrupt buffer.
        """
        arrays = self._read(buffer, ser.KIND_STATE, self._state_specs)
        self._check_state_values(arrays)
        self._assign(self._state_arrays(), arrays)

    def set_weights_from_buffer(self, buffer: Any) -> None:
        """Restore `serialize_weights_to_buffer` output of a hierarchy of the same shape.

        Raises:
            ValueError: another shape, format version or kind, or a truncated / corrupt buffer.
        """
        arrays = self._read(buffer, ser.KIND_WEIGHTS, self._weight_specs)
        self._assign(self._weight_arrays(), arrays)
        for enc in self._encoders:
            enc.rebuild_totals()

    def _read(self, buffer: Any, kind: int, specs: list[ser.ArraySpec]) -> dict[str, np.ndarray]:
        descriptor, arrays = ser.read_buffer(buffer, kind)
        if descriptor != self._shape_json:
            try:
                got = json.loads(descriptor)
            except ValueError:
                raise ValueError(f"{ser.KIND_NAMES[kind]} buffer has an unreadable shape descriptor") from None
            raise ValueError(
                f"{ser.KIND_NAMES[kind]} buffer is for a hierarchy of another shape: "
                f"{ser.describe_mismatch(got, self._shape_dict())}"
            )
        ser.check_arrays(ser.KIND_NAMES[kind], arrays, specs)
        return arrays

    @staticmethod
    def _assign(targets: list[tuple[str, np.ndarray]], arrays: dict[str, np.ndarray]) -> None:
        for name, target in targets:
            target[...] = arrays[name]

    def _check_state_values(self, arrays: dict[str, np.ndarray]) -> None:
        """Index ranges the kernels rely on (a crafted buffer must not read out of bounds): each component
        checks its own arrays, under the names `_state_arrays` gives them."""
        for prefix, component in self._named_components():
            component.check_state(arrays, prefix)

    def get_state_size(self) -> int:
        """Byte length of `serialize_state_to_buffer` output."""
        return self._state_size

    def get_weights_size(self) -> int:
        """Byte length of `serialize_weights_to_buffer` output."""
        return self._weights_size

    def _full_descriptor(self) -> bytes:
        d = self._shape_dict()
        d["params"] = {
            "layers": [lp.to_dict() for lp in self.params.layers],
            "ios": [ip.to_dict() for ip in self.params.ios],
            "anticipation": self.params.anticipation,
        }
        d["seed"] = self.seed
        return ser.canonical_json(d)

    def _full_arrays(self) -> list[tuple[str, np.ndarray]]:
        return [("state/" + n, a) for n, a in self._state_arrays()] + [
            ("weights/" + n, a) for n, a in self._weight_arrays()
        ]

    def get_size(self) -> int:
        """Byte length of `serialize_to_buffer` output (descriptors, params, state and weights)."""
        return ser.buffer_size(self._full_descriptor(), self._specs(self._full_arrays()))

    def serialize_to_buffer(self) -> np.ndarray:
        """The whole hierarchy (descriptors, params, seed, state, weights); `from_buffer` rebuilds it."""
        return ser.write_buffer(ser.KIND_FULL, self._full_descriptor(), self._full_arrays())

    def _load_full(self, buffer: Any) -> None:
        descriptor, arrays = ser.read_buffer(buffer, ser.KIND_FULL)
        try:
            d = json.loads(descriptor)
            io_descs = [IODesc.from_dict(x) for x in d["io_descs"]]
            layer_descs = [LayerDesc.from_dict(x) for x in d["layer_descs"]]
            params = Params.from_dict(d["params"])
            seed = int(d["seed"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"full buffer has an invalid descriptor: {exc}") from None
        # Every array is in the buffer, so a consistent descriptor needs memory of the order of its length.
        self._build(
            io_descs,
            layer_descs,
            seed,
            max_bytes=MAX_BUILD_FACTOR * len(ser._as_bytes(buffer)) + MAX_BUILD_SLACK,
            init_weights=False,
        )
        if len(params.layers) != len(layer_descs) or len(params.ios) != len(io_descs):
            raise ValueError("full buffer params do not match its descriptors")
        self.params = params
        state = {n[6:]: a for n, a in arrays.items() if n.startswith("state/")}
        weights = {n[8:]: a for n, a in arrays.items() if n.startswith("weights/")}
        if len(state) + len(weights) != len(arrays):
            raise ValueError("full buffer has arrays outside state/ and weights/")
        ser.check_arrays("full (state part)", state, self._state_specs)
        ser.check_arrays("full (weights part)", weights, self._weight_specs)
        self._check_state_values(state)
        self._assign(self._state_arrays(), state)
        self._assign(self._weight_arrays(), weights)
        for enc in self._encoders:
            enc.rebuild_totals()

    def __repr__(self) -> str:
        return (
            f"Hierarchy(io_sizes={[d.size for d in self.io_descs]}, "
            f"hidden_sizes={[d.hidden_size for d in self.layer_descs]}, seed={self.seed})"
        )


def _read_only(array: np.ndarray) -> np.ndarray:
    """A view of ``array`` that refuses writes (diagnostic getters hand out the hierarchy's own memory)."""
    view = array.view()
    view.flags.writeable = False
    return view
