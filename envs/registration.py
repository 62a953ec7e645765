"""Register sphgym's own environments with Gymnasium (done on ``import envs``).

* ``sphgym/CartPoleNoVelocity-v0``: CartPole-v1 with velocities hidden (needs memory); TimeLimit 500,
  reward threshold 475.
* ``sphgym/DelayedCue-v0``: recall a cue after ``delay`` blank steps (tiny, for fast tests); no TimeLimit
  (episodes are ``delay + 2`` steps), reward threshold 0.95.
* ``sphgym/PixelCatch-v0``: catch a falling ball seen only as an 8x8 image (tiny pixel env for tests); episodes
  are 7 steps, reward threshold 0.9.
* ``sphgym/MiniGrid-<name>``: MiniGrid envs seen through their 7x7x3 image observation (`envs.minigrid_image`;
  needs the ``minigrid`` extra when made).
"""

from __future__ import annotations

import gymnasium as gym

from envs.minigrid_image import minigrid_specs

__all__ = ["SPHGYM_ENV_IDS", "register_envs"]

_SPECS: dict[str, dict] = {
    "sphgym/CartPoleNoVelocity-v0": {
        "entry_point": "envs.cartpole_no_velocity:CartPoleNoVelocityEnv",
        "max_episode_steps": 500,
        "reward_threshold": 475.0,
    },
    "sphgym/DelayedCue-v0": {
        "entry_point": "envs.delayed_cue:DelayedCueEnv",
        "reward_threshold": 0.95,
    },
    "sphgym/PixelCatch-v0": {
        "entry_point": "envs.pixel_catch:PixelCatchEnv",
        "reward_threshold": 0.9,
    },
    **minigrid_specs(),
}

SPHGYM_ENV_IDS: tuple[str, ...] = tuple(_SPECS)
"""Ids of the environments this package registers."""


def register_envs() -> None:
    """Register sphgym's environments with Gymnasium; calling it again does nothing."""
    for env_id, kwargs in _SPECS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, **kwargs)
