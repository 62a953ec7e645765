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

from agents.torch_agents import common
from agents.torch_agents.base import ReplayAgent
from agents.torch_agents.buffers import ReplayBuffer, Transitions, check_memory
from agents.torch_agents.config import DQNConfig


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


class DQNAgent(ReplayAgent):
    """DQN for Box (flattened) or Discrete (one-hot) observations and Discrete actions.

    Weights: ``q_network.*``, ``target_network.*``, ``optimizer.*`` (Adam moments and step counts).
    State: the replay buffer's filled rows (``buffer.*``), counters, the pending (obs, action) of an ``act``
    not yet followed by ``observe``, the numpy and torch generator states, and the last losses.
    """

    config_class = DQNConfig
    loss_names = ("losses/td_loss", "losses/q_values")

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, config: DQNConfig, seed: int) -> None:
        super().__init__(observation_space, action_space, config, seed)
        row_bytes = Transitions.row_bytes(self.obs_size, (), np.int64)
        check_memory("DQNConfig", "buffer_size", config.buffer_size, row_bytes)

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
        self.buffer = ReplayBuffer(config.buffer_size, self.obs_size, (), np.int64, num_actions=self.n_actions)

    # -------------------------------------------------------------------------------------------- acting
    @property
    def exploration_rate(self) -> float:
        return linear_epsilon(self.config, self.num_timesteps)

    def act(self, obs: Any) -> int:
        x = self.encode(obs)
        if not self.learn_enabled and self.config.deterministic_when_not_learning:
            action = int(np.argmax(self.q_numpy(x)))
        elif self.learn_enabled and self.num_timesteps < self.config.learning_starts:
            action = int(self.np_rng.integers(self.n_actions))
        elif self.np_rng.random() < self.exploration_rate:
            action = int(self.np_rng.integers(self.n_actions))
        else:
            action = int(np.argmax(self.q_numpy(x)))
        self.remember(x, action)
        return self.env_action(action)

    def act_batch(self, obs: Any, active: np.ndarray) -> np.ndarray:
        """``act`` for N envs: one epsilon draw per active env, in env order (inactive rows act 0, ignored)."""
        x = self.encode_batch(obs)
        rows = np.flatnonzero(active)
        actions = np.zeros(self.n_envs, dtype=np.int64)
        if self.learn_enabled and self.num_timesteps < self.config.learning_starts:
            actions[rows] = self.np_rng.integers(self.n_actions, size=len(rows))
        else:
            greedy = np.argmax(self.q_numpy(x[rows]), axis=1)
            if self.learn_enabled or not self.config.deterministic_when_not_learning:
                explore = self.np_rng.random(len(rows)) < self.exploration_rate
                greedy = np.where(explore, self.np_rng.integers(self.n_actions, size=len(rows)), greedy)
            actions[rows] = greedy
        self.remember_batch(x, actions, active)
        return self.env_actions(actions)

    def observe(self, next_obs: Any, reward: float, terminated: bool, truncated: bool) -> None:
        if not self.learn_enabled or not self.has_pending:
            return  # learning off (or switched on between act and observe): nothing to store
        self.has_pending = False
        self.store_and_learn(self.pending_obs, self.pending_action[0], float(reward), self.encode(next_obs), terminated)

    def store_and_learn(self, x: np.ndarray, action: Any, reward: float, next_x: np.ndarray, terminated: bool) -> None:
        """One transition: store it, count it, update the target and train on SB3's schedule."""
        config = self.config
        self.buffer.add(x, action, reward, next_x, bool(terminated))
        self.num_timesteps += 1
        if self.num_timesteps % config.target_update_interval == 0:
            common.polyak_update(self.q_network, self.target_network, config.tau)
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

    # ------------------------------------------------------------------------------------------ saving
    def modules(self) -> dict[str, nn.Module]:
        return {"q_network": self.q_network, "target_network": self.target_network}

    def optimizers(self) -> dict[str, common.Adam]:
        return {"optimizer": self.optimizer}

    def refresh_acting_copies(self) -> None:
        self.q_numpy.refresh(self.q_network)

    def metrics(self) -> dict[str, float]:
        """Sampled once per episode (not per training step, so a 1M-step run writes a few scalars per episode):
        ``losses/td_loss`` and ``losses/q_values`` of the last gradient step before the episode ended (the mean
        Huber loss and mean Q of its minibatch; zeros before learning starts) and ``charts/epsilon``, the
        exploration rate at the episode's end. All three follow from the state, so they resume exactly."""
        return {**self.last_losses, "charts/epsilon": self.exploration_rate}
