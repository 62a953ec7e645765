"""Issue 12's suite: every env x {hierarchy, pyaogmaneo, PPO (ours), SB3 PPO}, the same budget for all systems.

    nice -n 10 python benchmarks/suite.py --jobs 2                    # everything, seeds 0-4
    python benchmarks/suite.py --envs Acrobot-v1 --systems hierarchy --seeds 0-2
    python benchmarks/suite.py --report                               # only redraw table + curves from the cache

Each (system, env, seed) run trains until the mean return of its last 100 training episodes reaches the env's
target (the run stops there, like `sphgym train`) or the budget (episodes or env steps) is spent. Results are
cached as JSON in benchmarks/results/suite/cache/<system>/<env>/seed<S>.json, so an interrupted run continues
where it stopped; a cached result whose settings (budget, target, the agent's resolved config, the peer's
hyperparameters and version) differ from today's is stale: it runs again (--rerun forces it) and the report
leaves it out. The report is a markdown table of medians with per-seed values (benchmarks/results/suite/table.md)
and one learning-curve PNG per env (median and interquartile band over seeds of the last-100 mean, against env
steps).

Systems:
  hierarchy  `sphgym train --env E --seed S` with the default agent: agents.runner.Runner + RunConfig, so the
             CLI and the suite give the same numbers (only the stop target, checkpoint cadence and TensorBoard
             differ; none of them changes what the agent learns).
  ppo        our PPO through the same runner, ``total_timesteps`` (the length of its linear schedules) set to
             the run's step budget.
  pyaogmaneo PyAOgmaNeo (optional, non-commercial: benchmark only) with its generic env runner's conventions as
             described in /work/shared/notes/pyaogmaneo-compat.md: two layers of (5, 5, 64), Box observations
             as one port of (ceil(sqrt(n)), ceil(sqrt(n)), 16) (finite bounds scaled linearly, bounds beyond
             +-10,000 squashed by a sigmoid), Discrete observations as (1, 1, n), Box actions as 9 bins per
             dimension, reward passed one step late, no episode boundaries, and the terminal reward option
             (-100 on termination) set where its examples set it (the CartPole family).
  sb3-ppo    Stable-Baselines3 PPO with RL Zoo hyperparameters where the Zoo has the env
             (benchmarks/sb3_zoo.py), SB3's defaults elsewhere (marked in the table).
A system that cannot run an env (unsupported spaces, package not installed) is shown as "n/a (reason)": the
check is made on every invocation, so a system that gains support is picked up without editing this file.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import functools
import json
import math
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.cartpole import parse_seeds

RESULTS = ROOT / "benchmarks" / "results" / "suite"
WINDOW = 100  # the target is on the mean return of the last WINDOW training episodes
CURVE_POINTS = 300  # per-run curve samples kept in the cache


@dataclasses.dataclass(frozen=True)
class SuiteEnv:
    """One row of issue 12's table: the env, the budget every system gets and the target on the last-100 mean."""

    env_id: str
    target: float | None
    episodes: int | None = None
    steps: int | None = None
    env_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    peer_terminal_reward: float | None = None  # pyaogmaneo's terminal reward option, where its examples set it
    note: str = ""

    @property
    def budget(self) -> str:
        return f"{self.episodes:,} episodes" if self.episodes is not None else f"{self.steps // 1000}k steps"

    @property
    def slug(self) -> str:
        return self.env_id.replace("/", "_")


ENVS: dict[str, SuiteEnv] = {
    e.env_id: e
    for e in (
        SuiteEnv("CartPole-v1", 475.0, episodes=1000, peer_terminal_reward=-100.0),
        SuiteEnv("Acrobot-v1", -100.0, steps=50_000),
        SuiteEnv("MountainCar-v0", -110.0, steps=200_000),
        SuiteEnv("Pendulum-v1", -250.0, steps=100_000),
        SuiteEnv("LunarLander-v3", 100.0, steps=300_000, note="200 is the env's 'solved'"),
        SuiteEnv("FrozenLake-v1", 0.70, steps=50_000, note="slippery 4x4 (the default)"),
        SuiteEnv("sphgym/CartPoleNoVelocity-v0", 475.0, episodes=1000, peer_terminal_reward=-100.0),
        SuiteEnv("sphgym/DelayedCue-v0", 0.95, steps=20_000, note="optimum 1.0; a memoryless policy gets 0.5"),
        SuiteEnv("Taxi-v4", 8.0, steps=100_000, note="the spec's reward threshold"),
        SuiteEnv(
            "CliffWalking-v1", -17.0, steps=50_000, env_kwargs={"max_episode_steps": 500},
            note="-17 = the safe path (optimum -13); episodes cut at 500 steps (the env has no limit)",
        ),
        SuiteEnv(
            "Blackjack-v1", None, steps=50_000,
            note="no target: 100 episodes cannot tell basic strategy (about -0.05) from worse; final mean shown",
        ),
    )
}  # fmt: skip


class NotApplicable(Exception):
    """The system cannot run this env; the message is the reason shown in the table."""


# ------------------------------------------------------------------------------------------ recording
class Recorder:
    """Training episodes of one run: the last-100 mean, when it first reached the target, a thinned curve."""

    def __init__(self, target: float | None) -> None:
        self.target = target
        self.returns: list[float] = []
        self.ends: list[int] = []  # env step at which each episode ended
        self.reached_at: tuple[int, int] | None = None  # (episodes, steps) when the last-100 mean hit the target
        self.best_mean: float | None = None

    def episode(self, ret: float, end_step: int) -> None:
        self.returns.append(float(ret))
        self.ends.append(int(end_step))
        if len(self.returns) >= WINDOW:
            mean = float(np.mean(self.returns[-WINDOW:]))
            self.best_mean = mean if self.best_mean is None else max(self.best_mean, mean)
            if self.reached_at is None and self.target is not None and mean >= self.target:
                self.reached_at = (len(self.returns), int(end_step))

    @property
    def reached(self) -> bool:
        return self.reached_at is not None

    def result(self) -> dict[str, Any]:
        returns = np.asarray(self.returns, dtype=np.float64)
        means = np.cumsum(returns)
        means[WINDOW:] -= means[:-WINDOW]
        means /= np.minimum(np.arange(1, len(returns) + 1), WINDOW)
        keep = np.unique(np.linspace(0, len(returns) - 1, min(CURVE_POINTS, len(returns))).astype(int))
        return {
            "episodes_run": len(self.returns),
            "steps_run": self.ends[-1] if self.ends else 0,
            "episodes_to_target": self.reached_at[0] if self.reached_at else None,
            "steps_to_target": self.reached_at[1] if self.reached_at else None,
            "best_mean100": self.best_mean,
            "final_mean100": float(np.mean(returns[-WINDOW:])) if len(returns) else None,
            "curve": [[self.ends[i], round(float(means[i]), 4)] for i in keep],
        }


# ---------------------------------------------------------------------------------------- sphgym agents
def _run_config(system: str, env: SuiteEnv, seed: int) -> Any:
    """The RunConfig `sphgym train --env E --seed S --agent A` builds, with the suite's budget and target."""
    from agents.registry import get_agent_spec
    from agents.runner import RunConfig

    agent_config: dict[str, Any] = {}
    fields = {f.name for f in dataclasses.fields(get_agent_spec(system).config_class())}
    if "total_timesteps" in fields and env.steps is not None:
        agent_config["total_timesteps"] = env.steps  # schedules span the run, as the config's docstring advises
    return RunConfig(
        env_id=env.env_id, env_kwargs=dict(env.env_kwargs), agent=system, agent_config=agent_config, seed=seed,
        episodes=env.episodes, steps=env.steps, reward_threshold=env.target,
        stop_when_solved=env.target is not None, checkpoint_every=10**9, keep=1, tensorboard=False,
    ).resolved()  # fmt: skip


def _sphgym_settings(system: str, env: SuiteEnv, seed: int) -> dict[str, Any]:
    import gymnasium as gym

    import envs  # noqa: F401  (registers sphgym/ envs)
    from agents.registry import make_agent

    config = _run_config(system, env, seed)
    probe = gym.make(env.env_id, **env.env_kwargs)
    try:
        make_agent(system, probe.observation_space, probe.action_space, config.agent_config, seed=0)
    except (ValueError, TypeError, NotImplementedError) as exc:
        raise NotApplicable(str(exc).split(". ")[0]) from exc
    finally:
        probe.close()
    values = config.to_dict()
    values.pop("seed")
    return values


def _run_sphgym(system: str, env: SuiteEnv, seed: int, rec: Recorder) -> None:
    from agents.runner import Runner

    def on_episode(event: Any) -> bool:
        rec.episode(event.episode_return, event.global_step)
        return True

    with tempfile.TemporaryDirectory(prefix="sphgym-suite-") as tmp:
        runner = Runner(
            Path(tmp) / "run", _run_config(system, env, seed), on_episode=on_episode, log=None, handle_signals=False
        )
        runner.train()


# --------------------------------------------------------------------------------------------- pyaogmaneo
PEER_RESOLUTION, PEER_ACTION_BINS, PEER_LAYERS = 16, 9, ((5, 5, 64), (5, 5, 64))


def _peer_ports(env: SuiteEnv) -> tuple[Any, Any]:
    """(observation encoder, action decoder) in the env runner's conventions; NotApplicable otherwise."""
    import gymnasium as gym

    import envs  # noqa: F401

    probe = gym.make(env.env_id, **env.env_kwargs)
    obs_space, act_space = probe.observation_space, probe.action_space
    probe.close()
    if isinstance(obs_space, gym.spaces.Discrete):
        start = int(obs_space.start)
        obs_port = ((1, 1, int(obs_space.n)), lambda o: np.array([int(o) - start], np.int32))
    elif isinstance(obs_space, gym.spaces.Box) and len(obs_space.shape) == 1:
        n = obs_space.shape[0]
        side = math.ceil(math.sqrt(n))
        low, high = obs_space.low.astype(np.float64), obs_space.high.astype(np.float64)
        finite = (np.abs(low) < 10_000) & (np.abs(high) < 10_000)
        lo, span = np.where(finite, low, 0.0), np.where(finite, high - low, 1.0)

        def encode(o: Any) -> np.ndarray:
            o = np.asarray(o, dtype=np.float64)
            v = np.where(finite, (o - lo) / span, 1.0 / (1.0 + np.exp(-np.clip(o, -50, 50))))
            cis = np.zeros(side * side, np.int32)
            cis[:n] = np.clip((v * PEER_RESOLUTION).astype(np.int64), 0, PEER_RESOLUTION - 1)
            return cis

        obs_port = ((side, side, PEER_RESOLUTION), encode)
    else:
        raise NotApplicable(f"its env runner takes Box vectors and Discrete observations, not {type(obs_space).__name__}")
    if isinstance(act_space, gym.spaces.Discrete):
        start = int(act_space.start)
        act_port = ((1, 1, int(act_space.n)), lambda cis: int(cis[0]) + start)
    elif isinstance(act_space, gym.spaces.Box) and len(act_space.shape) == 1:
        d = act_space.shape[0]
        a_low, a_high = act_space.low.astype(np.float64), act_space.high.astype(np.float64)
        act_port = (
            (1, d, PEER_ACTION_BINS),
            lambda cis: (a_low + (a_high - a_low) * np.asarray(cis[:d]) / (PEER_ACTION_BINS - 1)).astype(np.float32),
        )
    else:
        raise NotApplicable(f"no {type(act_space).__name__} actions in its env runner")
    return obs_port, act_port


def _pyaogmaneo_settings(env: SuiteEnv) -> dict[str, Any]:
    import importlib.metadata

    try:
        version = importlib.metadata.version("pyaogmaneo")
    except importlib.metadata.PackageNotFoundError as exc:
        raise NotApplicable("pyaogmaneo not installed: pip install -e '.[bench]'") from exc
    (obs_size, _), (act_size, _) = _peer_ports(env)
    return {
        "version": version, "layers": PEER_LAYERS, "obs_port": obs_size,
        "action_port": act_size, "terminal_reward": env.peer_terminal_reward, "budget": [env.episodes, env.steps],
        "target": env.target, "env_kwargs": env.env_kwargs,
    }  # fmt: skip


def _run_pyaogmaneo(env: SuiteEnv, seed: int, rec: Recorder) -> None:
    import gymnasium as gym
    import pyaogmaneo as neo

    neo.set_num_threads(1)  # more threads than cores makes OpenMP spin (notes: 15x slower)
    neo.set_global_state(seed + 1)
    (obs_size, encode), (act_size, decode) = _peer_ports(env)
    h = neo.Hierarchy(
        [
            neo.IODesc(obs_size, neo.none, up_radius=2),
            neo.IODesc(act_size, neo.action, up_radius=2, down_radius=2, history_capacity=512),
        ],
        [neo.LayerDesc(hidden_size=size) for size in PEER_LAYERS],
    )
    e = gym.make(env.env_id, **env.env_kwargs)
    obs, _ = e.reset(seed=seed)
    action_cis = np.zeros(act_size[0] * act_size[1], np.int32)
    reward, ret, steps = 0.0, 0.0, 0
    while not _budget_spent(env, rec, steps):
        h.step([encode(obs), action_cis], True, reward)
        action_cis = np.asarray(h.get_prediction_cis(1), np.int32)
        obs, reward, terminated, truncated, _ = e.step(decode(action_cis))
        reward = float(reward)
        ret += reward
        steps += 1
        if terminated and env.peer_terminal_reward is not None:
            reward = env.peer_terminal_reward
        if terminated or truncated:
            rec.episode(ret, steps)
            ret = 0.0
            obs, _ = e.reset()
    e.close()


def _budget_spent(env: SuiteEnv, rec: Recorder, steps: int) -> bool:
    if rec.reached:
        return True
    if env.steps is not None and steps >= env.steps:
        return True
    return env.episodes is not None and len(rec.returns) >= env.episodes


# --------------------------------------------------------------------------------------------------- SB3
def _sb3_settings(env: SuiteEnv) -> dict[str, Any]:
    import gymnasium as gym

    import envs  # noqa: F401

    try:
        import stable_baselines3
    except ImportError as exc:
        raise NotApplicable("stable-baselines3 not installed: pip install -e '.[bench]'") from exc
    from benchmarks.sb3_zoo import ZOO_PPO

    probe = gym.make(env.env_id, **env.env_kwargs)
    obs_space = probe.observation_space
    probe.close()
    if not isinstance(obs_space, (gym.spaces.Box, gym.spaces.Discrete, gym.spaces.MultiDiscrete, gym.spaces.Dict)):
        raise NotApplicable(f"SB3 policies take no {type(obs_space).__name__} observations")
    return {
        "version": stable_baselines3.__version__, "zoo": ZOO_PPO.get(env.env_id, "SB3 defaults"),
        "budget": [env.episodes, env.steps], "target": env.target, "env_kwargs": env.env_kwargs,
    }  # fmt: skip


def _run_sb3(env: SuiteEnv, seed: int, rec: Recorder) -> None:
    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    from benchmarks.sb3_zoo import zoo_ppo

    torch.set_num_threads(1)

    class Track(BaseCallback):
        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "episode" in info:
                    rec.episode(float(info["episode"]["r"]), self.num_timesteps)
            return not _budget_spent(env, rec, self.num_timesteps)

    model, _ = zoo_ppo(env.env_id, seed, env.env_kwargs)
    model.learn(total_timesteps=env.steps if env.steps is not None else 10**9, callback=Track())


# ------------------------------------------------------------------------------------------------ systems
@dataclasses.dataclass(frozen=True)
class System:
    settings: Callable[[SuiteEnv, int], dict[str, Any]]  # what the result depends on; raises NotApplicable
    run: Callable[[SuiteEnv, int, Recorder], None]


SYSTEMS: dict[str, System] = {
    "hierarchy": System(
        lambda e, s: _sphgym_settings("hierarchy", e, s), lambda e, s, r: _run_sphgym("hierarchy", e, s, r)
    ),
    "pyaogmaneo": System(lambda e, s: _pyaogmaneo_settings(e), _run_pyaogmaneo),
    "ppo": System(lambda e, s: _sphgym_settings("ppo", e, s), lambda e, s, r: _run_sphgym("ppo", e, s, r)),
    "sb3-ppo": System(lambda e, s: _sb3_settings(e), _run_sb3),
}


def cache_path(system: str, env: SuiteEnv, seed: int) -> Path:
    return RESULTS / "cache" / system / env.slug / f"seed{seed}.json"


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value))  # tuples -> lists, so settings compare equal after a JSON round trip


def run_one(system: str, env_id: str, seed: int, rerun: bool) -> str:
    """Run (or reuse) one (system, env, seed) and write its cache file; returns a one-line summary."""
    env = ENVS[env_id]
    path = cache_path(system, env, seed)
    try:
        settings = _plain(SYSTEMS[system].settings(env, seed))
    except NotApplicable as exc:
        return f"{system} {env_id} seed {seed}: n/a ({exc})"
    if path.exists() and not rerun:
        cached = json.loads(path.read_text())
        if cached.get("settings") == settings:
            return f"{system} {env_id} seed {seed}: cached"
    rec = Recorder(env.target)
    start = time.perf_counter()
    SYSTEMS[system].run(env, seed, rec)
    seconds = time.perf_counter() - start
    result = {"system": system, "env": env_id, "seed": seed, "target": env.target, "settings": settings}
    result.update(rec.result())
    result["wall_seconds"] = round(seconds, 1)
    result["steps_per_second"] = round(result["steps_run"] / seconds, 1) if seconds > 0 else None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1) + "\n")
    os.replace(tmp, path)
    reached = f"target at {result['steps_to_target']:,} steps" if rec.reached else "target not reached"
    return f"{system} {env_id} seed {seed}: {reached}, best mean100 {result['best_mean100']}, {seconds:.0f} s"


# ------------------------------------------------------------------------------------------------ report
def _load(system: str, env: SuiteEnv, seed: int) -> dict[str, Any] | None:
    """The cached result if it is current (made with today's settings); a stale one is not reported."""
    path = cache_path(system, env, seed)
    if not path.exists():
        return None
    cached = json.loads(path.read_text())
    current = _report_settings(system, env.env_id)
    return cached if current is not None and cached.get("settings") == current else None


@functools.lru_cache(maxsize=None)
def _report_settings(system: str, env_id: str) -> Any:
    """Today's settings of (system, env) for the report (no system's settings depend on the seed), None if n/a."""
    try:
        return _plain(SYSTEMS[system].settings(ENVS[env_id], 0))
    except NotApplicable:
        return None


def _fmt(value: float | None) -> str:
    if value is None:
        return "–"
    if abs(value) >= 1000:
        return f"{value / 1000:.0f}k" if abs(value) >= 10_000 else f"{value / 1000:.1f}k"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.0f}"


def _reason(system: str, env: SuiteEnv) -> str | None:
    try:
        SYSTEMS[system].settings(env, 0)
    except NotApplicable as exc:
        return str(exc)
    return None


def report_rows(envs: list[SuiteEnv], systems: list[str], seeds: list[int]) -> list[str]:
    """Markdown table: one row per (env, system) with medians and per-seed values."""
    lines = [
        "| env (budget, target) | system | reached | steps to target: median (per seed) "
        "| episodes to target: median | best last-100 mean: median (per seed) |",
        "|---|---|---|---|---|---|",
    ]
    for env in envs:
        label = f"{env.env_id} ({env.budget}, " + (f"≥ {env.target:g})" if env.target is not None else "no target)")
        for system in systems:
            reason = _reason(system, env)
            if reason is not None:
                lines.append(f"| {label} | {system} | n/a ({reason}) | | | |")
                continue
            runs = {s: _load(system, env, s) for s in seeds}
            done = {s: r for s, r in runs.items() if r is not None}
            if not done:
                lines.append(f"| {label} | {system} | not run yet | | | |")
                continue
            if any(r["settings"].get("zoo") == "SB3 defaults" for r in done.values()):
                label_system = f"{system} (SB3 defaults: no Zoo entry)"
            else:
                label_system = system
            hit = [r for r in done.values() if r["steps_to_target"] is not None]
            per_seed = lambda key, none="✗": ", ".join(  # noqa: E731
                _fmt(r[key]) if r[key] is not None else none for r in done.values()
            )
            median_of = lambda key: statistics.median(  # noqa: E731
                r[key] if r[key] is not None else math.inf for r in done.values()
            )
            if env.target is None:
                steps_cell, episodes_cell = "–", "–"
                mean_key = "final_mean100"
            else:
                steps_median, eps_median = median_of("steps_to_target"), median_of("episodes_to_target")
                steps_cell = (
                    f"{_fmt(steps_median) if steps_median != math.inf else '> budget'} ({per_seed('steps_to_target')})"
                )
                episodes_cell = _fmt(eps_median) if eps_median != math.inf else "> budget"
                mean_key = "best_mean100"
            means = [r[mean_key] for r in done.values() if r[mean_key] is not None]
            missing = [str(s) for s in seeds if s not in done]
            seeds_note = f" (seeds {','.join(map(str, done))}; {','.join(missing)} not run)" if missing else ""
            mean_label = "final" if env.target is None else ""
            mean_cell = f"{_fmt(statistics.median(means)) if means else '–'} ({per_seed(mean_key, '–')}){mean_label}"
            reached = f"{len(hit)}/{len(done)}" if env.target is not None else f"–/{len(done)}"
            lines.append(
                f"| {label} | {label_system} | {reached}{seeds_note} | {steps_cell} | {episodes_cell} | {mean_cell} |"
            )
    return lines


def plot_env(env: SuiteEnv, systems: list[str], seeds: list[int]) -> Path | None:
    """Median and interquartile band over seeds of the last-100 mean, against env steps; None if nothing ran."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = {system: [r for s in seeds if (r := _load(system, env, s)) is not None and r["curve"]] for system in systems}
    runs = {system: rs for system, rs in runs.items() if rs}
    if not runs:
        return None
    horizon = env.steps or max(r["steps_run"] for rs in runs.values() for r in rs)
    grid = np.linspace(0, horizon, 200)
    fig, ax = plt.subplots(figsize=(7, 4))
    for system, rs in runs.items():
        ys = []
        for r in rs:
            xs, vs = np.array([p[0] for p in r["curve"]]), np.array([p[1] for p in r["curve"]])
            idx = np.searchsorted(xs, grid, side="right") - 1
            # a run stopped at its target holds its last value; before its first episode there is no value
            ys.append(np.where(idx >= 0, vs[np.clip(idx, 0, None)], np.nan))
        stack = np.vstack(ys)
        with warnings.catch_warnings():  # all-NaN columns (before any seed's first episode) stay NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            q25, med, q75 = np.nanpercentile(stack, [25, 50, 75], axis=0)
        line = ax.plot(grid, med, label=f"{system} ({len(rs)} seeds)")[0]
        ax.fill_between(grid, q25, q75, color=line.get_color(), alpha=0.2)
    if env.target is not None:
        ax.axhline(env.target, color="grey", linestyle="--", linewidth=1, label=f"target {env.target:g}")
    ax.set_xlabel("env steps")
    ax.set_ylabel("mean return of the last 100 training episodes")
    ax.set_title(f"{env.env_id}, {env.budget} (median, IQR over seeds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = RESULTS / f"{env.slug}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80, metadata={"Software": None})
    plt.close(fig)
    return path


def write_report(envs: list[SuiteEnv], systems: list[str], seeds: list[int]) -> str:
    lines = report_rows(envs, systems, seeds)
    for env in envs:
        plot_env(env, systems, seeds)
    text = "\n".join(lines) + "\n"
    (RESULTS / "table.md").write_text(text)
    return text


# -------------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", default=",".join(ENVS), help="comma-separated subset of: " + ", ".join(ENVS))
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset of: " + ", ".join(SYSTEMS))
    parser.add_argument("--seeds", default="0-4", help="e.g. 0-4 or 0,3 (default: 0-4)")
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel, one process each (default: 1)")
    parser.add_argument("--rerun", action="store_true", help="run again even when a cached result is current")
    parser.add_argument("--report", action="store_true", help="run nothing: redraw the table and curves from the cache")
    args = parser.parse_args(argv)
    env_ids, systems, seeds = args.envs.split(","), args.systems.split(","), parse_seeds(args.seeds)
    for name, known, what in ((env_ids, ENVS, "env"), (systems, SYSTEMS, "system")):
        unknown = [n for n in name if n not in known]
        if unknown:
            parser.error(f"unknown {what} {', '.join(unknown)}; choose from {', '.join(known)}")
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    envs = [ENVS[e] for e in env_ids]
    if not args.report:
        # Seeds outermost: an interrupted suite leaves whole seeds done across every env and system.
        tasks = [(system, env.env_id, seed, args.rerun) for seed in seeds for env in envs for system in systems]
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(max_workers=args.jobs, mp_context=context) as pool:
            futures = {pool.submit(run_one, *task): task for task in tasks}
            for future in concurrent.futures.as_completed(futures):
                try:
                    print(future.result(), flush=True)
                except Exception as exc:  # one broken run must not stop the others; it is not cached
                    system, env_id, seed, _ = futures[future]
                    print(f"{system} {env_id} seed {seed}: FAILED {type(exc).__name__}: {exc}", flush=True)
    print(write_report(envs, systems, seeds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
