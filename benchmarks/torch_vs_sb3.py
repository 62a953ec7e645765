"""Our torch DQN/PPO/SAC against Stable-Baselines3 with the same RL Zoo hyperparameters.

Tasks (``--algos``): ``ppo`` and ``dqn`` on CartPole-v1 (below); ``sac-pendulum`` (SAC, Pendulum-v1, the Zoo's
20k steps) and ``ppo-pendulum`` (PPO, Pendulum-v1, the Zoo's 100k steps). The Pendulum tasks train for their
whole budget and then evaluate the final policy for 100 episodes (deterministic actions, no learning; the
same 100 evaluation env seeds for both implementations): ``eval mean100``, the goal being >= -200. Their
hyperparameters come from our RL Zoo table (``agents/torch_agents/config.py``, via the registry's env
hook); SB3 gets the Zoo entry from ``benchmarks/sb3_zoo.py``. SB3's PPO Pendulum entry uses gSDE with 4
envs, ours a plain Gaussian with one env x 4096 steps (no gSDE; ``--n-envs 4`` gives the Zoo's 4 x 1024).

For every algorithm and seed, both implementations train on CartPole-v1 until *solved* (the mean return of
the last 100 training episodes reaches 475) or a step budget runs out, and we record the env steps and
episodes to solve and the training throughput (env steps per wall-clock second, acting + env + updates).
One table at the end: medians over seeds and the ours/SB3 ratios.

Hyperparameters (RL Zoo ``hyperparams/*.yml``, CartPole-v1, written down here on purpose):

* DQN: n_timesteps 5e4, lr 2.3e-3, batch 64, buffer 1e5, learning_starts 1000, gamma 0.99,
  target_update_interval 10, train_freq 256, gradient_steps 128, exploration_fraction 0.16,
  exploration_final_eps 0.04, net_arch [256, 256].  SB3: one env (as in the Zoo).  Ours: our defaults.
* PPO: n_envs 8, n_steps 32, batch 256, gae_lambda 0.8, gamma 0.98, n_epochs 20, ent_coef 0,
  lr lin_0.001, clip_range lin_0.2, n_timesteps 1e5.  SB3: 8 envs x 32 steps (the Zoo's setting).
  Ours: one env x 256 steps by default (same batch and update counts); ``--n-envs 8``: 8 envs x 32 steps
  through Gymnasium's SyncVectorEnv, exactly the Zoo's layout (our ``n_steps`` counts all envs' steps).

``--n-envs N`` (ours only; SB3 keeps the Zoo's n_envs) steps N env copies with the runner's batched agent
calls (``act_batch``/``observe_batch``, next-step autoreset); env steps count N per vector step, as in SB3.

Runs may go past the Zoo's ``n_timesteps`` (the 100-episode window needs ~47,500 steps of near-perfect
play; budgets: ``--dqn-budget``/``--ppo-budget``, 150k steps each); schedules keep the Zoo horizon in both
implementations: epsilon stays at its final value, PPO's linear learning rate and clip range stay at 0 (SB3
gets closures over ``model.num_timesteps`` for this, since its own schedules would stretch over the
``learn()`` budget). With these hyperparameters DQN's *training* episodes (epsilon 0.04, and DQN's
well-known oscillations on CartPole) rarely average 475 over 100 episodes in either implementation, so the
table also compares the 100-episode mean when the Zoo budget ran out and the best 100-episode mean.

Both run with the same torch thread count (``--threads``, default 1) in this process, one run at a time,
seeds interleaved (ours, SB3, ours, ...) so machine load hits both alike.

    python benchmarks/torch_vs_sb3.py                      # seeds 0-9, dqn and ppo
    python benchmarks/torch_vs_sb3.py --seeds 0-1 --algos ppo
    python benchmarks/torch_vs_sb3.py --seeds 0-9 --json r.json   # then: --table-from r.json (partial ok)
    python benchmarks/torch_vs_sb3.py --seeds 0-2 --algos sac-pendulum ppo-pendulum
    python benchmarks/torch_vs_sb3.py --seeds 0-2 --algos ppo --n-envs 8   # ours on 8 envs, as the Zoo
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.registry import make_agent, make_agent_config
from benchmarks.sb3_zoo import zoo_model

ENV_ID = "CartPole-v1"
SOLVED_MEAN = 475.0
WINDOW = 100
ZOO_BUDGET = {"dqn": 50_000, "ppo": 100_000, "sac-pendulum": 20_000, "ppo-pendulum": 100_000}  # n_timesteps


@dataclass(frozen=True)
class Task:
    agent: str
    env_id: str
    solved_mean: float
    train_to_budget: bool  # False: stop when solved (CartPole); True: train the budget, then evaluate


TASKS = {
    "ppo": Task("ppo", ENV_ID, SOLVED_MEAN, False),
    "dqn": Task("dqn", ENV_ID, SOLVED_MEAN, False),
    "sac-pendulum": Task("sac", "Pendulum-v1", -200.0, True),
    "ppo-pendulum": Task("ppo", "Pendulum-v1", -200.0, True),
}
EVAL_EPISODES = 100
EVAL_SEED = 10_000  # evaluation episode i resets with seed EVAL_SEED + i, for both implementations


@dataclass
class Result:
    algo: str
    impl: str
    seed: int
    solved: bool
    steps_to_solve: int | None
    episodes_to_solve: int | None
    steps: int
    episodes: int
    seconds: float
    final_mean100: float
    mean100_at_zoo_budget: float  # mean of the last 100 training episodes when the Zoo's n_timesteps ran out
    best_mean100: float  # best mean over a full 100-episode window
    eval_mean100: float | None = None  # train_to_budget tasks: final policy, 100 deterministic episodes
    cpu_seconds: float | None = None  # process CPU time of the training (less load-sensitive than wall time)
    n_envs: int = 1  # env copies stepped together (ours: --n-envs; SB3: the Zoo's)

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds


class SolveTracker:
    """Mean of the last 100 training episode returns; remembers when it first reaches 475."""

    def __init__(self, zoo_budget: int, solved_mean: float = SOLVED_MEAN) -> None:
        self.solved_mean = solved_mean
        self.returns: deque[float] = deque(maxlen=WINDOW)
        self.episodes = 0
        self.solved_at: tuple[int, int] | None = None
        self.zoo_budget = zoo_budget
        self.mean_at_zoo_budget: float | None = None
        self.best_mean = float("nan")

    def episode_end(self, episode_return: float, steps: int) -> bool:
        if self.mean_at_zoo_budget is None and steps > self.zoo_budget:
            self.mean_at_zoo_budget = self.mean()  # the window as it stood when the Zoo budget ran out
        self.returns.append(episode_return)
        self.episodes += 1
        if len(self.returns) == WINDOW:
            mean = float(np.mean(self.returns))
            self.best_mean = mean if not self.best_mean >= mean else self.best_mean
            if self.solved_at is None and mean >= self.solved_mean:
                self.solved_at = (steps, self.episodes)
        return self.solved_at is not None

    def mean(self) -> float:
        return float(np.mean(self.returns)) if self.returns else float("nan")


# ------------------------------------------------------------------------------------------------- ours
def run_ours(algo: str, seed: int, max_steps: int, threads: int, n_envs: int = 1) -> Result:
    """The runner's loop (agents/protocol.py) around our agent, on one env (or ``n_envs`` copies)."""
    if n_envs > 1:
        return run_ours_vector(algo, seed, max_steps, threads, n_envs)
    task = TASKS[algo]
    env = gym.make(task.env_id)
    config = make_agent_config(task.agent, {"torch_threads": threads}, env_id=task.env_id)
    agent = make_agent(task.agent, env.observation_space, env.action_space, config, seed=seed)
    tracker = SolveTracker(ZOO_BUDGET[algo], task.solved_mean)
    start, cpu_start = time.perf_counter(), time.process_time()
    obs, _ = env.reset(seed=seed)
    agent.clear_state()
    episode_return, steps = 0.0, 0
    while steps < max_steps:
        action = agent.act(obs)
        obs, reward, terminated, truncated, _ = env.step(action)
        agent.observe(obs, float(reward), terminated, truncated)
        episode_return += float(reward)
        steps += 1
        if terminated or truncated:
            if tracker.episode_end(episode_return, steps) and not task.train_to_budget:
                break
            episode_return = 0.0
            obs, _ = env.reset()
            agent.clear_state()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    result = _result(algo, "ours", seed, tracker, steps, seconds)
    result.cpu_seconds = cpu_seconds
    if task.train_to_budget:
        agent.learn_enabled = False
        result.eval_mean100 = evaluate(lambda o: agent.act(o), task.env_id, agent.clear_state)
    return result


def run_ours_vector(algo: str, seed: int, max_steps: int, threads: int, n_envs: int) -> Result:
    """The runner's vector loop (agents/runner/runner.py, ``_vector_step``) around our agent on N env copies:
    episodes are counted by step, then env index, each at the step count after its vector step."""
    from agents.runner import env_state

    task = TASKS[algo]
    env = gym.vector.SyncVectorEnv(
        [lambda: gym.make(task.env_id)] * n_envs, autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP
    )
    config = make_agent_config(task.agent, {"torch_threads": threads}, env_id=task.env_id)
    agent = make_agent(task.agent, env.single_observation_space, env.single_action_space, config, seed=seed)
    agent.set_n_envs(n_envs)
    tracker = SolveTracker(ZOO_BUDGET[algo], task.solved_mean)
    start, cpu_start = time.perf_counter(), time.process_time()
    obs, _ = env.reset(seed=seed)
    agent.clear_state()
    returns, steps, solved = np.zeros(n_envs), 0, False
    while steps < max_steps and not solved:
        active = ~env_state.autoresetting(env)
        obs, rewards, terminated, truncated, _ = env.step(agent.act_batch(obs, active))
        agent.observe_batch(obs, rewards, terminated, truncated)
        steps += n_envs
        returns[active] += rewards[active]
        for i in np.flatnonzero(terminated | truncated):
            solved = tracker.episode_end(float(returns[i]), steps) and not task.train_to_budget
            returns[i] = 0.0
            if solved:
                break
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    result = _result(algo, "ours", seed, tracker, steps, seconds)
    result.cpu_seconds, result.n_envs = cpu_seconds, n_envs
    if task.train_to_budget:
        agent.learn_enabled = False  # evaluation acts on one env (act() without learning needs no pending pair)
        result.eval_mean100 = evaluate(lambda o: agent.act(o), task.env_id)
    return result


def evaluate(policy, env_id: str, clear_state=lambda: None) -> float:
    """Mean return of the policy over EVAL_EPISODES episodes with fixed reset seeds."""
    env = gym.make(env_id)
    returns = []
    for i in range(EVAL_EPISODES):
        obs, _ = env.reset(seed=EVAL_SEED + i)
        clear_state()
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(obs))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


# -------------------------------------------------------------------------------------------------- sb3
def run_sb3(algo: str, seed: int, max_steps: int, threads: int) -> Result:
    from stable_baselines3.common.callbacks import BaseCallback

    torch.set_num_threads(threads)
    task = TASKS[algo]
    tracker = SolveTracker(ZOO_BUDGET[algo], task.solved_mean)

    class StopWhenSolved(BaseCallback):
        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "episode" in info and tracker.episode_end(float(info["episode"]["r"]), self.num_timesteps):
                    return task.train_to_budget
            return True

    model = zoo_model(algo, task.env_id, seed)
    start, cpu_start = time.perf_counter(), time.process_time()
    model.learn(total_timesteps=max_steps, callback=StopWhenSolved())
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    result = _result(algo, "sb3", seed, tracker, model.num_timesteps, seconds)
    result.cpu_seconds = cpu_seconds
    if task.train_to_budget:
        result.eval_mean100 = evaluate(lambda o: model.predict(o, deterministic=True)[0], task.env_id)
    return result


def _result(algo: str, impl: str, seed: int, tracker: SolveTracker, steps: int, seconds: float) -> Result:
    solved = tracker.solved_at
    return Result(
        algo=algo,
        impl=impl,
        seed=seed,
        solved=solved is not None,
        steps_to_solve=solved[0] if solved else None,
        episodes_to_solve=solved[1] if solved else None,
        steps=steps,
        episodes=tracker.episodes,
        seconds=seconds,
        final_mean100=tracker.mean(),
        mean100_at_zoo_budget=tracker.mean() if tracker.mean_at_zoo_budget is None else tracker.mean_at_zoo_budget,
        best_mean100=tracker.best_mean,
    )


# ------------------------------------------------------------------------------------------------ table
def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _median_with_unsolved(results: list[Result], attr: str) -> str:
    """Median over seeds counting unsolved runs as 'never' (+inf): 'never' if the median run is unsolved."""
    values = [getattr(r, attr) if r.solved else float("inf") for r in results]
    m = _median(values)
    return "never" if m == float("inf") else f"{m:,.0f}"


def _by_impl(results: list[Result], algo: str) -> tuple[dict[str, list[Result]], list[float]]:
    """``algo``'s results per implementation (by seed) and the ours/SB3 steps/s ratio of each paired seed."""
    by_impl = {
        impl: sorted((r for r in results if r.algo == algo and r.impl == impl), key=lambda r: r.seed)
        for impl in ("ours", "sb3")
    }
    paired = {r.seed: r for r in by_impl["sb3"]}
    ratios = [r.steps_per_second / paired[r.seed].steps_per_second for r in by_impl["ours"] if r.seed in paired]
    return by_impl, ratios


def table(results: list[Result], threads: int, budgets: dict[str, int]) -> str:
    lines = []
    if any(not TASKS[r.algo].train_to_budget for r in results):
        lines += [
        f"CartPole-v1; solved = mean return of the last {WINDOW} training episodes >= {SOLVED_MEAN:g}; "
        f"torch threads {threads}; medians over seeds (an unsolved run counts as never solving);",
        "mean100@zoo = that mean when the Zoo's n_timesteps ran out (or at the solve point, if earlier);",
        "speed ratio = median over seeds of ours/sb3 steps/s (each pair ran back to back).",
        "",
        "| algo | impl | solved | env steps to solve | episodes to solve | mean100@zoo | best mean100 | "
        "steps/s | speed ratio |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
    for algo in ("ppo", "dqn"):
        if not any(r.algo == algo for r in results):
            continue
        by_impl, ratios = _by_impl(results, algo)
        for impl, rs in by_impl.items():
            if not rs:
                continue
            ratio = f"{_median(ratios):.2f}x" if impl == "ours" and ratios else ""
            lines.append(
                f"| {algo} | {impl} | {sum(r.solved for r in rs)}/{len(rs)} in {budgets[algo]:,} | "
                f"{_median_with_unsolved(rs, 'steps_to_solve')} | "
                f"{_median_with_unsolved(rs, 'episodes_to_solve')} | "
                f"{_median([r.mean100_at_zoo_budget for r in rs]):.0f} | "
                f"{_median([r.best_mean100 for r in rs]):.0f} | "
                f"{_median([r.steps_per_second for r in rs]):,.0f} | {ratio} |"
            )
    budget_tasks = [t for t in TASKS if TASKS[t].train_to_budget and any(r.algo == t for r in results)]
    if budget_tasks:
        lines += [
            "",
            f"Pendulum-v1: train the budget, then {EVAL_EPISODES} deterministic evaluation episodes (goal >= -200); "
            "medians over seeds.",
            "",
            "| task | impl | budget | eval mean100 | seeds >= -200 | train mean100 at end | steps/s | speed ratio |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
    for algo in budget_tasks:
        by_impl, ratios = _by_impl(results, algo)
        for impl, rs in by_impl.items():
            if not rs:
                continue
            ratio = f"{_median(ratios):.2f}x" if impl == "ours" and ratios else ""
            evals = [r.eval_mean100 for r in rs if r.eval_mean100 is not None]
            lines.append(
                f"| {algo} | {impl} | {budgets[algo]:,} | {_median(evals):.0f} | "
                f"{sum(e >= TASKS[algo].solved_mean for e in evals)}/{len(rs)} | "
                f"{_median([r.final_mean100 for r in rs]):.0f} | "
                f"{_median([r.steps_per_second for r in rs]):,.0f} | {ratio} |"
            )
    lines.append("")
    lines.append(
        "per seed: env steps / episodes to solve ('-' = not solved), mean100@zoo, best mean100, steps/s"
        + (" [, eval mean100]" if budget_tasks else "")
    )
    for r in sorted(results, key=lambda r: (r.algo, r.impl, r.seed)):
        lines.append(
            f"  {r.algo} {r.impl:4s} seed {r.seed}: "
            f"{r.steps_to_solve or '-':>7} / {r.episodes_to_solve or '-':>4}; "
            f"{r.mean100_at_zoo_budget:6.1f}; {r.best_mean100:6.1f}; "
            f"{r.steps_per_second:6.0f} steps/s ({r.steps:,} steps in {r.seconds:.0f} s"
            + (f", {r.steps / r.cpu_seconds:.0f} steps per CPU second)" if r.cpu_seconds else ")")
            + (f"; eval mean100 {r.eval_mean100:.1f}" if r.eval_mean100 is not None else "")
        )
    return "\n".join(lines)


def parse_seeds(text: str) -> list[int]:
    seeds: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        seeds.extend(range(int(low), int(high) + 1) if high else [int(low)])
    return seeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0-9", help="e.g. 0-9 or 0,3,5 (default 0-9)")
    parser.add_argument("--algos", nargs="+", default=["ppo", "dqn"], choices=list(TASKS))
    parser.add_argument("--impls", nargs="+", default=["ours", "sb3"], choices=["ours", "sb3"])
    parser.add_argument("--dqn-budget", type=int, default=150_000, help="max env steps per DQN run")
    parser.add_argument("--ppo-budget", type=int, default=150_000, help="max env steps per PPO run")
    parser.add_argument("--sac-pendulum-budget", type=int, default=20_000, help="env steps per SAC Pendulum run")
    parser.add_argument("--ppo-pendulum-budget", type=int, default=100_000, help="env steps per PPO Pendulum run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both implementations")
    parser.add_argument("--n-envs", type=int, default=1, help="env copies for ours (SB3 keeps the Zoo's n_envs)")
    parser.add_argument("--json", type=Path, help="also write every per-seed result here (after each run)")
    parser.add_argument("--table-from", type=Path, help="only print the table of a --json file (partial ok)")
    args = parser.parse_args(argv)

    budgets = {
        "dqn": args.dqn_budget,
        "ppo": args.ppo_budget,
        "sac-pendulum": args.sac_pendulum_budget,
        "ppo-pendulum": args.ppo_pendulum_budget,
    }
    if args.table_from:
        results = [Result(**r) for r in json.loads(args.table_from.read_text())]
        print(table(results, args.threads, budgets))
        return 0
    results: list[Result] = []
    for algo in args.algos:
        for seed in parse_seeds(args.seeds):
            for impl in args.impls:
                torch.set_num_threads(args.threads)
                if impl == "ours":
                    result = run_ours(algo, seed, budgets[algo], args.threads, args.n_envs)
                else:
                    result = run_sb3(algo, seed, budgets[algo], args.threads)
                results.append(result)
                print(
                    f"{algo} {impl} seed {seed}: solved={result.solved} at {result.steps_to_solve} steps "
                    f"/ {result.episodes_to_solve} episodes, {result.steps_per_second:.0f} steps/s, "
                    f"eval mean100 {result.eval_mean100}",
                    flush=True,
                )
                if args.json:
                    args.json.write_text(json.dumps([asdict(r) for r in results], indent=1))
    print()
    print(table(results, args.threads, budgets))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
