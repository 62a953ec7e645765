"""CartPole-v1 learning probe: our `Hierarchy` vs pyaogmaneo on the same minimal loop.

A self-contained loop in the shape of PyAOgmaNeo's env runner (not the sphgym runner): each observation's
4 floats are binned into 16 cells (finite bounds linearly, unbounded ones through a sigmoid), giving a
(2, 2, 16) NONE port; the action is a (1, 1, 2) ACTION port fed back with the action taken; one layer
(5, 5, 64). Reward 1 per step.

Modes:
  anchor   the anchor's way: no episode information; the reset observation of the next episode follows the
           last pre-terminal observation, and ``--terminal-reward`` is added to the reward of a terminal step.
  episodic ours only: the final observation is passed with ``terminated`` / ``truncated`` (sphgym extension),
           then ``clear_state()``; the next episode starts with reward 0.

Prints, per seed, episodes until the mean of the last 100 returns reaches 475 (or the best mean-100).

    python benchmarks/hierarchy_cartpole_probe.py --agent ours --mode episodic --seeds 0 1 2
    python benchmarks/hierarchy_cartpole_probe.py --agent neo --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hierarchy import Hierarchy, IODesc, IOType, LayerDesc

RES = 16


def encode(obs: np.ndarray, low: np.ndarray, high: np.ndarray, sensitivity: float) -> np.ndarray:
    out = np.empty(4, np.int32)
    for i in range(4):
        if np.isfinite(low[i]) and np.isfinite(high[i]):
            u = (float(obs[i]) - low[i]) / (high[i] - low[i])
        else:
            u = 1.0 / (1.0 + math.exp(-float(obs[i]) * sensitivity))
        out[i] = min(RES - 1, max(0, int(u * RES)))
    return out


def make_ours(seed: int, overrides: dict[str, float]):
    h = Hierarchy(
        [IODesc((2, 2, RES), IOType.NONE, up_radius=2), IODesc((1, 1, 2), IOType.ACTION)],
        [LayerDesc((5, 5, 64))],
        seed=seed,
    )
    for key, value in overrides.items():
        obj = h.params
        *path, last = key.split(".")
        for part in path:
            obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
        setattr(obj, last, type(getattr(obj, last))(value))
    return h


def make_neo(seed: int):
    import pyaogmaneo as neo

    neo.set_num_threads(1)
    neo.set_global_state(seed + 1)
    return neo.Hierarchy(
        [neo.IODesc((2, 2, RES), neo.none, up_radius=2), neo.IODesc((1, 1, 2), neo.action)],
        [neo.LayerDesc((5, 5, 64))],
    )


def run(
    agent: str,
    mode: str,
    seed: int,
    max_episodes: int,
    terminal_reward: float,
    sensitivity: float,
    overrides: dict[str, float],
) -> dict:
    env = gym.make("CartPole-v1")
    low, high = env.observation_space.low, env.observation_space.high
    h = make_ours(seed, overrides) if agent == "ours" else make_neo(seed)
    returns: list[float] = []
    action = np.zeros(1, np.int32)
    obs, _ = env.reset(seed=seed)
    reward = 0.0
    steps = 0
    solved_at = None
    best = 0.0
    t0 = time.perf_counter()
    while len(returns) < max_episodes:
        ep_return = 0.0
        while True:
            h.step([encode(obs, low, high, sensitivity), action], True, reward)
            action = np.asarray(h.get_prediction_cis(1), np.int32)
            obs, r, term, trunc, _ = env.step(int(action[0]))
            steps += 1
            ep_return += r
            reward = float(r)
            if term or trunc:
                if mode == "episodic":
                    h.step(
                        [encode(obs, low, high, sensitivity), action],
                        True,
                        reward,
                        terminated=term,
                        truncated=trunc and not term,
                    )
                    h.clear_state()
                    reward = 0.0
                elif term:
                    reward += terminal_reward
                obs, _ = env.reset()
                break
        returns.append(ep_return)
        if len(returns) >= 100:
            m = float(np.mean(returns[-100:]))
            best = max(best, m)
            if m >= 475.0:
                solved_at = len(returns)
                break
    return {
        "agent": agent,
        "mode": mode,
        "seed": seed,
        "solved_at": solved_at,
        "best_mean100": best,
        "episodes": len(returns),
        "steps": steps,
        "seconds": time.perf_counter() - t0,
        "last10": float(np.mean(returns[-10:])),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agent", choices=["ours", "neo"], default="ours")
    ap.add_argument("--mode", choices=["anchor", "episodic"], default="anchor")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--episodes", type=int, default=1000)
    ap.add_argument("--terminal-reward", type=float, default=-100.0)
    ap.add_argument("--sensitivity", type=float, default=1.0)
    ap.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="PATH=VALUE",
        help="param overrides for ours, e.g. ios.1.actor.plr=0.05",
    )
    args = ap.parse_args()
    if args.agent == "neo" and args.mode == "episodic":
        ap.error("pyaogmaneo has no episode extension: use --mode anchor")
    overrides = dict(kv.split("=", 1) for kv in args.set)
    results = []
    for seed in args.seeds:
        res = run(
            args.agent,
            args.mode,
            seed,
            args.episodes,
            args.terminal_reward,
            args.sensitivity,
            {k: float(v) for k, v in overrides.items()},
        )
        results.append(res)
        print(
            f"{res['agent']:4s} {res['mode']:8s} seed {seed}: solved_at={res['solved_at']} "
            f"best_mean100={res['best_mean100']:.1f} episodes={res['episodes']} steps={res['steps']} "
            f"({res['steps'] / res['seconds']:.0f} steps/s)",
            flush=True,
        )
    solved = [r["solved_at"] for r in results if r["solved_at"] is not None]
    print(
        f"solved {len(solved)}/{len(results)}; median episodes to solve "
        f"{np.median(solved) if solved else float('nan')}; median best mean100 "
        f"{np.median([r['best_mean100'] for r in results]):.1f}"
    )


if __name__ == "__main__":
    main()
