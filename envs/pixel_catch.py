"""A tiny game played from pixels: catch a falling ball with a paddle. Fast enough for unit tests.

Registered as ``sphgym/PixelCatch-v0``. The observation is a ``size x size`` grey image (uint8): the ball is one
white pixel, the paddle three white pixels on the bottom row. ``reset`` drops the ball at a random column of the
top row and puts the paddle at a random column; every step the paddle moves (0 left, 1 stay, 2 right, clipped at
the walls) and the ball falls one row. When the ball reaches the bottom row the episode terminates with reward
+1 if the paddle is under it, else -1 (0 on every other step). Episodes are ``size - 1`` steps.

A random policy catches about a third of the balls (mean return about -0.3 for size 8); one that follows the ball
catches all of them. Nothing but the image tells the agent where the ball is.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.capture import register_episode_state

__all__ = ["PixelCatchEnv"]


class PixelCatchEnv(gym.Env[np.ndarray, np.int64]):
    """Catch a falling ball, seen only as pixels.

    Observation ``Box(0, 255, (size, size), uint8)``; action ``Discrete(3)``. Episode state: ``ball_row``,
    ``ball_col``, ``paddle_col`` (the paddle's centre; -1 before the first reset).

    Args:
        size: Side of the square image, >= 4.
        render_mode: ``None`` or ``"rgb_array"`` (the observation, grey in three channels).

    Example:
        >>> env = PixelCatchEnv(size=6)
        >>> obs, _ = env.reset(seed=0)
        >>> obs.shape, obs.dtype, int(obs.sum()) // 255
        ((6, 6), dtype('uint8'), 4)
        >>> [env.step(1)[1] for _ in range(5)][-1] in (1.0, -1.0)
        True
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, size: int = 8, render_mode: str | None = None) -> None:
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 4:
            raise ValueError(f"size must be an int >= 4, got {size!r}; e.g. 8")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.size = int(size)
        self.render_mode = render_mode
        self.observation_space = spaces.Box(0, 255, (self.size, self.size), np.uint8)
        self.action_space = spaces.Discrete(3)
        self.ball_row = -1
        self.ball_col = -1
        self.paddle_col = -1

    def _image(self) -> np.ndarray:
        img = np.zeros((self.size, self.size), np.uint8)
        img[self.size - 1, max(0, self.paddle_col - 1) : self.paddle_col + 2] = 255
        img[self.ball_row, self.ball_col] = 255
        return img

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.ball_row = 0
        self.ball_col = int(self.np_random.integers(self.size))
        self.paddle_col = int(self.np_random.integers(self.size))
        return self._image(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self.ball_row < 0 or self.ball_row >= self.size - 1:
            raise RuntimeError("PixelCatchEnv.step() called before reset() or after the episode ended; call reset()")
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        self.paddle_col = min(self.size - 1, max(0, self.paddle_col + int(action) - 1))
        self.ball_row += 1
        if self.ball_row < self.size - 1:
            return self._image(), 0.0, False, False, {}
        reward = 1.0 if abs(self.ball_col - self.paddle_col) <= 1 else -1.0
        return self._image(), reward, True, False, {}

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        return np.repeat(self._image()[:, :, None], 3, axis=2)


register_episode_state(PixelCatchEnv, ("ball_row", "ball_col", "paddle_col"))
