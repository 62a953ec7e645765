"""What the agents' TensorBoard diagnostics (issue 14, ``metrics()``) cost in training speed (goal: < 3 %).

    python benchmarks/metrics_overhead.py [--agents hierarchy ppo] [--steps 4000] [--repeats 5] [--bare] [--cpu]

For each agent it trains the same CartPole-v1 run (same seed) through the real runner, TensorBoard on, with the
diagnostics on and off, alternating (on, off, on, off, ...) so drifts of a shared machine hit both alike. Off =
the runner sees no ``metrics`` hook and the hierarchy agent's per-step recorder does nothing. The episodes.csv of
both must be identical (the diagnostics only read). Prints one JSON line per agent: per-repeat env steps/s, the
medians and off/on ratio of medians minus 1 as ``overhead_percent``.

``--cpu``: steps per CPU second of this process (``time.process_time``; run with NUMBA_NUM_THREADS=1 and
OMP_NUM_THREADS=1 so it is one thread) instead of per wall-clock second: on a shared, loaded machine the wall clock
also counts the time other processes held the core. ``--bare``: the hierarchy agent's own loop instead of the
runner (act, env step, observe; at an episode end ``metrics()`` when on, then ``clear_state``), so the runner's and
TensorBoard's costs do not dilute the diagnostics'. Within one process the recorder is switched on and off every
200 steps (on, off, off, on, ...); each repeat prints the median over its (on, off) pairs of off/on - 1, and the
median of the repeats. The actions must be identical in every repeat (recording only reads).
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


CLOCK = time.perf_counter  # --cpu: time.process_time


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
        start = CLOCK()
        result = Runner(Path(tmp) / "run", config, log=None).train()
        elapsed = CLOCK() - start
        return result.global_step / elapsed, (Path(tmp) / "run" / "episodes.csv").read_bytes()


def bare_loop(steps: int, block: int = 200) -> tuple[list[float], bytes]:
    """The hierarchy agent driven directly on CartPole-v1 (seed 0) for ``steps`` steps, the diagnostics switched
    on and off every ``block`` steps in the order on, off, off, on, on, off, ... (pairs whose order alternates,
    so a trend in speed hits both alike). Returns per pair (off rate / on rate - 1) in % and the actions (the
    diagnostics only read: the trajectory is the same whichever blocks record)."""
    import gymnasium as gym

    from agents.registry import make_agent

    env = gym.make("CartPole-v1")
    agent = make_agent("hierarchy", env.observation_space, env.action_space, None, seed=0)
    metrics = agent._metrics  # benchmark only: switch its recorder per block
    record = metrics.record
    actions = bytearray()
    obs, _ = env.reset(seed=0)
    agent.clear_state()
    rates: dict[bool, list[float]] = {True: [], False: []}
    for index in range(steps // block):
        on = index % 4 in (0, 3)
        metrics.record = record if on else (lambda hierarchy: None)
        start = CLOCK()
        for _ in range(block):
            action = agent.act(obs)
            actions.append(int(action))
            obs, reward, terminated, truncated, _ = env.step(action)
            agent.observe(obs, reward, terminated, truncated)
            if terminated or truncated:
                if on:
                    agent.metrics()
                agent.clear_state()
                obs, _ = env.reset()
        rates[on].append(block / (CLOCK() - start))
    return [100 * (off / on - 1) for on, off in zip(rates[True], rates[False], strict=True)], bytes(actions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", nargs="+", default=["hierarchy", "ppo"])
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--bare", action="store_true", help="the hierarchy agent's loop without the runner")
    parser.add_argument(
        "--cpu", action="store_true", help="steps per CPU second of this process (less sensitive to other load)"
    )
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.cpu else time.perf_counter
    if args.bare:
        bare_loop(400)  # warm-up: numba compilation and caches
        per_repeat, trajectories = [], set()
        for _ in range(args.repeats):
            pairs, actions = bare_loop(args.steps)
            per_repeat.append(round(statistics.median(pairs), 2))
            trajectories.add(actions)
        print(json.dumps({
            "agent": "hierarchy (bare loop)", "steps": args.steps, "overhead_percent_per_repeat": per_repeat,
            "overhead_percent": statistics.median(per_repeat), "same_actions": len(trajectories) == 1,
        }))
        return
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
