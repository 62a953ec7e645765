"""Exceptions raised by ``envs``.

All of them subclass :class:`ValueError`, so callers that only care about "bad input" can catch that. Each
message names what was wrong and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "NonFiniteObservationError",
    "SnapshotMismatchError",
    "UnknownEnvironmentError",
    "UnsupportedSpaceError",
]


class UnknownEnvironmentError(ValueError):
    """An environment id that is not in the Gymnasium registry."""


class UnsupportedSpaceError(ValueError):
    """A Gymnasium space that the observation encoders or action decoders cannot handle."""


class NonFiniteObservationError(ValueError):
    """An observation holding NaN or infinity (it has no column index)."""


class SnapshotMismatchError(ValueError):
    """An env snapshot restored into an env it was not captured from (other id, class or wrappers)."""
