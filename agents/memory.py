"""Memory an agent would allocate, estimated from its config and the env's spaces BEFORE anything is allocated.

A config such as ``agent.layers=[[500, 500, 64]]`` or DQN ``buffer_size=1e11`` (typed by a user, or read from a
crafted checkpoint) would otherwise be OOM-killed while building the agent, taking other processes on the machine
at risk. ``check_agent_memory`` refuses it with the estimate and the memory available.

The estimates add up the arrays the agent allocates (every hierarchy component's weights, per-cell buffers and
replay history, as ``hierarchy.Hierarchy`` sizes them; DQN's replay buffer) without allocating any of them.
"""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym

__all__ = ["AgentTooLargeError", "available_memory", "check_agent_memory", "estimate_agent_bytes"]


# At most this fraction of the available memory may go to the agent's arrays.
USABLE_FRACTION = 0.75


class AgentTooLargeError(ValueError):
    """The agent's config would need more memory than the machine has available (a user error)."""

def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (``MemAvailable``), or ``None`` if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        return None


def estimate_agent_bytes(agent: str, agent_config: Any, observation_space: gym.Space, action_space: gym.Space) -> int:
    """A lower bound of the bytes ``agent`` would allocate for this config and these spaces (0 if unknown)."""
    if agent == "hierarchy":
        return _hierarchy_bytes(agent_config, observation_space, action_space)
    if agent == "dqn":
        obs_size = int(gym.spaces.flatdim(observation_space))
        # obs and next_obs (float32 each), action (int64), reward and terminated (float32 each) per slot
        return int(agent_config.buffer_size) * (2 * 4 * obs_size + 8 + 4 + 4)
    return 0


def check_agent_memory(
    agent: str, agent_config: Any, observation_space: gym.Space, action_space: gym.Space, what: str = "agent"
) -> None:
    """``AgentTooLargeError`` with the estimate and the available memory if the agent cannot fit in memory now.

    Args:
        what: How the message names the config (e.g. ``"agent config"``).
    """
    need = estimate_agent_bytes(agent, agent_config, observation_space, action_space)
    have = available_memory()
    # The estimate covers the agent's arrays; training needs room for the rest too (Python, numba, env, logs).
    if have is None or need <= USABLE_FRACTION * have:
        return
    detail = ""
    if agent == "hierarchy":
        detail = f" (layers={[list(size) for size in agent_config.layers]})"
    elif agent == "dqn":
        detail = f" (buffer_size={agent_config.buffer_size})"
    raise AgentTooLargeError(
        f"the {agent} {what}{detail} would need about {_gib(need)} of memory (estimated before allocating "
        f"anything); this machine has {_gib(have)} available (at most {USABLE_FRACTION:.0%} of it may go to the "
        "agent). Use a smaller configuration "
        + ("(fewer or smaller layers, smaller radii)" if agent == "hierarchy" else "(a smaller buffer_size)")
    )


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**28 else f"{n / 2**20:.0f} MiB"


def _hierarchy_bytes(config: Any, observation_space: gym.Space, action_space: gym.Space) -> int:
    """The arrays ``hierarchy.Hierarchy`` allocates for the agent's descriptors (the same per-component sums its
    own load-time check charges), plus the largest weight initialisation's transient (an int64 draw per weight).
    """
    from hierarchy import IODesc, IOType, LayerDesc
    from hierarchy.topology import VisibleSpec, count_connections

    ports = _port_sizes(config, observation_space, action_space)
    layers = [
        LayerDesc(
            tuple(size), up_radius=config.up_radius, recurrent_radius=config.recurrent_radius,
            down_radius=config.down_radius,
        )
        for size in config.layers
    ]
    total, transient = 0, 0

    def charge(size, visibles, block: int, weight_bytes: int, per_cell: int, extra: int = 0) -> None:
        nonlocal total, transient
        entries, weights = count_connections(tuple(size), visibles, block)
        total += size[0] * size[1] * size[2] * per_cell + sum(v.size[0] * v.size[1] for v in visibles) * 16
        total += extra + entries * 24 + weights * weight_bytes
        transient = max(transient, 8 * weights)

    for index, layer in enumerate(layers):
        size = layer.hidden_size
        if index == 0:
            if ports is None:
                total += size[0] * size[1] * size[2] * 40  # image observations: the pixel frontend sizes the port
                continue
            visibles = [VisibleSpec(ports[0], config.obs_radius), VisibleSpec(ports[1], config.action_radius)]
        else:
            visibles = [VisibleSpec(layers[index - 1].hidden_size, layer.up_radius)]
        if layer.recurrent_radius >= 0:
            visibles.append(VisibleSpec(size, layer.recurrent_radius))
        charge(size, visibles, size[2], 2, 40 + 16 * len(visibles))
        has_feedback = index < len(layers) - 1
        below = [VisibleSpec(size, layer.down_radius)] * (2 if has_feedback else 1)
        if index == 0 and ports is not None:
            action = IODesc(
                ports[1], IOType.ACTION, num_dendrites_per_cell=config.policy_dendrites,
                value_num_dendrites_per_cell=config.value_dendrites, history_capacity=config.history_capacity,
            )
            seen = below + ([VisibleSpec(ports[0], config.skip_radius)] if config.skip_radius >= 0 else [])
            inputs = sum(v.size[0] * v.size[1] for v in seen)
            columns = ports[1][0] * ports[1][1]
            charge(
                ports[1], seen, 1,
                4 * (action.value_num_dendrites_per_cell + 2 * ports[1][2] * action.num_dendrites_per_cell), 8,
                action.history_capacity * (4 * inputs + 24 * columns + 8),
            )
        elif index > 0:
            under = layers[index - 1].hidden_size
            charge(under, below, under[2] * layer.num_dendrites_per_cell, 1, 8 + 4 * layer.num_dendrites_per_cell)
    return total + transient


def _port_sizes(config: Any, observation_space: gym.Space, action_space: gym.Space) -> tuple | None:
    """The observation and action port sizes, as the hierarchy agent makes them (None for image observations)."""
    from agents.hierarchy_config import codec_configs
    from envs import make_action_decoder, make_observation_encoder

    try:
        obs_codec, action_codec = codec_configs(config)
        encoder = make_observation_encoder(observation_space, obs_codec)
        decoder = make_action_decoder(action_space, action_codec)
    except (ValueError, TypeError):
        return None  # the agent reports an unsupported space itself, with its own message
    return tuple(encoder.port_size), tuple(decoder.port_size)
