"""Image observations: a Box of 2 or 3 dimensions in, a small flat uint8 image out (for an image encoder).

Per-element codecs (:mod:`envs.observation_codecs`) give every scalar its own column, which no hierarchy can
use for thousands of pixels. An *image* observation is instead downscaled here and handed, as bytes, to an
image encoder (``hierarchy.ImageEncoder``, wired up by the agent) whose hidden codes feed the hierarchy.

What counts as an image (:func:`is_image_space`): a ``Box`` of shape ``(H, W)`` or ``(H, W, C)`` whose dtype is
``uint8`` (pixels 0..255), or a float dtype with finite bounds inside [0, 1] (scaled by 255). Any other Box keeps
the per-element codec.

Downscaling (like PyAOgmaNeo's env runner's ``image_scale``): the output is ``round(H * s) x round(W * s)``
(at least 1) with ``s = min(scale, max_size / max(H, W))``; each output pixel is the mean of the input pixels
its area covers (integer box filter, rounded half up), so the result is exact and platform-independent.

Example:
    >>> import numpy as np
    >>> from gymnasium import spaces
    >>> codec = ImageObservationCodec(spaces.Box(0, 255, (4, 6), np.uint8), ImageObservationConfig(scale=0.5))
    >>> codec.image_size
    (2, 3, 1)
    >>> codec.encode(np.arange(24, dtype=np.uint8).reshape(4, 6)).tolist()
    [4, 6, 8, 16, 18, 20]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from envs.errors import NonFiniteObservationError

__all__ = ["ImageObservationCodec", "ImageObservationConfig", "is_image_space"]


def is_image_space(space: spaces.Space) -> bool:
    """True for a Box of shape (H, W) or (H, W, C) holding uint8 pixels or floats bounded inside [0, 1]."""
    if not isinstance(space, spaces.Box) or len(space.shape) not in (2, 3) or min(space.shape) < 1:
        return False
    if space.dtype == np.uint8:
        return True
    if not np.issubdtype(space.dtype, np.floating):
        return False
    low, high = np.asarray(space.low, np.float64), np.asarray(space.high, np.float64)
    return bool(np.isfinite(low).all() and np.isfinite(high).all() and low.min() >= 0.0 and high.max() <= 1.0)


@dataclass(frozen=True)
class ImageObservationConfig:
    """How an image observation is shrunk before encoding.

    Attributes:
        scale: Resize factor (PyAOgmaNeo's ``image_scale``), in (0, 1].
        max_size: Cap on the downscaled image's longer side (pixels), so big renders (e.g. 400x600) stay cheap.
    """

    scale: float = 1.0
    """Resize factor in (0, 1]."""
    max_size: int = 64
    """Longest side of the downscaled image, >= 1."""

    def __post_init__(self) -> None:
        scale = self.scale
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (0.0 < scale <= 1.0):
            raise ValueError(f"image scale must be a number in (0, 1], got {scale!r}; e.g. 0.5 halves each side")
        object.__setattr__(self, "scale", float(scale))
        size = self.max_size
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"image max_size must be an int >= 1, got {size!r}; e.g. 64")
        object.__setattr__(self, "max_size", int(size))


class ImageObservationCodec:
    """Image observation -> flat uint8 image of ``image_size`` (pixel-major, channels innermost).

    Args:
        space: An image space (see :func:`is_image_space`).
        config: Downscaling config.
        env_id: Env id for error messages.

    Attributes:
        image_size: ``(h, w, channels)`` of the encoded image.

    Raises:
        ValueError: If ``space`` is not an image space.
    """

    def __init__(
        self, space: spaces.Box, config: ImageObservationConfig | None = None, env_id: str | None = None
    ) -> None:
        if not is_image_space(space):
            raise ValueError(
                f"{space} is not an image space: expected a Box of shape (H, W) or (H, W, C) with dtype uint8, "
                "or float bounded inside [0, 1]"
            )
        config = ImageObservationConfig() if config is None else config
        self.space = space
        self.env_id = env_id
        self._shape = tuple(space.shape)
        self._float = space.dtype != np.uint8
        big, wide = self._shape[0], self._shape[1]
        s = min(config.scale, config.max_size / max(big, wide))
        h, w = max(1, round(big * s)), max(1, round(wide * s))
        channels = self._shape[2] if len(self._shape) == 3 else 1
        self.image_size = (h, w, channels)
        self._identity = (h, w) == (big, wide)
        self._rows = (np.arange(h) * big) // h
        self._cols = (np.arange(w) * wide) // w
        counts = np.diff(np.append(self._rows, big))[:, None] * np.diff(np.append(self._cols, wide))[None, :]
        self._counts = counts[:, :, None].astype(np.int64)

    def encode(self, obs: Any) -> np.ndarray:
        """Downscale one observation to a flat uint8 array of ``h * w * channels`` bytes.

        Raises:
            ValueError: If ``obs`` has the wrong shape or a non-numeric dtype.
            NonFiniteObservationError: If a float observation holds NaN or infinity.
        """
        a = np.asarray(obs)
        if a.shape != self._shape or a.dtype.kind not in "fiu":
            raise ValueError(
                f"image observation from {self._where()} has dtype {a.dtype} and shape {a.shape}, expected "
                f"numbers of shape {self._shape} for {self.space}"
            )
        if a.dtype != np.uint8:
            a = self._to_bytes(a)
        if a.ndim == 2:
            a = a[:, :, None]
        if self._identity:
            return a.reshape(-1).copy()
        sums = np.add.reduceat(np.add.reduceat(a, self._rows, axis=0, dtype=np.int64), self._cols, axis=1)
        return ((2 * sums + self._counts) // (2 * self._counts)).astype(np.uint8).reshape(-1)

    def _to_bytes(self, a: np.ndarray) -> np.ndarray:
        v = a.astype(np.float64)
        if not np.isfinite(v).all():
            index = tuple(int(i) for i in np.argwhere(~np.isfinite(v))[0])
            raise NonFiniteObservationError(
                f"image observation{list(index)} from {self._where()} is {v[index]}: NaN/inf is not a pixel. "
                "Check the env (or wrap it to replace non-finite values)."
            )
        if self._float:  # [0, 1] -> bytes; values outside the bounds are clipped
            v = v * 255.0
        return np.floor(np.clip(v, 0.0, 255.0) + 0.5).astype(np.uint8)

    def _where(self) -> str:
        return f"env {self.env_id!r}" if self.env_id else "the env"

    def __repr__(self) -> str:
        return f"ImageObservationCodec(space={self.space}, image_size={self.image_size})"

