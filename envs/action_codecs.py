"""Action codecs (decoders): column indices from the hierarchy's action port in, a valid env action out (and back).

* ``Discrete(n, start)``: one column of ``n`` cells; cell ``i`` is action ``start + i``.
* ``MultiDiscrete(nvec, start)``: one column per element, ``z = max(nvec)``; cell ``i`` of column ``d`` is
  ``start[d] + min(i, nvec[d] - 1)`` (cells beyond an element's range clip to its last value).
* ``MultiBinary``: one column of 2 cells per bit.
* ``Box`` (floating dtype): each element's range ``[low, high]`` is split into ``bins`` equal bins; cell ``i``
  is the centre of bin ``i``. ``encode`` bins an arbitrary action (values outside the range clip to the end
  bins), so ``decode(encode(a))`` is the centre of the bin holding ``a``.

``encode`` is the inverse of ``decode`` (for feeding the taken action back to the hierarchy, or a
demonstrator's action for mimicry): ``encode(decode(cis)) == cis`` for every valid ``cis``. Columns are laid
out on a near-square grid (see :mod:`envs.port_layout`); padding columns are ignored by ``decode`` and 0 in
``encode``.

Example:
    >>> import numpy as np
    >>> from gymnasium import spaces
    >>> dec = make_action_decoder(spaces.Box(-2.0, 2.0, (1,)), ActionDecoderConfig(bins=4))
    >>> dec.port_size, dec.decode(np.array([3])), dec.encode(np.array([-0.1], dtype=np.float32)).tolist()
    ((1, 1, 4), array([1.5], dtype=float32), [1])
"""

from __future__ import annotations

import functools
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from envs.errors import UnsupportedSpaceError
from envs.observation_codecs import UNBOUNDED_MAGNITUDE
from envs.port_layout import grid_shape

__all__ = [
    "ActionDecoder",
    "ActionDecoderConfig",
    "BoxActionDecoder",
    "DiscreteActionDecoder",
    "MultiBinaryActionDecoder",
    "MultiDiscreteActionDecoder",
    "make_action_decoder",
]

_SUPPORTED = "Discrete, MultiDiscrete, MultiBinary and Box (floating dtype, finite or configured bounds)"


@dataclass(frozen=True)
class ActionDecoderConfig:
    """How action columns map to env actions. Plain data, so it round-trips through TOML/JSON.

    Attributes:
        bins: Cells per Box action element; the centre of each of the ``bins`` equal bins is an action. Odd
            counts include the range's midpoint (0 for symmetric ranges such as Pendulum's torque).
        low: Per Box element lower bounds overriding the space's, () = use the space (required when the
            space is unbounded). Must lie within the space bounds so decoded actions stay valid.
        high: Per Box element upper bounds, same length as ``low``.
    """

    bins: int = 9
    """Cells per Box action element; >= 2."""
    low: tuple[float, ...] = ()
    """Per Box element lower bounds; () = the space's."""
    high: tuple[float, ...] = ()
    """Per Box element upper bounds; () = the space's."""

    def __post_init__(self) -> None:
        if isinstance(self.bins, bool) or not isinstance(self.bins, (int, np.integer)) or self.bins < 2:
            raise ValueError(f"bins must be an int >= 2, got {self.bins!r}; use e.g. 9")
        object.__setattr__(self, "bins", int(self.bins))
        try:
            low = tuple(float(v) for v in self.low)
            high = tuple(float(v) for v in self.high)
        except (TypeError, ValueError):
            raise ValueError(
                f"low/high must be sequences of numbers, got {self.low!r} and {self.high!r}; e.g. low=(-2.0,)"
            ) from None
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        if len(low) != len(high):
            raise ValueError(
                f"low and high must have the same length, got {len(low)} and {len(high)}; "
                "give one (low, high) pair per Box element"
            )
        for i, (lo, hi) in enumerate(zip(low, high, strict=True)):
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(
                    f"low[{i}]={lo}, high[{i}]={hi} must be finite with low < high; fix the range"
                )


class ActionDecoder(ABC):
    """Base class: action-port column indices <-> env actions.

    Attributes:
        space: The action space.
        num_dims: Meaningful columns (one per action element).
        cells_per_dim: Cells each meaningful column uses (``<= z``).
    """

    space: spaces.Space
    num_dims: int
    cells_per_dim: tuple[int, ...]

    @functools.cached_property
    def port_size(self) -> tuple[int, int, int]:
        """The action port size ``(x, y, z)``."""
        x, y = grid_shape(self.num_dims)
        return x, y, max(self.cells_per_dim)

    @functools.cached_property
    def num_columns(self) -> int:
        """Columns in the port, padding included (``x * y``)."""
        x, y, _ = self.port_size
        return x * y

    def decode(self, cis: Any) -> Any:
        """Turn action-port column indices into an env action.

        Args:
            cis: Integer array of length ``x * y``, each entry in ``[0, z)``.

        Returns:
            An action contained in ``space``.

        Raises:
            ValueError: If ``cis`` has the wrong length or dtype, or an index is outside ``[0, z)``.
        """
        arr = np.asarray(cis)
        if arr.shape != (self.num_columns,) or arr.dtype.kind not in "iu":
            raise ValueError(
                f"cis must be an integer array of shape ({self.num_columns},), got {arr.dtype} {arr.shape}"
            )
        z = self.port_size[2]
        used = arr[: self.num_dims].tolist()  # plain ints: cheaper than numpy for a few columns
        for i, c in enumerate(used):
            if not 0 <= c < z:
                raise ValueError(f"cis[{i}]={c} is outside the port's [0, {z})")
        return self._decode(used)

    def encode(self, action: Any) -> np.ndarray:
        """Turn an env action into action-port column indices (the inverse of :meth:`decode`).

        Args:
            action: An action of ``space`` (Box actions outside the range clip to the end bins).

        Returns:
            ``int32`` array of length ``x * y``; padding entries are 0.

        Raises:
            ValueError: If the action has the wrong shape or type, is outside a discrete space, or is NaN.
        """
        out = np.zeros(self.num_columns, dtype=np.int32)
        out[: self.num_dims] = self._encode(action)
        return out

    @abstractmethod
    def _decode(self, cis: list[int]) -> Any:
        """The action for validated column indices ``cis`` (length ``num_dims``)."""

    @abstractmethod
    def _encode(self, action: Any) -> Any:
        """Column indices (length ``num_dims``, array or list) for ``action``; raises on invalid actions."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(space={self.space}, port_size={self.port_size})"


class DiscreteActionDecoder(ActionDecoder):
    """``Discrete(n, start)``: one column of ``n`` cells; cell ``i`` is action ``start + i``.

    Example:
        >>> from gymnasium import spaces
        >>> dec = DiscreteActionDecoder(spaces.Discrete(2))
        >>> dec.port_size, dec.decode([1]), dec.encode(0).tolist()
        ((1, 1, 2), 1, [0])
    """

    def __init__(self, space: spaces.Discrete) -> None:
        self.space = space
        self.n = int(space.n)
        self.start = int(space.start)
        self.num_dims = 1
        self.cells_per_dim = (self.n,)

    def _decode(self, cis: list[int]) -> int:
        return self.start + cis[0]

    def _encode(self, action: Any) -> list[int]:
        if type(action) is int or isinstance(action, np.integer):
            i = int(action) - self.start
            if 0 <= i < self.n:
                return [i]
        a = np.asarray(action)
        if a.shape != () or a.dtype.kind not in "iu":
            raise ValueError(f"action must be an integer scalar for {self.space}, got {action!r}")
        i = int(a) - self.start
        if not 0 <= i < self.n:
            raise ValueError(
                f"action {int(a)} is outside {self.space} ([{self.start}, {self.start + self.n}))"
            )
        return [i]


class MultiDiscreteActionDecoder(ActionDecoder):
    """``MultiDiscrete``: one column per element; cells beyond ``nvec[d]`` clip to the last value."""

    def __init__(self, space: spaces.MultiDiscrete) -> None:
        self.space = space
        self._shape = tuple(space.shape)
        self.nvec = np.asarray(space.nvec, dtype=np.int64).reshape(-1)
        self.start = np.asarray(space.start, dtype=np.int64).reshape(-1)
        if self.nvec.size < 1:
            raise UnsupportedSpaceError(f"{space} has no elements; an action decoder needs at least one")
        self.num_dims = int(self.nvec.size)
        self.cells_per_dim = tuple(int(n) for n in self.nvec)

    def _decode(self, cis: list[int]) -> np.ndarray:
        return (np.minimum(cis, self.nvec - 1) + self.start).astype(self.space.dtype).reshape(self._shape)

    def _encode(self, action: Any) -> np.ndarray:
        a = np.asarray(action)
        if a.shape != self._shape or a.dtype.kind not in "iu":
            raise ValueError(
                f"action must be an integer array of shape {self._shape} for {self.space}, got {action!r}"
            )
        i = a.astype(np.int64).reshape(-1) - self.start
        bad = np.flatnonzero((i < 0) | (i >= self.nvec))
        if bad.size:
            d = int(bad[0])
            raise ValueError(f"action[{d}]={int(i[d] + self.start[d])} is outside {self.space}")
        return i


class MultiBinaryActionDecoder(ActionDecoder):
    """``MultiBinary``: one column of 2 cells per bit."""

    def __init__(self, space: spaces.MultiBinary) -> None:
        self.space = space
        self._shape = tuple(space.shape)
        n = int(np.prod(self._shape, dtype=np.int64))
        if n < 1:
            raise UnsupportedSpaceError(f"{space} has no elements; an action decoder needs at least one")
        self.num_dims = n
        self.cells_per_dim = (2,) * n

    def _decode(self, cis: list[int]) -> np.ndarray:
        return np.array(cis, dtype=self.space.dtype).reshape(self._shape)

    def _encode(self, action: Any) -> np.ndarray:
        a = np.asarray(action)
        if a.shape != self._shape or a.dtype.kind not in "biu":
            raise ValueError(
                f"action must be a 0/1 array of shape {self._shape} for {self.space}, got {action!r}"
            )
        i = a.astype(np.int64).reshape(-1)
        if ((i < 0) | (i > 1)).any():
            raise ValueError(f"action {action!r} has entries other than 0 and 1 ({self.space})")
        return i


class BoxActionDecoder(ActionDecoder):
    """``Box`` with a floating dtype: each element binned into ``bins`` equal bins, bin centre = action.

    Args:
        space: The Box action space.
        config: ``bins`` and optional per-element ``low``/``high`` (required for unbounded elements).
    """

    def __init__(self, space: spaces.Box, config: ActionDecoderConfig) -> None:
        if not np.issubdtype(space.dtype, np.floating):
            raise UnsupportedSpaceError(
                f"cannot decode actions for {space}: Box action spaces must have a floating dtype "
                f"(bin centres are fractional); supported action spaces are {_SUPPORTED}"
            )
        self.space = space
        self._shape = tuple(space.shape)
        n = int(np.prod(self._shape, dtype=np.int64))
        if n < 1:
            raise UnsupportedSpaceError(f"{space} has no elements; an action decoder needs at least one")
        self.num_dims = n
        self.bins = config.bins
        self.cells_per_dim = (config.bins,) * n
        space_low = np.asarray(space.low, dtype=np.float64).reshape(-1)
        space_high = np.asarray(space.high, dtype=np.float64).reshape(-1)
        if config.low:
            if len(config.low) != n:
                raise ValueError(
                    f"ActionDecoderConfig.low/high have {len(config.low)} entries but {space} has {n} "
                    "elements; give exactly one per element"
                )
            low = np.asarray(config.low, dtype=np.float64)
            high = np.asarray(config.high, dtype=np.float64)
            outside = np.flatnonzero((low < space_low) | (high > space_high))
            if outside.size:
                d = int(outside[0])
                raise ValueError(
                    f"ActionDecoderConfig range [{low[d]}, {high[d]}] for element {d} exceeds the space's "
                    f"[{space_low[d]}, {space_high[d]}]; decoded actions would be invalid, narrow it"
                )
        else:
            low, high = space_low, space_high
            unbounded = np.flatnonzero(
                ~(np.isfinite(low) & np.isfinite(high))
                | (np.abs(low) >= UNBOUNDED_MAGNITUDE)
                | (np.abs(high) >= UNBOUNDED_MAGNITUDE)
            )
            if unbounded.size:
                d = int(unbounded[0])
                raise UnsupportedSpaceError(
                    f"cannot bin element {d} of action space {space}: its range [{low[d]}, {high[d]}] "
                    "is unbounded; give one finite range per element: the hierarchy agent's action_low/action_high "
                    "(e.g. --agent.action_low [-1.0] --agent.action_high [1.0]), or ActionDecoderConfig(low=, high=)"
                )
        self.low = low
        self.high = high
        self._width = (high - low) / self.bins
        self.centres = low[:, None] + (np.arange(self.bins) + 0.5)[None, :] * self._width[:, None]
        """``centres[d, i]``: the action value of cell ``i`` of element ``d`` (float64)."""
        self._rows = np.arange(n)
        self._space_low = np.asarray(space.low, dtype=space.dtype).reshape(-1)
        self._space_high = np.asarray(space.high, dtype=space.dtype).reshape(-1)

    def _decode(self, cis: list[int]) -> np.ndarray:
        value = self.centres[self._rows, cis].astype(self.space.dtype)
        # Guard against the dtype cast rounding a centre past a bound (only possible for tiny ranges).
        return np.clip(value, self._space_low, self._space_high).reshape(self._shape)

    def _encode(self, action: Any) -> np.ndarray:
        a = np.asarray(action, dtype=np.float64)
        if a.shape != self._shape:
            raise ValueError(f"action must have shape {self._shape} for {self.space}, got {a.shape}")
        a = a.reshape(-1)
        if np.isnan(a).any():
            raise ValueError(f"action {action!r} contains NaN; it has no bin")
        u = (np.clip(a, self.low, self.high) - self.low) / (self.high - self.low)
        return np.minimum((u * self.bins).astype(np.int64), self.bins - 1)


def make_action_decoder(space: spaces.Space, config: ActionDecoderConfig | None = None) -> ActionDecoder:
    """Build the decoder for an action space.

    Args:
        space: A Discrete, MultiDiscrete, MultiBinary or (floating) Box action space.
        config: Decoder config; defaults to ``ActionDecoderConfig()``.

    Returns:
        The decoder.

    Raises:
        UnsupportedSpaceError: For any other space (naming it and listing what is supported), or a Box with an
            unbounded element and no configured range.
    """
    config = ActionDecoderConfig() if config is None else config
    if config.low and not isinstance(space, spaces.Box):
        raise ValueError(
            f"ActionDecoderConfig.low/high are given but the action space {space} is not a Box; "
            "leave them empty"
        )
    if isinstance(space, spaces.Discrete):
        return DiscreteActionDecoder(space)
    if isinstance(space, spaces.MultiDiscrete):
        return MultiDiscreteActionDecoder(space)
    if isinstance(space, spaces.MultiBinary):
        return MultiBinaryActionDecoder(space)
    if isinstance(space, spaces.Box):
        return BoxActionDecoder(space, config)
    raise UnsupportedSpaceError(
        f"cannot decode actions for {space}: supported action spaces are {_SUPPORTED}. "
        "Wrap the env in a gymnasium.ActionWrapper that maps one of these onto its actions."
    )
