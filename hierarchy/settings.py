"""Process-wide settings, as PyAOgmaNeo has them: the kernels' thread count and the default RNG state.

These are the package's only module-level mutable values, kept because PyAOgmaNeo scripts call
``set_num_threads(n)`` and ``set_global_state(s)`` first thing, and rely on an unseeded ``Hierarchy`` being the
same run after run.

* Threads: how many threads the per-column kernels use (default 1, fastest for small hierarchies; see
  BENCHMARKS.md for where 2 pay off). Results are bit-identical for every thread count.
* Default RNG state: a 64-bit word that starts at a fixed value in every process. A hierarchy built without
  ``seed=`` takes its seed from it (advancing it), so an unseeded script builds the same hierarchies every run,
  and ``set_global_state(s)`` picks another sequence. A hierarchy never reads it again after construction: its
  own RNG word is part of its state, so saving and restoring it stays exact. Library code that needs
  reproducibility passes ``seed=`` and does not touch this.
"""

from __future__ import annotations

import numba

from .rng import GOLDEN, mix64_py

_MASK64 = (1 << 64) - 1
DEFAULT_GLOBAL_STATE = 0x5350_4859_4D47_0001  # the value every process starts from
MAX_THREADS = 1024


class _Settings:
    """Holder of the two values (one instance, module-private)."""

    num_threads: int = 1
    kernel_threads: int = 1  # num_threads capped at numba's pool
    global_state: int = DEFAULT_GLOBAL_STATE


_settings = _Settings()


def set_num_threads(num_threads: int) -> None:
    """Use ``num_threads`` threads in the per-column kernels (1 = no parallel kernels at all).

    Numba runs at most as many threads as it started with (the number of CPU cores, or ``NUMBA_NUM_THREADS``):
    a larger request is kept (`get_num_threads` returns it) but runs on that many. Results do not depend on it.

    Raises:
        ValueError: ``num_threads`` is not an int in [1, 1024].
    """
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or not 1 <= num_threads <= MAX_THREADS:
        raise ValueError(f"num_threads must be an int in [1, {MAX_THREADS}], got {num_threads!r}")
    _settings.num_threads = num_threads
    _settings.kernel_threads = min(num_threads, numba.config.NUMBA_NUM_THREADS)


def get_num_threads() -> int:
    """The thread count last given to `set_num_threads` (default 1)."""
    return _settings.num_threads


def kernel_threads() -> int:
    """Threads the kernels really use: the setting, capped at numba's thread pool (read by every step)."""
    return _settings.kernel_threads


def set_global_state(state: int) -> None:
    """Set the default RNG state (any int in [0, 2**64)) that seeds hierarchies built without ``seed=``.

    Raises:
        ValueError: ``state`` is not an int in [0, 2**64).
    """
    if isinstance(state, bool) or not isinstance(state, int) or not 0 <= state <= _MASK64:
        raise ValueError(f"global state must be an int in [0, 2**64), got {state!r}")
    _settings.global_state = state


def get_global_state() -> int:
    """The current default RNG state (it advances each time an unseeded hierarchy is built)."""
    return _settings.global_state


def next_default_seed() -> int:
    """Advance the default RNG state and return a seed in [0, 2**63) for an unseeded hierarchy."""
    _settings.global_state = (_settings.global_state + int(GOLDEN)) & _MASK64
    return mix64_py(_settings.global_state) >> 1
