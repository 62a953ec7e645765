"""What checkpointing costs, as a share of training time (target: < 2 % at the default frequency on CartPole).

    python benchmarks/resume_overhead.py [--agent hierarchy] [--episodes 300] [--every 1 10]
                                         [--min-interval 0 2]

For each (checkpoint_every, checkpoint_min_interval) it trains the same run (same seed, hence the same
trajectory, which the script checks) and accounts, inside the process, for the training-thread time spent in
checkpoint code:

* ``periodic_ms``: periodic checkpoints (serialisation in the training thread; the disk work runs in a
  background thread, so this includes waiting only if the previous write is still going);
* ``best_ms``: snapshots of the weights for ``best/``;
* ``fixed_ms``: the initial and final checkpoints, written synchronously once per ``train()`` call.

``overhead_percent`` = (periodic + best) / train time: the cost that grows with the run.
``overhead_with_fixed`` adds the one-off cost, which matters only for very short runs. One JSON line per
configuration.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.runner import RunConfig, Runner
from agents.runner import runner as runner_module


def measure(agent: str, env_id: str, episodes: int, every: int, min_interval: float, seed: int) -> dict:
    spent = {"periodic": 0.0, "fixed": 0.0, "best": 0.0, "periodic_count": 0}
    session = runner_module._Session
    original_checkpoint, original_best = session._checkpoint, session._note_best

    def timed_checkpoint(self, kind, *args, **kwargs):
        start = time.perf_counter()
        try:
            return original_checkpoint(self, kind, *args, **kwargs)
        finally:
            bucket = "periodic" if kind == "periodic" else "fixed"
            spent[bucket] += time.perf_counter() - start
            spent["periodic_count"] += kind == "periodic"

    def timed_best(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return original_best(self, *args, **kwargs)
        finally:
            spent["best"] += time.perf_counter() - start

    session._checkpoint, session._note_best = timed_checkpoint, timed_best
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = RunConfig(
                env_id=env_id,
                agent=agent,
                episodes=episodes,
                checkpoint_every=every,
                checkpoint_min_interval=min_interval,
                seed=seed,
                stop_when_solved=False,
            )
            start = time.perf_counter()
            result = Runner(Path(tmp) / "run", config, log=None).train()
            total = time.perf_counter() - start
            size = sum(p.stat().st_size for p in result.checkpoint.iterdir())
    finally:
        session._checkpoint, session._note_best = original_checkpoint, original_best
    return {
        "agent": agent,
        "env": env_id,
        "checkpoint_every": every,
        "checkpoint_min_interval": min_interval,
        "episodes": result.episode,
        "global_step": result.global_step,
        "train_seconds": round(total, 3),
        "periodic_checkpoints": spent["periodic_count"],
        "periodic_ms": round(1000 * spent["periodic"], 1),
        "periodic_ms_each": round(1000 * spent["periodic"] / max(1, spent["periodic_count"]), 2),
        "best_ms": round(1000 * spent["best"], 1),
        "fixed_ms": round(1000 * spent["fixed"], 1),
        "checkpoint_bytes": size,
        "overhead_percent": round(100 * (spent["periodic"] + spent["best"]) / total, 2),
        "overhead_with_fixed": round(100 * (spent["periodic"] + spent["best"] + spent["fixed"]) / total, 2),
        "weights_sha256": result.weights_sha256[:16],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agent", default="hierarchy")
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--every", type=int, nargs="+", default=[RunConfig().checkpoint_every])
    parser.add_argument(
        "--min-interval", type=float, nargs="+", default=[RunConfig().checkpoint_min_interval]
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = [
        measure(args.agent, args.env, args.episodes, every, interval, args.seed)
        for every in args.every
        for interval in args.min_interval
    ]
    for row in rows:
        print(json.dumps(row), flush=True)
    if len({row["weights_sha256"] for row in rows}) != 1:
        print("ERROR: the checkpoint frequency changed the trajectory", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
