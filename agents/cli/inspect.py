"""``sphgym inspect``: what a checkpoint holds (counters, best metric, digests, sizes, RNGs, versions)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from agents.cli.common import HelpFormatter

DESCRIPTION = """\
Show what a checkpoint holds: episodes done, global step, where in an episode it was taken, best metric,
early-stopping state, sizes of weights and state, which RNG states are saved, library versions, and the
weights_sha256 / state_sha256 digests (equal digests = identical agents). Given a run folder it describes the
newest valid checkpoint and lists every checkpoint with its validity. Reads only.
"""

EPILOG = """\
examples:
  sphgym inspect runs/CartPole-v1__hierarchy__s0__20250101-120000
  sphgym inspect runs/my-run/checkpoints/ep00000100-st0000012345
  sphgym inspect runs/my-run --json > info.json       # machine-readable (keys below)

--json keys include: episode, global_step, episode_step, in_episode, status, weights_sha256, state_sha256,
best_metric, best_episode, early_stopping, sizes, rng_states, versions, threads, format_version, created,
config, valid, problems, checkpoints (run folder only).
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="show a checkpoint's counters, best metric, digests, sizes and versions",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("path", metavar="DIR|CHECKPOINT", help="run folder or checkpoint directory")
    parser.add_argument("--json", action="store_true", help="print everything as JSON (stdout)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from agents.cli.common import existing_run_dir
    from agents.runner import inspect_checkpoint

    existing_run_dir(args.path, "run folder or checkpoint")
    info = inspect_checkpoint(args.path)
    if args.json:
        json.dump(info, sys.stdout, indent=2, sort_keys=True, default=str)
        sys.stdout.write("\n")
    else:
        print(format_info(info))
    return 0


def format_info(info: dict[str, Any]) -> str:
    from agents.runner.checkpoint import STATE, WEIGHTS

    config = info.get("config") or {}
    n_envs = config.get("n_envs", 1)
    where = (
        f"mid-episode, step {info.get('episode_step')} of episode {info.get('episode', 0) + 1}"
        if info.get("in_episode") else "at an episode boundary"
    )
    if isinstance(n_envs, int) and n_envs > 1:
        where = "before the first reset"
        if info.get("in_episode"):
            where = f"{n_envs} env copies, each mid-episode or resetting"
    best = info.get("best_metric")
    best_text = (
        f"{best:.6g} (episode {info.get('best_episode')})" if isinstance(best, (int, float)) else "none yet"
    )
    sizes = info.get("sizes") or {}
    lines = [
        f"checkpoint    {info.get('checkpoint')}",
        f"run           {config.get('agent', '?')} on {config.get('env_id', '?')}, "
        f"seed {config.get('seed', '?')}" + (f", {n_envs} envs (--n-envs)" if n_envs != 1 else ""),
        f"progress      episode {info.get('episode')}, global step {info.get('global_step')}, {where}",
        f"status        {info.get('status')}"
        + (f" ({info.get('kind')} checkpoint)" if info.get("kind") else ""),
        f"best metric   {best_text}",
        f"early stop    {_early_stopping(info.get('early_stopping'))}",
        f"weights       {_size(sizes.get(WEIGHTS))}  sha256 {info.get('weights_sha256')}",
        f"state         {_size(sizes.get(STATE))}  sha256 {info.get('state_sha256')}",
        f"total size    {_size(sizes.get('total'))}",
        f"rng states    {', '.join(info.get('rng_states') or []) or 'none'}",
        f"env state     {_env_state(info.get('env_episode_state_captured'))}",
        f"versions      {_versions(info.get('versions') or {})}",
        f"format        {info.get('format_version')}, created {info.get('created')}",
    ]
    threads = {k: v for k, v in (info.get("threads") or {}).items() if v is not None}
    if threads:
        lines.append(f"threads       {', '.join(f'{k}={v}' for k, v in sorted(threads.items()))}")
    checkpoints = info.get("checkpoints")
    if checkpoints:
        marks = [f"{c['id']}{'' if c.get('valid') else ' (INVALID)'}" for c in checkpoints]
        lines.append(f"checkpoints   {len(checkpoints)}: {', '.join(marks)}")
    for problem in info.get("problems") or []:
        lines.append(f"problem       {problem}")
    return "\n".join(lines)


def _size(n: Any) -> str:
    if not isinstance(n, int):
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _early_stopping(state: Any) -> str:
    if not state:
        return "off"
    if isinstance(state, dict):
        return ", ".join(f"{k}={v}" for k, v in state.items())
    return str(state)


def _env_state(captured: Any) -> str:
    if captured is None:
        return "none (taken before the first reset)"
    return "episode state captured (exact mid-episode resume)" if captured else (
        "RNG and counters only (resume replays from the episode boundary)"
    )


def _versions(versions: dict[str, Any]) -> str:
    order = ["sphgym", "python", "numpy", "gymnasium", "numba", "torch"]
    keys = [k for k in order if k in versions] + sorted(k for k in versions if k not in order)
    return ", ".join(f"{k} {versions[k]}" for k in keys)
