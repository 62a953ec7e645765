"""Shared by the torch-agent tests: one byte digest of an array dict (keys, dtypes, shapes and bytes)."""

from __future__ import annotations

import hashlib

import numpy as np


def digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}|{a.dtype}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()
