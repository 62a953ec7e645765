"""A run whose agent diverges (NaN/inf weights or losses) stops with a clear error and keeps the last good
checkpoint (issue 15 item 9, the runner's guard; the torch agents' own hyperparameter checks are elsewhere)."""

from __future__ import annotations

import numpy as np
import pytest

from agents.random_agent import RandomAgent
from agents.registry import AGENTS, AgentSpec
from agents.runner import RunConfig, Runner
from agents.runner.checkpoint import find_latest_valid
from agents.runner.errors import TrainingDivergedError
from tests.reliability.reliability_stats import count

DIVERGE_AT = 120  # global step after which the weights (or the loss) are NaN


class DivergingAgent(RandomAgent):
    """Counts steps in a float weight; past DIVERGE_AT the weight (mode "weights") or a loss (mode "loss") is NaN."""

    mode = "weights"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.steps = np.zeros(1, np.float64)

    def observe(self, next_obs, reward, terminated, truncated) -> None:
        self.steps += 1

    def get_weights(self):
        if self.mode == "weights" and self.steps[0] > DIVERGE_AT:
            return {"w": np.array([np.nan])}
        return {"w": self.steps.copy()}

    def set_weights(self, arrays) -> None:
        self.steps = np.asarray(arrays["w"], np.float64).copy()

    def metrics(self) -> dict[str, float]:
        return {"losses/loss": float("inf") if self.mode == "loss" and self.steps[0] > DIVERGE_AT else 0.0}


class DivergingLossAgent(DivergingAgent):
    mode = "loss"


@pytest.fixture(autouse=True)
def _register():
    for name, cls in (("diverging", "DivergingAgent"), ("diverging-loss", "DivergingLossAgent")):
        AGENTS[name] = AgentSpec(name, f"{__name__}:{cls}", "agents.random_agent:RandomAgentConfig", "test")
    yield
    AGENTS.pop("diverging", None)
    AGENTS.pop("diverging-loss", None)


@pytest.mark.parametrize(("agent", "what"), [("diverging", "weights 'w' holds NaN"), ("diverging-loss", "metric")])
def test_non_finite_weights_or_losses_stop_the_run_keeping_the_last_good_checkpoint(tmp_path, agent, what):
    config = RunConfig(agent=agent, episodes=40, checkpoint_every=2, checkpoint_min_interval=0.0, seed=3)
    messages = []
    with pytest.raises(TrainingDivergedError, match="Training diverged") as caught:
        Runner(tmp_path, config, log=messages.append).train()
    text = str(caught.value)
    assert what in text and "is the last good one" in text and "Resuming would repeat this" in text
    latest, problems = find_latest_valid(tmp_path / "checkpoints")
    assert latest is not None and not problems and latest.id in text
    weights = latest.arrays("weights.safetensors")["w"]
    assert np.isfinite(weights).all() and weights[0] <= DIVERGE_AT  # no NaN on disk
    count("divergence guard", f"{agent} stopped")


def test_the_cli_reports_divergence_in_one_line(tmp_path):
    from agents.cli.main import main

    AGENTS["diverging"]  # registered by the fixture in this process
    code = main(["train", "--agent", "diverging", "--episodes", "40", "--run-dir", str(tmp_path / "r"),
                 "--no-progress", "--set", "checkpoint_min_interval=0"])  # fmt: skip
    assert code == 1
    count("divergence guard", "CLI exit 1")
