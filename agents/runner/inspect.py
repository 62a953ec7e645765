"""``inspect_checkpoint``: what a checkpoint (or a run's newest valid checkpoint) holds, as plain data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.runner.checkpoint import (
    CONFIG_JSON,
    ENV_JSON,
    MARKER,
    META,
    RNG_JSON,
    RUNNER_JSON,
    STATE,
    WEIGHTS,
    Checkpoint,
    find_latest_valid,
    list_checkpoints,
    loading,
    read_checkpoint,
)
from agents.runner.errors import CheckpointError
from agents.runner.run_folder import CHECKPOINTS_DIR


def _describe(ckpt: Checkpoint) -> dict[str, Any]:
    with loading(ckpt.path, "checkpoint description"):
        return _describe_unchecked(ckpt)


def _describe_unchecked(ckpt: Checkpoint) -> dict[str, Any]:
    info = ckpt.json(RUNNER_JSON)
    tracker = info["tracker"]
    rng_states = []
    if ckpt.has(RNG_JSON):
        rng_states += sorted(ckpt.json(RNG_JSON))  # python, numpy, torch
    if ckpt.has(ENV_JSON):
        snapshot = ckpt.json(ENV_JSON)
        if isinstance(snapshot, dict):
            if snapshot.get("np_random") is not None or "env_rng" in snapshot:
                rng_states.append("env")
            for key in ("action_space", "observation_space"):
                if snapshot.get(key) is not None:
                    rng_states.append(key)
    state_keys = sorted(ckpt.arrays(STATE))
    # An agent's RNG is in state keys named "rng..." or in keys the agent declared (``rng_state_keys``, e.g. the
    # hierarchy agent, whose RNG word lives inside its state buffer).
    if any("rng" in key.lower() for key in state_keys) or ckpt.meta.get("agent_rng_keys"):
        rng_states.append("agent")
    sizes = {name: len(data) for name, data in ckpt.files.items()}
    sizes["total"] = sum(sizes.values())
    return {
        "checkpoint": str(ckpt.path),
        "id": ckpt.id,
        "valid": True,
        "episode": int(info["episode"]),
        "global_step": int(info["global_step"]),
        "episode_step": int(info["episode_step"]),
        "in_episode": bool(info["in_episode"]),
        "status": info["status"],
        "weights_sha256": ckpt.weights_sha256,
        "state_sha256": ckpt.state_sha256,
        "best_metric": tracker["best_metric"],
        "best_episode": tracker["best_episode"],
        "best_global_step": tracker["best_global_step"],
        "best_saved": {"episode": tracker["saved_best_episode"], "metric": tracker["saved_best_metric"]},
        "early_stopping": tracker["early_stopping"],
        "reward_threshold": info.get("reward_threshold"),
        "seeds": info["seeds"],
        "sizes": sizes,
        "rng_states": rng_states,
        "env_episode_state_captured": (
            ckpt.json(ENV_JSON).get("episode_state_captured")
            if ckpt.has(ENV_JSON) and ckpt.json(ENV_JSON)
            else None
        ),
        "weights_keys": sorted(ckpt.arrays(WEIGHTS)),
        "state_keys": state_keys,
        "kind": ckpt.meta.get("kind"),
        "versions": ckpt.meta.get("versions", {}),
        "threads": ckpt.meta.get("threads", {}),
        "format_version": ckpt.meta.get("format_version"),
        "created": ckpt.meta.get("created"),
        "config": ckpt.json(CONFIG_JSON),
        "problems": [],
    }


def inspect_checkpoint(path: str | Path) -> dict[str, Any]:
    """Describe a checkpoint directory, or the newest valid checkpoint of a run folder.

    For a run folder the result also lists every checkpoint (``checkpoints``: id, valid, problem) and the
    problems of newer invalid ones (``problems``).

    Raises:
        FileNotFoundError: Nothing at ``path`` or no checkpoint in the run folder.
        CheckpointError: A checkpoint directory given directly is invalid, or no checkpoint of the run is
            valid.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{str(path)!r} does not exist (expected a run folder or a checkpoint directory).")
    if (path / MARKER).exists() or (path / META).exists():
        return _describe(read_checkpoint(path))
    root = path / CHECKPOINTS_DIR
    paths = list_checkpoints(root)
    if not paths:
        raise FileNotFoundError(f"{str(path)!r} has no checkpoints (expected {str(root)!r}).")
    ckpt, problems = find_latest_valid(root)
    listing = []
    for candidate in paths:
        try:
            read_checkpoint(candidate)
            listing.append({"id": candidate.name, "valid": True, "problem": None})
        except CheckpointError as exc:
            listing.append({"id": candidate.name, "valid": False, "problem": str(exc)})
    if ckpt is None:
        raise CheckpointError(
            f"No valid checkpoint in {str(root)!r}: " + "; ".join(f"{p.name}: {m}" for p, m in problems)
        )
    result = _describe(ckpt)
    result["problems"] = [f"{p.name}: {m}" for p, m in problems]
    result["checkpoints"] = listing
    result["run_dir"] = str(path)
    return result
