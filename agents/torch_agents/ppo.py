"""Proximal Policy Optimisation behind the Agent protocol, with Stable-Baselines3's details.

The runner steps one env, so the rollout is ``n_steps`` consecutive transitions of that env (the Zoo's
CartPole setting of 8 envs x 32 steps becomes 1 env x 256 steps: same batch, minibatch and update counts).
When the rollout is full, ``observe`` runs ``ppo_update`` (below, reads top to bottom): GAE(lambda)
advantages, then ``n_epochs`` passes of shuffled minibatches on the clipped surrogate + value MSE - entropy.

Episode ends: ``terminated`` cuts the return (no bootstrap); ``truncated`` and ``clear_state`` cut the GAE
chain but bootstrap from V(final observation). Every transition keeps its own next observation, so the
bootstrap uses the true final observation, not the next episode's first one (SB3 achieves the same by
adding gamma * V(final obs) to the last reward).

Randomness: action sampling uses the agent's numpy Generator on a numpy copy of the policy (``NumpyMLP``,
refreshed after each update); network init and minibatch shuffling use its CPU ``torch.Generator``. The
log-probabilities and values entering the update are recomputed by the torch networks over the whole
rollout in one batch (the weights do not change during a rollout), so the sampling copy never enters the
gradient.
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
from agents.torch_agents.config import PPOConfig

_COUNTERS = ("num_timesteps", "n_updates", "rollout_pos", "has_pending")
_LOSSES = (
    "losses/policy_loss",
    "losses/value_loss",
    "losses/entropy",
    "losses/approx_kl",
    "losses/clipfrac",
    "charts/learning_rate",
)


class Rollout:
    """``n_steps`` transitions of one env stream, in numpy arrays."""

    def __init__(self, n_steps: int, obs_size: int) -> None:
        self.n_steps = n_steps
        self.obs = np.zeros((n_steps, obs_size), dtype=np.float32)
        self.next_obs = np.zeros((n_steps, obs_size), dtype=np.float32)
        self.actions = np.zeros(n_steps, dtype=np.int64)
        self.rewards = np.zeros(n_steps, dtype=np.float32)
        self.terminated = np.zeros(n_steps, dtype=np.float32)  # no bootstrap from next_obs
        self.dones = np.zeros(n_steps, dtype=np.float32)  # episode boundary after this step (GAE chain cut)
        self.pos = 0

    def add(
        self, obs: np.ndarray, action: int, reward: float, next_obs: np.ndarray, terminated: bool, done: bool
    ) -> None:
        i = self.pos
        self.obs[i] = obs
        self.next_obs[i] = next_obs
        self.actions[i] = action
        self.rewards[i] = reward
        self.terminated[i] = terminated
        self.dones[i] = done
        self.pos = i + 1

    @property
    def full(self) -> bool:
        return self.pos == self.n_steps

    def columns(self) -> tuple[str, ...]:
        return ("obs", "next_obs", "actions", "rewards", "terminated", "dones")


def linear_or_constant(schedule: str, initial: float, progress_remaining: float) -> float:
    """The Zoo's ``lin_<x>``: ``x * progress_remaining``; ``constant``: ``x``."""
    return initial * progress_remaining if schedule == "linear" else initial


def compute_gae(
    rewards: np.ndarray,
    values: np.ndarray,
    next_values: np.ndarray,
    terminated: np.ndarray,
    dones: np.ndarray,
    gamma: float,
    gae_lambda: float,
) -> np.ndarray:
    """GAE(lambda) (Schulman et al. 2016) backwards over one stream; float64 scalars, float32 result."""
    advantages = np.zeros(len(rewards), dtype=np.float32)
    r, v, nv = rewards.tolist(), values.tolist(), next_values.tolist()
    term, done = terminated.tolist(), dones.tolist()
    lastgaelam = 0.0
    for t in reversed(range(len(r))):
        nextnonterminal = 1.0 - done[t]
        delta = r[t] + gamma * nv[t] * (1.0 - term[t]) - v[t]
        lastgaelam = delta + gamma * gae_lambda * nextnonterminal * lastgaelam
        advantages[t] = lastgaelam
    return advantages


def ppo_update(
    actor: nn.Module,
    critic: nn.Module,
    optimizer: common.Adam,
    rollout: Rollout,
    generator: torch.Generator,
    config: PPOConfig,
    learning_rate: float,
    clip_coef: float,
    device: torch.device,
) -> dict[str, float]:
    """One PPO update on a full rollout; returns the last minibatch's losses and statistics."""
    b_obs = torch.from_numpy(rollout.obs).to(device)
    b_actions = torch.from_numpy(rollout.actions).to(device)
    with torch.no_grad():
        b_logprobs = F.log_softmax(actor(b_obs), dim=-1).gather(1, b_actions.unsqueeze(1)).squeeze(1)
        b_values = critic(b_obs).squeeze(1)
        b_next_values = critic(torch.from_numpy(rollout.next_obs).to(device)).squeeze(1)
    b_advantages = torch.from_numpy(
        compute_gae(
            rollout.rewards,
            b_values.cpu().numpy(),
            b_next_values.cpu().numpy(),
            rollout.terminated,
            rollout.dones,
            config.gamma,
            config.gae_lambda,
        )
    ).to(device)
    b_returns = b_advantages + b_values

    optimizer.lr = learning_rate
    n = rollout.n_steps
    for _epoch in range(config.n_epochs):
        b_inds = torch.randperm(n, generator=generator).to(device)
        for start in range(0, n, config.batch_size):
            mb_inds = b_inds[start : start + config.batch_size]
            mb_log_probs_all = F.log_softmax(actor(b_obs[mb_inds]), dim=-1)
            newlogprob = mb_log_probs_all.gather(1, b_actions[mb_inds].unsqueeze(1)).squeeze(1)
            entropy = -(mb_log_probs_all.exp() * mb_log_probs_all).sum(dim=1)
            newvalue = critic(b_obs[mb_inds]).squeeze(1)
            logratio = newlogprob - b_logprobs[mb_inds]
            ratio = logratio.exp()

            mb_advantages = b_advantages[mb_inds]
            if config.normalize_advantage:
                mb_advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)

            # clipped surrogate objective
            pg_loss1 = -mb_advantages * ratio
            pg_loss2 = -mb_advantages * torch.clamp(ratio, 1.0 - clip_coef, 1.0 + clip_coef)
            pg_loss = torch.max(pg_loss1, pg_loss2).mean()
            v_loss = F.mse_loss(newvalue, b_returns[mb_inds])  # SB3: plain MSE, weighted by vf_coef
            entropy_loss = entropy.mean()
            loss = pg_loss - config.ent_coef * entropy_loss + config.vf_coef * v_loss

            optimizer.zero_grad()
            loss.backward()
            common.clip_grad_norm(optimizer.grads(), config.max_grad_norm)
            optimizer.step()

    with torch.no_grad():
        # http://joschu.net/blog/kl-approx.html
        approx_kl = ((ratio - 1.0) - logratio).mean()
        clipfrac = ((ratio - 1.0).abs() > clip_coef).float().mean()
    return {
        "losses/policy_loss": float(pg_loss.detach()),
        "losses/value_loss": float(v_loss.detach()),
        "losses/entropy": float(entropy_loss.detach()),
        "losses/approx_kl": float(approx_kl),
        "losses/clipfrac": float(clipfrac),
        "charts/learning_rate": float(learning_rate),
    }


class PPOAgent:
    """PPO for Box observations (flattened) and Discrete actions; separate policy and value MLPs.

    Weights: ``actor.*``, ``critic.*``, ``optimizer.*`` (Adam moments and step counts; the learning rate
    follows from the step counter).
    State: the partial rollout's filled rows (``rollout.*``), counters, the pending (obs, action) of an
    ``act`` not yet followed by ``observe``, the numpy and torch generator states, and the last losses.
    """

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, config: PPOConfig, seed: int) -> None:
        if not isinstance(config, PPOConfig):
            raise ValueError(f"PPOAgent needs a PPOConfig, got {type(config).__name__}.")
        self.obs_size, self.n_actions = common.check_spaces("PPOAgent", observation_space, action_space)
        self.action_start = int(action_space.start)
        self.config = config
        self.learn_enabled = True
        self.device = common.pin_torch_runtime(config.torch_threads, config.device)
        self.np_rng, self.torch_rng = common.seed_generators(seed)

        self.actor = common.mlp([self.obs_size, *config.net_arch, self.n_actions], nn.Tanh)
        self.critic = common.mlp([self.obs_size, *config.net_arch, 1], nn.Tanh)
        if config.ortho_init:
            common.init_orthogonal(self.actor, self.torch_rng, hidden_gain=2**0.5, head_gain=0.01)
            common.init_orthogonal(self.critic, self.torch_rng, hidden_gain=2**0.5, head_gain=1.0)
        else:
            common.init_default(self.actor, self.torch_rng)
            common.init_default(self.critic, self.torch_rng)
        self.actor.to(self.device)
        self.critic.to(self.device)
        self.optimizer = common.Adam(
            {
                **{f"actor.{k}": p for k, p in self.actor.named_parameters()},
                **{f"critic.{k}": p for k, p in self.critic.named_parameters()},
            },
            config.learning_rate,
            config.adam_eps,
            config.fused_adam,
        )
        self.actor_numpy = common.NumpyMLP(self.actor, "tanh")

        self.rollout = Rollout(config.n_steps, self.obs_size)
        self.num_timesteps = 0
        self.n_updates = 0
        self.pending_obs = np.zeros(self.obs_size, dtype=np.float32)
        self.pending_action = 0
        self.has_pending = False
        self.last_losses = dict.fromkeys(_LOSSES, 0.0)

    # -------------------------------------------------------------------------------------------- acting
    @property
    def progress_remaining(self) -> float:
        return max(0.0, 1.0 - self.num_timesteps / self.config.total_timesteps)

    def act(self, obs: Any) -> int:
        x = np.asarray(obs, dtype=np.float32).reshape(self.obs_size)
        logits = self.actor_numpy(x).astype(np.float64)
        if not self.learn_enabled and self.config.deterministic_when_not_learning:
            action = int(np.argmax(logits))
        else:
            cdf = np.cumsum(np.exp(logits - logits.max()))
            action = min(int(np.searchsorted(cdf, self.np_rng.random() * cdf[-1], side="right")), self.n_actions - 1)
        if self.learn_enabled:
            self.pending_obs[:] = x
            self.pending_action = action
            self.has_pending = True
        return self.action_start + action

    def observe(self, next_obs: Any, reward: float, terminated: bool, truncated: bool) -> None:
        if not self.learn_enabled or not self.has_pending:
            return  # learning off (or switched on between act and observe): nothing to store
        next_x = np.asarray(next_obs, dtype=np.float32).reshape(self.obs_size)
        done = bool(terminated) or bool(truncated)
        self.rollout.add(self.pending_obs, self.pending_action, float(reward), next_x, bool(terminated), done)
        self.has_pending = False
        self.num_timesteps += 1
        if self.rollout.full:
            config = self.config
            common.pin_torch_runtime(config.torch_threads, config.device)
            progress = self.progress_remaining
            self.last_losses = ppo_update(
                self.actor,
                self.critic,
                self.optimizer,
                self.rollout,
                self.torch_rng,
                config,
                linear_or_constant(config.learning_rate_schedule, config.learning_rate, progress),
                linear_or_constant(config.clip_range_schedule, config.clip_range, progress),
                self.device,
            )
            self.rollout.pos = 0
            self.n_updates += 1
            self.actor_numpy.refresh(self.actor)

    def clear_state(self) -> None:
        # A new episode starts: the last stored step ends the GAE chain (bootstrapping from its next_obs
        # unless it terminated); an act() never observed is dropped.
        if self.rollout.pos > 0:
            self.rollout.dones[self.rollout.pos - 1] = 1.0
        self.has_pending = False

    # ------------------------------------------------------------------------------------------ saving
    def runtime_info(self) -> dict[str, Any]:
        return common.runtime_info(self.config.torch_threads, self.device)

    def get_weights(self) -> ArrayDict:
        return {
            **common.module_to_arrays("actor", self.actor),
            **common.module_to_arrays("critic", self.critic),
            **self.optimizer.to_arrays("optimizer"),
        }

    def set_weights(self, arrays: ArrayDict) -> None:
        common.check_arrays("PPOAgent", "weights", arrays, self.get_weights())
        common.load_module("actor", self.actor, arrays)
        common.load_module("critic", self.critic, arrays)
        self.optimizer.load_arrays("optimizer", arrays)
        self.actor_numpy.refresh(self.actor)

    def get_state(self) -> ArrayDict:
        n = self.rollout.pos
        state = {f"rollout.{name}": getattr(self.rollout, name)[:n].copy() for name in self.rollout.columns()}
        counters = (self.num_timesteps, self.n_updates, self.rollout.pos, int(self.has_pending))
        state.update(
            {
                "counters": np.array(counters, dtype=np.int64),
                "pending_obs": self.pending_obs.copy(),
                "pending_action": np.array([self.pending_action], dtype=np.int64),
                "last_losses": np.array([self.last_losses[k] for k in _LOSSES], dtype=np.float64),
                "np_rng": generator_state_to_array(self.np_rng),
                "torch_rng": common.torch_generator_to_array(self.torch_rng),
            }
        )
        return state

    def set_state(self, arrays: ArrayDict) -> None:
        reference = self.get_state()
        for name in self.rollout.columns():  # the filled length varies; checked against rollout_pos below
            key = f"rollout.{name}"
            if key in arrays and isinstance(arrays[key], np.ndarray):
                reference[key] = np.zeros((len(arrays[key]), *reference[key].shape[1:]), reference[key].dtype)
        common.check_arrays("PPOAgent", "state", arrays, reference)
        counters = dict(zip(_COUNTERS, (int(v) for v in arrays["counters"]), strict=True))
        pos = counters["rollout_pos"]
        if not 0 <= pos < self.rollout.n_steps:
            raise ValueError(f"PPOAgent.set_state: rollout_pos {pos} does not fit n_steps {self.rollout.n_steps}.")
        for name in self.rollout.columns():
            column = arrays[f"rollout.{name}"]
            if len(column) != pos:
                raise ValueError(f"PPOAgent.set_state: 'rollout.{name}' holds {len(column)} rows, expected {pos}.")
            getattr(self.rollout, name)[:pos] = column
        self.rollout.pos = pos
        self.num_timesteps = counters["num_timesteps"]
        self.n_updates = counters["n_updates"]
        self.has_pending = bool(counters["has_pending"])
        self.pending_obs[:] = arrays["pending_obs"]
        self.pending_action = int(arrays["pending_action"][0])
        self.last_losses = dict(zip(_LOSSES, (float(v) for v in arrays["last_losses"]), strict=True))
        # RNG last (after everything that could fail)
        generator_state_from_array(self.np_rng, arrays["np_rng"])
        common.torch_generator_from_array(self.torch_rng, arrays["torch_rng"])
