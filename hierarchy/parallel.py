"""Parallel twins of the kernels: one source, compiled once serial and once with ``parallel=True``.

Every per-column loop of the kernels is written with ``prange`` (a plain ``range`` in the serial compilation)
and every column writes only its own outputs and weights, so running columns on several threads changes
nothing: results are bit-identical for every thread count (random draws come from per-column streams, see
`rng`; no reduction runs across columns). Scratch arrays shared by the columns in the serial kernels are
allocated per column in the twin: the kernels branch on the module constant ``PARALLEL``, which numba freezes
at compile time.

The twin is a copy of the kernel's Python function under its own name (``<name>_parallel``), so that numba's
on-disk cache keeps the two compilations apart, with ``PARALLEL = True`` and its parallel callees swapped into
its globals. Twins compile (or load from the cache) only when first called, i.e. only after
``set_num_threads(n > 1)``: a single-threaded process never loads numba's threading layer.
"""

from __future__ import annotations

import types
from typing import Any

import numba
from numba import njit

PARALLEL = False  # True in the twins' globals
# Only explicit prange loops run in parallel: each parallel region costs a thread hand-off, and the kernels'
# small array expressions would only add regions (numba's default converts them too).
_PRANGE_ONLY = {
    "prange": True,
    "comprehension": False,
    "reduction": False,
    "inplace_binop": False,
    "setitem": False,
    "numpy": False,
    "stencil": False,
    "fusion": False,
}


def parallel_twin(kernel: Any, own_loops: bool = True, **callees: Any) -> Any:
    """Compile ``kernel``'s Python source again with ``parallel=True`` (see the module docstring).

    Args:
        kernel: a numba dispatcher made by ``njit(cache=True)``.
        own_loops: the kernel has ``prange`` loops of its own; False for one that only calls parallel twins
            (it is then compiled serial, calling them).
        callees: global names to rebind in the twin, e.g. ``decoder_forward=decoder_forward_parallel``.
    """
    func = kernel.py_func
    name = func.__name__ + "_parallel"
    code = func.__code__.replace(co_name=name, co_qualname=func.__qualname__ + "_parallel")
    scope = dict(func.__globals__, PARALLEL=True, **callees)
    twin = types.FunctionType(code, scope, name, func.__defaults__)
    twin.__module__ = func.__module__
    twin.__qualname__ = func.__qualname__ + "_parallel"
    twin.__doc__ = func.__doc__
    return njit(cache=True, parallel=dict(_PRANGE_ONLY) if own_loops else False)(twin)


def use_threads(threads: int) -> None:
    """Run the twins called next from this Python thread on ``threads`` numba threads."""
    if numba.get_num_threads() != threads:
        numba.set_num_threads(threads)
