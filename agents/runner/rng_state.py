"""Seed, capture and restore the process-global RNGs: a safety net, not the plan.

The run's own randomness lives in per-owner generators (agent, env, spaces) that are saved with their owners.
Global generators (Python ``random``, numpy's legacy global ``RandomState``, torch's default generators) are
captured too, so that a library that draws from them behind our back still resumes exactly. Torch is captured
only if something already imported it: importing torch costs ~2 s of start-up.
"""

from __future__ import annotations

import random
import sys
from typing import Any

import numpy as np


def seed_global_rng(seeds: dict[str, int]) -> None:
    """Seed Python ``random``, numpy's legacy global generator and (if loaded) torch's from derived seeds.

    Called at the start of a fresh run with ``RunConfig.derived_seeds()`` (``python_random``,
    ``numpy_global``, ``torch_global``); a resume restores the saved states instead.
    """
    random.seed(int(seeds["python_random"]))
    np.random.seed(int(seeds["numpy_global"]))
    seed_torch_global(seeds)


def seed_torch_global(seeds: dict[str, int]) -> None:
    """Seed torch's default generators if torch is loaded (never imports it: that costs seconds)."""
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "manual_seed"):
        torch.manual_seed(int(seeds["torch_global"]))


def capture_global_rng() -> dict[str, Any]:
    """JSON-able snapshot of every process-global RNG that is in use."""
    version, internal, gauss_next = random.getstate()
    legacy = np.random.get_state(legacy=False)
    # The 625/624-word Mersenne Twister states as hex of little-endian uint32 words: compact, fast to encode.
    snapshot: dict[str, Any] = {
        "python": {"version": version, "state_u32le": _words_hex(internal), "gauss_next": gauss_next},
        "numpy": {
            "bit_generator": legacy["bit_generator"],
            "key_u32le": _words_hex(legacy["state"]["key"]),
            "pos": int(legacy["state"]["pos"]),
            "has_gauss": int(legacy["has_gauss"]),
            "gauss": float(legacy["gauss"]),
        },
    }
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "get_rng_state"):
        snapshot["torch"] = {"cpu": torch.get_rng_state().numpy().tobytes().hex()}
        cuda = getattr(torch, "cuda", None)
        if cuda is not None and cuda.is_available() and cuda.is_initialized():
            snapshot["torch"]["cuda"] = [s.numpy().tobytes().hex() for s in cuda.get_rng_state_all()]
    return snapshot


def _words_hex(words: Any) -> str:
    return np.asarray(words, dtype="<u4").tobytes().hex()


def _hex_words(text: str) -> np.ndarray:
    return np.frombuffer(bytes.fromhex(text), dtype="<u4").astype(np.uint32)


def restore_global_rng(snapshot: dict[str, Any]) -> list[str]:
    """Restore what ``capture_global_rng`` saved; returns notes about parts that could not be restored."""
    notes: list[str] = []
    py = snapshot["python"]
    npy = snapshot["numpy"]
    if py["gauss_next"] is not None and (isinstance(py["gauss_next"], bool) or not isinstance(py["gauss_next"], float)):
        raise ValueError(f"python gauss_next must be a float or null, got {py['gauss_next']!r}")
    for key, kind in (("pos", int), ("has_gauss", int), ("gauss", float)):
        if isinstance(npy[key], bool) or not isinstance(npy[key], (kind, int)):
            raise ValueError(f"numpy {key} must be a number, got {npy[key]!r}")
    random.setstate((py["version"], tuple(int(x) for x in _hex_words(py["state_u32le"])), py["gauss_next"]))
    np.random.set_state(
        {
            "bit_generator": npy["bit_generator"],
            "state": {"key": _hex_words(npy["key_u32le"]), "pos": npy["pos"]},
            "has_gauss": npy["has_gauss"],
            "gauss": npy["gauss"],
        }
    )
    saved_torch = snapshot.get("torch")
    if saved_torch is not None:
        torch = sys.modules.get("torch")
        if torch is None:
            # The saved run had torch loaded but nothing uses it now: import it only to keep its stream exact.
            import torch
        state = torch.from_numpy(np.frombuffer(bytes.fromhex(saved_torch["cpu"]), dtype=np.uint8).copy())
        torch.set_rng_state(state)
        if not torch.equal(torch.get_rng_state(), state):  # torch normalises a malformed state silently
            raise ValueError("the torch CPU generator state is malformed (torch would not restore it as saved)")
        if "cuda" in saved_torch:
            if torch.cuda.is_available():
                torch.cuda.set_rng_state_all(
                    [
                        torch.from_numpy(np.frombuffer(bytes.fromhex(h), dtype=np.uint8).copy())
                        for h in saved_torch["cuda"]
                    ]
                )
            else:
                notes.append("the checkpoint holds CUDA RNG states but CUDA is not available; they were not restored")
    return notes
