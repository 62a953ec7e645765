"""Scalar activations shared by the dendritic kernels (decoder, actor)."""

from __future__ import annotations

import math

from numba import njit


@njit(cache=True)
def softplus_sigmoid(x):
    """Return ``(softplus(x), sigmoid(x))`` from one exp, stable for any x (sigmoid is softplus' slope)."""
    e = math.exp(-abs(x))
    sp = max(x, 0.0) + math.log1p(e)
    if x >= 0.0:
        return sp, 1.0 / (1.0 + e)
    return sp, e / (1.0 + e)
