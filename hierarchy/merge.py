"""Merging the weights of several same-shape hierarchies (PyAOgmaNeo's ``merge``): average or random pick.

Used to combine agents trained in parallel. Only weights merge; each component knows which of its arrays are
weights and which are flags (`Encoder.merge`, `Decoder.merge`, `Actor.merge`), and calls `merge_array`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .descs import NamedIntEnum


class MergeMode(NamedIntEnum):
    """``AVERAGE``: each weight becomes the mean over the hierarchies (rounded to nearest for byte weights).
    ``RANDOM``: each weight is copied from one hierarchy picked at random per weight. Lower-case aliases
    (``MergeMode.average``, ``MergeMode.random``) as in PyAOgmaNeo."""

    AVERAGE = 0
    RANDOM = 1
    average = 0
    random = 1


def merge_array(target: np.ndarray, sources: Sequence[np.ndarray], mode: MergeMode, rng: np.random.Generator) -> None:
    """Write the merge of ``sources`` (same shape and dtype as ``target``) into ``target``."""
    stack = np.stack(sources)
    if mode == MergeMode.AVERAGE:
        mean = stack.astype(np.float64).mean(axis=0)
        target[...] = np.rint(mean) if target.dtype.kind in "iu" else mean
    else:
        pick = rng.integers(0, len(sources), target.shape)
        target[...] = np.take_along_axis(stack, pick[None], axis=0)[0]
