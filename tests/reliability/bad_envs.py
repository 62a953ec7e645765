"""Envs that trigger user errors, registered when imported (``sphgym train --env tests.reliability.bad_envs:ID``).

* ``sphgym-test/TextObs-v0``: a ``Text`` observation space, which no observation encoder supports.
* ``sphgym-test/NaNObs-v0``: a Box env whose observations turn to NaN at the third step.
* ``sphgym-test/GlobalRNG-v0``: rewards drawn from ``np.random`` and ``random`` (the process-global RNGs).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np


class TextObsEnv(gym.Env):
    observation_space = gym.spaces.Text(8)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return "hello", {}

    def step(self, action):
        return "hello", 0.0, False, False, {}


class NaNObsEnv(gym.Env):
    observation_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(3, np.float32), {}

    def step(self, action):
        self.t += 1
        obs = np.full(3, np.nan if self.t >= 3 else 0.5, np.float32)
        return obs, 1.0, False, self.t >= 50, {}


for env_id, entry in (("sphgym-test/TextObs-v0", TextObsEnv), ("sphgym-test/NaNObs-v0", NaNObsEnv)):
    if env_id not in gym.registry:
        gym.register(id=env_id, entry_point=entry, disable_env_checker=True)


class GlobalRNGEnv(gym.Env):
    """CartPole-like episodes whose rewards come from the process-global RNGs (a library drawing behind our back)."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.np_random.uniform(-1, 1, 2).astype(np.float32), {}

    def step(self, action):
        import random

        self.t += 1
        reward = float(np.random.random()) + random.random()  # the legacy numpy and Python global RNGs
        done = self.np_random.random() < 0.1
        return self.np_random.uniform(-1, 1, 2).astype(np.float32), reward, done, self.t >= 40, {}


if "sphgym-test/GlobalRNG-v0" not in gym.registry:
    gym.register(id="sphgym-test/GlobalRNG-v0", entry_point=GlobalRNGEnv, disable_env_checker=True)
