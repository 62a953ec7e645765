"""Soft Actor-Critic behind the Agent protocol (CleanRL's ``sac_continuous_action`` with SB3's details).

Per env step (``observe``): store the transition in the replay ring; every ``train_freq`` steps after
``learning_starts`` run ``gradient_steps`` updates (``sac_update``, below, reads top to bottom: entropy
coefficient, twin-Q critics against polyak-averaged targets, actor). Before ``learning_starts`` the actions
are uniform over the space.

Policy: a tanh-squashed diagonal Gaussian; one ReLU MLP outputs the mean and the log-std (clamped to
[-20, 2] as in SB3) of every action dimension. Actions live in [-1, 1] inside the agent (replay buffer,
critics) and are mapped affinely onto the Box's bounds for the env, so the space must be bounded.

Randomness: acting (uniform warm-up actions, policy noise) uses the agent's numpy Generator on a numpy copy
of the actor (``NumpyMLP``, refreshed after each update); network init, replay sampling and the
reparameterisation noise of the updates use its CPU ``torch.Generator``. Nothing touches a global RNG.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agents.torch_agents import common
from agents.torch_agents.base import ReplayAgent
from agents.torch_agents.buffers import ReplayBuffer, Transitions, check_memory
from agents.torch_agents.config import SACConfig

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_TANH_EPS = 1e-6  # SB3's TanhBijector epsilon in log(1 - tanh(u)^2 + eps)


class LogEntCoef(nn.Module):
    """log(alpha), learned when ``autotune_entropy`` (saved as ``log_ent_coef.weight``)."""

    def __init__(self, initial: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full((1,), math.log(initial)))


class TwinQ(nn.Module):
    """Two independent Q(obs, action) MLPs; ``forward`` returns both, shape (batch,) each."""

    def __init__(self, obs_size: int, action_dim: int, net_arch: tuple[int, ...]) -> None:
        super().__init__()
        self.qf1 = common.mlp([obs_size + action_dim, *net_arch, 1], nn.ReLU)
        self.qf2 = common.mlp([obs_size + action_dim, *net_arch, 1], nn.ReLU)

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([obs, actions], dim=1)
        return self.qf1(x).squeeze(1), self.qf2(x).squeeze(1)


def sample_action(actor: nn.Module, obs: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Reparameterised tanh-Gaussian action in [-1, 1] and its log-probability (change of variables)."""
    mean, log_std = actor(obs).chunk(2, dim=1)
    log_std = torch.clamp(log_std, LOG_STD_MIN, LOG_STD_MAX)
    action = torch.tanh(mean + log_std.exp() * noise)
    # log N(u; mean, std) with u - mean = std * noise, minus log |d tanh(u) / du|
    log_prob = (-0.5 * noise.square() - log_std - _LOG_SQRT_2PI).sum(1)
    log_prob = log_prob - torch.log(1.0 - action.square() + _TANH_EPS).sum(1)
    return action, log_prob


def sac_update(
    actor: nn.Module,
    critic: TwinQ,
    critic_target: TwinQ,
    log_ent_coef: torch.Tensor | None,
    optimizers: dict[str, common.Adam],
    buffer: ReplayBuffer,
    generator: torch.Generator,
    config: SACConfig,
    target_entropy: float,
    device: torch.device,
) -> dict[str, float]:
    """``config.gradient_steps`` SAC updates on minibatches sampled uniformly (with replacement).

    ``log_ent_coef`` is None for a fixed entropy coefficient (``config.ent_coef``); ``optimizers`` holds
    ``actor``, ``critic`` and (when tuned) ``ent_coef``. Returns the last step's losses.
    """
    ent_coef = torch.tensor(config.ent_coef, device=device)
    ent_coef_loss = torch.zeros(())
    action_dim = buffer.actions.shape[1]
    obs_all, next_obs_all = torch.from_numpy(buffer.obs), torch.from_numpy(buffer.next_obs)
    actions_all, rewards_all = torch.from_numpy(buffer.actions), torch.from_numpy(buffer.rewards)
    terminated_all = torch.from_numpy(buffer.terminated)
    for gradient_step in range(config.gradient_steps):
        b_inds = torch.randint(buffer.size, (config.batch_size,), generator=generator)
        b_obs, b_next_obs = obs_all[b_inds].to(device), next_obs_all[b_inds].to(device)
        b_actions, b_rewards = actions_all[b_inds].to(device), rewards_all[b_inds].to(device)
        b_terminated = terminated_all[b_inds].to(device)
        noise = torch.randn((2, config.batch_size, action_dim), generator=generator).to(device)

        # entropy coefficient (alpha): pushed so that the policy's entropy tracks target_entropy
        actions_pi, log_prob = sample_action(actor, b_obs, noise[0])
        if log_ent_coef is not None:
            ent_coef = log_ent_coef.detach().exp()
            ent_coef_loss = -(log_ent_coef * (log_prob + target_entropy).detach()).mean()
            optimizers["ent_coef"].zero_grad()
            ent_coef_loss.backward()
            optimizers["ent_coef"].step()

        # critics: soft TD target from the target critics at the policy's next action
        with torch.no_grad():
            next_actions, next_log_prob = sample_action(actor, b_next_obs, noise[1])
            next_q = torch.min(*critic_target(b_next_obs, next_actions)) - ent_coef * next_log_prob
            # terminated: no future value; truncated transitions were stored as not terminated, so they bootstrap
            td_target = b_rewards + (1.0 - b_terminated) * config.gamma * next_q
        qf1_values, qf2_values = critic(b_obs, b_actions)
        qf_loss = 0.5 * (F.mse_loss(qf1_values, td_target) + F.mse_loss(qf2_values, td_target))
        optimizers["critic"].zero_grad()
        qf_loss.backward()
        optimizers["critic"].step()

        # actor: maximise min Q - alpha * log pi (critic weights held fixed)
        critic.requires_grad_(False)
        actor_loss = (ent_coef * log_prob - torch.min(*critic(b_obs, actions_pi))).mean()
        optimizers["actor"].zero_grad()
        actor_loss.backward()
        optimizers["actor"].step()
        critic.requires_grad_(True)

        if gradient_step % config.target_update_interval == 0:
            common.polyak_update(critic, critic_target, config.tau)
    return {
        "losses/qf_loss": float(qf_loss.detach()),
        "losses/actor_loss": float(actor_loss.detach()),
        "losses/alpha_loss": float(ent_coef_loss.detach()),
        "losses/alpha": float(ent_coef),
        "losses/qf1_values": float(qf1_values.detach().mean()),
    }


class SACAgent(ReplayAgent):
    """SAC for Box (flattened) or Discrete (one-hot) observations and bounded Box actions.

    Weights: ``actor.*``, ``critic.*``, ``critic_target.*``, (autotuned) ``log_ent_coef.weight``, and the
    Adam states ``actor_optimizer.*``, ``critic_optimizer.*``, ``ent_coef_optimizer.*``.
    State: the replay buffer's filled rows (``buffer.*``, actions in [-1, 1]), counters, the pending
    (obs, action) of an ``act`` not yet followed by ``observe``, the generator states and the last losses.
    """

    config_class = SACConfig
    action_spaces = (gym.spaces.Box,)
    loss_names = (
        "losses/qf_loss",
        "losses/actor_loss",
        "losses/alpha_loss",
        "losses/alpha",
        "losses/qf1_values",
        "charts/learning_rate",
    )

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, config: SACConfig, seed: int) -> None:
        super().__init__(observation_space, action_space, config, seed)
        if not (np.all(np.isfinite(self.action_low)) and np.all(np.isfinite(self.action_high))):
            raise ValueError(
                f"SACAgent needs a bounded Box action space (its tanh policy is scaled onto the bounds), got "
                f"{action_space!r}. Wrap the env with gymnasium.wrappers.ClipAction/RescaleAction or use ppo."
            )
        row_bytes = Transitions.row_bytes(self.obs_size, self.action_shape, np.float32)
        check_memory("SACConfig", "buffer_size", config.buffer_size, row_bytes)

        d = self.action_dim
        self.actor = common.mlp([self.obs_size, *config.net_arch, 2 * d], nn.ReLU)
        self.critic = TwinQ(self.obs_size, d, config.net_arch)
        common.init_default(self.actor, self.torch_rng)
        common.init_default(self.critic.qf1, self.torch_rng)
        common.init_default(self.critic.qf2, self.torch_rng)
        self.critic_target = TwinQ(self.obs_size, d, config.net_arch)
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.critic_target.requires_grad_(False)
        for module in (self.actor, self.critic, self.critic_target):
            module.to(self.device)
        self.target_entropy = -float(d)  # SB3's "auto": -dim(actions)
        lr, fused = config.learning_rate, config.fused_adam
        self.optimizers_ = {
            "actor": common.Adam({f"actor.{k}": p for k, p in self.actor.named_parameters()}, lr, 1e-8, fused),
            "critic": common.Adam({f"critic.{k}": p for k, p in self.critic.named_parameters()}, lr, 1e-8, fused),
        }
        self.log_ent_coef: LogEntCoef | None = None
        if config.autotune_entropy:
            self.log_ent_coef = LogEntCoef(config.ent_coef).to(self.device)
            self.optimizers_["ent_coef"] = common.Adam(
                {"log_ent_coef.weight": self.log_ent_coef.weight}, lr, 1e-8, fused
            )
        self.actor_numpy = common.NumpyMLP(self.actor, "relu")
        self.action_scale = (self.action_high.astype(np.float64) - self.action_low) / 2.0
        self.buffer = ReplayBuffer(config.buffer_size, self.obs_size, self.action_shape, np.float32)

    # -------------------------------------------------------------------------------------------- acting
    @property
    def progress_remaining(self) -> float:
        return max(0.0, 1.0 - self.num_timesteps / self.config.total_timesteps)

    def act(self, obs: Any) -> np.ndarray:
        x = self.encode(obs)
        d = self.action_dim
        if self.learn_enabled and self.num_timesteps < self.config.learning_starts:
            squashed = self.np_rng.uniform(-1.0, 1.0, d)
        else:
            out = self.actor_numpy(x).astype(np.float64)
            mean = out[:d]
            if not self.learn_enabled and self.config.deterministic_when_not_learning:
                squashed = np.tanh(mean)
            else:
                log_std = np.clip(out[d:], LOG_STD_MIN, LOG_STD_MAX)
                squashed = np.tanh(mean + np.exp(log_std) * self.np_rng.standard_normal(d))
        action = squashed.astype(np.float32)
        self.remember(x, action)
        env_action = self.action_low + (action.astype(np.float64) + 1.0) * self.action_scale
        return self.env_action(np.clip(env_action, self.action_low, self.action_high))

    def act_batch(self, obs: Any, active: np.ndarray) -> np.ndarray:
        """``act`` for N envs: the active rows' noise drawn in one call, in env order (inactive rows act 0)."""
        x = self.encode_batch(obs)
        rows = np.flatnonzero(active)
        d, n = self.action_dim, len(rows)
        squashed = np.zeros((self.n_envs, d), dtype=np.float64)
        if self.learn_enabled and self.num_timesteps < self.config.learning_starts:
            squashed[rows] = self.np_rng.uniform(-1.0, 1.0, (n, d))
        else:
            out = self.actor_numpy(x[rows]).astype(np.float64)
            mean = out[:, :d]
            if not self.learn_enabled and self.config.deterministic_when_not_learning:
                squashed[rows] = np.tanh(mean)
            else:
                log_std = np.clip(out[:, d:], LOG_STD_MIN, LOG_STD_MAX)
                squashed[rows] = np.tanh(mean + np.exp(log_std) * self.np_rng.standard_normal((n, d)))
        actions = squashed.astype(np.float32)
        self.remember_batch(x, actions, active)
        env_actions = self.action_low + (actions.astype(np.float64) + 1.0) * self.action_scale
        return self.env_actions(np.clip(env_actions, self.action_low, self.action_high))

    def observe(self, next_obs: Any, reward: float, terminated: bool, truncated: bool) -> None:
        if not self.learn_enabled or not self.has_pending:
            return  # learning off (or switched on between act and observe): nothing to store
        self.has_pending = False
        self.store_and_learn(self.pending_obs, self.pending_action, float(reward), self.encode(next_obs), terminated)

    def store_and_learn(self, x: np.ndarray, action: Any, reward: float, next_x: np.ndarray, terminated: bool) -> None:
        """One transition: store it, count it and train on SB3's schedule."""
        config = self.config
        self.buffer.add(x, action, reward, next_x, bool(terminated))
        self.num_timesteps += 1
        if (
            self.num_timesteps % config.train_freq == 0
            and self.num_timesteps > config.learning_starts
            and config.gradient_steps > 0
        ):
            common.pin_torch_runtime(config.torch_threads, config.device)
            lr = common.linear_or_constant(config.learning_rate_schedule, config.learning_rate, self.progress_remaining)
            for optimizer in self.optimizers_.values():
                optimizer.lr = lr
            losses = sac_update(
                self.actor,
                self.critic,
                self.critic_target,
                None if self.log_ent_coef is None else self.log_ent_coef.weight,
                self.optimizers_,
                self.buffer,
                self.torch_rng,
                config,
                self.target_entropy,
                self.device,
            )
            self.last_losses = {**losses, "charts/learning_rate": lr}
            self.n_updates += config.gradient_steps
            self.actor_numpy.refresh(self.actor)

    # ------------------------------------------------------------------------------------------ saving
    def modules(self) -> dict[str, nn.Module]:
        modules: dict[str, nn.Module] = {
            "actor": self.actor,
            "critic": self.critic,
            "critic_target": self.critic_target,
        }
        if self.log_ent_coef is not None:
            modules["log_ent_coef"] = self.log_ent_coef
        return modules

    def optimizers(self) -> dict[str, common.Adam]:
        return {f"{name}_optimizer": optimizer for name, optimizer in self.optimizers_.items()}

    def refresh_acting_copies(self) -> None:
        self.actor_numpy.refresh(self.actor)
