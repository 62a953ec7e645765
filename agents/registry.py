"""Agent names the runner and the command line accept, and how to build each one.

Entries name their classes by import path so that choosing the hierarchy agent never imports torch
(``import torch`` alone costs ~2 s of start-up).
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from agents.protocol import Agent
from agents.suggest import close_matches


@dataclass(frozen=True)
class AgentSpec:
    """Where an agent's class and config dataclass live (``"module:attribute"``)."""

    name: str
    agent_path: str
    config_path: str
    summary: str

    def agent_class(self) -> type:
        return _load(self.agent_path)

    def config_class(self) -> type:
        return _load(self.config_path)


AGENTS: dict[str, AgentSpec] = {
    spec.name: spec
    for spec in (
        AgentSpec(
            "hierarchy",
            "agents.hierarchy_agent:HierarchyAgent",
            "agents.hierarchy_config:HierarchyAgentConfig",
            "Sparse Predictive Hierarchy actor-critic (numba, CPU); the default",
        ),
        AgentSpec(
            "dqn",
            "agents.torch_agents.dqn:DQNAgent",
            "agents.torch_agents.config:DQNConfig",
            "Deep Q-Network (torch), RL Zoo CartPole defaults",
        ),
        AgentSpec(
            "ppo",
            "agents.torch_agents.ppo:PPOAgent",
            "agents.torch_agents.config:PPOConfig",
            "Proximal Policy Optimisation (torch), RL Zoo CartPole defaults",
        ),
        AgentSpec(
            "sac",
            "agents.torch_agents.sac:SACAgent",
            "agents.torch_agents.config:SACConfig",
            "Soft Actor-Critic (torch), Box actions, RL Zoo Pendulum defaults",
        ),
        AgentSpec(
            "random",
            "agents.random_agent:RandomAgent",
            "agents.random_agent:RandomAgentConfig",
            "uniform random actions: a baseline and a test double",
        ),
    )
}


def _load(path: str) -> type:
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def get_agent_spec(name: str) -> AgentSpec:
    """Return the spec for ``name``; a ``ValueError`` lists close matches and every known agent."""
    try:
        return AGENTS[name]
    except KeyError:
        close = close_matches(name, AGENTS, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"Unknown agent {name!r}.{hint} Known agents: {', '.join(sorted(AGENTS))}.") from None


def make_agent_config(name: str, values: dict[str, Any] | None = None, env_id: str | None = None) -> Any:
    """Build the config dataclass of agent ``name`` from plain values (unknown keys are an error).

    With ``env_id``, a config class that offers ``env_defaults(env_id)`` (the torch baselines: their RL Zoo
    table) gets those values first and ``values`` on top; without it, the dataclass defaults apply.
    """
    config_cls = get_agent_spec(name).config_class()
    values = dict(values or {})
    env_defaults = getattr(config_cls, "env_defaults", None)
    if env_id is not None and env_defaults is not None:
        values = {**env_defaults(env_id), **values}
    fields = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(values) - fields)
    if unknown:
        hints = []
        for key in unknown:
            close = close_matches(key, fields, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ValueError(
            f"Unknown config field(s) for agent {name!r}: {', '.join(hints)}. "
            f"Valid fields: {', '.join(sorted(fields))}."
        )
    return config_cls(**as_tuples(values))


def as_tuples(value: Any) -> Any:
    """Lists (as TOML and JSON give them) become tuples, recursively: config dataclasses hold tuples."""
    if isinstance(value, list | tuple):
        return tuple(as_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: as_tuples(v) for k, v in value.items()}
    return value


def make_agent(
    name: str,
    observation_space: gym.Space,
    action_space: gym.Space,
    config: Any = None,
    seed: int = 0,
) -> Agent:
    """Build agent ``name`` for the given spaces; ``config`` is its dataclass, a dict, or None (defaults)."""
    spec = get_agent_spec(name)
    if config is None or isinstance(config, dict):
        config = make_agent_config(name, config)
    return spec.agent_class()(observation_space, action_space, config, seed)
