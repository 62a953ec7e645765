"""Per-trial summaries and the per-point results table (CSV + markdown), read from the trial run folders.

Everything here is computed from files the runner wrote (``episodes.csv``, the newest valid checkpoint), so
the table can be rebuilt at any time (``sphgym sweep --restore`` rebuilds it) and does not depend on Tune's
records.

Definitions (the runner's own, see agents/runner/tracking.py):
- *solved at episode e*: the mean return over the ``metric_window`` episodes ending at e reaches the env's
reward
  threshold (mean with ``math.fsum``, window full). "Episodes to solve" is the first such e.
- *final return*: mean return over the last ``metric_window`` episodes of the run.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agents.sweep.spec import SweepSpec

RESULTS_CSV = "results.csv"
RESULTS_MD = "results.md"
TRIALS_CSV = "trials.csv"


@dataclass(frozen=True)
class TrialSummary:
    point: str
    seed: int
    folder: str
    status: str  # completed | solved | stopped_early | incomplete | missing | invalid
    episodes: int
    global_step: int
    solved_at: int | None
    final_return: float | None  # rolling mean over the last metric_window episodes
    last_return: float | None
    best_metric: float | None
    weights_sha256: str
    state_sha256: str
    checkpoint: str

    @property
    def finished(self) -> bool:
        from agents.runner.run_state import FINAL_STATUSES

        return self.status in FINAL_STATUSES


def read_returns(run_dir: Path) -> list[float]:
    """Episode returns from ``episodes.csv`` (exact: the runner writes them with ``repr``); none if it is missing."""
    from agents.runner.run_folder import EPISODES_CSV, read_curve

    if not (Path(run_dir) / EPISODES_CSV).exists():
        return []
    return [episode_return for _, _, episode_return, _ in read_curve(run_dir)]


def solved_at(returns: list[float], window: int, threshold: float | None) -> int | None:
    """First episode (1-based) whose full-window rolling mean reaches ``threshold`` (the runner's rule)."""
    if threshold is None:
        return None
    recent: deque[float] = deque(maxlen=window)
    for episode, value in enumerate(returns, start=1):
        recent.append(value)
        if len(recent) >= window and math.fsum(recent) / len(recent) >= threshold:
            return episode
    return None


def rolling_final(returns: list[float], window: int) -> float | None:
    tail = returns[-window:]
    return math.fsum(tail) / len(tail) if tail else None


def summarize_trial(spec: SweepSpec, point_label: str, seed: int) -> TrialSummary:
    """Read one trial's run folder (its newest valid checkpoint decides how far the run got)."""
    from agents.runner import inspect_checkpoint

    point = spec.point(point_label)
    run_dir = spec.trial_dir(point, seed)
    config = spec.trial_config(point, seed)
    empty = dict(
        point=point.label,
        seed=seed,
        folder=run_dir.name,
        episodes=0,
        global_step=0,
        solved_at=None,
        final_return=None,
        last_return=None,
        best_metric=None,
        weights_sha256="",
        state_sha256="",
        checkpoint="",
    )
    try:
        info = inspect_checkpoint(run_dir)
    except (FileNotFoundError, OSError):
        return TrialSummary(status="missing", **empty)
    except Exception:  # a broken folder must not hide the other trials' results
        return TrialSummary(status="invalid", **empty)
    if not info.get("valid", False):
        return TrialSummary(status="invalid", **empty)
    episodes, global_step = int(info["episode"]), int(info["global_step"])
    returns = read_returns(run_dir)[:episodes]
    threshold = info.get("reward_threshold")
    window = config.metric_window
    status = str(info.get("status"))
    if status not in ("solved", "stopped_early"):
        reached = (config.episodes is not None and episodes >= config.episodes and not info.get("in_episode")) or (
            config.steps is not None and global_step >= config.steps
        )
        status = "completed" if reached else "incomplete"
    return TrialSummary(
        point=point.label,
        seed=seed,
        folder=run_dir.name,
        status=status,
        episodes=episodes,
        global_step=global_step,
        solved_at=solved_at(returns, window, threshold),
        final_return=rolling_final(returns, window),
        last_return=returns[-1] if returns else None,
        best_metric=info.get("best_metric"),
        weights_sha256=str(info["weights_sha256"]),
        state_sha256=str(info["state_sha256"]),
        checkpoint=str(info["checkpoint"]),
    )


def summarize_sweep(spec: SweepSpec) -> list[TrialSummary]:
    return [summarize_trial(spec, point.label, seed) for point, seed in spec.trials]


# ------------------------------------------------------------------------------------------------ table
def _quantiles(values: list[float]) -> tuple[float | None, float | None, float | None]:
    """(25th percentile, median, 75th percentile), linear interpolation (numpy's default)."""
    if not values:
        return None, None, None
    import numpy as np

    q25, q50, q75 = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
    return float(q25), float(q50), float(q75)


def point_rows(spec: SweepSpec, trials: list[TrialSummary]) -> list[dict[str, Any]]:
    """One row per config point: solved count, episodes to solve (median, IQR), final return (median, IQR,
    mean)."""
    rows = []
    grid_keys = spec.grid_keys
    for point in spec.points:
        members = [t for t in trials if t.point == point.label]
        solved = [t.solved_at for t in members if t.solved_at is not None]
        finals = [t.final_return for t in members if t.final_return is not None]
        s25, s50, s75 = _quantiles([float(s) for s in solved])
        f25, f50, f75 = _quantiles(finals)
        row: dict[str, Any] = {"point": point.label}
        for key in grid_keys:
            row[key] = point.grid.get(key, "")
        row.update(
            env_id=point.run_config.env_id,
            agent=point.run_config.agent,
            trials=len(members),
            finished=sum(t.finished for t in members),
            solved=len(solved),
            solve_episodes_median=s50,
            solve_episodes_q25=s25,
            solve_episodes_q75=s75,
            final_return_median=f50,
            final_return_q25=f25,
            final_return_q75=f75,
            final_return_mean=math.fsum(finals) / len(finals) if finals else None,
            episodes_mean=math.fsum(t.episodes for t in members) / len(members) if members else None,
        )
        rows.append(row)
    return rows


def _csv_text(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    return out.getvalue()


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The human table: one line per config point."""
    header = "| point | solved | episodes to solve: median [IQR] | final return: median [IQR] | mean | episodes |"
    lines = [header, "|---|---|---|---|---|---|"]
    for row in rows:
        solve = "-"
        if row["solved"]:
            solve = (
                f"{_fmt(row['solve_episodes_median'])} [{_fmt(row['solve_episodes_q25'])}-"
                f"{_fmt(row['solve_episodes_q75'])}]"
            )
        final = "-"
        if row["final_return_median"] is not None:
            final = (
                f"{_fmt(row['final_return_median'])} [{_fmt(row['final_return_q25'])}-{_fmt(row['final_return_q75'])}]"
            )
        unfinished = row["trials"] - row["finished"]
        solved = f"{row['solved']}/{row['trials']}" + (f" ({unfinished} unfinished)" if unfinished else "")
        lines.append(
            f"| {row['point']} | {solved} | {solve} | {final} | {_fmt(row['final_return_mean'])} | "
            f"{_fmt(row['episodes_mean'])} |"
        )
    return "\n".join(lines) + "\n"


def write_tables(spec: SweepSpec, trials: list[TrialSummary] | None = None) -> tuple[list[dict[str, Any]], str]:
    """Write ``results.csv``, ``results.md`` and ``trials.csv`` into the sweep folder; returns (rows,
    markdown)."""
    from agents.runner.fsutil import atomic_write_bytes

    if trials is None:
        trials = summarize_sweep(spec)
    rows = point_rows(spec, trials)
    env_ids = sorted({p.run_config.env_id for p in spec.points})
    agents = sorted({p.run_config.agent for p in spec.points})
    windows = sorted({p.run_config.metric_window for p in spec.points})
    table = markdown_table(rows)
    markdown = (
        f"# Sweep {spec.sweep_dir.name}: {', '.join(agents)} on {', '.join(env_ids)}, seeds "
        f"{_seed_text(spec.seeds)}\n\n{table}\n"
        f"Episodes to solve: first episode whose mean return over the last {'/'.join(map(str, windows))} "
        "episodes reaches the env's reward threshold (solved runs only). Final return: mean over the last "
        f"{'/'.join(map(str, windows))} episodes. Per trial: {TRIALS_CSV}.\n"
    )
    atomic_write_bytes(spec.sweep_dir / RESULTS_CSV, _csv_text(rows).encode())
    atomic_write_bytes(spec.sweep_dir / RESULTS_MD, markdown.encode())
    atomic_write_bytes(spec.sweep_dir / TRIALS_CSV, _csv_text([asdict(t) for t in trials]).encode())
    return rows, table


def _seed_text(seeds: tuple[int, ...]) -> str:
    seeds = tuple(seeds)
    if len(seeds) > 2 and seeds == tuple(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))


def trial_metrics(run_dir: Path, config: Any, checkpoint: Path | None) -> dict[str, Any]:
    """Metrics a trial reports to Tune after a chunk (numbers only; from episodes.csv and the checkpoint)."""
    returns = read_returns(run_dir)
    threshold = None
    if checkpoint is not None:
        try:
            from agents.runner.checkpoint import RUNNER_JSON

            threshold = json.loads((Path(checkpoint) / RUNNER_JSON).read_text()).get("reward_threshold")
        except (OSError, ValueError):
            threshold = None
    window = config.metric_window
    at = solved_at(returns, window, threshold)
    final = rolling_final(returns, window)
    return {
        "episodes": len(returns),
        "rolling_mean_return": final,
        "last_return": returns[-1] if returns else None,
        "solved": at is not None,
        "solved_at": at,
    }
