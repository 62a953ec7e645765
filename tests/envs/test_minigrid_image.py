"""sphgym/MiniGrid-* ids: MiniGrid seen through its image observation, the missing-extra message, training."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from agents.cli.main import main as cli_main
from envs import capture_env_state, is_image_space, make_env, restore_env_state
from envs.minigrid_image import MINIGRID_IDS, ImageObservation

HAS_MINIGRID = importlib.util.find_spec("minigrid") is not None
needs_minigrid = pytest.mark.skipif(not HAS_MINIGRID, reason='minigrid not installed: pip install -e ".[minigrid]"')
ENV = "sphgym/MiniGrid-Empty-Random-5x5-v0"


@needs_minigrid
@pytest.mark.parametrize("minigrid_id", list(MINIGRID_IDS))
def test_every_id_is_minigrids_env_seen_as_its_image(minigrid_id: str) -> None:
    ours = make_env("sphgym/" + minigrid_id)
    theirs = gym.make(minigrid_id)
    assert is_image_space(ours.observation_space) and ours.observation_space.shape == (7, 7, 3)
    assert ours.action_space == theirs.action_space
    assert ours.spec.max_episode_steps == theirs.unwrapped.max_steps  # the runner sees MiniGrid's own limit
    obs, _ = ours.reset(seed=3)
    other, _ = theirs.reset(seed=3)
    for action in [2, 0, 2, 1, 2, 2]:
        assert obs.tobytes() == other["image"].tobytes()
        obs, r, term, trunc, _ = ours.step(action)
        other, r2, term2, trunc2, _ = theirs.step(action)
        assert (r, term, trunc) == (r2, term2, trunc2)


@needs_minigrid
def test_a_restore_at_an_episode_boundary_repeats_the_run() -> None:
    """MiniGrid's grid is not captured (object state): the runner replays from a boundary, which needs this."""
    env = make_env(ENV)
    env.reset(seed=5)
    for _ in range(30):  # several episodes: the RNG moved on
        if env.step(2)[2]:
            env.reset()
    snapshot = json.loads(json.dumps(capture_env_state(env)))
    assert snapshot["episode_state_captured"] is False

    def play(e: gym.Env) -> bytes:
        out = [e.reset()[0].tobytes()]
        for t in range(200):
            obs, _, term, trunc, _ = e.step(t % 3)
            out.append(obs.tobytes())
            if term or trunc:
                out.append(e.reset()[0].tobytes())
        return b"".join(out)

    other = make_env(ENV)
    other.reset(seed=99)
    restore_env_state(other, snapshot)
    assert play(other) == play(env)


def test_the_wrapper_refuses_an_env_without_an_image() -> None:
    with pytest.raises(ValueError, match="Dict observation with a uint8 'image' Box"):
        ImageObservation(gym.make("CartPole-v1"))


@pytest.fixture
def without_minigrid(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import minigrid`` fail as on a machine without it."""
    monkeypatch.setitem(sys.modules, "minigrid", None)


def test_missing_minigrid_names_the_extra(without_minigrid: None) -> None:
    with pytest.raises(gym.error.DependencyNotInstalled, match=r"MiniGrid-Empty-Random-5x5-v0 needs minigrid"):
        make_env(ENV)


def test_cli_without_minigrid_is_a_one_line_error(
    without_minigrid: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", "--env", ENV, "--episodes", "1", "--run-dir", str(tmp_path / "r"), "--no-progress"]

    assert cli_main(args) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert errors == [
        f'sphgym train: error: {ENV} needs minigrid, which is not installed: pip install "sphgym[minigrid]" '
        '(from a checkout: pip install -e ".[minigrid]")'
    ]


@needs_minigrid
def test_train_with_defaults_runs_the_hierarchy_through_an_image_encoder(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert cli_main(["train", "--env", ENV, "--episodes", "3", "--run-dir", str(run), "--no-progress"]) == 0
    with (run / "episodes.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3
    assert all(np.isfinite(float(r["return"])) for r in rows)
