"""MiniGrid envs seen through their image observation only: ``sphgym/MiniGrid-<name>`` ids.

MiniGrid's observation is a Dict (``image``, ``direction``, a text ``mission``), which no sphgym agent takes. Its
``image`` part is the agent's 7x7 partial view, 3 channels (object type, colour, state; small integers as
uint8): an image observation, routed by the hierarchy agent through an image encoder (`agents.pixel_frontend`).
The ids registered here (see `MINIGRID_IDS`) build MiniGrid's own env unchanged and add one stateless
wrapper, `ImageObservation`, that keeps only ``obs["image"]``: ``sphgym/MiniGrid-Empty-Random-5x5-v0`` is
``MiniGrid-Empty-Random-5x5-v0`` seen as an image.

MiniGrid is optional (``pip install "sphgym[minigrid]"``) and imported only when one of these envs is made: the
ids are registered either way, and making one without MiniGrid is a ``DependencyNotInstalled`` naming the extra.
Episodes end at the goal (terminated, reward ``1 - 0.9 * steps / max_steps``) or at MiniGrid's own step limit
(truncated). MiniGrid's grid is object state, so a checkpoint mid-episode is resumed by replaying from the last
episode boundary (`envs.capture`); the env's RNG is its ``np_random``, captured as for any env.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.envs.registration import WrapperSpec, load_env_creator
from gymnasium.utils import RecordConstructorArgs

__all__ = ["MINIGRID_IDS", "ImageObservation", "make_minigrid", "minigrid_specs"]

MINIGRID_IDS: dict[str, int] = {
    "MiniGrid-Empty-5x5-v0": 100,
    "MiniGrid-Empty-Random-5x5-v0": 100,
    "MiniGrid-Empty-6x6-v0": 144,
    "MiniGrid-Empty-Random-6x6-v0": 144,
    "MiniGrid-DoorKey-5x5-v0": 250,
    "MiniGrid-FourRooms-v0": 100,
}
"""MiniGrid envs registered as ``sphgym/<id>`` with image observations -> MiniGrid's own episode step limit
(``max_steps``), declared as the id's ``max_episode_steps`` so the runner sees the limit."""

PREFIX = "sphgym/"


class ImageObservation(gym.ObservationWrapper, RecordConstructorArgs):
    """Keep only the ``image`` entry of a Dict observation (MiniGrid's partial view); holds no state.

    Raises:
        ValueError: the env's observation space is not a Dict with a uint8 ``image`` Box.
    """

    def __init__(self, env: gym.Env) -> None:
        RecordConstructorArgs.__init__(self)
        gym.ObservationWrapper.__init__(self, env)
        space = env.observation_space
        image = space.spaces.get("image") if isinstance(space, spaces.Dict) else None
        if not isinstance(image, spaces.Box) or image.dtype != np.uint8:
            raise ValueError(f"ImageObservation needs a Dict observation with a uint8 'image' Box, got {space}")
        self.observation_space = image

    def observation(self, observation: dict[str, Any]) -> np.ndarray:
        return observation["image"]


def make_minigrid(minigrid_id: str, **kwargs: Any) -> gym.Env:
    """Build MiniGrid's env ``minigrid_id`` (no wrappers), ``kwargs`` overriding its registered ones.

    Raises:
        gymnasium.error.DependencyNotInstalled: MiniGrid is not installed (the message names the extra).
    """
    try:
        import minigrid  # noqa: F401  (registers MiniGrid's ids)
    except ImportError as exc:
        raise gym.error.DependencyNotInstalled(
            f"{PREFIX}{minigrid_id} needs the minigrid package, which is not installed"
        ) from exc
    spec = gym.spec(minigrid_id)
    return load_env_creator(spec.entry_point)(**{**spec.kwargs, **kwargs})


def minigrid_specs() -> dict[str, dict[str, Any]]:
    """``gymnasium.register`` arguments for every id of `MINIGRID_IDS` (keyed by the sphgym id)."""
    wrapper = WrapperSpec("ImageObservation", f"{__name__}:ImageObservation", {})
    return {
        PREFIX + minigrid_id: {
            "entry_point": f"{__name__}:make_minigrid",
            "kwargs": {"minigrid_id": minigrid_id},
            "additional_wrappers": (wrapper,),
            "max_episode_steps": max_steps,
        }
        for minigrid_id, max_steps in MINIGRID_IDS.items()
    }
