"""Stable-Baselines3 models with RL Zoo's tuned hyperparameters (CartPole-v1 PPO/DQN, Pendulum-v1 PPO/SAC),
shared by the benchmarks.

The Zoo's schedules (linear learning rate and clip range for PPO, epsilon for DQN) run over the Zoo's own
horizon (``total_timesteps`` of our configs, which default to the Zoo's ``n_timesteps``), whatever budget
``learn()`` is given: SB3 would otherwise stretch them over that budget.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.torch_agents.config import DQNConfig, PPOConfig


def zoo_model(algo: str, env_id: str, seed: int) -> Any:
    """An SB3 ``PPO`` (8 envs) or ``DQN`` (1 env) on ``env_id`` with the Zoo's CartPole hyperparameters;
    ``algo`` ``ppo-pendulum`` / ``sac-pendulum``: the Zoo's Pendulum-v1 PPO (4 envs, gSDE) / SAC (1 env)."""
    from stable_baselines3 import DQN, PPO, SAC
    from stable_baselines3.common.env_util import make_vec_env

    holder: dict[str, Any] = {}

    def progress_remaining(horizon: int) -> float:  # over the Zoo horizon, whatever learn()'s budget
        model = holder.get("model")
        return 1.0 if model is None else max(0.0, 1.0 - model.num_timesteps / horizon)

    if algo == "ppo":
        horizon = PPOConfig().total_timesteps
        model = PPO(
            "MlpPolicy",
            make_vec_env(env_id, n_envs=8, seed=seed),
            n_steps=32,
            batch_size=256,
            gae_lambda=0.8,
            gamma=0.98,
            n_epochs=20,
            ent_coef=0.0,
            learning_rate=lambda _: 1e-3 * progress_remaining(horizon),
            clip_range=lambda _: 0.2 * progress_remaining(horizon),
            seed=seed,
            device="cpu",
        )
    elif algo == "dqn":
        horizon = DQNConfig().total_timesteps
        model = DQN(
            "MlpPolicy",
            make_vec_env(env_id, n_envs=1, seed=seed),
            learning_rate=2.3e-3,
            batch_size=64,
            buffer_size=100_000,
            learning_starts=1000,
            gamma=0.99,
            target_update_interval=10,
            train_freq=256,
            gradient_steps=128,
            exploration_fraction=0.16,
            exploration_final_eps=0.04,
            policy_kwargs={"net_arch": [256, 256]},
            seed=seed,
            device="cpu",
        )
        start_eps, final_eps, fraction = 1.0, 0.04, 0.16

        def epsilon(_: float) -> float:
            done = 1.0 - progress_remaining(horizon)
            return final_eps if done > fraction else start_eps + done * (final_eps - start_eps) / fraction

        model.exploration_schedule = epsilon
    elif algo == "ppo-pendulum":  # constant schedules: nothing to pin to a horizon
        model = PPO(
            "MlpPolicy",
            make_vec_env(env_id, n_envs=4, seed=seed),
            n_steps=1024,
            gae_lambda=0.95,
            gamma=0.9,
            n_epochs=10,
            ent_coef=0.0,
            learning_rate=1e-3,
            clip_range=0.2,
            use_sde=True,
            sde_sample_freq=4,
            seed=seed,
            device="cpu",
        )
    elif algo == "sac-pendulum":
        model = SAC("MlpPolicy", make_vec_env(env_id, n_envs=1, seed=seed), learning_rate=1e-3, seed=seed, device="cpu")
    else:
        raise ValueError(f"algo must be 'ppo', 'dqn', 'ppo-pendulum' or 'sac-pendulum', got {algo!r}")
    holder["model"] = model
    return model
