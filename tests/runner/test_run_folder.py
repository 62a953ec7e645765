"""The run folder's layout owner and the RunState schema of runner.json."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from agents.runner import RunConfig, Runner, RunnerError
from agents.runner.checkpoint import find_latest_valid
from agents.runner.run_folder import (
    BEST_DIR,
    CHECKPOINTS_DIR,
    default_sweep_dir,
    holds_a_run,
    read_best,
    read_curve,
    write_best,
)
from agents.runner.run_state import RunState


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    config = RunConfig(
        agent="random", episodes=12, checkpoint_every=4, checkpoint_min_interval=0.0, best_every=2, metric_window=4
    )
    Runner(run_dir, config, log=None).train()
    return run_dir


def test_holds_a_run(run, tmp_path):
    assert holds_a_run(run) and not holds_a_run(tmp_path)
    (tmp_path / "episodes.csv").write_text("")
    assert holds_a_run(tmp_path)


def test_curve_rows_skip_a_row_being_written(run, tmp_path):
    rows = read_curve(run)
    assert [r[0] for r in rows] == list(range(1, 13))
    text = (run / "episodes.csv").read_text()
    (tmp_path / "episodes.csv").write_text(text + "13,999,1.")  # a live run is writing this row
    assert read_curve(tmp_path) == rows


def test_best_weights_round_trip(run):
    best = read_best(run / "best")
    assert best.config.agent == "random" and best.episode % 2 == 0 and best.global_step > 0
    again = read_best(str(run / "best"))  # the signature takes a str too
    assert (again.episode, again.path, again.weights.keys()) == (best.episode, best.path, best.weights.keys())


def test_writing_best_through_a_linked_best_folder_is_refused(tmp_path):
    """A ``best/`` link planted while a run trains (the resume-time check of the run folder's entries has passed
    by then): the next best/ write is refused and nothing lands where the link points."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("precious\n")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / BEST_DIR).symlink_to(outside)
    with pytest.raises(RunnerError, match=r"is a symbolic link"):
        write_best(run_dir, b"weights", {"episode": 1, "global_step": 9, "metric": 1.0}, RunConfig(agent="random"))
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]


def test_default_sweep_dir_is_never_an_existing_folder(tmp_path):
    @dataclass
    class Cfg:
        env_id: str = "sphgym/DelayedCue-v0"
        agent: str = "ppo"

    first = default_sweep_dir(Cfg(), root=tmp_path)
    first.mkdir()
    assert first.name.startswith("sphgym--DelayedCue-v0__ppo__") and default_sweep_dir(Cfg(), root=tmp_path) != first


def test_run_state_round_trips_and_checks_every_value(run):
    ckpt, _ = find_latest_valid(run / CHECKPOINTS_DIR)
    info = ckpt.json("runner.json")
    state = RunState.from_dict(info)
    assert state.to_dict() == info and state.status == "completed"
    bad = [
        ("episode", -1, "episode must be an integer >= 0"),
        ("global_step", 1.5, "global_step must be an integer"),
        ("in_episode", "no", "in_episode must be true or false"),
        ("episode_return", "x", "episode_return must be a number"),
        ("status", "done", "unknown status"),
        ("seeds", {"agent": 1}, "seeds lacks"),
        ("seeds", {"agent": "1", "env": 1, "action_space": 1, "observation_space": 1}, "seeds.agent must be"),
        ("episodes_csv_sha256", 5, "episodes_csv_sha256 must be a string"),
        ("tracker", [], "tracker must be an object"),
        ("obs_kind", "array", "obs_kind must be an object or null"),
        ("reward_threshold", float("nan"), "reward_threshold must be a finite number"),
        ("episode_step", 3, "episode_step 3 is inconsistent"),
    ]
    for key, value, message in bad:
        with pytest.raises(ValueError, match=message):
            RunState.from_dict(json.loads(json.dumps(dict(info, **{key: value}))))
    with pytest.raises(KeyError):
        RunState.from_dict({k: v for k, v in info.items() if k != "status"})
