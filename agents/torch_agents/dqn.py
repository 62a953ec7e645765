"""Deep Q-Network behind the Agent protocol, with Stable-Baselines3's training schedule.

Per env step (``observe``): store the transition, advance the step counter, copy the Q-network into the
target network every ``target_update_interval`` steps, and every ``train_freq`` steps after
``learning_starts`` run ``gradient_steps`` updates (``dqn_update``, below, reads top to bottom).
Epsilon falls linearly over ``exploration_fraction * total_timesteps`` steps; before ``learning_starts`` all
actions are uniform.

Randomness: acting (epsilon draws, random actions) uses the agent's numpy Generator; network init and replay
sampling use its CPU ``torch.Generator``. Both are in ``get_state()``; nothing touches a global RNG.
Acting uses a numpy copy of the Q-network (``NumpyMLP``) refreshed after each update: greedy actions equal
torch's argmax up to float rounding and are deterministic.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agents.protocol import ArrayDict
from agents.random_agent import generator_state_from_array, generator_state_to_array
from agents.torch_agents import common
from agents.torch_agents.config import DQNConfig

_COUNTERS = ("num_timesteps", "n_updates", "buffer_pos", "buffer_size", "has_pending")


class ReplayBuffer:
    """A ring of transitions in numpy arrays (cheap per-step writes; ``torch.from_numpy`` shares them)."""

    def __init__(self, capacity: int, obs_size: int) -> None:
        self.capacity = capacity
        self.obs = np.zeros((capacity, obs_size), dtype=np.float32)
        self.next_obs = np.zeros((capacity, obs_size), dtype=np.float32)
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=np.float32)
        self.pos = 0
        self.size = 0

    def add(self, obs: np.ndarray, action: int, reward: float, next_obs: np.ndarray, terminated: bool) -> None:
        i = self.pos
        self.obs[i] = obs
        self.next_obs[i] = next_obs
        self.actions[i] = action
        self.rewards[i] = reward
        self.terminated[i] = terminated
        self.pos = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def arrays(self) -> dict[str, np.ndarray]:
        """The filled part only (the whole ring once full); positions are in the counters."""
        n = self.size
        return {
            "obs": self.obs[:n].copy(),
            "next_obs": self.next_obs[:n].copy(),
            "actions": self.actions[:n].copy(),
            "rewards": self.rewards[:n].copy(),
            "terminated": self.terminated[:n].copy(),
        }

    def load(self, arrays: dict[str, np.ndarray], pos: int, size: int) -> None:
        if not (0 <= size <= self.capacity and 0 <= pos < self.capacity):
            raise ValueError(f"DQNAgent.set_state: buffer pos {pos} / size {size} do not fit capacity {self.capacity}.")
        for name, array in arrays.items():
            if len(array) != size:
                raise ValueError(f"DQNAgent.set_state: 'buffer.{name}' holds {len(array)} rows, expected {size}.")
            getattr(self, name)[:size] = array
        self.pos, self.size = pos, size


def linear_epsilon(config: DQNConfig, num_timesteps: int) -> float:
    """SB3's ``get_linear_fn``: initial -> final over ``exploration_fraction`` of ``total_timesteps``."""
    progress = num_timesteps / config.total_timesteps
    if progress > config.exploration_fraction:
        return config.exploration_final_eps
    return (
        config.exploration_initial_eps
        + progress * (config.exploration_final_eps - config.exploration_initial_eps) / config.exploration_fraction
    )


def dqn_update(
    q_network: nn.Module,
    target_network: nn.Module,
    optimizer: common.Adam,
    buffer: ReplayBuffer,
    generator: torch.Generator,
    config: DQNConfig,
    device: torch.device,
) -> dict[str, float]:
    """``gradient_steps`` Huber-loss TD updates on minibatches sampled uniformly (with replacement).

    The target network is fixed during a training phase, so the TD targets of all minibatches are computed
    up front in one batched forward pass (same values as computing them per minibatch).
    """
    n, batch = config.gradient_steps, config.batch_size
    b_inds = torch.randint(buffer.size, (n, batch), generator=generator)  # CPU generator, CPU buffer
    b_obs = torch.from_numpy(buffer.obs)[b_inds].to(device)
    b_next_obs = torch.from_numpy(buffer.next_obs)[b_inds].to(device)
    b_actions = torch.from_numpy(buffer.actions)[b_inds].to(device)
    b_rewards = torch.from_numpy(buffer.rewards)[b_inds].to(device)
    b_terminated = torch.from_numpy(buffer.terminated)[b_inds].to(device)
    with torch.no_grad():
        b_next_q = target_network(b_next_obs).max(dim=-1).values
        # terminated: no future value; truncated transitions were stored as not terminated, so they bootstrap
        b_td_target = b_rewards + config.gamma * b_next_q * (1.0 - b_terminated)

    for i in range(n):
        mb_q = q_network(b_obs[i]).gather(1, b_actions[i].unsqueeze(1)).squeeze(1)
        loss = F.smooth_l1_loss(mb_q, b_td_target[i])
        optimizer.zero_grad()
        loss.backward()
        common.clip_grad_norm(optimizer.grads(), config.max_grad_norm)
        optimizer.step()
    return {"losses/td_loss": float(loss.detach()), "losses/q_values": float(mb_q.detach().mean())}


@torch.no_grad()
def polyak_update(network: nn.Module, target_network: nn.Module, tau: float) -> None:
    for param, target_param in zip(network.parameters(), target_network.parameters(), strict=True):
        if tau == 1.0:
            target_param.copy_(param)
        else:
            target_param.mul_(1.0 - tau).add_(param, alpha=tau)


class DQNAgent:
    """DQN for Box observations (flattened) and Discrete actions.

    Weights: ``q_network.*``, ``target_network.*``, ``optimizer.*`` (Adam moments and step counts).
    State: the replay buffer's filled rows (``buffer.*``), counters, the pending (obs, action) of an ``act``
    not yet followed by ``observe``, the numpy and torch generator states, and the last losses.
    """

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, config: DQNConfig, seed: int) -> None:
        if not isinstance(config, DQNConfig):
            raise ValueError(f"DQNAgent needs a DQNConfig, got {type(config).__name__}.")
        self.obs_size, self.n_actions = common.check_spaces("DQNAgent", observation_space, action_space)
        self.action_start = int(action_space.start)
        self.config = config
        self.learn_enabled = True
        self.device = common.pin_torch_runtime(config.torch_threads, config.device)
        self.np_rng, self.torch_rng = common.seed_generators(seed)

        sizes = [self.obs_size, *config.net_arch, self.n_actions]
        self.q_network = common.mlp(sizes, nn.ReLU)
        common.init_default(self.q_network, self.torch_rng)
        self.q_network.to(self.device)
        self.target_network = common.mlp(sizes, nn.ReLU).to(self.device)
        self.target_network.load_state_dict(self.q_network.state_dict())
        self.target_network.requires_grad_(False)
        self.optimizer = common.Adam(
            {f"q_network.{k}": p for k, p in self.q_network.named_parameters()},
            config.learning_rate,
            1e-8,  # torch's (and SB3's) default for off-policy algorithms
            config.fused_adam,
        )
        self.q_numpy = common.NumpyMLP(self.q_network, "relu")

        self.buffer = ReplayBuffer(config.buffer_size, self.obs_size)
        self.num_timesteps = 0
        self.n_updates = 0
        self.pending_obs = np.zeros(self.obs_size, dtype=np.float32)
        self.pending_action = 0
        self.has_pending = False
        self.last_losses = {"losses/td_loss": 0.0, "losses/q_values": 0.0}

    # -------------------------------------------------------------------------------------------- acting
    @property
    def exploration_rate(self) -> float:
        return linear_epsilon(self.config, self.num_timesteps)

    def act(self, obs: Any) -> int:
        x = np.asarray(obs, dtype=np.float32).reshape(self.obs_size)
        if not self.learn_enabled and self.config.deterministic_when_not_learning:
            action = int(np.argmax(self.q_numpy(x)))
        elif self.learn_enabled and self.num_timesteps < self.config.learning_starts:
            action = int(self.np_rng.integers(self.n_actions))
        elif self.np_rng.random() < self.exploration_rate:
            action = int(self.np_rng.integers(self.n_actions))
        else:
            action = int(np.argmax(self.q_numpy(x)))
        if self.learn_enabled:
            self.pending_obs[:] = x
            self.pending_action = action
            self.has_pending = True
        return self.action_start + action

    def observe(self, next_obs: Any, reward: float, terminated: bool, truncated: bool) -> None:
        if not self.learn_enabled or not self.has_pending:
            return  # learning off (or switched on between act and observe): nothing to store
        config = self.config
        next_x = np.asarray(next_obs, dtype=np.float32).reshape(self.obs_size)
        self.buffer.add(self.pending_obs, self.pending_action, float(reward), next_x, bool(terminated))
        self.has_pending = False
        self.num_timesteps += 1
        if self.num_timesteps % config.target_update_interval == 0:
            polyak_update(self.q_network, self.target_network, config.tau)
        if (
            self.num_timesteps % config.train_freq == 0
            and self.num_timesteps > config.learning_starts
            and config.gradient_steps > 0
        ):
            common.pin_torch_runtime(config.torch_threads, config.device)
            self.last_losses = dqn_update(
                self.q_network,
                self.target_network,
                self.optimizer,
                self.buffer,
                self.torch_rng,
                config,
                self.device,
            )
            self.n_updates += config.gradient_steps
            self.q_numpy.refresh(self.q_network)

    def clear_state(self) -> None:
        self.has_pending = False  # an act() never observed (the episode was cut off) is dropped

    # ------------------------------------------------------------------------------------------ saving
    def runtime_info(self) -> dict[str, Any]:
        return common.runtime_info(self.config.torch_threads, self.device)

    def get_weights(self) -> ArrayDict:
        return {
            **common.module_to_arrays("q_network", self.q_network),
            **common.module_to_arrays("target_network", self.target_network),
            **self.optimizer.to_arrays("optimizer"),
        }

    def set_weights(self, arrays: ArrayDict) -> None:
        common.check_arrays("DQNAgent", "weights", arrays, self.get_weights())
        common.load_module("q_network", self.q_network, arrays)
        common.load_module("target_network", self.target_network, arrays)
        self.optimizer.load_arrays("optimizer", arrays)
        self.q_numpy.refresh(self.q_network)

    def _counters(self) -> dict[str, int]:
        return {
            "num_timesteps": self.num_timesteps,
            "n_updates": self.n_updates,
            "buffer_pos": self.buffer.pos,
            "buffer_size": self.buffer.size,
            "has_pending": int(self.has_pending),
        }

    def get_state(self) -> ArrayDict:
        state = {f"buffer.{name}": array for name, array in self.buffer.arrays().items()}
        state.update(
            {
                "counters": np.array([self._counters()[k] for k in _COUNTERS], dtype=np.int64),
                "pending_obs": self.pending_obs.copy(),
                "pending_action": np.array([self.pending_action], dtype=np.int64),
                "last_losses": np.array(list(self.last_losses.values()), dtype=np.float64),
                "np_rng": generator_state_to_array(self.np_rng),
                "torch_rng": common.torch_generator_to_array(self.torch_rng),
            }
        )
        return state

    def set_state(self, arrays: ArrayDict) -> None:
        reference = self.get_state()
        # the buffer's filled length varies: check its columns against the stored size below instead
        for name in self.buffer.arrays():
            key = f"buffer.{name}"
            if key in arrays and isinstance(arrays[key], np.ndarray):
                reference[key] = np.zeros((len(arrays[key]), *reference[key].shape[1:]), reference[key].dtype)
        common.check_arrays("DQNAgent", "state", arrays, reference)
        counters = dict(zip(_COUNTERS, (int(v) for v in arrays["counters"]), strict=True))
        self.buffer.load(
            {name: arrays[f"buffer.{name}"] for name in self.buffer.arrays()},
            counters["buffer_pos"],
            counters["buffer_size"],
        )
        self.num_timesteps = counters["num_timesteps"]
        self.n_updates = counters["n_updates"]
        self.has_pending = bool(counters["has_pending"])
        self.pending_obs[:] = arrays["pending_obs"]
        self.pending_action = int(arrays["pending_action"][0])
        self.last_losses = dict(zip(self.last_losses, (float(v) for v in arrays["last_losses"]), strict=True))
        # RNG last (after everything that could fail)
        generator_state_from_array(self.np_rng, arrays["np_rng"])
        common.torch_generator_from_array(self.torch_rng, arrays["torch_rng"])
