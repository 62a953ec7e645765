"""Running mean/variance of observations and discounted returns: Stable-Baselines3's ``VecNormalize`` maths.

The statistics are learned data: agents keep them in their *weights* (frozen when learning is off, like
``VecNormalize(training=False)``), while the running discounted return of the current episode is *state*.
float64 throughout, updated one sample at a time (one env) or from a batch's moments (N envs, as
``VecNormalize`` does), so a resumed run continues with identical bits.
"""

from __future__ import annotations

import numpy as np

from agents.protocol import ArrayDict

CLIP = 10.0
"""Normalised observations and rewards are clipped to [-CLIP, CLIP] (SB3's clip_obs / clip_reward)."""
EPSILON = 1e-8
"""Added to the variance before the square root (SB3's epsilon)."""


class RunningMeanStd:
    """Chan et al.'s parallel mean/variance update with a batch of one (SB3's ``RunningMeanStd``)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.mean = np.zeros(shape, dtype=np.float64)
        self.var = np.ones(shape, dtype=np.float64)
        self.count = np.full(1, 1e-4, dtype=np.float64)  # SB3's initial count (avoids a 0 division)

    def update(self, x: np.ndarray | float) -> None:
        delta = np.asarray(x, dtype=np.float64) - self.mean
        count = self.count[0]
        total = count + 1.0
        self.mean = self.mean + delta / total
        m2 = self.var * count + np.square(delta) * count / total
        self.var = m2 / total
        self.count[0] = total

    def update_batch(self, x: np.ndarray) -> None:
        """Chan et al.'s update from the moments of a batch (rows = samples), SB3's ``RunningMeanStd.update``."""
        batch = np.asarray(x, dtype=np.float64)
        if len(batch) == 0:
            return
        batch_mean, batch_var, batch_count = batch.mean(axis=0), batch.var(axis=0), float(len(batch))
        delta = batch_mean - self.mean
        count = self.count[0]
        total = count + batch_count
        self.mean = self.mean + delta * batch_count / total
        m2 = self.var * count + batch_var * batch_count + np.square(delta) * count * batch_count / total
        self.var = m2 / total
        self.count[0] = total

    def normalize(self, x: np.ndarray | float) -> np.ndarray:
        """(x - mean) / sqrt(var + eps), clipped; float64."""
        return np.clip((np.asarray(x, dtype=np.float64) - self.mean) / np.sqrt(self.var + EPSILON), -CLIP, CLIP)

    def scale(self, x: np.ndarray | float) -> np.ndarray:
        """x / sqrt(var + eps), clipped (reward scaling: no centring); float64."""
        return np.clip(np.asarray(x, dtype=np.float64) / np.sqrt(self.var + EPSILON), -CLIP, CLIP)

    def to_arrays(self, prefix: str) -> ArrayDict:
        return {
            f"{prefix}.mean": np.atleast_1d(self.mean).copy(),
            f"{prefix}.var": np.atleast_1d(self.var).copy(),
            f"{prefix}.count": self.count.copy(),
        }

    def load_arrays(self, owner: str, prefix: str, arrays: ArrayDict) -> None:
        """Inverse of ``to_arrays``; a negative variance or count is a ``ValueError``."""
        mean, var, count = (np.array(arrays[f"{prefix}.{k}"], dtype=np.float64) for k in ("mean", "var", "count"))
        if not (np.all(np.isfinite(mean)) and np.all(var >= 0) and np.all(np.isfinite(var)) and count[0] > 0):
            raise ValueError(f"{owner}.set_weights: {prefix} holds a non-finite mean, negative variance or count.")
        self.mean = mean.reshape(self.mean.shape)
        self.var = var.reshape(self.var.shape)
        self.count = count
