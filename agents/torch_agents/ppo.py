"""Proximal Policy Optimisation behind the Agent protocol, with Stable-Baselines3's details.

Discrete actions: a categorical policy over the actor's logits. Box actions (CleanRL's
``ppo_continuous_action``): a diagonal Gaussian whose mean is the actor's output and whose log-std is one
state-independent parameter vector; the sampled action is stored and trained on as sampled, and clipped to
the space's bounds only on its way to the env (as SB3 does). Observation and reward normalisation
(``normalize_observations`` / ``normalize_rewards``) are SB3's ``VecNormalize``, with the statistics in the
weights and the running discounted return in the state.

With one env the rollout is ``n_steps`` consecutive transitions of that env (the Zoo's CartPole setting of
8 envs x 32 steps becomes 1 env x 256 steps: same batch, minibatch and update counts). With N envs
(``set_n_envs``) it is a ``VecRollout`` of n_steps / N vector steps, GAE per env column (``column_gae``).
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

import math
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agents.protocol import ArrayDict
from agents.torch_agents import common
from agents.torch_agents.base import TorchAgent
from agents.torch_agents.buffers import Rollout, VecRollout
from agents.torch_agents.config import PPOConfig
from agents.torch_agents.normalization import RunningMeanStd

_LOSSES = (
    "losses/policy_loss",
    "losses/value_loss",
    "losses/entropy",
    "losses/approx_kl",
    "losses/clipfrac",
    "charts/learning_rate",
    "losses/old_approx_kl",
    "losses/explained_variance",
)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)

# evaluate(obs, actions) -> (log-probability of each action, entropy of each policy distribution)
Evaluate = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def categorical_evaluate(actor: nn.Module) -> Evaluate:
    """Log-probabilities and entropy of the categorical policy with logits ``actor(obs)``."""

    def evaluate(obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_probs_all = F.log_softmax(actor(obs), dim=-1)
        log_prob = log_probs_all.gather(1, actions.unsqueeze(1)).squeeze(1)
        return log_prob, -(log_probs_all.exp() * log_probs_all).sum(dim=1)

    return evaluate


def gaussian_evaluate(actor: nn.Module, log_std: torch.Tensor) -> Evaluate:
    """Log-probabilities and entropy of N(actor(obs), exp(log_std)^2), independent dimensions summed."""

    def evaluate(obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = actor(obs)
        log_prob = (-((actions - mean) ** 2) / (2.0 * torch.exp(2.0 * log_std)) - log_std - _LOG_SQRT_2PI).sum(1)
        entropy = (0.5 + _LOG_SQRT_2PI + log_std).sum().expand(len(mean))
        return log_prob, entropy

    return evaluate


class LogStd(nn.Module):
    """The state-independent log standard deviation of the Gaussian policy (saved as ``log_std.weight``)."""

    def __init__(self, action_dim: int, initial: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full((action_dim,), float(initial)))


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


def column_gae(
    rollout: VecRollout, values: np.ndarray, next_values: np.ndarray, gamma: float, gae_lambda: float
) -> np.ndarray:
    """GAE of the rollout's valid rows (in row order), computed along each env's column: ``values`` and
    ``next_values`` are given for the valid rows; an env's autoreset rows are skipped (its episode end before
    them already cut the chain)."""
    valid = np.flatnonzero(rollout.valid)
    advantages = np.zeros(len(valid), dtype=np.float32)
    env_of_row = valid % rollout.n_envs
    for env in range(rollout.n_envs):
        mine = np.flatnonzero(env_of_row == env)  # this env's valid rows, in time order
        rows = valid[mine]
        advantages[mine] = compute_gae(
            rollout.rewards[rows],
            values[mine],
            next_values[mine],
            rollout.terminated[rows],
            rollout.dones[rows],
            gamma,
            gae_lambda,
        )
    return advantages


def ppo_update(
    evaluate: Evaluate,
    critic: nn.Module,
    optimizer: common.Adam,
    rollout: Rollout,
    generator: torch.Generator,
    config: PPOConfig,
    learning_rate: float,
    clip_coef: float,
    device: torch.device,
) -> dict[str, float]:
    """One PPO update on a full rollout; returns the last minibatch's losses and statistics (CleanRL's names
    and definitions; ``losses/explained_variance`` of the rollout's values for its returns, 0 when the returns
    do not vary, where CleanRL logs NaN).

    ``evaluate(obs, actions)`` gives the policy's log-probabilities of the actions and its entropies
    (``categorical_evaluate`` or ``gaussian_evaluate``). The rollout of N env streams (``VecRollout``) runs GAE
    along each env's column over its valid rows (``column_gae``); the valid rows, in row order, form the batch
    (its size varies with the number of autoreset rows, so the last minibatch may be smaller).
    """
    vector = isinstance(rollout, VecRollout)
    rows = np.flatnonzero(rollout.valid) if vector else slice(None)
    b_obs = torch.from_numpy(rollout.obs[rows]).to(device)
    b_actions = torch.from_numpy(rollout.actions[rows]).to(device)
    with torch.no_grad():
        b_logprobs = evaluate(b_obs, b_actions)[0]
        b_values = critic(b_obs).squeeze(1)
        b_next_values = critic(torch.from_numpy(rollout.next_obs[rows]).to(device)).squeeze(1)
    values, next_values = b_values.cpu().numpy(), b_next_values.cpu().numpy()
    if vector:
        advantages = column_gae(rollout, values, next_values, config.gamma, config.gae_lambda)
    else:
        advantages = compute_gae(
            rollout.rewards, values, next_values, rollout.terminated, rollout.dones, config.gamma, config.gae_lambda
        )
    b_advantages = torch.from_numpy(advantages).to(device)
    b_returns = b_advantages + b_values

    optimizer.lr = learning_rate
    n = len(b_obs)
    for _epoch in range(config.n_epochs):
        b_inds = torch.randperm(n, generator=generator).to(device)
        for start in range(0, n, config.batch_size):
            mb_inds = b_inds[start : start + config.batch_size]
            if len(mb_inds) < 2:
                continue  # a one-row remainder (N envs: the batch size varies) has no advantage std: skipped
            newlogprob, entropy = evaluate(b_obs[mb_inds], b_actions[mb_inds])
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
        old_approx_kl = (-logratio).mean()
        approx_kl = ((ratio - 1.0) - logratio).mean()
        clipfrac = ((ratio - 1.0).abs() > clip_coef).float().mean()
        var_returns = float(torch.var(b_returns, unbiased=False))
        unexplained = float(torch.var(b_returns - b_values, unbiased=False))
        explained_variance = 1.0 - unexplained / var_returns if var_returns > 0.0 else 0.0
    return {
        "losses/policy_loss": float(pg_loss.detach()),
        "losses/value_loss": float(v_loss.detach()),
        "losses/entropy": float(entropy_loss.detach()),
        "losses/approx_kl": float(approx_kl),
        "losses/clipfrac": float(clipfrac),
        "charts/learning_rate": float(learning_rate),
        "losses/old_approx_kl": float(old_approx_kl),
        "losses/explained_variance": float(explained_variance),
    }


class PPOAgent(TorchAgent):
    """PPO for Box (flattened) or Discrete (one-hot) observations, Discrete or Box actions; separate policy
    and value MLPs.

    Weights: ``actor.*``, ``critic.*``, (Box actions) ``log_std.weight``, ``optimizer.*`` (Adam moments and
    step counts; the learning rate follows from the step counter), and with normalisation ``obs_rms.*`` /
    ``ret_rms.*``.
    State: the partial rollout's filled rows (``rollout.*``), counters, the pending (obs, action) of an
    ``act`` not yet followed by ``observe``, the numpy and torch generator states, the last losses and, with
    reward normalisation, the running discounted return.
    """

    config_class = PPOConfig
    action_spaces = (gym.spaces.Discrete, gym.spaces.Box)
    counter_names = ("rollout_pos",)
    loss_names = _LOSSES

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, config: PPOConfig, seed: int) -> None:
        super().__init__(observation_space, action_space, config, seed)
        n_out = self.n_actions if self.discrete else self.action_dim
        self.actor = common.mlp([self.obs_size, *config.net_arch, n_out], nn.Tanh)
        self.critic = common.mlp([self.obs_size, *config.net_arch, 1], nn.Tanh)
        if config.ortho_init:
            common.init_orthogonal(self.actor, self.torch_rng, hidden_gain=2**0.5, head_gain=0.01)
            common.init_orthogonal(self.critic, self.torch_rng, hidden_gain=2**0.5, head_gain=1.0)
        else:
            common.init_default(self.actor, self.torch_rng)
            common.init_default(self.critic, self.torch_rng)
        self.actor.to(self.device)
        self.critic.to(self.device)
        params = {f"actor.{k}": p for k, p in self.actor.named_parameters()}
        if self.discrete:
            self.log_std: LogStd | None = None
            self.evaluate = categorical_evaluate(self.actor)
        else:
            self.log_std = LogStd(self.action_dim, config.log_std_init).to(self.device)
            params["log_std.weight"] = self.log_std.weight
            self.evaluate = gaussian_evaluate(self.actor, self.log_std.weight)
        params.update({f"critic.{k}": p for k, p in self.critic.named_parameters()})
        self.optimizer = common.Adam(params, config.learning_rate, config.adam_eps, config.fused_adam)
        self.actor_numpy = common.NumpyMLP(self.actor, "tanh")
        self.std_numpy = np.ones(0)
        self.refresh_acting_copies()

        self.obs_rms = RunningMeanStd((self.obs_size,)) if config.normalize_observations else None
        self.ret_rms = RunningMeanStd(()) if config.normalize_rewards else None
        self.running_return = 0.0  # discounted return of the episode so far (reward normalisation)
        self.rollout = Rollout(
            config.n_steps, self.obs_size, self.action_shape, self.action_dtype,
            num_actions=self.n_actions if self.discrete else None,
        )

    # -------------------------------------------------------------------------------------------- acting
    @property
    def progress_remaining(self) -> float:
        return max(0.0, 1.0 - self.num_timesteps / self.config.total_timesteps)

    def _normalized(self, x: np.ndarray, update: bool) -> np.ndarray:
        if self.obs_rms is None:
            return x
        if update:  # every observation acted on while learning, as VecNormalize counts them
            self.obs_rms.update(x)
        return self.obs_rms.normalize(x).astype(np.float32)

    def act(self, obs: Any) -> Any:
        x = self._normalized(self.encode(obs), update=self.learn_enabled)
        deterministic = not self.learn_enabled and self.config.deterministic_when_not_learning
        if self.discrete:
            logits = self.actor_numpy(x).astype(np.float64)
            if deterministic:
                action = int(np.argmax(logits))
            else:
                cdf = np.cumsum(np.exp(logits - logits.max()))
                u = self.np_rng.random() * cdf[-1]
                action = min(int(np.searchsorted(cdf, u, side="right")), self.n_actions - 1)
            self.remember(x, action)
            return self.env_action(action)
        mean = self.actor_numpy(x)
        if deterministic:
            sample = mean
        else:
            noise = self.np_rng.standard_normal(self.action_dim)
            sample = (mean.astype(np.float64) + self.std_numpy * noise).astype(np.float32)
        self.remember(x, sample)  # trained on as sampled; clipped only for the env
        return self.env_action(np.clip(sample, self.action_low, self.action_high))

    def _scaled_reward(self, reward: float, done: bool) -> float:
        if self.ret_rms is None:
            return reward
        self.running_return = self.running_return * self.config.gamma + reward
        self.ret_rms.update(self.running_return)
        scaled = float(self.ret_rms.scale(reward))
        if done:
            self.running_return = 0.0
        return scaled

    def observe(self, next_obs: Any, reward: float, terminated: bool, truncated: bool) -> None:
        if not self.learn_enabled or not self.has_pending:
            return  # learning off (or switched on between act and observe): nothing to store
        next_x = self._normalized(self.encode(next_obs), update=False)
        done = bool(terminated) or bool(truncated)
        reward = self._scaled_reward(float(reward), done)
        action = self.pending_action[0] if self.discrete else self.pending_action
        self.rollout.add(self.pending_obs, action, reward, next_x, bool(terminated), done)
        self.has_pending = False
        self.num_timesteps += 1
        if self.rollout.full:
            self._update()

    # ------------------------------------------------------------------------------- vectorised envs
    def set_n_envs(self, n_envs: int) -> None:
        """N envs: the rollout becomes a ``VecRollout`` of n_steps / N vector steps (n_steps counts all envs'
        transitions, so the Zoo's 8 envs x 32 steps is ``n_steps = 256`` with ``--n-envs 8``) and the running
        discounted return of reward normalisation is kept per env."""
        super().set_n_envs(n_envs)
        self.rollout = VecRollout(
            self.config.n_steps, n_envs, self.obs_size, self.action_shape, self.action_dtype,
            num_actions=self.n_actions if self.discrete else None,
        )
        self.running_returns = np.zeros(n_envs, dtype=np.float64)

    def act_batch(self, obs: Any, active: np.ndarray) -> np.ndarray:
        """``act`` for N envs; the active rows' randomness is drawn in one call, in env order. Observation
        statistics are updated from the active rows' batch moments (inactive rows act 0, ignored by the env)."""
        x_all = self.encode_batch(obs)
        rows = np.flatnonzero(active)
        if self.obs_rms is not None:
            if self.learn_enabled:
                self.obs_rms.update_batch(x_all[rows])
            x_all = self.obs_rms.normalize(x_all).astype(np.float32)
        x = x_all[rows]
        deterministic = not self.learn_enabled and self.config.deterministic_when_not_learning
        if self.discrete:
            actions = np.zeros(self.n_envs, dtype=np.int64)
            logits = self.actor_numpy(x).astype(np.float64)
            if deterministic:
                actions[rows] = np.argmax(logits, axis=1)
            else:
                cdf = np.cumsum(np.exp(logits - logits.max(axis=1, keepdims=True)), axis=1)
                u = self.np_rng.random(len(rows)) * cdf[:, -1]
                actions[rows] = np.minimum((cdf <= u[:, None]).sum(axis=1), self.n_actions - 1)
            self.remember_batch(x_all, actions, active)
            return self.env_actions(actions)
        samples = np.zeros((self.n_envs, self.action_dim), dtype=np.float32)
        mean = self.actor_numpy(x)
        if deterministic:
            samples[rows] = mean
        else:
            noise = self.np_rng.standard_normal((len(rows), self.action_dim))
            samples[rows] = (mean.astype(np.float64) + self.std_numpy * noise).astype(np.float32)
        self.remember_batch(x_all, samples, active)  # trained on as sampled; clipped only for the env
        return self.env_actions(np.clip(samples, self.action_low, self.action_high))

    def observe_batch(self, next_obs: Any, rewards: np.ndarray, terminated: np.ndarray, truncated: np.ndarray) -> None:
        """One vector step into the rollout (inactive rows stored as invalid); an update when it is full."""
        if not self.learn_enabled or not self.has_pending:
            return
        active = self.pending_active.astype(bool)
        next_x = self.encode_batch(next_obs)
        if self.obs_rms is not None:
            next_x = self.obs_rms.normalize(next_x).astype(np.float32)
        terminated = np.asarray(terminated, dtype=bool)
        dones = terminated | np.asarray(truncated, dtype=bool)
        rewards = np.asarray(rewards, dtype=np.float64)
        if self.ret_rms is not None:  # VecNormalize: discounted return per env, statistics from the batch
            self.running_returns[active] = self.running_returns[active] * self.config.gamma + rewards[active]
            self.ret_rms.update_batch(self.running_returns[active])
            rewards = self.ret_rms.scale(rewards)
            self.running_returns[active & dones] = 0.0
        actions = self.pending_action[:, 0] if self.discrete else self.pending_action
        self.rollout.add_batch(self.pending_obs, actions, rewards, next_x, terminated, dones, active)
        self.pending_active[:] = 0
        self.has_pending = False
        self.num_timesteps += int(active.sum())
        if self.rollout.full:
            self._update()

    def _update(self) -> None:
        """``ppo_update`` on the full rollout, then start a new one."""
        config = self.config
        common.pin_torch_runtime(config.torch_threads, config.device)
        progress = self.progress_remaining
        self.last_losses = ppo_update(
            self.evaluate,
            self.critic,
            self.optimizer,
            self.rollout,
            self.torch_rng,
            config,
            common.linear_or_constant(config.learning_rate_schedule, config.learning_rate, progress),
            common.linear_or_constant(config.clip_range_schedule, config.clip_range, progress),
            self.device,
        )
        self.rollout.clear()
        self.n_updates += 1
        self.refresh_acting_copies()

    def clear_state(self) -> None:
        # A new episode starts: the last stored step ends the GAE chain (bootstrapping from its next_obs
        # unless it terminated); an act() never observed is dropped. N envs: called once, before the first
        # vector step (each env's episode ends are in its dones).
        super().clear_state()
        if self.n_envs > 1:
            self.running_returns[:] = 0.0
            return
        if self.rollout.pos > 0:
            self.rollout.dones[self.rollout.pos - 1] = 1.0
        self.running_return = 0.0

    # ------------------------------------------------------------------------------------------ saving
    def modules(self) -> dict[str, nn.Module]:
        modules: dict[str, nn.Module] = {"actor": self.actor, "critic": self.critic}
        if self.log_std is not None:
            modules["log_std"] = self.log_std
        return modules

    def optimizers(self) -> dict[str, common.Adam]:
        return {"optimizer": self.optimizer}

    def refresh_acting_copies(self) -> None:
        self.actor_numpy.refresh(self.actor)
        if self.log_std is not None:
            self.std_numpy = np.exp(self.log_std.weight.detach().to("cpu", torch.float64).numpy())

    def extra_weights(self) -> ArrayDict:
        arrays: ArrayDict = {}
        if self.obs_rms is not None:
            arrays.update(self.obs_rms.to_arrays("obs_rms"))
        if self.ret_rms is not None:
            arrays.update(self.ret_rms.to_arrays("ret_rms"))
        return arrays

    def load_extra_weights(self, arrays: ArrayDict) -> None:
        if self.obs_rms is not None:
            self.obs_rms.load_arrays("PPOAgent", "obs_rms", arrays)
        if self.ret_rms is not None:
            self.ret_rms.load_arrays("PPOAgent", "ret_rms", arrays)

    def _counters(self) -> dict[str, int]:
        return {"rollout_pos": self.rollout.pos}

    def extra_state(self) -> ArrayDict:
        state = self.rollout.to_arrays("rollout")
        if self.ret_rms is not None and self.n_envs > 1:
            state["running_return"] = self.running_returns.copy()
        elif self.ret_rms is not None:
            state["running_return"] = np.array([self.running_return], dtype=np.float64)
        return state

    def state_reference(self, arrays: ArrayDict) -> ArrayDict:
        return self.rollout.reference_arrays("rollout", arrays)

    def load_extra_state(self, arrays: ArrayDict, counters: dict[str, int]) -> None:
        pos = counters["rollout_pos"]
        self.rollout.load_arrays("PPOAgent", "rollout", arrays, pos, pos)
        if self.ret_rms is not None and self.n_envs > 1:
            self.running_returns[:] = arrays["running_return"]
        elif self.ret_rms is not None:
            self.running_return = float(arrays["running_return"][0])
