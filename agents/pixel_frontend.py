"""Pixel observations for the hierarchy agent: downscale, encode with an `ImageEncoder`, feed a NONE port.

The per-element codecs give one column per pixel, which no hierarchy can use. For an image observation (a Box
of 2 or 3 dimensions, see `envs.is_image_space`) the agent instead puts a `PixelFrontend` where the codec would
be: each observation is downscaled (`envs.ImageObservationCodec`), stepped through an image encoder (learning
when the agent learns), and the encoder's hidden codes are the observation port's input. The encoder's
weights and state travel with the agent's (keys ``"image_encoder"``), so exact resume holds for pixel envs too.

`HierarchyAgent` uses this module through a handful of lines marked ``imgenc``; the helpers below accept
``None`` (no frontend: an ordinary observation space) so those lines need no branches.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any

import gymnasium as gym
import numpy as np

from agents.hierarchy_config import HierarchyAgentConfig
from agents.protocol import ArrayDict
from envs import ImageObservationCodec, ImageObservationConfig, is_image_space
from hierarchy import ImageEncoder, ImageVisibleLayerDesc

KEY = "image_encoder"
"""The key of the image encoder's buffer in the agent's weights and state."""


class PixelFrontend:
    """Image observation -> hidden codes of an image encoder (``port_size`` = its hidden size).

    Args:
        observation_space: An image space.
        config: The agent's config (``image_*`` fields).
        seed: Seeds the image encoder.
        learn_enabled: Returns whether the agent learns now (read at every `encode`).
    """

    def __init__(
        self,
        observation_space: gym.Space,
        config: HierarchyAgentConfig,
        seed: int,
        learn_enabled: Callable[[], bool],
    ) -> None:
        self.codec = ImageObservationCodec(
            observation_space, ImageObservationConfig(scale=config.image_scale, max_size=config.image_max_size)
        )
        radius = config.image_radius if config.image_radius >= 0 else covering_radius(
            self.codec.image_size, config.image_hidden_size
        )
        self.encoder = ImageEncoder(
            config.image_hidden_size, [ImageVisibleLayerDesc(self.codec.image_size, radius)], seed=seed
        )
        self.port_size = self.encoder.get_hidden_size()
        self._learn_enabled = learn_enabled
        self._learn_recon = config.image_learn_recon

    def encode(self, obs: Any) -> np.ndarray:
        """Step the image encoder on one observation; return its hidden codes (int32, one per column)."""
        learn = bool(self._learn_enabled())
        self.encoder.step([self.codec.encode(obs)], learn_enabled=learn, learn_recon=learn and self._learn_recon)
        return self.encoder.get_hidden_cis()

    def arrays(self, kind: str) -> ArrayDict:
        """The encoder's ``kind`` ("weights" or "state") buffer under `KEY`."""
        enc = self.encoder
        return {KEY: enc.serialize_weights_to_buffer() if kind == "weights" else enc.serialize_state_to_buffer()}

    def load(self, kind: str, buffer: np.ndarray) -> None:
        """Restore the encoder's ``kind`` buffer (checked in full before anything changes)."""
        if kind == "weights":
            self.encoder.set_weights_from_buffer(buffer)
        else:
            self.encoder.set_state_from_buffer(buffer)

    def size(self, kind: str) -> int:
        return self.encoder.get_weights_size() if kind == "weights" else self.encoder.get_state_size()


def covering_radius(image_size: tuple[int, int, int], hidden_size: tuple[int, int, int]) -> int:
    """The smallest radius (>= 1) whose fields cover the image: half the column spacing, rounded up.

    >>> [covering_radius(image, (8, 8, 16)) for image in [(64, 64, 3), (8, 8, 1), (40, 60, 3)]]
    [4, 1, 4]
    """
    spacing = max(image_size[0] / hidden_size[0], image_size[1] / hidden_size[1])
    return max(1, math.ceil(spacing / 2))


def make_pixel_frontend(
    observation_space: gym.Space, config: HierarchyAgentConfig, seed: int, learn_enabled: Callable[[], bool]
) -> PixelFrontend | None:
    """A `PixelFrontend` for an image observation space, else None (the agent uses a per-element codec)."""
    if not is_image_space(observation_space):
        return None
    return PixelFrontend(observation_space, config, seed, learn_enabled)


def pixel_keys(frontend: PixelFrontend | None) -> set[str]:
    """Extra keys the agent's weights and state hold for this frontend."""
    return set() if frontend is None else {KEY}


def pixel_arrays(frontend: PixelFrontend | None, kind: str) -> ArrayDict:
    """The frontend's ``kind`` arrays to merge into the agent's (none without a frontend)."""
    return {} if frontend is None else frontend.arrays(kind)


def pixel_size(frontend: PixelFrontend | None, kind: str) -> int:
    return 0 if frontend is None else frontend.size(kind)


@contextlib.contextmanager
def pixel_restore(frontend: PixelFrontend | None, arrays: ArrayDict, kind: str) -> Iterator[None]:
    """Load the frontend's part of ``arrays``, then run the body (the agent's own loading); all or nothing.

    If the body raises, the frontend gets back what it held before, so a refused checkpoint changes nothing.
    """
    if frontend is None:
        yield
        return
    before = frontend.arrays(kind)[KEY]
    frontend.load(kind, arrays[KEY])
    try:
        yield
    except BaseException:
        frontend.load(kind, before)
        raise
