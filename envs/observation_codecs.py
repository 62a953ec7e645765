"""Observation codecs (encoders): Gymnasium observations in, column indices (a CSDR) out.

An encoder turns one observation into an ``int32`` array with one entry per column of its port, each entry in
``[0, z)`` where the port size is ``(x, y, z)``. Every scalar of the observation gets its own column:

* ``Box``: each element is binned into ``resolution`` cells. Where the range is known (explicit
  ``low``/``high`` in the config, or finite space bounds) the range is split into equal bins and values
  outside are clipped to the first/last bin. Where it is not, the value is squashed with a sigmoid,
  ``u = sigmoid(squash_scale * v)``, and ``u`` in (0, 1) is split into equal bins: values of magnitude
  about ``1 / squash_scale`` fill the middle bins.
* ``Discrete(n, start)``: one column, cell ``obs - start``.
* ``MultiDiscrete(nvec, start)``: one column per element, cell ``obs[i] - start[i]``.
* ``MultiBinary``: one column per bit, cell 0 or 1.
* ``Dict`` / ``Tuple`` of the above: the children's columns one after the other (``Dict`` in the space's key
  order), in a single port whose ``z`` is the largest any child needs.

Columns are laid out on a near-square grid (see :mod:`envs.port_layout`); padding columns always hold 0. NaN
or infinity in an observation raises :class:`~envs.errors.NonFiniteObservationError` naming the env and the
dimension: it never becomes a silent bad index.

Example:
    >>> import numpy as np
    >>> from gymnasium import spaces
    >>> enc = make_observation_encoder(spaces.Box(-1.0, 1.0, (3,)), ObservationEncoderConfig(resolution=4))
    >>> enc.port_size
    (2, 2, 4)
    >>> enc.encode(np.array([-1.0, 0.1, 1.0], dtype=np.float32))
    array([0, 2, 3, 0], dtype=int32)
"""

from __future__ import annotations

import functools
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from envs.errors import NonFiniteObservationError, UnsupportedSpaceError
from envs.port_layout import grid_shape

__all__ = [
    "UNBOUNDED_MAGNITUDE",
    "BoxEncoder",
    "CompositeEncoder",
    "DiscreteEncoder",
    "MultiBinaryEncoder",
    "MultiDiscreteEncoder",
    "ObservationEncoder",
    "ObservationEncoderConfig",
    "make_observation_encoder",
]

UNBOUNDED_MAGNITUDE = 1e30
"""A Box bound this large or larger counts as unbounded (some envs write float32-max instead of inf)."""

_SUPPORTED = "Box, Discrete, MultiDiscrete, MultiBinary, and Dict/Tuple of those"
# Boxes up to this many elements are binned in a plain-Python loop (numpy's per-call overhead dominates).
_LOOP_MAX_ELEMENTS = 32


def _float_tuple(name: str, values: Sequence[float]) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a sequence of numbers, got {values!r}; pass e.g. {name}=(-2.4, -0.21)"
        ) from None


@dataclass(frozen=True)
class ObservationEncoderConfig:
    """How observations are turned into column indices. Plain data, so it round-trips through TOML/JSON.

    Per-dimension fields index the *Box elements* of the observation in flattening order (``Dict`` keys in the
    space's order, ``Tuple`` in order, each Box in C order); Discrete/MultiDiscrete/MultiBinary parts have no
    entries there. An empty tuple means "not given".

    Attributes:
        resolution: Cells per Box element (the port's ``z`` for an all-Box observation). 16 is what the
            CartPole examples of the SPH anchor use.
        squash_scale: Sigmoid input scale for Box elements without a known range: values of magnitude about
            ``1 / squash_scale`` land in the middle bins.
        low: Explicit lower bounds, one per Box element. A pair ``low[i], high[i]`` that is finite replaces
            the space bounds of element ``i`` (values outside are clipped); ``-inf``/``inf`` makes that
            element squashed. Given together with ``high``.
        high: Explicit upper bounds, one per Box element (see ``low``).
        squash_scales: Per-element squash scales overriding ``squash_scale``, one per Box element.

    Example:
        CartPole-v1 with the cart position and pole angle binned over their termination ranges and the two
        velocities squashed::

            ObservationEncoderConfig(low=(-2.4, -math.inf, -0.21, -math.inf),
                                     high=(2.4, math.inf, 0.21, math.inf),
                                     squash_scales=(1.0, 1.0, 1.0, 0.5))
    """

    resolution: int = 16
    """Cells per Box element; >= 2."""
    squash_scale: float = 1.0
    """Sigmoid input scale for elements without a known range; > 0 and finite."""
    low: tuple[float, ...] = ()
    """Per Box element lower bounds (finite: bin over [low, high]; -inf: squash); () = use the space."""
    high: tuple[float, ...] = ()
    """Per Box element upper bounds, same length as ``low``."""
    squash_scales: tuple[float, ...] = ()
    """Per Box element squash scales overriding ``squash_scale``; () = use ``squash_scale`` everywhere."""

    def __post_init__(self) -> None:
        if isinstance(self.resolution, bool) or not isinstance(self.resolution, (int, np.integer)):
            raise ValueError(
                f"resolution must be an int, got {self.resolution!r}; use a whole number of cells, e.g. 16"
            )
        if self.resolution < 2:
            raise ValueError(
                f"resolution must be >= 2, got {self.resolution}; "
                "one cell cannot tell values apart, use e.g. 16"
            )
        object.__setattr__(self, "resolution", int(self.resolution))
        scale = float(self.squash_scale)
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"squash_scale must be finite and > 0, got {self.squash_scale!r}; use e.g. 1.0")
        object.__setattr__(self, "squash_scale", scale)
        low = _float_tuple("low", self.low)
        high = _float_tuple("high", self.high)
        scales = _float_tuple("squash_scales", self.squash_scales)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        object.__setattr__(self, "squash_scales", scales)
        if len(low) != len(high):
            raise ValueError(
                f"low and high must have the same length, got {len(low)} and {len(high)}; "
                "give one (low, high) pair per Box element"
            )
        for i, (lo, hi) in enumerate(zip(low, high, strict=True)):
            if math.isnan(lo) or math.isnan(hi):
                raise ValueError(
                    f"low[{i}]/high[{i}] is NaN ({lo}, {hi}); "
                    f"use finite bounds, or -inf/inf to squash element {i}"
                )
            if math.isfinite(lo) and math.isfinite(hi) and not lo < hi:
                raise ValueError(f"low[{i}] must be < high[{i}], got {lo} and {hi}; swap or widen the range")
            if lo == math.inf or hi == -math.inf:
                raise ValueError(
                    f"low[{i}]={lo}, high[{i}]={hi} is an empty range; "
                    f"use low=-inf, high=inf to squash element {i}"
                )
        for i, s in enumerate(scales):
            if not (math.isfinite(s) and s > 0):
                raise ValueError(f"squash_scales[{i}] must be finite and > 0, got {s}; use e.g. 1.0")


class ObservationEncoder(ABC):
    """Base class: one observation -> one CSDR of ``port_size``.

    Attributes:
        space: The observation space this encoder was built for.
        num_dims: Number of meaningful columns (one per scalar of the observation).
        cells_per_dim: How many cells each meaningful column can use (``<= z``).
        port_size: ``(x, y, z)`` of the port; ``x * y >= num_dims``, padding columns hold 0.
        env_id: Env id used in error messages, or None.
    """

    space: spaces.Space
    num_dims: int
    cells_per_dim: tuple[int, ...]
    env_id: str | None

    @functools.cached_property
    def port_size(self) -> tuple[int, int, int]:
        """The port size ``(x, y, z)``."""
        x, y = grid_shape(self.num_dims)
        return x, y, max(self.cells_per_dim)

    @property
    def column_sizes(self) -> list[tuple[int, int, int]]:
        """Port sizes, one per port: always ``[port_size]`` (every encoder feeds a single port)."""
        return [self.port_size]

    @functools.cached_property
    def num_columns(self) -> int:
        """Columns in the port, padding included (``x * y``)."""
        x, y, _ = self.port_size
        return x * y

    def encode(self, obs: Any) -> np.ndarray:
        """Encode one observation.

        Args:
            obs: An element of ``space``.

        Returns:
            ``int32`` array of length ``x * y``; entry ``i < num_dims`` is in ``[0, cells_per_dim[i])``,
            padding entries are 0.

        Raises:
            NonFiniteObservationError: If a Box element is NaN or infinite.
            ValueError: If ``obs`` has the wrong shape, type, or is outside a discrete space.
        """
        out = np.zeros(self.num_columns, dtype=np.int32)
        self._encode_into(obs, out, "obs")
        return out

    def decode(self, cis: Any) -> Any:
        """Return a representative observation for column indices (bin centres for Box elements).

        ``encode(decode(cis))`` equals ``cis`` for any valid ``cis`` with zero padding.

        Args:
            cis: Integer array of length ``x * y``.

        Returns:
            An element of ``space`` (Box values cast to the space dtype).

        Raises:
            ValueError: If ``cis`` has the wrong length or an index is out of range for its column.
        """
        arr = np.asarray(cis)
        if arr.shape != (self.num_columns,) or arr.dtype.kind not in "iu":
            raise ValueError(
                f"cis must be an integer array of shape ({self.num_columns},), got {arr.dtype} {arr.shape}"
            )
        used = arr[: self.num_dims]
        limits = np.asarray(self.cells_per_dim)
        bad = np.flatnonzero((used < 0) | (used >= limits))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"cis[{i}]={int(used[i])} is outside [0, {int(limits[i])}) for that column")
        return self._decode_from(used.astype(np.int64))

    @abstractmethod
    def _encode_into(self, obs: Any, out: np.ndarray, path: str) -> None:
        """Write this part's ``num_dims`` indices into ``out[:num_dims]``; ``path`` names obs in errors."""

    @abstractmethod
    def _decode_from(self, cis: np.ndarray) -> Any:
        """Inverse of ``_encode_into`` on validated indices of length ``num_dims``."""

    def _where(self) -> str:
        return f"env {self.env_id!r}" if self.env_id else "the env"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(space={self.space}, port_size={self.port_size})"


class BoxEncoder(ObservationEncoder):
    """Bins every element of a ``Box`` into ``resolution`` cells (clipped range or sigmoid squash).

    Args:
        space: The Box space.
        config: Encoder config; ``low``/``high``/``squash_scales`` slices for this Box's elements.
        env_id: Env id for error messages.
        first_element: Index of this Box's first element among all Box elements of the observation (for the
            per-element config fields).

    Example:
        >>> import math
        >>> from gymnasium import spaces
        >>> enc = BoxEncoder(spaces.Box(-math.inf, math.inf, (1,)), ObservationEncoderConfig(resolution=8))
        >>> [int(enc.encode([v])[0]) for v in (-100.0, -1.0, 0.0, 1.0, 100.0)]
        [0, 2, 4, 5, 7]
    """

    def __init__(
        self,
        space: spaces.Box,
        config: ObservationEncoderConfig,
        env_id: str | None = None,
        first_element: int = 0,
    ) -> None:
        self.space = space
        self.env_id = env_id
        self.resolution = config.resolution
        self._shape = tuple(space.shape)
        n = int(np.prod(self._shape, dtype=np.int64))
        if n < 1:
            raise UnsupportedSpaceError(f"{space} has no elements; an encoder needs at least one")
        self.num_dims = n
        self.cells_per_dim = (config.resolution,) * n
        sl = slice(first_element, first_element + n)
        space_low = np.asarray(space.low, dtype=np.float64).reshape(-1)
        space_high = np.asarray(space.high, dtype=np.float64).reshape(-1)
        if config.low:
            low = np.asarray(config.low[sl], dtype=np.float64)
            high = np.asarray(config.high[sl], dtype=np.float64)
        else:
            low, high = space_low, space_high
        ranged = (
            np.isfinite(low)
            & np.isfinite(high)
            & (np.abs(low) < UNBOUNDED_MAGNITUDE)
            & (np.abs(high) < UNBOUNDED_MAGNITUDE)
        )
        if config.squash_scales:
            scale = np.asarray(config.squash_scales[sl], dtype=np.float64)
        else:
            scale = np.full(n, config.squash_scale)
        self.ranged = ranged
        """Per element: True = binned over [low, high], False = squashed."""
        # Squashed elements get a dummy [0, 1] range so the vectorised clip is a no-op for them.
        self.low = np.where(ranged, low, 0.0)
        self.high = np.where(ranged, high, 1.0)
        self.scale = np.where(ranged, 1.0, scale)
        self.centre = np.zeros(n)
        """Per squashed element: the value that lands in the middle (0 until :meth:`recentre`)."""
        self._span = self.high - self.low
        self._all_ranged = bool(ranged.all())
        self._any_ranged = bool(ranged.any())
        self._use_loop = n <= _LOOP_MAX_ELEMENTS
        self._padding = [0] * (self.num_columns - n)
        self._refresh_columns()

    def recentre(self, centre: np.ndarray, scale: np.ndarray) -> None:
        """Squash element ``i`` as ``sigmoid(scale[i] * (v - centre[i]))`` from now on (ranged elements ignore it).

        Lets a caller place the sigmoid where the values actually are, e.g. from running statistics
        (``centre`` = mean, ``scale`` = squash scale / standard deviation).

        Args:
            centre: One finite value per element.
            scale: One finite value > 0 per element.
        """
        self.centre = np.where(self.ranged, 0.0, np.asarray(centre, dtype=np.float64))
        self.scale = np.where(self.ranged, 1.0, np.asarray(scale, dtype=np.float64))
        self._refresh_columns()

    def rerange(self, low: np.ndarray, high: np.ndarray) -> None:
        """Bin ranged element ``i`` over ``[low[i], high[i]]`` from now on (squashed elements ignore it).

        Lets a caller bin over the range the values actually cover (the hierarchy agent's calibration).

        Args:
            low: One finite value per element.
            high: One finite value per element, above ``low`` where the element is ranged.
        """
        self.low = np.where(self.ranged, np.asarray(low, dtype=np.float64), 0.0)
        self.high = np.where(self.ranged, np.asarray(high, dtype=np.float64), 1.0)
        self._span = self.high - self.low
        self._refresh_columns()

    def _refresh_columns(self) -> None:
        self._half_scale = 0.5 * self.scale
        # Per-element parameters as Python lists, for the loop.
        self._columns = (
            self.ranged.tolist(),
            self.low.tolist(),
            self.high.tolist(),
            self._span.tolist(),
            self._half_scale.tolist(),
            self.centre.tolist(),
        )

    def encode(self, obs: Any) -> np.ndarray:
        # Fast path for the common case (a small Box, the env's own array): one list, one array build.
        if self._use_loop and self._is_plain_array(obs):
            cis = self._bin_loop(obs.ravel().tolist(), "obs")
            return np.array(cis + self._padding, dtype=np.int32)
        return super().encode(obs)

    def _is_plain_array(self, obs: Any) -> bool:
        return type(obs) is np.ndarray and obs.shape == self._shape and obs.dtype.kind in "fiu"

    def _encode_into(self, obs: Any, out: np.ndarray, path: str) -> None:
        if self._is_plain_array(obs):
            v = obs
        else:
            v = np.asarray(obs, dtype=np.float64)
            if v.shape != self._shape:
                raise ValueError(
                    f"{path} from {self._where()} has shape {v.shape}, "
                    f"expected {self._shape} for {self.space}"
                )
        if self._use_loop:
            out[: self.num_dims] = self._bin_loop(v.ravel().tolist(), path)
        else:
            out[: self.num_dims] = self._bin_vectorised(v.astype(np.float64).reshape(-1), path)

    def _bin_loop(self, values: list[float], path: str) -> list[int]:
        """Plain-Python binning: for a handful of elements it is several times faster than numpy calls."""
        # One sum tells whether every element is finite (a finite sum can't hide a NaN or inf; an overflowing
        # sum of finite values is caught by the per-element scan finding nothing).
        if not math.isfinite(sum(values)):
            for i, x in enumerate(values):
                if not math.isfinite(x):
                    self._raise_non_finite(path, i, x)
        resolution = self.resolution
        top = resolution - 1
        tanh = math.tanh
        cis = []
        for x, ranged, lo, hi, span, half_scale, centre in zip(values, *self._columns, strict=True):
            if ranged:
                u = ((hi if x > hi else x if x > lo else lo) - lo) / span  # clip to [lo, hi]
            else:
                u = 0.5 + 0.5 * tanh(half_scale * (x - centre))
            k = int(u * resolution)
            cis.append(k if k < top else top)
        return cis

    def _bin_vectorised(self, v: np.ndarray, path: str) -> np.ndarray:
        """Same arithmetic as :meth:`_bin_loop`, for many elements."""
        if not np.isfinite(v).all():
            i = int(np.flatnonzero(~np.isfinite(v))[0])
            self._raise_non_finite(path, i, float(v[i]))
        if self._all_ranged:
            u = (np.clip(v, self.low, self.high) - self.low) / self._span
        else:
            # sigmoid(s * v) written with tanh, which cannot overflow for large |v|.
            u = 0.5 + 0.5 * np.tanh(self._half_scale * (v - self.centre))
            if self._any_ranged:
                u = np.where(self.ranged, (np.clip(v, self.low, self.high) - self.low) / self._span, u)
        return np.minimum((u * self.resolution).astype(np.int32), self.resolution - 1)

    def _raise_non_finite(self, path: str, i: int, value: float) -> None:
        raise NonFiniteObservationError(
            f"{path}{self._element_name(i)} from {self._where()} is {value}: NaN/inf has no column index. "
            "Check the env (or wrap it to replace non-finite values) before encoding."
        )

    def _decode_from(self, cis: np.ndarray) -> np.ndarray:
        u = (cis + 0.5) / self.resolution
        ranged_value = self.low + u * self._span
        squashed_value = self.centre + np.log(u / (1.0 - u)) / self.scale
        value = np.where(self.ranged, ranged_value, squashed_value)
        return value.astype(self.space.dtype).reshape(self._shape)

    def _element_name(self, i: int) -> str:
        if len(self._shape) <= 1:
            return f"[{i}]"
        return "[" + ", ".join(str(int(j)) for j in np.unravel_index(i, self._shape)) + "]"


def _integer_array(
    obs: Any, shape: tuple[int, ...], path: str, where: str, space: spaces.Space
) -> np.ndarray:
    a = np.asarray(obs)
    if a.shape != shape or a.dtype.kind not in "biu":
        raise ValueError(
            f"{path} from {where} must be an integer array of shape {shape} for {space}, "
            f"got {a.dtype} {a.shape}"
        )
    return a.astype(np.int64).reshape(-1)


class DiscreteEncoder(ObservationEncoder):
    """One column for a ``Discrete(n, start)`` observation: cell ``obs - start`` of ``n``.

    Example:
        >>> from gymnasium import spaces
        >>> enc = DiscreteEncoder(spaces.Discrete(3, start=-1))
        >>> enc.port_size, enc.encode(1).tolist()
        ((1, 1, 3), [2])
    """

    def __init__(self, space: spaces.Discrete, env_id: str | None = None) -> None:
        self.space = space
        self.env_id = env_id
        self.n = int(space.n)
        self.start = int(space.start)
        self.num_dims = 1
        self.cells_per_dim = (self.n,)

    def _encode_into(self, obs: Any, out: np.ndarray, path: str) -> None:
        if type(obs) is int or isinstance(obs, np.integer):
            value = int(obs) - self.start
            if 0 <= value < self.n:
                out[0] = value
                return
        a = np.asarray(obs)
        if a.shape != () or a.dtype.kind not in "iu":
            raise ValueError(
                f"{path} from {self._where()} must be an integer scalar for {self.space}, got {obs!r}"
            )
        value = int(a) - self.start
        if not 0 <= value < self.n:
            raise ValueError(
                f"{path}={int(a)} from {self._where()} is outside {self.space} "
                f"([{self.start}, {self.start + self.n}))"
            )
        out[0] = value

    def _decode_from(self, cis: np.ndarray) -> int:
        return self.start + int(cis[0])


class MultiDiscreteEncoder(ObservationEncoder):
    """One column per element of a ``MultiDiscrete``: cell ``obs[i] - start[i]`` of ``nvec[i]``."""

    def __init__(self, space: spaces.MultiDiscrete, env_id: str | None = None) -> None:
        self.space = space
        self.env_id = env_id
        self._shape = tuple(space.shape)
        self.nvec = np.asarray(space.nvec, dtype=np.int64).reshape(-1)
        self.start = np.asarray(space.start, dtype=np.int64).reshape(-1)
        if self.nvec.size < 1:
            raise UnsupportedSpaceError(f"{space} has no elements; an encoder needs at least one")
        self.num_dims = int(self.nvec.size)
        self.cells_per_dim = tuple(int(n) for n in self.nvec)

    def _encode_into(self, obs: Any, out: np.ndarray, path: str) -> None:
        value = _integer_array(obs, self._shape, path, self._where(), self.space) - self.start
        bad = np.flatnonzero((value < 0) | (value >= self.nvec))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"{path}[{i}]={int(value[i] + self.start[i])} from {self._where()} is outside "
                f"[{self.start[i]}, {self.start[i] + self.nvec[i]}) of {self.space}"
            )
        out[: self.num_dims] = value

    def _decode_from(self, cis: np.ndarray) -> np.ndarray:
        return (cis + self.start).astype(self.space.dtype).reshape(self._shape)


class MultiBinaryEncoder(ObservationEncoder):
    """One column of 2 cells per bit of a ``MultiBinary`` observation."""

    def __init__(self, space: spaces.MultiBinary, env_id: str | None = None) -> None:
        self.space = space
        self.env_id = env_id
        self._shape = tuple(space.shape)
        n = int(np.prod(self._shape, dtype=np.int64))
        if n < 1:
            raise UnsupportedSpaceError(f"{space} has no elements; an encoder needs at least one")
        self.num_dims = n
        self.cells_per_dim = (2,) * n

    def _encode_into(self, obs: Any, out: np.ndarray, path: str) -> None:
        value = _integer_array(obs, self._shape, path, self._where(), self.space)
        bad = np.flatnonzero((value < 0) | (value > 1))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"{path}[{i}]={int(value[i])} from {self._where()} is not 0 or 1 ({self.space})")
        out[: self.num_dims] = value

    def _decode_from(self, cis: np.ndarray) -> np.ndarray:
        return cis.astype(self.space.dtype).reshape(self._shape)


class CompositeEncoder(ObservationEncoder):
    """A ``Dict`` or ``Tuple`` observation: the children's columns one after another, in one port.

    The port's ``z`` is the largest ``z`` any child needs; a child's column only uses its own cells.
    """

    def __init__(
        self,
        space: spaces.Dict | spaces.Tuple,
        children: Sequence[ObservationEncoder],
        env_id: str | None = None,
    ) -> None:
        self.space = space
        self.env_id = env_id
        self.children = tuple(children)
        if isinstance(space, spaces.Dict):
            self.keys: tuple[Any, ...] = tuple(space.spaces.keys())
        else:
            self.keys = tuple(range(len(space.spaces)))
        if not self.children:
            raise UnsupportedSpaceError(f"{space} has no sub-spaces; an encoder needs at least one")
        self.offsets = tuple(int(o) for o in np.cumsum([0] + [c.num_dims for c in self.children]))
        self.num_dims = self.offsets[-1]
        self.cells_per_dim = tuple(z for c in self.children for z in c.cells_per_dim)

    def _encode_into(self, obs: Any, out: np.ndarray, path: str) -> None:
        if isinstance(self.space, spaces.Dict):
            if not isinstance(obs, dict) or set(obs) != set(self.keys):
                got = sorted(map(str, obs)) if isinstance(obs, dict) else type(obs).__name__
                raise ValueError(
                    f"{path} from {self._where()} must be a dict with keys {list(self.keys)}, got {got}"
                )
        elif not isinstance(obs, (tuple, list)) or len(obs) != len(self.keys):
            raise ValueError(
                f"{path} from {self._where()} must be a tuple of {len(self.keys)} items for {self.space}"
            )
        for key, child, start in zip(self.keys, self.children, self.offsets[:-1], strict=True):
            child._encode_into(obs[key], out[start:], f"{path}[{key!r}]")

    def _decode_from(self, cis: np.ndarray) -> Any:
        parts = [
            child._decode_from(cis[start:stop])
            for child, start, stop in zip(self.children, self.offsets[:-1], self.offsets[1:], strict=True)
        ]
        if isinstance(self.space, spaces.Dict):
            return dict(zip(self.keys, parts, strict=True))
        return tuple(parts)


def _count_box_elements(space: spaces.Space) -> int:
    if isinstance(space, spaces.Box):
        return int(np.prod(space.shape, dtype=np.int64))
    if isinstance(space, (spaces.Dict, spaces.Tuple)):
        subs = space.spaces.values() if isinstance(space, spaces.Dict) else space.spaces
        return sum(_count_box_elements(s) for s in subs)
    return 0


def make_observation_encoder(
    space: spaces.Space, config: ObservationEncoderConfig | None = None, env_id: str | None = None
) -> ObservationEncoder:
    """Build the encoder for an observation space.

    Args:
        space: A Box, Discrete, MultiDiscrete or MultiBinary space, or a Dict/Tuple of those.
        config: Encoder config; defaults to ``ObservationEncoderConfig()``.
        env_id: Env id used in error messages (e.g. ``env.spec.id``).

    Returns:
        The encoder.

    Raises:
        UnsupportedSpaceError: For any other space, naming it and listing what is supported.
        ValueError: If the config's per-element fields do not have one entry per Box element.
    """
    config = ObservationEncoderConfig() if config is None else config
    n_box = _count_box_elements(space) if isinstance(space, (spaces.Box, spaces.Dict, spaces.Tuple)) else 0
    for name in ("low", "high", "squash_scales"):
        given = getattr(config, name)
        if given and len(given) != n_box:
            raise ValueError(
                f"ObservationEncoderConfig.{name} has {len(given)} entries but {space} has {n_box} Box "
                f"elements{f' (env {env_id!r})' if env_id else ''}; give exactly one per Box element"
            )
    box_counter = [0]

    def build(sub: spaces.Space, where: str) -> ObservationEncoder:
        if isinstance(sub, spaces.Box):
            if not np.issubdtype(sub.dtype, np.number) or np.issubdtype(sub.dtype, np.complexfloating):
                raise UnsupportedSpaceError(
                    f"{where} {sub} has dtype {sub.dtype}; Box encoders need real numbers"
                )
            enc = BoxEncoder(sub, config, env_id, first_element=box_counter[0])
            box_counter[0] += enc.num_dims
            return enc
        if isinstance(sub, spaces.Discrete):
            return DiscreteEncoder(sub, env_id)
        if isinstance(sub, spaces.MultiDiscrete):
            return MultiDiscreteEncoder(sub, env_id)
        if isinstance(sub, spaces.MultiBinary):
            return MultiBinaryEncoder(sub, env_id)
        if isinstance(sub, spaces.Dict):
            children = [build(s, f"{where}[{k!r}]") for k, s in sub.spaces.items()]
            return CompositeEncoder(sub, children, env_id)
        if isinstance(sub, spaces.Tuple):
            children = [build(s, f"{where}[{i}]") for i, s in enumerate(sub.spaces)]
            return CompositeEncoder(sub, children, env_id)
        env = f" of env {env_id!r}" if env_id else ""
        raise UnsupportedSpaceError(
            f"cannot encode {where} {sub}{env}: supported observation spaces are {_SUPPORTED}. "
            "Wrap the env (e.g. gymnasium.wrappers.FlattenObservation) to turn it into one of these."
        )

    return build(space, "observation space")
