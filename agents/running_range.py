"""Observed range of a vector over a warm-up, and the bin ranges it calibrates (the hierarchy agent's
``obs_calibrate_steps``; BENCHMARKS.md, issue 12's fourth round).

Some envs declare bounds far wider than anything they visit (LunarLander's velocities are declared ±10 and stay
within about ±1): binned linearly over the declared bounds, most of such an element falls into one or two cells.
The agent records the minimum and maximum of each element over its first learning steps; from then on an element
whose observed span is far narrower than its declared one is binned over the observed span (plus a margin),
and the ranges stay fixed so the codes the hierarchy learned from stay meaningful. An element whose observed
span is not far narrower keeps its declared range: the states an early policy visits must not hide the ones a
later policy reaches (MountainCar's hill tops, CartPole's cart near its limits).

Example:
    >>> r = RunningRange(2, limit=2)
    >>> for x in ([0.5, 1.0], [-0.5, 3.0]):
    ...     r.update(np.array(x))
    >>> r.full, r.low.tolist(), r.high.tolist()
    (True, [-0.5, 1.0], [0.5, 3.0])
    >>> low, high = calibrated_bounds(np.array([-10.0, 0.0]), np.array([10.0, 4.0]), r, ratio=0.25)
    >>> low.tolist(), high.tolist()
    ([-0.6, 0.0], [0.6, 4.0])
"""

from __future__ import annotations

import numpy as np

from agents.running_moments import CountedRecord

__all__ = ["CALIBRATION_MARGIN", "RunningRange", "calibrated_bounds"]

CALIBRATION_MARGIN = 0.1
"""A calibrated range extends the observed one by this fraction of its span on each side."""


class RunningRange(CountedRecord):
    """Count, minimum and maximum per element of the first ``limit`` vectors seen (later ones are ignored).

    Args:
        size: Length of the vectors passed to :meth:`update`.
        limit: Number of vectors to record.

    Attributes:
        array: ``[count, low[0..size), high[0..size)]`` as float64 (zeros before the first vector); :attr:`low`
            and :attr:`high` are views of it.
    """

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(size)
        self.limit = int(limit)
        self.low, self.high = self._halves()

    @property
    def full(self) -> bool:
        """True once ``limit`` vectors have been recorded: the range no longer changes."""
        return self.count >= self.limit

    def update(self, x: np.ndarray) -> None:
        """Record one vector (float64, length ``size``, finite: the caller checks) unless already full."""
        if self.full:
            return
        if self.count == 0:
            self.low[:] = x
            self.high[:] = x
        else:
            np.minimum(self.low, x, out=self.low)
            np.maximum(self.high, x, out=self.high)
        self.array[0] += 1.0

    def load(self, values: np.ndarray, name: str) -> None:
        """Replace the record with ``values`` (as made by :attr:`array`), after checking them.

        Raises:
            ValueError: Wrong shape or dtype, non-finite values, a count that is negative, fractional or above
                ``limit``, or a low above its high, naming ``name``.
        """
        a = self._checked(values, name)
        count = a[0]
        if count < 0 or count != np.floor(count) or count > self.limit:
            raise ValueError(f"{name} has count {count}, expected a whole number in [0, {self.limit}]")
        if (a[1 : 1 + self.size] > a[1 + self.size :]).any():
            raise ValueError(f"{name} is not a valid count/low/high record (a low above its high)")
        self.array[:] = a


def calibrated_bounds(
    low: np.ndarray, high: np.ndarray, seen: RunningRange, ratio: float, margin: float = CALIBRATION_MARGIN
) -> tuple[np.ndarray, np.ndarray]:
    """The bin range of each element: the observed range plus ``margin`` of its span each side (within the
    declared ``[low, high]``) where that is narrower than ``ratio`` times the declared span, else the declared
    range. Only meaningful once ``seen`` is full."""
    span = seen.high - seen.low
    new_low = np.maximum(low, seen.low - margin * span)
    new_high = np.minimum(high, seen.high + margin * span)
    narrow = (new_high > new_low) & (new_high - new_low < ratio * (high - low))
    return np.where(narrow, new_low, low), np.where(narrow, new_high, high)
