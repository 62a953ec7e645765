"""A test double for the optional ``metrics()`` hook: the random agent plus two scalars derived from its RNG.

The values depend only on the agent's state (the position of its generator), so a resumed run must log exactly
the values an uninterrupted run logs. ``runner_proc.py --agent metric-random`` registers it.
"""

from __future__ import annotations

from agents.random_agent import RandomAgent
from agents.registry import AGENTS, AgentSpec

NAME = "metric-random"
TAGS = ("agent/rng_position", "losses/fake_loss")


class MetricRandomAgent(RandomAgent):
    def metrics(self) -> dict[str, float]:
        word = int(self._rng.bit_generator.state["state"]["state"])
        position = (word % 1_000_003) / 1_000_003
        return {TAGS[0]: position, TAGS[1]: 1.0 - position}


SPEC = AgentSpec(
    NAME,
    "tests.runner.metric_agent:MetricRandomAgent",
    "agents.random_agent:RandomAgentConfig",
    "random agent with metrics() (tests only)",
)


def register() -> None:
    """Make ``metric-random`` a known agent for the rest of this process (the registry is a plain dict).

    Only for a process of its own (``runner_proc.py``): a test in the pytest process uses
    ``monkeypatch.setitem(AGENTS, NAME, SPEC)`` instead, so later tests (in any order, in any xdist worker) see
    the registry as shipped.
    """
    AGENTS[NAME] = SPEC
