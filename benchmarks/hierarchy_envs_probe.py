"""Tuning probe for the hierarchy agent across envs (issue 12), through the same path as ``sphgym train --seed S``.

Each (env, seed) is one ``agents.runner.Runner`` run with ``RunConfig(env_id=ENV, seed=S, ...)``, exactly what the
CLI builds, in a temporary folder (no TensorBoard; checkpoint timing never changes the trajectory). A run stops
when the mean of the last 100 episodes reaches the env's target, or at the budget. Prints one line per seed and
the median; ``--out`` appends one JSON line per seed.

    python benchmarks/hierarchy_envs_probe.py --env CartPole-v1 --seeds 0-9
    python benchmarks/hierarchy_envs_probe.py --env Acrobot-v1 --seeds 0-2 --set layers=[[5,5,64],[4,4,32]]
    python benchmarks/hierarchy_envs_probe.py --env Pendulum-v1 --seeds 0-2 --set action_bins=15 --jobs 2
    python benchmarks/hierarchy_envs_probe.py --speed --set history_capacity=512   # steps/s, defaults vs variant

``--set FIELD=VALUE`` overrides a ``HierarchyAgentConfig`` field (VALUE parsed as JSON, else a string).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.sweep.spec import parse_seeds  # noqa: E402

# (target mean of the last 100 episodes, episode budget, step budget): issue 12's goal table.
TARGETS: dict[str, tuple[float, int | None, int | None]] = {
    "CartPole-v1": (475.0, 1000, None),
    "Acrobot-v1": (-100.0, None, 50_000),
    "MountainCar-v0": (-110.0, None, 200_000),
    "Pendulum-v1": (-250.0, None, 100_000),
    "LunarLander-v3": (100.0, None, 300_000),
    "FrozenLake-v1": (0.70, None, 50_000),
    "sphgym/CartPoleNoVelocity-v0": (475.0, 1000, None),
}
WINDOW = 100


def parse_sets(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def run_one(env_id: str, seed: int, agent_config: dict[str, Any], budget_scale: float) -> dict[str, Any]:
    from agents.runner.config import RunConfig
    from agents.runner.runner import Runner

    target, episodes, steps = TARGETS[env_id]
    episodes = None if episodes is None else int(episodes * budget_scale)
    steps = None if steps is None else int(steps * budget_scale)
    returns: list[float] = []
    solved: dict[str, int] = {}
    best = -np.inf

    first_good: list[int] = []
    curve: list[float] = []  # mean of the last 100 episodes at each tenth of the budget
    budget = steps if steps is not None else episodes

    def on_episode(event: Any) -> bool:
        nonlocal best
        returns.append(event.episode_return)
        if event.episode_return >= target and not first_good:
            first_good.append(event.episode)
        done = event.global_step if steps is not None else event.episode
        while len(curve) < 10 and done >= budget * (len(curve) + 1) / 10:
            curve.append(round(float(np.mean(returns[-WINDOW:])), 2))
        if len(returns) >= WINDOW:
            mean = float(np.mean(returns[-WINDOW:]))
            best = max(best, mean)
            if mean >= target and not solved:
                solved.update(episode=event.episode, step=event.global_step)
                return False
        return True

    config = RunConfig(
        env_id=env_id,
        seed=seed,
        episodes=episodes,
        steps=steps,
        agent_config=agent_config,
        tensorboard=False,
        checkpoint_every=1_000_000,
        reward_threshold=target,
    )
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hier-probe-") as tmp:
        result = Runner(Path(tmp) / "run", config, log=None, on_episode=on_episode, handle_signals=False).train()
    return {
        "env": env_id,
        "seed": seed,
        "set": agent_config,
        "solved_episode": solved.get("episode"),
        "solved_step": solved.get("step"),
        "best_mean100": None if best == -np.inf else round(best, 3),
        "last_mean100": round(float(np.mean(returns[-WINDOW:])), 3) if returns else None,
        "first_episode_at_target": first_good[0] if first_good else None,
        "curve": curve,
        "episodes": len(returns),
        "steps": result.global_step,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def speed(env_id: str, agent_config: dict[str, Any], repeats: int = 5, steps: int = 4000) -> None:
    """CPU-time train steps/s (env + agent, learning on) of the defaults vs ``agent_config``, interleaved."""
    import envs
    from agents.registry import make_agent

    rates: dict[str, list[float]] = {"defaults": [], "variant": []}
    runs = {}
    for name, cfg in (("defaults", {}), ("variant", agent_config)):
        env = envs.make_env(env_id)
        agent = make_agent("hierarchy", env.observation_space, env.action_space, cfg, seed=0)
        obs, _ = env.reset(seed=0)
        runs[name] = [env, agent, obs]
    for _ in range(repeats + 1):  # the first round warms up (kernels, full replay)
        for name, run in runs.items():
            env, agent, obs = run
            t0 = time.process_time()
            for _ in range(steps):
                obs, r, term, trunc, _ = env.step(agent.act(obs))
                agent.observe(obs, float(r), term, trunc)
                if term or trunc:
                    obs, _ = env.reset()
                    agent.clear_state()
            run[2] = obs
            rates[name].append(steps / (time.process_time() - t0))
    for name, values in rates.items():
        print(f"{env_id} {name}: {np.median(values[1:]):,.0f} train steps/s by CPU time (median of {repeats})")
    print(f"ratio variant/defaults: {np.median(rates['variant'][1:]) / np.median(rates['defaults'][1:]):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--env", default="CartPole-v1", choices=sorted(TARGETS))
    ap.add_argument("--seeds", default="0-2")
    ap.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--budget-scale", type=float, default=1.0, help="multiply the step/episode budget")
    ap.add_argument("--out", type=Path, default=None, help="append one JSON line per seed here")
    ap.add_argument("--label", default="", help="free text stored with each JSON line")
    ap.add_argument("--speed", action="store_true", help="measure steps/s of the defaults vs --set instead")
    args = ap.parse_args()
    agent_config = parse_sets(args.set)
    if args.speed:
        speed(args.env, agent_config)
        return
    seeds = parse_seeds(args.seeds)
    rows = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_one, args.env, s, agent_config, args.budget_scale) for s in seeds]
        for future in as_completed(futures):
            row = future.result()
            row["label"] = args.label
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.out:
                with args.out.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
    rows.sort(key=lambda r: r["seed"])
    solved_eps = [r["solved_episode"] for r in rows if r["solved_episode"] is not None]
    solved_steps = [r["solved_step"] for r in rows if r["solved_step"] is not None]
    bests = [r["best_mean100"] for r in rows if r["best_mean100"] is not None]
    # Unsolved seeds count as worse than any solved one in the median.
    eps = [r["solved_episode"] if r["solved_episode"] is not None else 10**9 for r in rows]
    print(
        f"{args.env} set={agent_config} seeds={seeds}: solved {len(solved_eps)}/{len(rows)}, "
        f"median episodes {np.median(eps) if solved_eps else '-'} (per seed {[r['solved_episode'] for r in rows]}), "
        f"median steps {np.median(solved_steps) if solved_steps else '-'}, "
        f"best mean100 median {np.median(bests) if bests else '-'} (per seed {bests}), "
        f"seconds {[r['seconds'] for r in rows]}"
    )


if __name__ == "__main__":
    main()
