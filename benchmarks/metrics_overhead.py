"""What the agents' TensorBoard diagnostics (issue 14, ``metrics()``) cost in training speed (goal: < 3 %).

    python benchmarks/metrics_overhead.py [--agents hierarchy ppo] [--steps 4000] [--repeats 5]

For each agent it trains the same CartPole-v1 run (same seed) through the real runner, TensorBoard on, with the
diagnostics on and off, alternating (on, off, on, off, ...) so drifts of a shared machine hit both alike. Off =
the runner sees no ``metrics`` hook and the hierarchy agent's per-step recorder does nothing. The episodes.csv of
both must be identical (the diagnostics only read). Prints one JSON line per agent: per-repeat env steps/s, the
medians and off/on ratio of medians minus 1 as ``overhead_percent``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents import hierarchy_metrics
from agents.runner import RunConfig, Runner
from agents.runner import runner as runner_module


@contextlib.contextmanager
def diagnostics_off():
    hook, record = runner_module.agent_metrics_hook, hierarchy_metrics.EpisodeMetrics.record
    runner_module.agent_metrics_hook = lambda agent: None
    hierarchy_metrics.EpisodeMetrics.record = lambda self, hierarchy: None
    try:
        yield
    finally:
        runner_module.agent_metrics_hook, hierarchy_metrics.EpisodeMetrics.record = hook, record


def one_run(agent: str, steps: int, off: bool) -> tuple[float, bytes]:
    config = RunConfig(agent=agent, env_id="CartPole-v1", steps=steps, episodes=None, seed=0, checkpoint_every=10**6)
    with tempfile.TemporaryDirectory() as tmp, diagnostics_off() if off else contextlib.nullcontext():
        start = time.perf_counter()
        result = Runner(Path(tmp) / "run", config, log=None).train()
        elapsed = time.perf_counter() - start
        return result.global_step / elapsed, (Path(tmp) / "run" / "episodes.csv").read_bytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", nargs="+", default=["hierarchy", "ppo"])
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    for agent in args.agents:
        one_run(agent, 500, off=False)  # warm-up: numba/torch compilation and caches
        rates = {"on": [], "off": []}
        csvs = set()
        for _ in range(args.repeats):
            for mode in ("on", "off"):
                rate, csv = one_run(agent, args.steps, off=mode == "off")
                rates[mode].append(round(rate, 1))
                csvs.add(csv)
        on, off = statistics.median(rates["on"]), statistics.median(rates["off"])
        print(json.dumps({
            "agent": agent, "steps": args.steps, "steps_per_s_on": rates["on"], "steps_per_s_off": rates["off"],
            "median_on": on, "median_off": off, "overhead_percent": round(100 * (off / on - 1), 2),
            "same_episodes_csv": len(csvs) == 1,
        }))


if __name__ == "__main__":
    main()
