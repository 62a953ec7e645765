"""`ImageEncoder`: turns images into hidden column indices a `Hierarchy` port can take (PyAOgmaNeo's API).

A hierarchy's ports take one small integer per column; an image has thousands of pixels. The image encoder is a
grid of hidden columns, each a self-organising map over a square patch of the image(s) (algorithm and layout:
`image_kernels`). Its ``get_hidden_cis()`` feed a NONE port; ``reconstruct(cis)`` turns codes (e.g. a
hierarchy's predicted ones) back into an image you can look at.

What is *state* and what is *weights* (serialised separately, in the hierarchy's buffer format; together they
restore the encoder exactly):

* state: the RNG word of the reconstruction's stochastic rounding, the hidden codes, the last reconstruction.
* weights: the encoding byte weights, the reconstruction byte weights, each cell's learning resource.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from . import serialization as ser
from .descs import _check_int, _check_size
from .hierarchy import MAX_BUILD_FACTOR, MAX_BUILD_SLACK
from .image_kernels import (
    image_encoder_step,
    image_encoder_step_parallel,
    image_reconstruct,
    image_weight_stats,
    image_weight_stats_parallel,
)
from .merge import MergeMode, checked_sources, merge_array, merge_rng
from .parallel import use_threads
from .params import _Spec, _Validated
from .rng import mix64_py
from .settings import kernel_threads, next_default_seed
from .topology import VisibleSpec, build_connections, count_connections

_I32 = np.int32
_RNG_SALT = 0x494D47454E43  # "IMGENC": the encoder's RNG differs from a hierarchy's built with the same seed
_DESCRIPTOR_KEY = "image_encoder"
# n * sum(p * w) over a field of n values stays below 2**63 (255**2 * n**2): exact int64 activations.
MAX_FIELD_VALUES = 1 << 23


@dataclasses.dataclass
class ImageVisibleLayerDesc:
    """One input image of an `ImageEncoder`.

    Fields can be assigned after construction (``d = ImageVisibleLayerDesc(); d.radius = 3``), as in PyAOgmaNeo
    scripts; every assignment is validated at once.

    Args:
        size: the image's shape (x, y, channels), e.g. ``(32, 32, 1)`` for a 32×32 grey image. Inputs are flat
            uint8 arrays of ``x * y * channels`` bytes, pixel-major with channels innermost (a C-order
            ``(x, y, channels)`` numpy image, raveled).
        radius: half-width of each hidden column's square field on this image, in pixels.

    Defaults are PyAOgmaNeo 2.14.4's.
    """

    size: tuple[int, int, int] = (5, 5, 16)
    radius: int = 4

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "size":
            value = _check_size("ImageVisibleLayerDesc.size", value)
        elif name == "radius":
            value = _check_int("ImageVisibleLayerDesc.radius", value, 0, 1024)
        else:
            raise AttributeError(f"ImageVisibleLayerDesc has no field {name!r} (fields: size, radius)")
        object.__setattr__(self, name, value)

    def to_dict(self) -> dict[str, Any]:
        return {"size": list(self.size), "radius": self.radius}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ImageVisibleLayerDesc:
        return cls(size=tuple(d["size"]), radius=d["radius"])


@dataclasses.dataclass
class ImageEncoderParams(_Validated):
    """Run-time parameters of an `ImageEncoder` (PyAOgmaNeo's names and defaults); read by every `step`.

    Args:
        falloff: learning-rate factor per cell of distance from the winner along the cell axis.
        lr: how fast a cell's resource (its own learning rate, starting at 1) shrinks each time it learns.
        scale: contrast stretch of the reconstruction around 0.5.
        rr: learning rate of the reconstruction weights (byte units, stochastic rounding).
        n_radius: neighbours on each side of the winner (along the cell axis) that learn with it.
    """

    _SPEC: ClassVar[_Spec] = {
        "falloff": ("f", 0.0, 1.0),
        "lr": ("f", 0.0, 1.0),
        "scale": ("f", 0.0, 1e6),
        "rr": ("f", 0.0, 1.0),
        "n_radius": ("i", 0, 1 << 16),
    }
    falloff: float = 0.9
    lr: float = 0.1
    scale: float = 2.0
    rr: float = 0.02
    n_radius: int = 1


class ImageEncoder(ser.BufferCopyable):
    """A grid of self-organising maps over one or more images; PyAOgmaNeo's ``ImageEncoder`` API.

    Build one from descriptors, or load one saved with `save_to_file` / `serialize_to_buffer`
    (``ImageEncoder(file_name=path)``, ``ImageEncoder(buffer=buf)``, or by position as PyAOgmaNeo scripts do:
    ``ImageEncoder(hidden_size, descs, path)``).

    Args:
        hidden_size: the hidden grid (x, y, z): x*y columns of z cells; `get_hidden_cis` has x*y entries in
            ``[0, z)``, ready for a hierarchy port of the same size.
        visible_layer_descs: one `ImageVisibleLayerDesc` per input image, in the order `step` takes them.
        file_name: load an encoder saved with `save_to_file` (the other arguments are then ignored; ``""`` means
            none, as in PyAOgmaNeo).
        buffer: load an encoder from `serialize_to_buffer` output (takes priority over ``file_name``).
        seed: seeds the initial weights and the reconstruction's RNG. ``None`` takes the next seed from the module
            default RNG state (``hierarchy.set_global_state``), as a Hierarchy does, and records it in ``self.seed``.

    Attributes:
        params: run-time `ImageEncoderParams`.
        seed: the seed the encoder was built with.
    """

    def __init__(
        self,
        hidden_size: Sequence[int] = (5, 5, 16),
        visible_layer_descs: Sequence[ImageVisibleLayerDesc] | None = None,
        file_name: str | os.PathLike | None = None,
        buffer: Any = None,
        *,
        seed: int | None = None,
    ):
        if buffer is not None or file_name:
            if buffer is None:
                with open(file_name, "rb") as f:  # type: ignore[arg-type]
                    buffer = f.read()
            self._load_full(buffer)
            return
        if visible_layer_descs is None:
            raise ValueError("ImageEncoder needs visible_layer_descs (or file_name= / buffer= to load one)")
        self._build(hidden_size, visible_layer_descs, seed)

    # ------------------------------------------------------------------------------------------ building

    def _build(
        self,
        hidden_size: Sequence[int],
        visible_layer_descs: Sequence[ImageVisibleLayerDesc],
        seed: int | None,
        max_bytes: int | None = None,
        init_weights: bool = True,
    ) -> None:
        """Allocate everything. ``max_bytes`` (loading): refuse, before allocating, shapes needing more."""
        hidden = _check_size("ImageEncoder.hidden_size", hidden_size)
        descs = list(visible_layer_descs) if isinstance(visible_layer_descs, (list, tuple)) else None
        if not descs:
            raise ValueError(
                "ImageEncoder.visible_layer_descs must be a non-empty list of ImageVisibleLayerDesc, "
                f"got {visible_layer_descs!r}"
            )
        for i, d in enumerate(descs):
            if not isinstance(d, ImageVisibleLayerDesc):
                raise ValueError(f"visible_layer_descs[{i}] must be an ImageVisibleLayerDesc, got {type(d).__name__}")
        if seed is None:
            seed = next_default_seed()  # the module default RNG state: unseeded scripts repeat exactly
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
        hx, hy, hz = hidden
        visibles = [VisibleSpec(d.size, d.radius) for d in descs]
        total_bytes = sum(v.size[0] * v.size[1] * v.size[2] for v in visibles)
        widest = sum(min(2 * v.radius + 1, v.size[0]) * min(2 * v.radius + 1, v.size[1]) * v.size[2] for v in visibles)
        if widest > MAX_FIELD_VALUES:
            raise ValueError(
                f"image encoder fields of up to {widest} values (pixels x channels) are too large for exact int64 "
                f"activations (at most {MAX_FIELD_VALUES}); use a smaller radius"
            )
        if max_bytes is not None:
            entries, num_weights = count_connections(hidden, visibles, hz)
            need = 2 * num_weights + 40 * entries + 8 * hx * hy * hz + 17 * total_bytes
            if need > max_bytes:
                raise ValueError(
                    f"the descriptor describes an image encoder needing at least {need} bytes of arrays, far "
                    f"more than a buffer of this size can hold (limit {max_bytes}); the buffer is corrupt or crafted"
                )
        self.seed = int(seed)
        self.hidden_size = hidden
        self.visible_layer_descs = tuple(ImageVisibleLayerDesc(d.size, d.radius) for d in descs)
        self._params = ImageEncoderParams()
        # Field tables (see image_kernels): the connection entries, one per field pixel, expanded to channels.
        con = build_connections(hidden, visibles, 1)
        vl_bytes = np.array([v.size[0] * v.size[1] * v.size[2] for v in visibles], np.int64)
        self._byte_offset = np.concatenate([[0], np.cumsum(vl_bytes)]).astype(np.int64)
        ent_c = con.vl_z[con.ent_vl]  # channels of each entry's pixel
        ent_first = self._byte_offset[con.ent_vl] + (con.ent_vcol - con.vl_offset[con.ent_vl]) * ent_c
        starts = np.repeat(np.cumsum(ent_c) - ent_c, ent_c)
        self._fld_px = (np.repeat(ent_first, ent_c) + np.arange(int(ent_c.sum())) - starts).astype(np.int64)
        field_values = np.add.reduceat(ent_c, con.col_ptr[:-1])
        self._col_fptr = np.concatenate([[0], np.cumsum(field_values)]).astype(np.int64)
        n = hz * int(self._col_fptr[-1])
        if init_weights:
            self._w = np.random.default_rng(self.seed).integers(0, 256, n, dtype=np.uint8)
        else:
            self._w = np.zeros(n, np.uint8)
        self._rw = np.full(n, 128, np.uint8)
        self._resource = np.ones(hx * hy * hz, np.float32)
        self._wsum = np.zeros(hx * hy * hz, np.int64)  # derived from the weights (see image_kernels)
        self._wnorm2 = np.zeros(hx * hy * hz, np.int64)
        self._rebuild_stats()
        self._rng = np.array([mix64_py(self.seed ^ _RNG_SALT)], np.uint64)
        self._hidden_cis = np.zeros(hx * hy, _I32)
        self._recon = np.zeros(total_bytes, np.uint8)
        # Scratch.
        self._in_px = np.zeros(total_bytes, np.uint8)
        self._fp = np.zeros(int(field_values.max()), np.int16)
        self._sums = np.zeros(total_bytes, np.int64)
        self._counts = np.zeros(total_bytes, np.int64)
        self._shape_json = ser.canonical_json(self._shape_dict())
        self._state_specs = _specs(self._state_arrays())
        self._weight_specs = _specs(self._weight_arrays())

    @property
    def params(self) -> ImageEncoderParams:
        return self._params

    @params.setter
    def params(self, value: ImageEncoderParams) -> None:
        if not isinstance(value, ImageEncoderParams):
            raise ValueError(f"ImageEncoder.params must be an ImageEncoderParams, got {type(value).__name__}")
        self._params = value

    # --------------------------------------------------------------------------------------------- step

    def step(self, inputs: Sequence[np.ndarray], learn_enabled: bool = True, learn_recon: bool = False) -> None:
        """Encode one set of images (one per visible layer) into the hidden codes.

        Args:
            inputs: one uint8 array per visible layer: flat (``x * y * channels`` bytes, pixel-major with
                channels innermost) or shaped ``(x, y, channels)`` (``(x, y)`` for one channel).
            learn_enabled: train the encoding weights (False leaves them byte-identical).
            learn_recon: train the reconstruction weights toward these images (uses the RNG).

        Raises:
            ValueError: wrong number of images, or an image of the wrong dtype or shape (nothing changes then).
        """
        n = len(self.visible_layer_descs)
        if isinstance(inputs, np.ndarray) or not isinstance(inputs, Sequence) or len(inputs) != n:
            got = f"{len(inputs)} arrays" if isinstance(inputs, Sequence) else type(inputs).__name__
            raise ValueError(f"inputs must be a list of {n} uint8 image arrays (one per visible layer), got {got}")
        arrays = [self._coerce_input(i, a) for i, a in enumerate(inputs)]
        for i, a in enumerate(arrays):
            self._in_px[self._byte_offset[i] : self._byte_offset[i + 1]] = a
        p = self._params
        self._kernel(image_encoder_step, image_encoder_step_parallel)(
            self._in_px,
            self._col_fptr,
            self._fld_px,
            self.hidden_size[2],
            self._w,
            self._rw,
            self._resource,
            self._wsum,
            self._wnorm2,
            self._hidden_cis,
            bool(learn_enabled),
            bool(learn_recon),
            p.falloff,
            p.lr,
            p.rr,
            p.n_radius,
            self._rng,
            self._fp,
        )

    def _rebuild_stats(self) -> None:
        kernel = self._kernel(image_weight_stats, image_weight_stats_parallel)
        kernel(self._w, self._col_fptr, self.hidden_size[2], self._wsum, self._wnorm2)

    @staticmethod
    def _kernel(serial: Any, parallel: Any) -> Any:
        """The kernel for the module's thread count (`hierarchy.set_num_threads`); same results either way."""
        threads = kernel_threads()
        if threads == 1:
            return serial
        use_threads(threads)
        return parallel

    def _coerce_input(self, i: int, a: Any) -> np.ndarray:
        x, y, ch = self.visible_layer_descs[i].size
        arr = a if isinstance(a, np.ndarray) else np.asarray(a)
        if arr.dtype != np.uint8:
            raise ValueError(
                f"inputs[{i}] has dtype {arr.dtype}; the image encoder takes uint8 pixels 0..255: scale and cast "
                f"with .astype(np.uint8)"
            )
        shapes = [(x * y * ch,), (x, y, ch)] + ([(x, y)] if ch == 1 else [])
        if arr.shape not in shapes:
            raise ValueError(
                f"inputs[{i}] has shape {arr.shape}; visible layer {i} is {x}x{y} with {ch} channel(s): pass a flat "
                f"array of {x * y * ch} bytes (pixel-major, channels innermost) or shape {(x, y, ch)}"
            )
        return arr.reshape(-1)

    def reconstruct(self, hidden_cis: np.ndarray) -> None:
        """Rebuild the images these hidden codes stand for; read them with `get_reconstruction`.

        Raises:
            ValueError: ``hidden_cis`` is not x*y integers in ``[0, z)``.
        """
        hx, hy, hz = self.hidden_size
        cis = np.asarray(hidden_cis)
        if cis.dtype.kind not in "iu" or cis.size != hx * hy:
            raise ValueError(
                f"hidden_cis must be {hx * hy} integer column indices (hidden size {self.hidden_size}), got dtype "
                f"{cis.dtype} and shape {cis.shape}"
            )
        cis = cis.reshape(-1)
        bad = np.flatnonzero((cis < 0) | (cis >= hz))
        if bad.size:
            j = int(bad[0])
            raise ValueError(f"hidden_cis[{j}] = {int(cis[j])} is out of range: valid indices are 0..{hz - 1}")
        image_reconstruct(
            cis.astype(np.int64),
            self._col_fptr,
            self._fld_px,
            hz,
            self._rw,
            self._params.scale,
            self._sums,
            self._counts,
            self._recon,
        )

    def merge(self, encoders: Sequence[ImageEncoder], mode: MergeMode | str = MergeMode.AVERAGE) -> None:
        """Set this encoder's weights to the merge of ``encoders``' weights (include ``self`` to count it).

        As `Hierarchy.merge`: ``MergeMode.AVERAGE`` takes the mean of each weight (bytes rounded to nearest) and
        of each cell's resource; ``MergeMode.RANDOM`` takes each value from one encoder picked at random (drawn
        from this encoder's RNG). Encoding and reconstruction weights and resources merge; state and params are
        not touched. Meant for encoders of one shape trained in parallel.

        Raises:
            ValueError: an empty list, something that is not an ImageEncoder, another shape, or an unknown mode.
        """
        mode = MergeMode.parse(mode, "merge mode")
        others = checked_sources(self, encoders, "encoders", "image encoder")
        rng = merge_rng(mode, self._rng)
        sources = [dict(e._weight_arrays()) for e in others]
        for name, target in self._weight_arrays():
            merge_array(target, [src[name] for src in sources], mode, rng)
        self._rebuild_stats()

    # ----------------------------------------------------------------------------------------- getters

    def get_hidden_cis(self) -> np.ndarray:
        """The hidden codes of the last `step`: x*y int32 column indices (a copy)."""
        return self._hidden_cis.copy()

    def get_reconstruction(self, i: int) -> np.ndarray:
        """Visible layer ``i``'s image from the last `reconstruct`, flat uint8 (a copy)."""
        self._check_visible(i)
        return self._recon[self._byte_offset[i] : self._byte_offset[i + 1]].copy()

    def get_hidden_size(self) -> tuple[int, int, int]:
        return self.hidden_size

    def get_num_visible_layers(self) -> int:
        return len(self.visible_layer_descs)

    def get_visible_size(self, i: int) -> tuple[int, int, int]:
        self._check_visible(i)
        return self.visible_layer_descs[i].size

    def get_receptive_field(self, i: int, pos: Sequence[int]) -> tuple[np.ndarray, tuple[int, int, int]]:
        """The encoding weights of hidden cell ``pos = (x, y, z)`` over its field on visible layer ``i``.

        Returns:
            ``(weights, size)`` as PyAOgmaNeo: a flat uint8 array (field pixels x-major, channels innermost; byte
            b reads as ``(2b - 255) / 255``) and the field's ``(width, height, channels)``, clipped at the edges.
        """
        self._check_visible(i)
        hx, hy, hz = self.hidden_size
        try:
            x, y, z = (int(v) for v in pos)
        except (TypeError, ValueError):
            raise ValueError(f"pos must be a hidden cell (x, y, z), got {pos!r}") from None
        if not (0 <= x < hx and 0 <= y < hy and 0 <= z < hz):
            raise ValueError(f"pos {pos!r} is outside the hidden size {self.hidden_size}")
        col = y + x * hy
        f0, f1 = int(self._col_fptr[col]), int(self._col_fptr[col + 1])
        px = self._fld_px[f0:f1]
        ks = np.flatnonzero((px >= self._byte_offset[i]) & (px < self._byte_offset[i + 1]))
        _, vy, ch = self.visible_layer_descs[i].size
        width = len(np.unique((px[ks] - self._byte_offset[i]) // ch // vy))
        weights = self._w[hz * f0 + z * (f1 - f0) + ks]
        return weights, (width, len(ks) // ch // width, ch)

    def _check_visible(self, i: int) -> None:
        n = len(self.visible_layer_descs)
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < n:
            raise ValueError(f"visible layer {i!r} does not exist: the image encoder has {n} (0..{n - 1})")

    # --------------------------------------------------------------------------------- serialisation

    def _shape_dict(self) -> dict[str, Any]:
        return {
            _DESCRIPTOR_KEY: {
                "hidden_size": list(self.hidden_size),
                "visible_layer_descs": [d.to_dict() for d in self.visible_layer_descs],
            }
        }

    def _state_arrays(self) -> list[tuple[str, np.ndarray]]:
        return [("rng", self._rng), ("hidden_cis", self._hidden_cis), ("reconstruction", self._recon)]

    def _weight_arrays(self) -> list[tuple[str, np.ndarray]]:
        return [("weights", self._w), ("recon_weights", self._rw), ("resources", self._resource)]

    def get_state_size(self) -> int:
        """Byte length of `serialize_state_to_buffer` output."""
        return ser.buffer_size(self._shape_json, self._state_specs)

    def get_weights_size(self) -> int:
        """Byte length of `serialize_weights_to_buffer` output."""
        return ser.buffer_size(self._shape_json, self._weight_specs)

    def get_size(self) -> int:
        """Byte length of `serialize_to_buffer` output."""
        return ser.buffer_size(self._full_descriptor(), _specs(self._full_arrays()))

    def serialize_state_to_buffer(self) -> np.ndarray:
        """RNG word, hidden codes and last reconstruction, as a uint8 array."""
        return ser.write_buffer(ser.KIND_STATE, self._shape_json, self._state_arrays())

    def serialize_weights_to_buffer(self) -> np.ndarray:
        """Encoding and reconstruction weights and resources, as a uint8 array."""
        return ser.write_buffer(ser.KIND_WEIGHTS, self._shape_json, self._weight_arrays())

    def serialize_to_buffer(self) -> np.ndarray:
        """The whole encoder (descriptors, params, seed, state, weights); `from_buffer` rebuilds it."""
        return ser.write_buffer(ser.KIND_FULL, self._full_descriptor(), self._full_arrays())

    def set_state_from_buffer(self, buffer: Any) -> None:
        """Restore `serialize_state_to_buffer` output of an encoder of the same shape.

        Raises:
            ValueError: another shape, format version or kind, a truncated / corrupt buffer, or bad values.
        """
        arrays = self._read(buffer, ser.KIND_STATE, self._state_specs)
        self._check_values("state", arrays)
        _assign(self._state_arrays(), arrays)

    def set_weights_from_buffer(self, buffer: Any) -> None:
        """Restore `serialize_weights_to_buffer` output of an encoder of the same shape.

        Raises:
            ValueError: another shape, format version or kind, a truncated / corrupt buffer, or bad values.
        """
        arrays = self._read(buffer, ser.KIND_WEIGHTS, self._weight_specs)
        self._check_values("weights", arrays)
        _assign(self._weight_arrays(), arrays)
        self._rebuild_stats()

    def _read(self, buffer: Any, kind: int, specs: list[ser.ArraySpec]) -> dict[str, np.ndarray]:
        name = ser.KIND_NAMES[kind]
        descriptor, arrays = ser.read_buffer(buffer, kind)
        if descriptor != self._shape_json:
            got = _parse_descriptor(name, descriptor)
            raise ValueError(
                f"{name} buffer is for an image encoder of another shape: "
                f"{ser.describe_mismatch(got, self._shape_dict()[_DESCRIPTOR_KEY])}"
            )
        ser.check_arrays(name, arrays, specs)
        return arrays

    def _check_values(self, kind_name: str, arrays: dict[str, np.ndarray]) -> None:
        """Ranges the kernels rely on: codes index cells, resources are finite rates in [0, 1]."""
        bad = None
        if "hidden_cis" in arrays:
            a = arrays["hidden_cis"]
            if not ((a >= 0) & (a < self.hidden_size[2])).all():
                bad = "hidden_cis"
        if "resources" in arrays:
            a = arrays["resources"]
            if not (np.isfinite(a) & (a >= 0) & (a <= 1)).all():
                bad = "resources"
        if bad is not None:
            raise ValueError(f"{kind_name} buffer array {bad!r} holds out-of-range values")

    def _full_descriptor(self) -> bytes:
        d = self._shape_dict()
        d[_DESCRIPTOR_KEY]["params"] = self._params.to_dict()
        d[_DESCRIPTOR_KEY]["seed"] = self.seed
        return ser.canonical_json(d)

    def _full_arrays(self) -> list[tuple[str, np.ndarray]]:
        return [("state/" + n, a) for n, a in self._state_arrays()] + [
            ("weights/" + n, a) for n, a in self._weight_arrays()
        ]

    def _load_full(self, buffer: Any) -> None:
        descriptor, arrays = ser.read_buffer(buffer, ser.KIND_FULL)
        d = _parse_descriptor("full", descriptor)
        try:
            descs = [ImageVisibleLayerDesc.from_dict(x) for x in d["visible_layer_descs"]]
            params = ImageEncoderParams(**d["params"])
            hidden_size, seed = d["hidden_size"], d["seed"]
            if set(d) != {"hidden_size", "visible_layer_descs", "params", "seed"}:
                raise ValueError(f"unexpected keys {sorted(d)}")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"full buffer has an invalid descriptor: {exc}") from None
        limit = MAX_BUILD_FACTOR * len(ser._as_bytes(buffer)) + MAX_BUILD_SLACK
        self._build(hidden_size, descs, seed, max_bytes=limit, init_weights=False)
        self._params = params
        state = {n[6:]: a for n, a in arrays.items() if n.startswith("state/")}
        weights = {n[8:]: a for n, a in arrays.items() if n.startswith("weights/")}
        if len(state) + len(weights) != len(arrays):
            raise ValueError("full buffer has arrays outside state/ and weights/")
        ser.check_arrays("full (state part)", state, self._state_specs)
        ser.check_arrays("full (weights part)", weights, self._weight_specs)
        self._check_values("full (state part)", state)
        self._check_values("full (weights part)", weights)
        _assign(self._state_arrays(), state)
        _assign(self._weight_arrays(), weights)
        self._rebuild_stats()

    def __repr__(self) -> str:
        return (
            f"ImageEncoder(hidden_size={self.hidden_size}, "
            f"visible_sizes={[d.size for d in self.visible_layer_descs]}, seed={self.seed})"
        )


def _specs(arrays: list[tuple[str, np.ndarray]]) -> list[ser.ArraySpec]:
    return [(name, a.dtype, a.shape) for name, a in arrays]


def _assign(targets: list[tuple[str, np.ndarray]], arrays: dict[str, np.ndarray]) -> None:
    for name, target in targets:
        target[...] = arrays[name]


def _parse_descriptor(kind_name: str, descriptor: bytes) -> dict[str, Any]:
    """The image encoder part of a buffer's descriptor; a hierarchy's buffer is named as such."""
    try:
        d = json.loads(descriptor)
    except ValueError:
        raise ValueError(f"{kind_name} buffer has an unreadable descriptor") from None
    if not isinstance(d, dict) or _DESCRIPTOR_KEY not in d:
        what = "a Hierarchy's" if isinstance(d, dict) and "io_descs" in d else "not an image encoder's"
        raise ValueError(f"{kind_name} buffer is {what} buffer, not an ImageEncoder's")
    inner = d[_DESCRIPTOR_KEY]
    if not isinstance(inner, dict) or len(d) != 1:
        raise ValueError(f"{kind_name} buffer has an invalid image encoder descriptor")
    return inner
