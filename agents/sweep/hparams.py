"""A sweep's TensorBoard HParams records, so TensorBoard's HParams dashboard compares its grid points.

Layout (``tensorboard --logdir <sweep>`` shows them next to the trials' own scalars)::

    <sweep>/hparams/                 the experiment: which hparams and metrics the dashboard lists
    <sweep>/hparams/<trial folder>/  one session per trial: its grid values and seed, its result metrics

A trial's metrics are scalars of its session run: ``sweep/final_return`` (mean return over the last
``metric_window`` episodes), ``sweep/episodes_to_solve`` (only when solved) and ``sweep/solved`` (1 or 0), at
the step of the trial's last episode. Like the result tables, everything is rebuilt from the trial run folders
after every ``sphgym sweep`` and ``--restore``, and each file is replaced whole (one fixed name per folder), so a
resumed sweep or a restarted trial never adds a second session.

The protos are the ``tensorboard`` package's own (``plugins.hparams.summary_v2``; no TensorFlow needed).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from agents.sweep.results import TrialSummary
from agents.sweep.spec import SweepSpec

HPARAMS_DIR = "hparams"
EVENT_NAME = "sphgym-hparams"
SEED_HPARAM = "seed"
POINT_HPARAM = "point"
FINAL_RETURN = "sweep/final_return"
EPISODES_TO_SOLVE = "sweep/episodes_to_solve"
SOLVED = "sweep/solved"
METRICS = (
    (FINAL_RETURN, "final mean return"),
    (EPISODES_TO_SOLVE, "episodes to solve"),
    (SOLVED, "solved"),
)


def hparam_value(text: str) -> bool | int | float | str:
    """A grid value as typed on the command line -> the hparam value: JSON numbers and booleans become numbers
    and booleans (so TensorBoard sorts and plots them), anything else stays the text."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, bool | int | float) else text


def trial_hparams(spec: SweepSpec, trial: TrialSummary) -> dict[str, bool | int | float | str]:
    """The trial's hparams: its point label, every grid key of the sweep (``""`` if its point lacks one) and its
    seed."""
    grid = spec.point(trial.point).grid
    values: dict[str, bool | int | float | str] = {POINT_HPARAM: trial.point}
    values.update({key: hparam_value(grid[key]) if key in grid else "" for key in spec.grid_keys})
    values[SEED_HPARAM] = trial.seed
    return values


def trial_metric_values(trial: TrialSummary) -> dict[str, float]:
    """The trial's metrics by tag (a metric without a value, e.g. episodes to solve of an unsolved trial, is
    left out)."""
    values = {SOLVED: float(trial.solved_at is not None)}
    if trial.final_return is not None:
        values[FINAL_RETURN] = trial.final_return
    if trial.solved_at is not None:
        values[EPISODES_TO_SOLVE] = float(trial.solved_at)
    return values


def write_hparams(spec: SweepSpec, trials: list[TrialSummary]) -> Path:
    """(Re)write the experiment and one session per trial (trials that never started are left out).

    Returns:
        The HParams folder, ``<sweep>/hparams``.
    """
    from tensorboard.plugins.hparams import summary_v2 as hp

    from agents.runner.tensorboard_log import scalar_summary, write_event_file

    folder = spec.sweep_dir / HPARAMS_DIR
    now = time.time()
    started = [t for t in trials if t.status not in ("missing", "invalid")]
    domains: dict[str, list[Any]] = {}
    for trial in started:
        for name, value in trial_hparams(spec, trial).items():
            if value not in domains.setdefault(name, []):
                domains[name].append(value)
    experiment = hp.hparams_config_pb(
        hparams=[hp.HParam(name, _domain(values)) for name, values in domains.items()],
        metrics=[hp.Metric(tag, display_name=name) for tag, name in METRICS],
        time_created_secs=now,
    )
    write_event_file(folder, EVENT_NAME, [(0, experiment)], now)
    for trial in started:
        session: list[tuple[int, Any]] = [(0, hp.hparams_pb(trial_hparams(spec, trial), trial_id=trial.folder))]
        session += [(trial.episodes, scalar_summary(tag, v)) for tag, v in trial_metric_values(trial).items()]
        write_event_file(folder / trial.folder, EVENT_NAME, session, now)
    return folder


def _domain(values: list[Any]) -> Any:
    """A discrete domain when every value has the same type (TensorBoard's requirement), else none."""
    from tensorboard.plugins.hparams import summary_v2 as hp

    kinds = {float if isinstance(v, int | float) and not isinstance(v, bool) else type(v) for v in values}
    if len(kinds) != 1:
        return None
    if kinds == {float}:
        values = [float(v) for v in values]
    return hp.Discrete(sorted(values))
