"""Receptive fields as flat connection tables (built once, in numpy).

A *visible layer* is one CSDR a component reads (an IO port, the layer below, its own previous state,
feedback). For every output ("hidden") column the clipped square field onto each visible layer is listed as
*entries*: ``(visible column, visible layer, weight base)``. Only positions inside the visible grid get
entries, so no weight is ever allocated for an off-grid position (PyAOgmaNeo allocates the full (2r+1)²
square). An entry owns ``Vz * block`` consecutive weights: for visible cell ``v`` the block
``[base + v*block, base + (v+1)*block)`` holds the weights of every hidden cell (and dendrite) of the
hidden column, hidden cell and dendrite innermost, so a forward pass reads one contiguous block per entry.

Column addressing (docs/algorithm.md, "CSDRs and receptive fields"): ``col = y + x*Y`` (x major), ``cell = z + Z*col``.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np


def field_center(x: int, hidden_dim: int, visible_dim: int) -> int:
    """Centre of hidden coordinate ``x`` projected onto a visible axis: floor((x + 0.5) * V / H), exact."""
    return ((2 * x + 1) * visible_dim) // (2 * hidden_dim)


@dataclasses.dataclass(frozen=True)
class VisibleSpec:
    """One visible layer of a component: its CSDR size and receptive-field radius."""

    size: tuple[int, int, int]
    radius: int


@dataclasses.dataclass(frozen=True)
class Connections:
    """Connection tables of one component (encoder, decoder or actor).

    Attributes:
        col_ptr: int64[Hcols + 1]; entries of hidden column c are ``col_ptr[c]:col_ptr[c+1]``.
        ent_vcol: int64[E]; index of the entry's visible column in the component's concatenated input.
        ent_vl: int64[E]; the entry's visible layer.
        ent_wbase: int64[E]; first weight of the entry.
        vl_z: int64[num_vl]; cells per column of each visible layer.
        vl_offset: int64[num_vl + 1]; start of each visible layer in the concatenated input.
        num_weights: total weights (a multiple of nothing in particular; sum over entries of Vz*block).
    """

    col_ptr: np.ndarray
    ent_vcol: np.ndarray
    ent_vl: np.ndarray
    ent_wbase: np.ndarray
    vl_z: np.ndarray
    vl_offset: np.ndarray
    num_weights: int

    def input_z(self) -> np.ndarray:
        """int64[len of the concatenated input]: cells per column of every input column (its valid range)."""
        return np.repeat(self.vl_z, np.diff(self.vl_offset))


def count_connections(hidden_size: tuple[int, int, int], visibles: list[VisibleSpec], block: int) -> tuple[int, int]:
    """``(entries, num_weights)`` that `build_connections` would create, without building anything.

    A field is the product of two clipped 1-D ranges, so the totals separate per axis: O(X + Y) numpy work per
    visible layer instead of one Python iteration per entry. Used to bound what a buffer may make us allocate.
    """
    hx, hy, _ = hidden_size
    entries = weights = 0
    for v in visibles:
        vx, vy, vz = v.size
        n = _axis_total(hx, vx, v.radius) * _axis_total(hy, vy, v.radius)
        entries += n
        weights += n * vz * block
    return entries, weights


@functools.lru_cache(maxsize=1024)  # loading checks the same few shapes again and again
def _axis_total(hidden_dim: int, visible_dim: int, radius: int) -> int:
    x = np.arange(hidden_dim, dtype=object if hidden_dim * visible_dim >= 2**62 else np.int64)
    centre = ((2 * x + 1) * visible_dim) // (2 * hidden_dim)
    return int((np.minimum(visible_dim - 1, centre + radius) - np.maximum(0, centre - radius) + 1).sum())


def build_connections(hidden_size: tuple[int, int, int], visibles: list[VisibleSpec], block: int) -> Connections:
    """List, for every hidden column, the in-grid visible columns of its fields on every visible layer.

    Tables depend on the shapes only, so they are built once per process and shared (loading a hierarchy
    does not rebuild them): the arrays are read-only by convention, no kernel writes them.

    Args:
        hidden_size: (X, Y, Z) of the output grid (Z is not used here; ``block`` says how many weights one
            visible cell feeds per hidden column).
        visibles: the visible layers, in input-concatenation order.
        block: weights per (entry, visible cell), e.g. ``Hz`` for an encoder or ``Oz * D`` for a decoder.
    """
    return _build_connections(tuple(hidden_size[:2]), tuple(visibles), int(block))


@functools.lru_cache(maxsize=64)
def _build_connections(hidden_size: tuple[int, int], visibles: tuple[VisibleSpec, ...], block: int) -> Connections:
    hx, hy = hidden_size
    col_ptr = [0]
    vcols: list[int] = []
    vls: list[int] = []
    bases: list[int] = []
    offsets = [0]
    for v in visibles:
        offsets.append(offsets[-1] + v.size[0] * v.size[1])
    wbase = 0
    for x in range(hx):
        for y in range(hy):
            for li, v in enumerate(visibles):
                vx, vy, vz = v.size
                cx, cy = field_center(x, hx, vx), field_center(y, hy, vy)
                for fx in range(max(0, cx - v.radius), min(vx - 1, cx + v.radius) + 1):
                    for fy in range(max(0, cy - v.radius), min(vy - 1, cy + v.radius) + 1):
                        vcols.append(offsets[li] + fy + fx * vy)
                        vls.append(li)
                        bases.append(wbase)
                        wbase += vz * block
            col_ptr.append(len(vcols))
    i64 = np.int64
    return Connections(
        col_ptr=np.asarray(col_ptr, i64),
        ent_vcol=np.asarray(vcols, i64),
        ent_vl=np.asarray(vls, i64),
        ent_wbase=np.asarray(bases, i64),
        vl_z=np.asarray([v.size[2] for v in visibles], i64),
        vl_offset=np.asarray(offsets, i64),
        num_weights=wbase,
    )
