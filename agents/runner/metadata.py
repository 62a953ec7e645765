"""Library versions and thread settings recorded in checkpoint metadata (never compared for exactness)."""

from __future__ import annotations

import os
import platform
import sys
from typing import Any

_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "OPENBLAS_CORETYPE",
)


def _version(dist: str) -> str | None:
    from importlib import metadata  # ~30 ms: only when a checkpoint is written

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def library_versions() -> dict[str, str | None]:
    versions = {
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "gymnasium": _version("gymnasium"),
        "numba": _version("numba"),
        "safetensors": _version("safetensors"),
        "tensorboard": _version("tensorboard"),
        "sphgym": _version("sphgym"),
    }
    if "torch" in sys.modules:  # only when something already loaded it
        versions["torch"] = getattr(sys.modules["torch"], "__version__", None)
    return versions


def thread_settings() -> dict[str, Any]:
    threads: dict[str, Any] = {"cpu_count": os.cpu_count()}
    threads.update({name: os.environ.get(name) for name in _THREAD_VARS})
    numba = sys.modules.get("numba")
    if numba is not None:
        try:
            threads["numba_threads"] = int(numba.get_num_threads())
        except Exception:
            pass
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "get_num_threads"):
        threads["torch_threads"] = int(torch.get_num_threads())
    return threads


def version_differences(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    keys = ("numpy", "gymnasium", "numba", "torch", "python")
    return [
        f"{key} {saved.get(key)} (checkpoint) vs {now.get(key)} (now)"
        for key in keys
        if key in saved and key in now and saved.get(key) != now.get(key)
    ]


def runtime_differences(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """Agent runtime settings (e.g. a torch agent's thread count and device) that changed since the checkpoint.

    A different thread count can change float reduction order, hence results; a checkpoint written before
    agents reported their runtime (no ``agent_runtime``) compares as equal.
    """
    return [
        f"agent {key} {saved[key]!r} (checkpoint) vs {now.get(key)!r} (now)"
        for key in sorted(saved)
        if key in now and saved[key] != now[key]
    ]


def static_meta(agent: Any, config: Any) -> dict[str, Any]:
    """What every checkpoint's ``meta.json`` records about this process and agent (built once the agent exists:
    a torch agent has imported torch and pinned its threads by then)."""
    from agents.protocol import agent_rng_state_keys, agent_runtime_info
    from agents.runner.env_state import env_backend

    return {
        "versions": library_versions(),
        "threads": thread_settings(),
        "agent_runtime": agent_runtime_info(agent),
        "agent_rng_keys": list(agent_rng_state_keys(agent)),
        "env_backend": env_backend(),
        "agent": config.agent,
        "env_id": config.env_id,
    }
