"""CartPole-v1 sample efficiency and throughput: sphgym's hierarchy agent side by side with its peers.

"Solved" = mean return of the last 100 training episodes >= 475 (the env spec's reward threshold).
One invocation runs every available system on the same seeds and prints one table of medians:

    python benchmarks/cartpole.py                      # seeds 0-9, all available systems
    python benchmarks/cartpole.py --seeds 0-2 --systems sphgym-hierarchy,pyaogmaneo   # quick check

Peers are optional: ``pip install -e ".[bench]"`` installs pyaogmaneo (non-commercial licence: benchmark
only, never a dependency) and stable-baselines3. The pyaogmaneo driver follows its CartPole example's
env-runner conventions as described in our notes: obs port (2,2,16) (finite bounds scaled linearly,
unbounded dims squashed by a sigmoid), one layer (5,5,64), action port (1,1,2), no episode boundaries,
a terminal reward of -100 and reward passed one step late.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SOLVE_THRESHOLD = 475.0
WINDOW = 100


@dataclass
class SeedResult:
    solved_at: int | None  # episode count when the last-100 mean first reached the threshold
    steps_to_solve: int | None
    episodes_run: int
    best_mean: float
    train_steps_per_s: float
    eval_steps_per_s: float
    eval_mean_return: float
    weights_bytes: int | None = None
    state_bytes: int | None = None


class SolveTracker:
    """Counts episodes and steps until the rolling mean reaches the threshold."""

    def __init__(self, max_episodes: int) -> None:
        self.returns: list[float] = []
        self.steps = 0
        self.max_episodes = max_episodes
        self.solved_at: int | None = None
        self.steps_to_solve: int | None = None
        self.best_mean = float("-inf")

    def episode(self, ret: float) -> None:
        self.returns.append(ret)
        if len(self.returns) >= WINDOW:
            mean = float(np.mean(self.returns[-WINDOW:]))
            self.best_mean = max(self.best_mean, mean)
            if self.solved_at is None and mean >= SOLVE_THRESHOLD:
                self.solved_at, self.steps_to_solve = len(self.returns), self.steps

    @property
    def done(self) -> bool:
        return self.solved_at is not None or len(self.returns) >= self.max_episodes

    def result(
        self, train_rate: float, eval_rate: float, eval_returns: list[float], weights: int | None, state: int | None
    ) -> SeedResult:
        """The seed's row: solve point and best mean from training, then the speeds and sizes given."""
        return SeedResult(
            self.solved_at, self.steps_to_solve, len(self.returns), self.best_mean,
            train_rate, eval_rate, float(np.mean(eval_returns)), weights, state,
        )  # fmt: skip


# --- sphgym agents (any registered agent, seeded and driven exactly as `sphgym train --seed S` does) ------------
def run_sphgym(
    agent_name: str, seed: int, max_episodes: int, eval_episodes: int, overrides: dict | None = None
) -> SeedResult:
    """One seed through the runner's own seeding: ``RunConfig(seed=S).derived_seeds()`` gives the agent's seed,
    the first reset's seed and the global RNGs, so the solve point equals the CLI's for the same seed."""
    from agents.episode import play_episode
    from agents.runner.config import RunConfig, build_agent
    from agents.runner.env_state import make_run_env
    from agents.runner.rng_state import seed_global_rng

    config = RunConfig(env_id="CartPole-v1", agent=agent_name, seed=seed, agent_config=dict(overrides or {}))
    seeds = config.derived_seeds()
    seed_global_rng(seeds)
    env = make_run_env(config)
    env.action_space.seed(seeds["action_space"])
    env.observation_space.seed(seeds["observation_space"])
    agent = build_agent(config, env, seeds["agent"])
    tracker = SolveTracker(max_episodes)
    start = time.perf_counter()
    while not tracker.done:
        outcome = play_episode(agent, env, seed=seeds["env"] if not tracker.returns else None)
        tracker.steps += outcome.length
        tracker.episode(outcome.episode_return)
    train_rate = tracker.steps / (time.perf_counter() - start)

    agent.learn_enabled = False
    start = time.perf_counter()
    outcomes = [play_episode(agent, env, seed=10_000 + i) for i in range(eval_episodes)]
    eval_rate = sum(o.length for o in outcomes) / (time.perf_counter() - start)
    eval_returns = [o.episode_return for o in outcomes]
    weights = sum(a.nbytes for a in agent.get_weights().values())
    state = sum(a.nbytes for a in agent.get_state().values())
    return tracker.result(train_rate, eval_rate, eval_returns, weights, state)


# --- PyAOgmaNeo, its CartPole example configuration -------------------------------------------------------
def run_pyaogmaneo(seed: int, max_episodes: int, eval_episodes: int) -> SeedResult:
    import pyaogmaneo as neo

    neo.set_num_threads(1)  # more threads than cores makes OpenMP spin (notes: 15x slower)
    neo.set_global_state(seed + 1)
    env = gym.make("CartPole-v1")
    low, high = env.observation_space.low, env.observation_space.high
    finite = np.isfinite(low) & np.isfinite(high)
    resolution = 16
    h = neo.Hierarchy(
        [
            neo.IODesc((2, 2, resolution), neo.none, up_radius=2),
            neo.IODesc((1, 1, 2), neo.action, up_radius=2, down_radius=2, history_capacity=512),
        ],
        [neo.LayerDesc(hidden_size=(5, 5, 64))],
    )

    def encode(o: np.ndarray) -> np.ndarray:
        scaled = np.where(finite, (o - np.where(finite, low, 0)) / np.where(finite, high - low, 1), 0.0)
        squashed = 1.0 / (1.0 + np.exp(-2.0 * o))
        v = np.where(finite, scaled, squashed)
        return np.clip((v * resolution).astype(np.int32), 0, resolution - 1).astype(np.int32)

    tracker = SolveTracker(max_episodes)
    obs, _ = env.reset(seed=seed)
    action, reward, ret = 0, 0.0, 0.0
    start = time.perf_counter()
    while not tracker.done:
        h.step([encode(obs), np.array([action], np.int32)], True, reward)
        action = int(h.get_prediction_cis(1)[0])
        obs, reward, terminated, truncated, _ = env.step(action)
        ret += reward
        tracker.steps += 1
        if terminated:
            reward = -100.0
        if terminated or truncated:
            tracker.episode(ret)
            ret = 0.0
            obs, _ = env.reset()
    train_rate = tracker.steps / (time.perf_counter() - start)

    eval_steps, eval_returns = 0, []
    start = time.perf_counter()
    for i in range(eval_episodes):
        obs, _ = env.reset(seed=10_000 + i)
        ret, done = 0.0, False
        while not done:
            h.step([encode(obs), np.array([action], np.int32)], False, 0.0)
            action = int(h.get_prediction_cis(1)[0])
            obs, reward, terminated, truncated, _ = env.step(action)
            ret += reward
            eval_steps += 1
            done = terminated or truncated
        eval_returns.append(ret)
    eval_rate = eval_steps / (time.perf_counter() - start)
    return tracker.result(train_rate, eval_rate, eval_returns, h.get_weights_size(), h.get_state_size())


# --- Stable-Baselines3 PPO with RL Zoo's tuned CartPole hyperparameters -----------------------------------
def run_sb3_ppo(seed: int, max_episodes: int, eval_episodes: int) -> SeedResult:
    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    from benchmarks.sb3_zoo import zoo_model

    torch.set_num_threads(1)
    tracker = SolveTracker(max_episodes)

    class Track(BaseCallback):
        def _on_step(self) -> bool:
            tracker.steps = self.num_timesteps
            for info in self.locals["infos"]:
                if "episode" in info:
                    tracker.episode(float(info["episode"]["r"]))
            return not tracker.done

    model = zoo_model("ppo", "CartPole-v1", seed)
    start = time.perf_counter()
    model.learn(total_timesteps=1_000_000, callback=Track())
    train_rate = tracker.steps / (time.perf_counter() - start)

    eval_env = gym.make("CartPole-v1")
    eval_steps, eval_returns = 0, []
    start = time.perf_counter()
    for i in range(eval_episodes):
        obs, _ = eval_env.reset(seed=10_000 + i)
        ret, done = 0.0, False
        while not done:
            action, _ = model.predict(obs, deterministic=False)
            obs, reward, terminated, truncated, _ = eval_env.step(int(action))
            ret += float(reward)
            eval_steps += 1
            done = terminated or truncated
        eval_returns.append(ret)
    eval_rate = eval_steps / (time.perf_counter() - start)
    weights = sum(p.numel() * p.element_size() for p in model.policy.parameters())
    return tracker.result(train_rate, eval_rate, eval_returns, weights, None)


SYSTEMS: dict[str, tuple[str | None, Callable[[int, int, int], SeedResult]]] = {
    "sphgym-hierarchy": (None, lambda s, m, e: run_sphgym("hierarchy", s, m, e)),
    "pyaogmaneo": ("pyaogmaneo", run_pyaogmaneo),
    "sb3-ppo": ("stable_baselines3", run_sb3_ppo),
}


def parse_seeds(text: str) -> list[int]:
    seeds: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        seeds.extend(range(int(lo), int(hi or lo) + 1))
    return seeds


def _median(values: list[float]) -> str:
    if not values:
        return "-"
    median = statistics.median(values)
    return f"{median:,.0f}" if median >= 1000 or median == int(median) else f"{median:,.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0-9", help="e.g. 0-9 or 0,3,5 (default: 0-9)")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset of: " + ", ".join(SYSTEMS))
    parser.add_argument("--max-episodes", type=int, default=1000, help="give up on a seed after this many episodes")
    parser.add_argument("--eval-episodes", type=int, default=20, help="episodes with learning off, per seed")
    parser.add_argument(
        "--agent-set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a hierarchy agent config field (JSON value), e.g. --agent-set policy_lr=0.01; repeatable",
    )
    args = parser.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    overrides = {}
    for item in args.agent_set:
        key, _, value = item.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    systems = dict(SYSTEMS)
    systems["sphgym-hierarchy"] = (None, lambda s, m, e: run_sphgym("hierarchy", s, m, e, overrides))

    available = []
    for name in args.systems.split(","):
        module, _ = systems[name]
        if module is not None:
            try:
                __import__(module)
            except ImportError:
                print(f"# {name}: skipped ({module} not installed; pip install -e '.[bench]')", flush=True)
                continue
        available.append(name)

    # Seeds outermost, systems innermost: a noisy machine slows every system alike, so per-seed speed
    # ratios stay meaningful.
    results: dict[str, list[SeedResult]] = {name: [] for name in available}
    for seed in seeds:
        for name in available:
            r = systems[name][1](seed, args.max_episodes, args.eval_episodes)
            results[name].append(r)
            print(
                f"# {name} seed {seed}: solved at {r.solved_at} episodes / {r.steps_to_solve} steps, "
                f"best mean100 {r.best_mean:.1f}, train {r.train_steps_per_s:,.0f} steps/s, "
                f"eval {r.eval_steps_per_s:,.0f} steps/s (mean return {r.eval_mean_return:.1f})",
                flush=True,
            )

    rows = []
    reference = results[available[0]] if available else []
    for name in available:
        runs = results[name]
        solved = [r for r in runs if r.solved_at is not None]
        eps = [r.solved_at for r in solved]
        pairs = list(zip(runs, reference, strict=True))
        train_ratio = statistics.median(a.train_steps_per_s / b.train_steps_per_s for a, b in pairs)
        eval_ratio = statistics.median(a.eval_steps_per_s / b.eval_steps_per_s for a, b in pairs)
        rows.append(
            (
                name,
                f"{len(solved)}/{len(runs)}",
                _median(eps) if len(solved) * 2 > len(runs) else f"> {args.max_episodes}",
                f"{min(eps)}-{max(eps)}" if eps else "-",
                _median([r.steps_to_solve for r in solved]),
                f"{_median([r.train_steps_per_s for r in runs])} ({train_ratio:.2f}x)",
                f"{_median([r.eval_steps_per_s for r in runs])} ({eval_ratio:.2f}x)",
                f"{statistics.median(r.eval_mean_return for r in runs):.1f}",
                f"{runs[0].weights_bytes:,}" if runs[0].weights_bytes is not None else "-",
                f"{runs[0].state_bytes:,}" if runs[0].state_bytes is not None else "-",
            )
        )

    first = available[0] if available else "-"
    header = (
        "system",
        "solved",
        "episodes to solve (median)",
        "range",
        "env steps to solve (median)",
        f"train steps/s (ratio to {first})",
        f"eval steps/s (ratio to {first})",
        "eval return",
        "weights B",
        "state B",
    )
    print("\n| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
