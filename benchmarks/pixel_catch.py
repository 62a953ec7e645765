"""Learning from pixels: sphgym's hierarchy agent vs PyAOgmaNeo's image path on sphgym/PixelCatch-v0.

Both see only the 8x8 grey image (uint8). Both put an image encoder of hidden size (8, 8, 16), radius 1 (our
default for this image: fields just covering it) in front of a one-layer (5, 5, 64) hierarchy whose observation
port is NONE and whose action port (1, 1, 3) has an actor, and both learn at every step.

* ours: `HierarchyAgent` with its defaults (episode ends passed as terminated, `clear_state` at resets), driven
  by `agents.episode.play_episode`, like `sphgym train` minus checkpoints;
* pyaogmaneo: the env runner's image path as its docs describe it (image -> ImageEncoder -> hierarchy NONE port;
  the actor gets each step's reward with the next observation; one continuing stream, default params), written
  from that description in `benchmarks/pixel_envs.py` (one layer here). ``set_global_state(seed + 1)`` makes it
  reproducible.

Reported per seed: mean return of episodes 1-100 and of the last 100, the first episode at which the mean of the
last 100 returns reaches 0.9 (the env's threshold; "-" if never), and env steps per second (wall clock).

    python benchmarks/pixel_catch.py                      # 5 seeds x 1000 episodes, ~2 minutes
    python benchmarks/pixel_catch.py --seeds 2 --episodes 300
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import envs
from benchmarks.pixel_envs import run_ours as _run_ours
from benchmarks.pixel_envs import run_pyaogmaneo as _run_pyaogmaneo

ENV = "sphgym/PixelCatch-v0"
THRESHOLD = 0.9
_NO_STEP_LIMIT = 1 << 62


def run_ours(seed: int, episodes: int) -> list[float]:
    return [r for _, r in _run_ours(ENV, seed, _NO_STEP_LIMIT, episodes)]


def run_pyaogmaneo(seed: int, episodes: int) -> list[float] | None:
    eps = _run_pyaogmaneo(ENV, seed, _NO_STEP_LIMIT, episodes, layers=1)
    return None if eps is None else [r for _, r in eps]


def solved_at(returns: list[float]) -> int | None:
    for i in range(100, len(returns) + 1):
        if np.mean(returns[i - 100 : i]) >= THRESHOLD:
            return i
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--episodes", type=int, default=1000)
    args = ap.parse_args()
    steps_per_episode = envs.make_env(ENV).observation_space.shape[0] - 1
    print(f"{ENV}: {args.seeds} seeds x {args.episodes} episodes ({steps_per_episode} steps each)")
    print(f"{'system':12s} {'seed':>4s} {'first 100':>10s} {'last 100':>9s} {'solved at':>10s} {'steps/s':>8s}")
    summary: dict[str, list[tuple[float, float, int | None]]] = {}
    for name, fn in (("ours", run_ours), ("pyaogmaneo", run_pyaogmaneo)):
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            returns = fn(seed, args.episodes)
            if returns is None:
                print("pyaogmaneo not installed: no side-by-side figures (pip install pyaogmaneo==2.14.4)")
                break
            sps = len(returns) * steps_per_episode / (time.perf_counter() - t0)
            first, last, at = float(np.mean(returns[:100])), float(np.mean(returns[-100:])), solved_at(returns)
            summary.setdefault(name, []).append((first, last, at))
            print(f"{name:12s} {seed:4d} {first:10.2f} {last:9.2f} {at if at else '-':>10} {sps:8,.0f}")
    for name, rows in summary.items():
        solved = [r[2] for r in rows if r[2] is not None]
        med = statistics.median(solved) if len(solved) == len(rows) else "-"
        print(
            f"{name:12s} median: first 100 {statistics.median(r[0] for r in rows):.2f}, last 100 "
            f"{statistics.median(r[1] for r in rows):.2f}, solved {len(solved)}/{len(rows)}, median solved at {med}"
        )


if __name__ == "__main__":
    main()
