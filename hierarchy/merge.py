"""Merging the weights of several same-shape hierarchies (PyAOgmaNeo's ``merge``): average or random pick.

Used to combine agents trained in parallel. Only weights merge; each component knows which of its arrays are
weights and which are flags (`Encoder.merge`, `Decoder.merge`, `Actor.merge`), and calls `merge_array`.
"""

from __future__ import annotations

from collections.abc import Sequence

from typing import Any

import numpy as np

from . import serialization as ser
from .descs import NamedIntEnum
from .rng import take_seed


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


def checked_sources(target: Any, sources: Sequence[Any], argument: str, noun: str) -> list[Any]:
    """``sources`` as a list, checked to be merged into ``target``: not empty, each of ``target``'s class and
    shape (its ``_shape_json``). ``argument`` names the parameter in messages (``"hierarchies"``), ``noun`` one
    item (``"hierarchy"``).

    Raises:
        ValueError: an empty list, an object of another class, or another shape.
    """
    others = list(sources)
    if not others:
        raise ValueError(f"merge needs at least one {noun}")
    cls = type(target).__name__
    article = "an" if cls[0] in "AEIOU" else "a"
    for k, other in enumerate(others):
        if not isinstance(other, type(target)):
            raise ValueError(f"{argument}[{k}] must be {article} {cls}, got {type(other).__name__}")
        if other._shape_json != target._shape_json:
            mismatch = ser.describe_mismatch(other._shape_dict(), target._shape_dict())
            raise ValueError(f"{argument}[{k}] has another shape: {mismatch}")
    return others


def merge_rng(mode: MergeMode, rng_state: np.ndarray) -> np.random.Generator | None:
    """The generator a ``RANDOM`` merge picks sources with (one draw from the owner's RNG state); None otherwise."""
    return np.random.default_rng(int(take_seed(rng_state))) if mode == MergeMode.RANDOM else None
