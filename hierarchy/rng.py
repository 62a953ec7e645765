"""Counter-based randomness for the kernels: SplitMix64 streams derived from one 64-bit hierarchy state.

The hierarchy owns a single ``uint64[1]`` array (part of its serialised *state*). Every kernel that needs
randomness takes one draw from it (``take_seed``) and derives an independent stream per output column
(``stream``), so the results do not depend on iteration order or thread count, and saving that one word
is enough to make every later random choice reproducible.
"""

from __future__ import annotations

import numpy as np
from numba import njit

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0
_MASK64 = (1 << 64) - 1


@njit(cache=True)
def mix64(z):
    """SplitMix64 finaliser: a bijective avalanche of a uint64."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True)
def take_seed(rng):
    """Advance the hierarchy's uint64[1] RNG state by one step and return a fresh 64-bit seed."""
    rng[0] = rng[0] + GOLDEN
    return mix64(rng[0])


@njit(cache=True)
def stream(seed, index):
    """Initial state of the independent stream number ``index`` (e.g. an output column) under ``seed``."""
    return mix64(seed ^ mix64(np.uint64(index + 1) * GOLDEN))


@njit(cache=True)
def next_uniform(state):
    """Return ``(new_state, u)`` with u uniform in [0, 1) (53 bits)."""
    state = state + GOLDEN
    return state, np.float64(mix64(state) >> _S11) * _INV53


def mix64_py(z: int) -> int:
    """Pure-Python `mix64` (used to turn a user seed into the initial state)."""
    z &= _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)
