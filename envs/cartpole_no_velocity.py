"""CartPole with its velocities hidden: a memory task with CartPole's dynamics.

Registered as ``sphgym/CartPoleNoVelocity-v0`` (TimeLimit 500, reward threshold 475, like CartPole-v1). The
observation is ``[cart position, pole angle]``; the cart and pole velocities, which a memoryless policy needs,
must be inferred from consecutive observations. Dynamics, rewards, termination, RNG use and the episode state
(``state`` float64, ``steps_beyond_terminated``) are exactly those of Gymnasium's ``CartPoleEnv``, which this
class extends, so the same trajectory seen through CartPole-v1 shows ``obs[[0, 2]]`` here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

__all__ = ["VISIBLE_DIMS", "CartPoleNoVelocityEnv"]

VISIBLE_DIMS = np.array([0, 2])
"""Indices of CartPole's observation that stay visible: cart position and pole angle."""


class CartPoleNoVelocityEnv(CartPoleEnv):
    """``CartPoleEnv`` whose observation drops the cart velocity and pole angular velocity.

    Args:
        sutton_barto_reward: As in ``CartPoleEnv``: reward 0 per step and -1 on failure instead of +1 per
            step.
        render_mode: As in ``CartPoleEnv`` (``None``, ``"human"`` or ``"rgb_array"``).

    Example:
        >>> env = CartPoleNoVelocityEnv()
        >>> obs, _ = env.reset(seed=0)
        >>> obs.shape, env.state.shape
        ((2,), (4,))
    """

    def __init__(self, sutton_barto_reward: bool = False, render_mode: str | None = None) -> None:
        super().__init__(sutton_barto_reward=sutton_barto_reward, render_mode=render_mode)
        full = self.observation_space
        self.observation_space = spaces.Box(full.low[VISIBLE_DIMS], full.high[VISIBLE_DIMS], dtype=np.float32)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = super().step(action)
        return obs[VISIBLE_DIMS], reward, terminated, truncated, info

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = super().reset(seed=seed, options=options)
        return obs[VISIBLE_DIMS], info
