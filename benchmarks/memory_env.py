"""Does temporal state matter? The hierarchy agent on a memory env, with and without its recurrence.

``sphgym/CartPoleNoVelocity-v0`` hides CartPole's velocities: a memoryless policy sees only [x, theta] and must
guess which way the pole is moving. The hierarchy's encoder sees its own previous state (``recurrent_radius``
0 = its own column); ``recurrent_radius=-1`` removes that memory. Both variants are trained side by side with
the same seeds and budget, and the table reports the mean return over the last 100 training episodes and over
evaluation episodes with learning disabled:

    python benchmarks/memory_env.py                    # seeds 0-4, 600 episodes
    python benchmarks/memory_env.py --seeds 0-1 --episodes 200   # quick check
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

VARIANTS = {
    "with memory (recurrent_radius=0)": {},
    "memory removed (recurrent_radius=-1)": {"recurrent_radius": -1},
}


def run(env_id: str, overrides: dict, seed: int, episodes: int, eval_episodes: int) -> tuple[float, float, float]:
    import envs
    from agents.episode import play_episode
    from agents.registry import make_agent

    env = envs.make_env(env_id)
    agent = make_agent("hierarchy", env.observation_space, env.action_space, overrides, seed=seed)
    returns: list[float] = []
    steps, start = 0, time.perf_counter()
    for episode in range(episodes + eval_episodes):
        if episode == episodes:
            agent.learn_enabled = False
        outcome = play_episode(agent, env, seed=seed if episode == 0 else None)
        returns.append(outcome.episode_return)
        steps += outcome.length
    rate = steps / (time.perf_counter() - start)
    return float(np.mean(returns[episodes - 100 : episodes])), float(np.mean(returns[episodes:])), rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="sphgym/CartPoleNoVelocity-v0")
    parser.add_argument("--seeds", default="0-4", help="e.g. 0-4 or 0,2")
    parser.add_argument("--episodes", type=int, default=600, help="training episodes per seed (>= 100)")
    parser.add_argument("--eval-episodes", type=int, default=20)
    args = parser.parse_args(argv)
    lo, _, hi = args.seeds.partition("-")
    seeds = [int(s) for s in args.seeds.split(",")] if "," in args.seeds else list(range(int(lo), int(hi or lo) + 1))

    rows = []
    for name, overrides in VARIANTS.items():
        results = [run(args.env, overrides, seed, args.episodes, args.eval_episodes) for seed in seeds]
        for seed, (train, evaluation, rate) in zip(seeds, results, strict=True):
            print(
                f"# {name} seed {seed}: last-100 train {train:.1f}, eval {evaluation:.1f}, {rate:,.0f} steps/s",
                flush=True,
            )
        rows.append(
            (
                name,
                statistics.median(r[0] for r in results),
                statistics.median(r[1] for r in results),
                [round(r[0], 1) for r in results],
            )
        )
    print(f"\n{args.env}, {args.episodes} training episodes, seeds {args.seeds}\n")
    print(
        "| hierarchy agent | mean return, last 100 training episodes (median) | eval return, learning off (median) "
        "| per seed (training) |"
    )
    print("|---|---|---|---|")
    for name, train, evaluation, per_seed in rows:
        print(f"| {name} | {train:.1f} | {evaluation:.1f} | {per_seed} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
