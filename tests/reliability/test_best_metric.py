"""The best metric counts full windows only (issue 15 item 4): on a sparse-reward env the first lucky episode
(a rolling mean of 1.0 over one episode) must not become the run's "best" and pin ``best/`` forever."""

from __future__ import annotations

import json

import pytest

from agents.runner import RunConfig, Runner
from agents.runner.tracking import EpisodeTracker
from tests.cli.cli_helpers import sphgym
from tests.reliability.reliability_stats import count


def test_a_partial_window_is_never_the_best():
    tracker = EpisodeTracker(window=4)
    updates = [tracker.update(r, 1, i + 1, i + 1) for i, r in enumerate([1.0, 0.0, 0.0])]
    assert not any(u.is_best for u in updates) and tracker.best_metric is None
    assert not tracker.offer_saved_best(3)
    update = tracker.update(0.0, 1, 4, 4)  # the first full window: mean 0.25
    assert update.is_best and tracker.best_metric == 0.25 and tracker.best_episode == 4
    assert tracker.offer_saved_best(4)
    count("best metric", "partial windows ignored")


def test_frozen_lake_best_is_a_full_window_mean(tmp_path):
    config = RunConfig(
        env_id="FrozenLake-v1", agent="random", seed=10, episodes=60, metric_window=20, best_every=1,
        checkpoint_every=20, checkpoint_min_interval=0.0, tensorboard=False,
    )
    result = Runner(tmp_path, config, log=None).train()
    returns = [float(line.split(",")[2]) for line in (tmp_path / "episodes.csv").read_text().splitlines()[1:]]
    assert returns[0] == 1.0  # seed 10: the very first episode reaches the goal (a mean of 1.0 over one episode)
    means = {ep: sum(returns[ep - 20:ep]) / 20 for ep in range(20, 61)}
    assert result.best_episode >= 20 and result.best_metric == pytest.approx(max(means.values()))
    assert result.best_metric < 1.0  # a random walk on FrozenLake does not succeed 20 times in a row
    best = json.loads((tmp_path / "best" / "best.json").read_text())
    assert best["episode"] >= 20 and best["metric"] == pytest.approx(means[best["episode"]])
    count("best metric", "FrozenLake full windows")


def test_eval_best_before_a_full_window_names_the_rule(tmp_path):
    run = tmp_path / "run"
    trained = sphgym("train", "--agent", "random", "--episodes", "3", "--run-dir", str(run), "--no-progress")
    assert trained.returncode == 0, trained.stderr
    result = sphgym("eval", str(run), "--checkpoint", "best", "--episodes", "1")
    assert result.returncode == 1
    line = result.stderr.strip().splitlines()[-1]
    assert "no best/ weights yet" in line and "best_every (10)" in line and "metric_window (100)" in line
    assert "--checkpoint latest" in line and "no episode finished" not in line
    count("best metric", "eval best message")
