"""Running mean and variance of a vector, held in one float64 array so an agent can save and restore it exactly.

The hierarchy agent learns the scale of what it sees from experience instead of from per-env settings: the
spread of unbounded observation elements (to place the squashing sigmoid) and the size of discounted returns
(to scale rewards). Both are running statistics, part of the agent's weights, so a resumed run and an
evaluation from saved weights use exactly the numbers the training run had.

Example:
    >>> m = RunningMoments(2)
    >>> for x in ([1.0, 10.0], [3.0, 10.0]):
    ...     m.update(np.array(x))
    >>> m.count, m.mean.tolist(), m.std().tolist()
    (2, [2.0, 10.0], [1.0, 0.0])
"""

from __future__ import annotations

import numpy as np

__all__ = ["CountedRecord", "RunningMoments"]


class CountedRecord:
    """A count and two per-element vectors held in one float64 array, ``[count, a[0..size), b[0..size)]``, so an
    agent can save it with its weights and restore it exactly (`RunningMoments`, `agents.running_range`).

    Args:
        size: Length of each vector.
    """

    def __init__(self, size: int) -> None:
        self.size = int(size)
        self.array = np.zeros(1 + 2 * self.size, dtype=np.float64)

    def _halves(self) -> tuple[np.ndarray, np.ndarray]:
        """Views of ``a`` and ``b``."""
        return self.array[1 : 1 + self.size], self.array[1 + self.size :]

    @property
    def count(self) -> int:
        """Number of vectors recorded."""
        return int(self.array[0])

    def _checked(self, values: np.ndarray, name: str) -> np.ndarray:
        """``values`` as an array if it has this record's shape and dtype and is finite; else ValueError naming
        ``name``."""
        a = np.asarray(values)
        if a.shape != self.array.shape or a.dtype != np.float64:
            raise ValueError(
                f"{name} must be a float64 array of shape {self.array.shape}, got {a.dtype} {a.shape}; "
                "was it saved by an agent for another env or config?"
            )
        if not np.isfinite(a).all():
            raise ValueError(f"{name} holds NaN or infinity")
        return a


class RunningMoments(CountedRecord):
    """Count, mean and sum of squared deviations (Welford's update) of a fixed-length vector.

    Args:
        size: Length of the vectors passed to :meth:`update`.

    Attributes:
        array: ``[count, mean[0..size), m2[0..size)]`` as float64; :attr:`mean` and :attr:`m2` are views of it.
    """

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.mean, self.m2 = self._halves()

    def update(self, x: np.ndarray) -> None:
        """Add one vector (float64, length ``size``, finite: the caller checks)."""
        self.array[0] += 1.0
        delta = x - self.mean
        self.mean += delta / self.array[0]
        self.m2 += delta * (x - self.mean)

    def std(self) -> np.ndarray:
        """Population standard deviation per element (0 before two vectors)."""
        return np.sqrt(self.m2 / max(self.array[0], 1.0))

    def load(self, values: np.ndarray, name: str) -> None:
        """Replace the statistics with ``values`` (as made by :attr:`array`), after checking them.

        Raises:
            ValueError: Wrong shape or dtype, non-finite values, a negative or fractional count, or a negative
                m2, naming ``name``.
        """
        a = self._checked(values, name)
        if a[0] < 0 or a[0] != np.floor(a[0]) or (a[1 + self.size :] < 0).any():
            raise ValueError(f"{name} is not a valid count/mean/m2 record (negative or fractional count, m2 < 0)")
        self.array[:] = a
