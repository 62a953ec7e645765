"""Per-trial summaries and the per-point table, from real (tiny, random-agent) run folders; no Ray needed."""

from __future__ import annotations

import csv
import math
import warnings

import pytest

from agents.runner import RunConfig, Runner
from agents.sweep.results import (
    RESULTS_CSV,
    RESULTS_MD,
    TRIALS_CSV,
    read_returns,
    rolling_final,
    solved_at,
    summarize_sweep,
    write_tables,
)
from agents.sweep.spec import SweepPoint, SweepSpec


def _train(run_dir, config):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Runner(run_dir, config, log=None, handle_signals=False).train()


def test_solved_at_follows_the_runners_rule(tmp_path):
    # A low threshold: the runner stops ("solved") at the first full window whose mean reaches it.
    config = RunConfig(agent="random", episodes=200, metric_window=5, reward_threshold=25.0, tensorboard=False)
    result = _train(tmp_path / "run", config)
    assert result.status == "solved"
    returns = read_returns(tmp_path / "run")
    assert solved_at(returns, 5, 25.0) == result.episode == len(returns)
    assert solved_at(returns[:-1], 5, 25.0) is None
    assert solved_at(returns, 5, None) is None
    assert rolling_final(returns, 5) == math.fsum(returns[-5:]) / 5 == result.rolling_mean


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory):
    """Two points x three seeds of the random agent, trained with the plain runner; one trial left missing."""
    root = tmp_path_factory.mktemp("sweep")
    base = RunConfig(agent="random", episodes=12, metric_window=4, tensorboard=False).resolved()
    points = (
        SweepPoint(
            "reward_threshold=20.0",
            "reward_threshold=20.0",
            {"reward_threshold": "20.0"},
            base.replace(reward_threshold=20.0, stop_when_solved=False),
        ),
        SweepPoint(
            "reward_threshold=1000.0",
            "reward_threshold=1000.0",
            {"reward_threshold": "1000.0"},
            base.replace(reward_threshold=1000.0),
        ),
    )
    spec = SweepSpec(root, points, (0, 1, 2))
    for point, seed in spec.trials:
        if (point.label, seed) != ("reward_threshold=1000.0", 2):
            _train(spec.trial_dir(point, seed), spec.trial_config(point, seed))
    return spec


def test_table_per_point(small_sweep):
    spec = small_sweep
    trials = summarize_sweep(spec)
    by = {(t.point, t.seed): t for t in trials}
    missing = by[("reward_threshold=1000.0", 2)]
    assert missing.status == "missing" and not missing.finished
    done = by[("reward_threshold=20.0", 0)]
    assert done.status == "completed" and done.episodes == 12 and len(done.weights_sha256) == 64
    returns = read_returns(spec.trial_dir(spec.points[0], 0))
    assert done.final_return == math.fsum(returns[-4:]) / 4
    assert done.solved_at == solved_at(returns, 4, 20.0)

    rows, table = write_tables(spec, trials)
    first, second = rows
    solved = sorted(
        by[("reward_threshold=20.0", s)].solved_at
        for s in range(3)
        if by[("reward_threshold=20.0", s)].solved_at is not None
    )
    assert first["solved"] == len(solved) and first["trials"] == 3 and first["finished"] == 3
    if solved:
        import numpy as np

        assert first["solve_episodes_median"] == float(np.median(solved))
    finals = [by[("reward_threshold=20.0", s)].final_return for s in range(3)]
    assert first["final_return_median"] == sorted(finals)[1]
    assert first["final_return_mean"] == pytest.approx(sum(finals) / 3)
    assert second["solved"] == 0 and second["finished"] == 2 and second["solve_episodes_median"] is None
    assert first["reward_threshold"] == "20.0"  # grid values get their own column

    assert "| reward_threshold=1000.0 | 0/3 (1 unfinished) | - |" in table
    text = (spec.sweep_dir / RESULTS_MD).read_text()
    assert table in text and "Episodes to solve" in text
    with open(spec.sweep_dir / RESULTS_CSV, newline="") as handle:
        saved = list(csv.DictReader(handle))
    assert [r["point"] for r in saved] == ["reward_threshold=20.0", "reward_threshold=1000.0"]
    assert float(saved[0]["final_return_mean"]) == first["final_return_mean"]  # repr: exact
    with open(spec.sweep_dir / TRIALS_CSV, newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 6
