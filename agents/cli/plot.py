"""``sphgym plot``: learning curves from the ``episodes.csv`` of one or more runs (or, with ``--tag``, any
TensorBoard scalar series the runs logged, read as TensorBoard shows it: purged after resumes).

One run: its return per episode (faint) and the rolling mean. Several runs: runs that share an env and an
agent form a group drawn as the median of their rolling means with an interquartile band (the spread
between seeds), each run's own curve faint underneath; different groups get different colours.
matplotlib is imported only here, with the Agg backend (no display needed).
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from agents.cli.common import CLIError, HelpFormatter, positive_int

DESCRIPTION = """\
Draw learning curves (return per episode and its rolling mean) from the episodes.csv of each run.
Runs that share an env and an agent (e.g. several seeds) are drawn as one group: the median of their
rolling means with the interquartile range as a band. A folder that holds run folders (such as runs/)
stands for all of them. Reads the runs; writes only the image (--out).
"""

EPILOG = """\
examples:
  sphgym plot runs/CartPole-v1__hierarchy__s0__20250101-120000
  sphgym plot runs/CartPole-v1__hierarchy__s* --out seeds.png       # seeds as median + IQR band
  sphgym plot runs/ --x step --window 50 --out all.png               # every run under runs/
  sphgym plot runs/CartPole-v1__ppo__s* --tag losses/value_loss      # any TensorBoard scalar, over seeds

default --out: <run>/learning_curve.png for one run, ./learning_curves.png for several.
"""

def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plot",
        help="draw learning curves of one or more runs into a PNG",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("run_dirs", nargs="+", metavar="DIR", help="run folder(s), or a folder of runs")
    parser.add_argument("--out", metavar="FILE.png", help="image to write (PNG, or any matplotlib format)")
    parser.add_argument(
        "--window", type=positive_int, metavar="N",
        help="rolling-mean window in episodes (default: auto, at most 100)",
    )
    parser.add_argument(
        "--x", choices=("episode", "step"), default="episode", help="x axis: episode number or env steps"
    )
    parser.add_argument("--title", help="figure title (default: the env id(s))")
    parser.add_argument(
        "--tag", metavar="TAG",
        help="draw this TensorBoard scalar (e.g. losses/value_loss) instead of the episode return; "
        "one value per episode end, so --window and --x work as for returns",
    )
    parser.set_defaults(handler=run)


@dataclass
class Curve:
    run_dir: Path
    env: str
    agent: str
    seed: str
    point: str = ""  # the grid point of a `sphgym sweep` trial ("" for a plain run)
    returns: list[float] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)


def run(args: argparse.Namespace) -> int:
    run_dirs = _expand(args.run_dirs)
    curves = [_read_tag_curve(d, args.tag) if args.tag else _read_curve(d) for d in run_dirs]
    curves = [c for c in curves if c.returns] or _no_data(run_dirs)
    if args.out:
        out = Path(args.out)
        if not out.suffix:
            out = out.with_suffix(".png")  # what matplotlib writes for a name without an extension
    elif len(run_dirs) == 1:
        out = run_dirs[0] / "learning_curve.png"
    else:
        out = Path("learning_curves.png")
    if out.parent and not out.parent.is_dir():
        raise CLIError(f"cannot write {str(out)!r}: folder {str(out.parent)!r} does not exist")
    _draw(curves, out, window=args.window, x_axis=args.x, title=args.title, tag=args.tag)
    n_eps = sum(len(c.returns) for c in curves)
    print(f"wrote {out} ({len(curves)} run(s), {n_eps} {'points of ' + args.tag if args.tag else 'episodes'})")
    return 0


def _no_data(run_dirs: list[Path]) -> list[Curve]:
    raise CLIError(
        f"no finished episodes to plot in {', '.join(str(d) for d in run_dirs)} "
        "(episodes.csv is empty: train for at least one episode first)"
    )


def _expand(paths: list[str]) -> list[Path]:
    """Run folders named directly, plus every run folder inside a folder of runs (like ``runs/``)."""
    from agents.runner.run_folder import EPISODES_CSV, run_folders_in

    found: list[Path] = []
    for text in paths:
        path = Path(text)
        if not path.exists():
            raise CLIError(f"run folder {text!r} does not exist")
        if path.is_file() and path.name == EPISODES_CSV:
            path = path.parent
        if not path.is_dir():
            raise CLIError(f"{text!r} is not a run folder (expected a folder holding episodes.csv)")
        if (path / EPISODES_CSV).is_file():
            found.append(path)
            continue
        children = list(run_folders_in(path))
        if not children:
            raise CLIError(f"{text!r} holds no episodes.csv (not a run folder, and no run folders inside)")
        found.extend(children)
    unique = list(dict.fromkeys(p.resolve() for p in found))
    return [Path(p) for p in unique]


def _read_curve(run_dir: Path) -> Curve:
    from agents.runner.errors import RunnerError
    from agents.runner.run_folder import read_curve

    env, agent, seed = _identity(run_dir)
    curve = Curve(run_dir, env, agent, seed, _sweep_point(run_dir))
    try:
        rows = read_curve(run_dir)
    except RunnerError as exc:
        raise CLIError(str(exc)) from None
    for _, step, episode_return, _ in rows:
        curve.returns.append(episode_return)
        curve.steps.append(step)
    return curve


def _read_tag_curve(run_dir: Path, tag: str) -> Curve:
    """A run's TensorBoard series ``tag`` as a curve (values in ``returns``); a missing tag names the ones there."""
    import logging

    from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator

    logging.getLogger("tensorboard").setLevel(logging.ERROR)  # purge notices after resumes are expected
    env, agent, seed = _identity(run_dir)
    curve = Curve(run_dir, env, agent, seed, _sweep_point(run_dir))
    if not any(run_dir.glob("events.out.tfevents.*")):
        raise CLIError(f"{str(run_dir)!r} has no TensorBoard log (was it trained with tensorboard = false?)")
    try:
        acc = EventAccumulator(str(run_dir), size_guidance={SCALARS: 0}).Reload()
        tags = sorted(acc.Tags()["scalars"])
        events = acc.Scalars(tag) if tag in tags else None
    except Exception as exc:  # a corrupt event file: TensorBoard's reader raises several kinds
        raise CLIError(f"cannot read the TensorBoard log of {str(run_dir)!r}: {exc}") from None
    if events is None:
        raise CLIError(f"run {str(run_dir)!r} has no TensorBoard scalar {tag!r}; it has: {', '.join(tags)}")
    for event in events:
        if math.isfinite(event.value):
            curve.returns.append(float(event.value))
            curve.steps.append(int(event.step))
    return curve


def _identity(run_dir: Path) -> tuple[str, str, str]:
    """(env, agent, seed) of a run: from its resolved config, else from the default folder name."""
    from agents.runner.run_folder import CONFIG_FILE

    for name in (CONFIG_FILE, "config.toml"):
        path = run_dir / name
        if not path.is_file():
            continue
        try:
            if name.endswith(".json"):
                data = json.loads(path.read_text())
            else:
                from agents.runner.config_schema import tomllib

                data = tomllib.loads(path.read_text())
        except (OSError, ValueError):
            continue
        data = data.get("run", data) if isinstance(data.get("run"), dict) else data
        env = data.get("env_id") or data.get("env")
        agent = data.get("agent_name") or data.get("agent")
        if isinstance(agent, dict):
            agent = agent.get("name")
        seed = data.get("seed")
        if env and isinstance(agent, str):
            return str(env), agent, str(seed)
    parts = run_dir.name.split("__")
    if len(parts) >= 3:
        return parts[0].replace("--", "/"), parts[1], parts[2].removeprefix("s")
    return run_dir.name, "?", "?"


def _sweep_point(run_dir: Path) -> str:
    """The grid point label of a sweep trial (from its ``sweep_trial.json``), or "" for a plain run."""
    try:
        from agents.sweep.spec import TRIAL_FILE

        point = json.loads((run_dir / TRIAL_FILE).read_text()).get("point", "")
    except (OSError, ValueError, AttributeError):
        return ""
    return point if isinstance(point, str) else ""


def default_window(n: int) -> int:
    return max(1, min(100, n // 10))


def _rolling_mean(values, window: int):
    import numpy as np

    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return values
    cumsum = np.cumsum(np.insert(values, 0, 0.0))
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(0, idx - window)
    return (cumsum[idx] - cumsum[lo]) / (idx - lo)


def _draw(
    curves: list[Curve], out: Path, window: int | None, x_axis: str, title: str | None, tag: str | None = None
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    # Seeds of one (env, agent, sweep point) form a group; grid points of a sweep stay apart.
    groups: dict[tuple[str, str, str], list[Curve]] = {}
    for curve in curves:
        groups.setdefault((curve.env, curve.agent, curve.point), []).append(curve)
    points_differ = len({point for _, _, point in groups}) > 1
    longest = max(len(c.returns) for c in curves)
    window = window or default_window(longest)

    fig, ax = plt.subplots(figsize=(9, 5.2), dpi=110)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    single = len(curves) == 1
    for index, ((env, agent, point), members) in enumerate(groups.items()):
        colour = colours[index % len(colours)]
        envs_differ = len({e for e, _, _ in groups}) > 1
        label = f"{agent} on {env}" if envs_differ else agent
        if points_differ:
            label += f" [{point}]"
        xs = [
            np.arange(1, len(c.returns) + 1) if x_axis == "episode" else np.asarray(c.steps) for c in members
        ]
        means = [_rolling_mean(c.returns, window) for c in members]
        if len(members) == 1:
            ax.plot(xs[0], members[0].returns, color=colour, alpha=0.35, lw=0.8, label=f"{label}: {tag or 'return'}")
            ax.plot(
                xs[0], means[0], color=colour, lw=2.0, label=f"{label}: rolling mean over {window} episodes"
            )
            continue
        for x, mean in zip(xs, means, strict=True):
            ax.plot(x, mean, color=colour, alpha=0.3, lw=0.7)
        grid, stack = _align(xs, means, x_axis)
        count = np.sum(~np.isnan(stack), axis=0)
        keep = count >= 2
        with np.errstate(all="ignore"), _quiet_nan_warnings():
            median = np.nanmedian(stack, axis=0)
            q25 = np.nanpercentile(stack, 25, axis=0)
            q75 = np.nanpercentile(stack, 75, axis=0)
        ax.fill_between(grid[keep], q25[keep], q75[keep], color=colour, alpha=0.25, lw=0)
        ax.plot(
            grid[keep], median[keep], color=colour, lw=2.2,
            label=f"{label}: median of {len(members)} runs, rolling {window} ep (band: 25-75 %)",
        )
    threshold = None if tag else _reward_threshold({env for env, _, _ in groups})
    top = max(max(c.returns) for c in curves)
    # The "solved" line only when the curves get near it; far above them it would flatten every curve.
    show_threshold = threshold is not None and threshold > 0 and top >= 0.4 * threshold
    if show_threshold:
        ax.axhline(threshold, color="0.4", ls="--", lw=1, label=f"solved ({threshold:g})")
    ax.set_xlabel("episode" if x_axis == "episode" else "env steps")
    ax.set_ylabel(tag or "episode return")
    envs = sorted({env for env, _, _ in groups})
    if title is None:
        title = ", ".join(envs)
        if single:
            title += f" — {curves[0].run_dir.name}"
        if tag:
            title = f"{tag}: {title}"
        if threshold is not None and not show_threshold:
            title += f" (solved at {threshold:g})"
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8, framealpha=0.8)
    fig.tight_layout()
    try:
        fig.savefig(out)
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot write {str(out)!r}: {exc}") from None
    finally:
        plt.close(fig)


def _align(xs, means, x_axis: str):
    """Stack the runs' rolling means on one x grid (NaN where a run has no data there)."""
    import numpy as np

    if x_axis == "episode":
        length = max(len(m) for m in means)
        stack = np.full((len(means), length), np.nan)
        for row, mean in zip(stack, means, strict=True):
            row[: len(mean)] = mean
        return np.arange(1, length + 1), stack
    hi = max(float(x[-1]) for x in xs)
    grid = np.linspace(0.0, hi, 400)
    stack = np.full((len(means), len(grid)), np.nan)
    for row, x, mean in zip(stack, xs, means, strict=True):
        inside = (grid >= x[0]) & (grid <= x[-1])
        row[inside] = np.interp(grid[inside], x, mean)
    return grid, stack


class _quiet_nan_warnings:
    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


def _reward_threshold(envs: set[str]) -> float | None:
    """The env spec's "solved" threshold when every plotted env shares one."""
    if len(envs) != 1:
        return None
    try:
        import gymnasium

        try:
            import envs as _our_envs  # noqa: F401  registers sphgym/ envs
        except Exception:
            pass
        threshold = gymnasium.spec(next(iter(envs))).reward_threshold
    except Exception:
        return None
    return float(threshold) if threshold is not None and math.isfinite(threshold) else None
