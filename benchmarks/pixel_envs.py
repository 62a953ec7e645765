"""Learning from image observations: sphgym's hierarchy agent vs PyAOgmaNeo's env-runner image path.

Same env, same budget of env steps, same seeds. Both put an image encoder in front of a hierarchy whose
observation port is NONE and whose action port has an actor, and both learn at every step:

* ours: `HierarchyAgent` with its defaults (image encoder (8, 8, 16), radius just covering the image; one
  (5, 5, 64) layer; episode ends passed as terminated/truncated), driven by `agents.episode.play_episode` like
  `sphgym train` minus checkpoints;
* pyaogmaneo: its env runner's image path as its documentation describes it, written here from that description
  (image -> ``ImageEncoder`` of the same size and radius -> hierarchy NONE port; the actor gets each step's
  reward with the next observation; one continuing stream across episodes; PyAOgmaNeo's default params and the
  runner's default two (5, 5, 64) layers, or ``--peer-layers 1`` for one). ``set_global_state(seed + 1)`` makes
  it reproducible.

Reported per seed: mean return of the first and of the last 100 episodes within the step budget and of all of
them, the number of episodes, the first env step at which the mean of the last 50 returns reaches ``--threshold``
(0.9), and env steps per second (wall clock). ``--peer-layers 1`` results are kept as ``pyaogmaneo-1-layer``. Results go to ``--out`` (one JSON per system and seed, so runs
can be split over two processes and re-plotted); ``--plot`` draws the curves (mean return of the last 50
episodes vs env steps, median over seeds with the min-max band) from whatever is there.

    nice -n 10 python benchmarks/pixel_envs.py --systems ours                # default env, seeds 0-2
    nice -n 10 python benchmarks/pixel_envs.py --systems pyaogmaneo
    python benchmarks/pixel_envs.py --plot                                     # table + PNG from the JSON files
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import envs
from agents.episode import play_episode
from agents.hierarchy_agent import HierarchyAgent
from agents.hierarchy_config import HierarchyAgentConfig
from agents.pixel_frontend import covering_radius

DEFAULT_ENV = "sphgym/MiniGrid-Empty-Random-5x5-v0"
RESULTS = Path(__file__).resolve().parent / "results" / "pixel"
WINDOW = 50  # episodes in the curve's rolling mean

Episodes = list[tuple[int, float]]  # (env step at which the episode ended, return)


def run_ours(env_id: str, seed: int, steps: int, episodes: int | None = None) -> Episodes:
    """Our agent with its defaults until ``steps`` env steps (or ``episodes`` episodes) are done."""
    env = envs.make_env(env_id)
    agent = HierarchyAgent(env.observation_space, env.action_space, HierarchyAgentConfig(), seed)
    out: Episodes = []
    done_steps = 0
    while done_steps < steps and (episodes is None or len(out) < episodes):
        outcome = play_episode(agent, env, seed=seed if not out else None)
        done_steps += outcome.length
        out.append((done_steps, outcome.episode_return))
    return out


def run_pyaogmaneo(
    env_id: str, seed: int, steps: int, episodes: int | None = None, layers: int = 2
) -> Episodes | None:
    """PyAOgmaNeo's env-runner image path (see the module docstring); None if pyaogmaneo is not installed."""
    try:
        import pyaogmaneo as neo
    except ImportError:
        return None
    neo.set_num_threads(1)
    neo.set_global_state(seed + 1)
    env = envs.make_env(env_id)
    config = HierarchyAgentConfig()
    image = envs.ImageObservationCodec(env.observation_space)  # identity for images up to 64 pixels a side
    hidden = config.image_hidden_size
    radius = covering_radius(image.image_size, hidden)
    enc = neo.ImageEncoder(hidden, [neo.ImageVisibleLayerDesc(image.image_size, radius)])
    num_actions = int(env.action_space.n)
    h = neo.Hierarchy(
        [neo.IODesc(hidden, neo.none, up_radius=2), neo.IODesc((1, 1, num_actions), neo.action, up_radius=2)],
        [neo.LayerDesc((5, 5, 64)) for _ in range(layers)],
    )
    out: Episodes = []
    obs, _ = env.reset(seed=seed)
    reward, done_steps, total = 0.0, 0, 0.0
    while done_steps < steps and (episodes is None or len(out) < episodes):
        enc.step([image.encode(obs)], True)
        h.step([enc.get_hidden_cis(), h.get_prediction_cis(1)], True, reward)
        obs, reward, terminated, truncated, _ = env.step(int(h.get_prediction_cis(1)[0]))
        done_steps += 1
        total += float(reward)
        if terminated or truncated:
            out.append((done_steps, total))
            total = 0.0
            obs, _ = env.reset()
    return out


def curve(episodes: Episodes, grid: np.ndarray) -> np.ndarray:
    """Mean return of the last `WINDOW` episodes finished by each step of ``grid`` (NaN before the first)."""
    ends = np.array([e for e, _ in episodes])
    returns = np.array([r for _, r in episodes])
    out = np.full(len(grid), np.nan)
    for i, s in enumerate(grid):
        n = int(np.searchsorted(ends, s, side="right"))
        if n:
            out[i] = returns[max(0, n - WINDOW) : n].mean()
    return out


def steps_to(episodes: Episodes, threshold: float) -> int | None:
    """The first env step at which the mean of the last `WINDOW` returns reaches ``threshold`` (None: never)."""
    returns = np.array([r for _, r in episodes])
    for i in range(WINDOW, len(returns) + 1):
        if returns[i - WINDOW : i].mean() >= threshold:
            return int(episodes[i - 1][0])
    return None


def result_path(out: Path, env_id: str, system: str, seed: int) -> Path:
    return out / env_id.replace("/", "_") / f"{system}-seed{seed}.json"


def run(args: argparse.Namespace) -> None:
    runners: dict[str, Callable[[int], Episodes | None]] = {
        "ours": lambda seed: run_ours(args.env, seed, args.steps),
        "pyaogmaneo": lambda seed: run_pyaogmaneo(args.env, seed, args.steps, layers=args.peer_layers),
    }
    for system in args.systems:
        name = system if system == "ours" or args.peer_layers == 2 else f"pyaogmaneo-{args.peer_layers}-layer"
        for seed in args.seeds:
            t0 = time.perf_counter()
            eps = runners[system](seed)
            if eps is None:
                print("pyaogmaneo not installed: no side-by-side figures (pip install pyaogmaneo==2.14.4)")
                break
            seconds = time.perf_counter() - t0
            path = result_path(args.out, args.env, name, seed)
            path.parent.mkdir(parents=True, exist_ok=True)
            record = {"env": args.env, "system": name, "seed": seed, "steps": args.steps, "seconds": seconds}
            path.write_text(json.dumps({**record, "episodes": eps}) + "\n")
            print(f"{name} seed {seed}: {len(eps)} episodes, last 100 {np.mean([r for _, r in eps[-100:]]):.3f}, "
                  f"{eps[-1][0] / seconds:,.0f} steps/s -> {path}", flush=True)


def plot(args: argparse.Namespace) -> None:
    folder = args.out / args.env.replace("/", "_")
    runs: dict[str, list[dict]] = {}
    for path in sorted(folder.glob("*.json")):
        r = json.loads(path.read_text())
        runs.setdefault(r["system"], []).append(r)
    print(f"{args.env}, {WINDOW}-episode windows")
    print(f"| system | seed | episodes | mean return, first 100 | last 100 | all episodes | steps to mean{WINDOW} >= "
          f"{args.threshold} | steps/s |")
    print("|---|---|---|---|---|---|---|---|")
    for system, rs in runs.items():
        for r in sorted(rs, key=lambda r: r["seed"]):
            ret = [x for _, x in r["episodes"]]
            sps = r["episodes"][-1][0] / r["seconds"]
            at = steps_to([tuple(e) for e in r["episodes"]], args.threshold)
            print(f"| {system} | {r['seed']} | {len(ret)} | {np.mean(ret[:100]):.3f} | {np.mean(ret[-100:]):.3f} "
                  f"| {np.mean(ret):.3f} | {at if at else '-'} | {sps:,.0f} |")
    for system, rs in runs.items():
        last = [float(np.mean([x for _, x in r["episodes"]][-100:])) for r in rs]
        mean = [float(np.mean([x for _, x in r["episodes"]])) for r in rs]
        at = [steps_to([tuple(e) for e in r["episodes"]], args.threshold) for r in rs]
        reached = sorted(a for a in at if a is not None)
        med_at = statistics.median(reached) if len(reached) == len(rs) else "-"
        print(f"{system}: median over {len(rs)} seeds: last-100 {statistics.median(last):.3f}, all episodes "
              f"{statistics.median(mean):.3f}, reached {args.threshold} in {len(reached)}/{len(rs)} "
              f"(median step {med_at})")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = max(r["steps"] for rs in runs.values() for r in rs)
    grid = np.linspace(steps / 100, steps, 100)
    fig, ax = plt.subplots(figsize=(7, 4))
    for system, rs in runs.items():
        curves = np.array([curve([tuple(e) for e in r["episodes"]], grid) for r in rs])
        ax.plot(grid, np.nanmedian(curves, axis=0), label=f"{system} (median of {len(rs)} seeds)")
        ax.fill_between(grid, np.nanmin(curves, axis=0), np.nanmax(curves, axis=0), alpha=0.2)
    ax.set_xlabel("env steps")
    ax.set_ylabel(f"mean return of the last {WINDOW} episodes")
    ax.set_title(args.env)
    ax.legend()
    ax.grid(alpha=0.3)
    png = args.out / f"{args.env.replace('/', '_')}.png"
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    print(f"curves: {png}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--env", default=DEFAULT_ENV)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--steps", type=int, default=30_000, help="env steps per run (the equal budget)")
    ap.add_argument("--systems", nargs="+", choices=["ours", "pyaogmaneo"], default=["ours", "pyaogmaneo"])
    ap.add_argument("--peer-layers", type=int, default=2, help="pyaogmaneo's (5, 5, 64) layers (env runner: 2)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--plot", action="store_true", help="only print the table and draw the curves")
    ap.add_argument("--threshold", type=float, default=0.9, help="mean return the table's 'steps to' column waits for")
    args = ap.parse_args()
    if args.plot:
        plot(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
