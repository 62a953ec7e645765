"""Envs a new user will try: the default agent trains on them through the runner, silently, at smoke size.

Toy text (Discrete observations: FrozenLake, Taxi, CliffWalking; Tuple observations: Blackjack) and Box2D
(LunarLander, skipped without the ``box2d`` extra). "Silently": no warning reaches the user (the CLI prints every
warning that passes Python's default filters as a ``warning:`` line), e.g. Gymnasium's "observation not within
the observation space" from an encoder that edits the space in place. Learning is measured in
benchmarks/suite.py, not here.
"""

from __future__ import annotations

import csv
import importlib.util
import sys
import warnings
from pathlib import Path

import gymnasium as gym
import pytest

from agents.cli.main import main as cli_main
from agents.runner import RunConfig, Runner
from envs import make_env

HAS_BOX2D = importlib.util.find_spec("Box2D") is not None

SMOKE_ENVS = [
    pytest.param("FrozenLake-v1", {}, id="FrozenLake-v1"),
    pytest.param("Taxi-v4", {"max_episode_steps": 40}, id="Taxi-v4"),
    # CliffWalking has no episode limit (a learner can wander for thousands of steps): give it one.
    pytest.param("CliffWalking-v1", {"max_episode_steps": 40}, id="CliffWalking-v1"),
    pytest.param("Blackjack-v1", {}, id="Blackjack-v1"),
    pytest.param(
        "LunarLander-v3",
        {"max_episode_steps": 60},
        id="LunarLander-v3",
        marks=pytest.mark.skipif(not HAS_BOX2D, reason='Box2D not installed: pip install -e ".[box2d]"'),
    ),
]


def _user_visible_warnings(run) -> list[str]:
    """Run ``run()`` and return the warnings a user would see (Python's default filters, every occurrence)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("always")
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
            warnings.simplefilter("ignore", category)  # hidden by Python's defaults outside __main__
        run()
    return [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught]


@pytest.mark.parametrize(("env_id", "env_kwargs"), SMOKE_ENVS)
def test_default_agent_trains_without_warnings(tmp_path: Path, env_id: str, env_kwargs: dict) -> None:
    config = RunConfig(env_id=env_id, env_kwargs=env_kwargs, episodes=3, seed=0, tensorboard=False)
    results = []
    shown = _user_visible_warnings(lambda: results.append(Runner(tmp_path / "run", config, log=None).train()))

    assert shown == []
    result = results[0]
    assert (result.status, result.episode) == ("completed", 3)
    with (tmp_path / "run" / "episodes.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 3


def test_warning_capture_sees_gymnasium_warnings() -> None:
    """The check above can fail: Gymnasium's checker warnings (e.g. obs outside its space) are caught."""
    shown = _user_visible_warnings(lambda: gym.logger.warn("obs is not within the observation space"))

    assert len(shown) == 1 and "not within the observation space" in shown[0]


@pytest.fixture
def without_box2d(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import Box2D`` fail as on a machine without it (Gymnasium's box2d modules re-imported)."""
    monkeypatch.setitem(sys.modules, "Box2D", None)
    for name in [n for n in sys.modules if n.startswith("gymnasium.envs.box2d")]:
        monkeypatch.delitem(sys.modules, name)


def test_missing_box2d_names_the_extra(without_box2d: None) -> None:
    with pytest.raises(gym.error.DependencyNotInstalled, match=r'LunarLander-v3 needs box2d.*sphgym\[box2d\]'):
        make_env("LunarLander-v3")


def test_cli_without_box2d_is_a_one_line_error(
    without_box2d: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", "--env", "LunarLander-v3", "--episodes", "1", "--run-dir", str(tmp_path / "r"), "--no-progress"]

    assert cli_main(args) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert errors == [
        'sphgym train: error: LunarLander-v3 needs box2d, which is not installed: pip install "sphgym[box2d]" '
        '(from a checkout: pip install -e ".[box2d]")'
    ]
