"""Stable-Baselines3 models with RL Zoo's tuned hyperparameters (PPO per env, CartPole-v1 DQN, Pendulum-v1 SAC),
shared by the benchmarks.

The Zoo's schedules (linear learning rate and clip range for PPO, epsilon for DQN) run over the Zoo's own
horizon (its ``n_timesteps``), whatever budget ``learn()`` is given: SB3 would otherwise stretch them over
that budget.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.torch_agents.config import DQNConfig

# RL Zoo hyperparams/ppo.yml (DLR-RM/rl-baselines3-zoo), the entries of the envs our benchmarks run.
# "lin_X" values are linear schedules from X to 0 over n_timesteps; "normalize" wraps the envs in VecNormalize.
# LunarLander-v3 is the Zoo's LunarLander-v2 entry (same task; Gymnasium bumped the version for a Box2D fix).
ZOO_PPO: dict[str, dict[str, Any]] = {
    "CartPole-v1": {
        "n_envs": 8, "n_timesteps": 100_000, "n_steps": 32, "batch_size": 256, "gae_lambda": 0.8,
        "gamma": 0.98, "n_epochs": 20, "ent_coef": 0.0, "learning_rate": "lin_0.001", "clip_range": "lin_0.2",
    },
    "Acrobot-v1": {
        "normalize": True, "n_envs": 16, "n_timesteps": 1_000_000, "n_steps": 256, "gae_lambda": 0.94,
        "gamma": 0.99, "n_epochs": 4, "ent_coef": 0.0,
    },
    "MountainCar-v0": {
        "normalize": True, "n_envs": 16, "n_timesteps": 1_000_000, "n_steps": 16, "gae_lambda": 0.98,
        "gamma": 0.99, "n_epochs": 4, "ent_coef": 0.0,
    },
    "Pendulum-v1": {
        "n_envs": 4, "n_timesteps": 100_000, "n_steps": 1024, "gae_lambda": 0.95, "gamma": 0.9, "n_epochs": 10,
        "ent_coef": 0.0, "learning_rate": 1e-3, "clip_range": 0.2, "use_sde": True, "sde_sample_freq": 4,
    },
    "LunarLander-v3": {
        "n_envs": 16, "n_timesteps": 1_000_000, "n_steps": 1024, "batch_size": 64, "gae_lambda": 0.98,
        "gamma": 0.999, "n_epochs": 4, "ent_coef": 0.01,
    },
}  # fmt: skip


def zoo_ppo(env_id: str, seed: int, env_kwargs: dict[str, Any] | None = None) -> tuple[Any, bool]:
    """An SB3 ``PPO`` on ``env_id``: the Zoo's hyperparameters when it has the env, else SB3's defaults.

    Returns:
        ``(model, from_zoo)``; ``from_zoo`` is False when SB3's defaults (1 env) were used.
    """
    import gymnasium as gym
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    zoo = ZOO_PPO.get(env_id)
    params = dict(zoo or {"n_envs": 1, "n_timesteps": 1})
    n_envs, horizon = params.pop("n_envs"), params.pop("n_timesteps")
    # A factory, not the id: make_vec_env would ask the env for render_mode="rgb_array", which some refuse.
    venv = make_vec_env(lambda: gym.make(env_id, **(env_kwargs or {})), n_envs=n_envs, seed=seed)
    if params.pop("normalize", False):
        venv = VecNormalize(venv)
    holder: dict[str, Any] = {}

    def schedule(start: float) -> Any:  # linear to 0 over the Zoo horizon, whatever learn()'s budget
        def value(_: float) -> float:
            model = holder.get("model")
            return start if model is None else start * max(0.0, 1.0 - model.num_timesteps / horizon)

        return value

    for name in ("learning_rate", "clip_range"):
        if isinstance(params.get(name), str):
            params[name] = schedule(float(params[name].removeprefix("lin_")))
    model = PPO("MlpPolicy", venv, seed=seed, device="cpu", **params)
    holder["model"] = model
    return model, zoo is not None


def zoo_model(algo: str, env_id: str, seed: int) -> Any:
    """An SB3 model with the Zoo's hyperparameters: ``ppo`` (the Zoo's entry for ``env_id``), ``dqn`` (1 env, the
    Zoo's CartPole hyperparameters), ``ppo-pendulum`` (= ``ppo`` on Pendulum-v1: 4 envs, gSDE) or ``sac-pendulum``
    (the Zoo's Pendulum-v1 SAC, 1 env)."""
    from stable_baselines3 import DQN, SAC
    from stable_baselines3.common.env_util import make_vec_env

    if algo == "ppo":
        return zoo_ppo(env_id, seed)[0]
    if algo == "ppo-pendulum":
        return zoo_ppo("Pendulum-v1", seed)[0]
    if algo == "sac-pendulum":
        return SAC("MlpPolicy", make_vec_env(env_id, n_envs=1, seed=seed), learning_rate=1e-3, seed=seed, device="cpu")
    if algo != "dqn":
        raise ValueError(f"algo must be 'ppo', 'dqn', 'ppo-pendulum' or 'sac-pendulum', got {algo!r}")
    holder: dict[str, Any] = {}
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
        model_ = holder.get("model")
        done = 0.0 if model_ is None else min(1.0, model_.num_timesteps / horizon)
        return final_eps if done > fraction else start_eps + done * (final_eps - start_eps) / fraction

    model.exploration_schedule = epsilon
    holder["model"] = model
    return model
