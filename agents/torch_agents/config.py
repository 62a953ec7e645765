"""Config dataclasses of the torch agents (DQN, PPO, SAC) and their RL Zoo table. This module never imports torch.

Defaults are the RL Baselines3 Zoo's tuned hyperparameters (``hyperparams/dqn.yml``, ``ppo.yml``: CartPole-v1;
``sac.yml``: Pendulum-v1), with Stable-Baselines3's defaults for everything the Zoo leaves unset. Names follow
SB3 where one exists, so a Zoo entry can be copied field by field. ``ZOO`` below holds the Zoo's entries for
the other envs it tunes; ``<Config>.env_defaults(env_id)`` returns the entry for an env id (the registry
applies it under the user's own values). Unlike the hierarchy agent's "no per-env table" rule, baselines
keep one: their peers (SB3 + Zoo) do, and the comparison is only fair with the same settings.

Validation is one rule for every field of every config (``_check_fields``): the type must match the
annotation, every float must be finite, and each numeric field must lie in the range declared in the
class's ``_RANGES``; an error is one line naming the field, the value and the fix.

PPO's ``n_steps`` counts the transitions of one rollout over all envs. By default the runner steps **one**
env, so the rollout is ``n_steps`` consecutive steps of a single stream: the Zoo's CartPole PPO runs 8 envs x
32 steps = 256 transitions per update, and ``n_steps = 256`` keeps the batch, minibatch and update counts
equal (with GAE segments 256 steps long instead of 32). With ``--n-envs N`` each env contributes
``n_steps / N`` steps, so ``--n-envs 8`` is exactly the Zoo's layout. The table below keeps the Zoo's
``n_envs x n_steps`` in ``n_steps`` and does not set the number of envs (``RunConfig.n_envs`` stays 1 unless
the user asks); the Zoo's ``n_envs`` is written next to each entry.

Schedules (DQN's epsilon, PPO's linear learning rate and clip range) run over ``total_timesteps`` env steps,
the Zoo's ``n_timesteps``; past it they hold their final value (epsilon: ``exploration_final_eps``;
PPO's linear schedules: 0, i.e. learning stops). Set ``total_timesteps`` to the run's step budget when that
differs from the Zoo's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, ClassVar

DEVICES = ("cpu", "cuda")
SCHEDULES = ("constant", "linear")
_INF = float("inf")


def _fail(cls: str, name: str, value: object, fix: str) -> None:
    raise ValueError(f"{cls}.{name} = {value!r} is invalid: {fix}.")


def _check_fields(config: Any) -> None:
    """The one validation rule of the torch configs (see the module docstring)."""
    cls = type(config).__name__
    for f in fields(config):
        value = getattr(config, f.name)
        annotation = str(f.type)
        if annotation == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            _fail(cls, f.name, value, "use a whole number")
        if annotation == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                _fail(cls, f.name, value, "use a number")
            if not math.isfinite(value):
                _fail(cls, f.name, value, "use a finite number")
        if annotation == "bool" and not isinstance(value, bool):
            _fail(cls, f.name, value, "use true or false")
        if annotation == "str" and f.name.endswith("_schedule") and value not in SCHEDULES:
            _fail(cls, f.name, value, f"use one of {', '.join(SCHEDULES)}")
    names = {f.name for f in fields(config)}
    for name, (low, high, low_open, fix) in config._RANGES.items():
        if name not in names:  # a shared range of a field this config does not have
            continue
        value = getattr(config, name)
        if value < low or value > high or (low_open and value == low):
            _fail(cls, name, value, fix)
    net_arch = config.net_arch
    if isinstance(net_arch, list):  # TOML/JSON give lists; keep the frozen config hashable
        object.__setattr__(config, "net_arch", tuple(net_arch))
        net_arch = config.net_arch
    if (
        not isinstance(net_arch, tuple)
        or not net_arch
        or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in net_arch)
    ):
        _fail(cls, "net_arch", net_arch, "give hidden layer widths as positive integers, e.g. (64, 64)")
    if config.device not in DEVICES:
        _fail(cls, "device", config.device, f"use one of {', '.join(DEVICES)}")


# name -> (low, high, low end open, fix): shared by the configs, refined in each class's _RANGES
_COMMON_RANGES: dict[str, tuple[float, float, bool, str]] = {
    "learning_rate": (0.0, _INF, True, "use a step size > 0, e.g. 3e-4"),
    "gamma": (0.0, 1.0, False, "use a discount in [0, 1]"),
    "max_grad_norm": (0.0, _INF, True, "use a norm > 0, e.g. 0.5"),
    "torch_threads": (1, _INF, False, "use 1 or more (1 is fastest for small nets)"),
    "total_timesteps": (1, _INF, False, "use the run's step budget (>= 1)"),
}
_STEPS = (1, _INF, False, "use 1 or more env steps")


def _env_defaults(cls: type, agent: str, env_id: str | None) -> dict[str, Any]:
    """The Zoo entry of ``agent`` for ``env_id`` as field values ({} for an env the Zoo does not tune)."""
    entry = ZOO[agent].get(env_id or "", {})
    defaults = {f.name: f.default for f in fields(cls)}
    return {k: v for k, v in entry.items() if defaults[k] != v}


@dataclass(frozen=True)
class DQNConfig:
    """Deep Q-Network (Mnih et al. 2015) with SB3's details: Huber loss, grad-norm clipping, target copies.

    Defaults: RL Zoo ``dqn.yml`` CartPole-v1 (n_timesteps 5e4).
    """

    learning_rate: float = 2.3e-3
    """Adam step size (constant)."""
    buffer_size: int = 100_000
    """Replay buffer capacity in transitions (a ring: the oldest are overwritten)."""
    learning_starts: int = 1000
    """Env steps of uniformly random actions before learning starts."""
    batch_size: int = 64
    """Transitions per gradient step, sampled uniformly with replacement."""
    tau: float = 1.0
    """Target network update coefficient (1.0 = hard copy)."""
    gamma: float = 0.99
    """Discount factor."""
    train_freq: int = 256
    """Env steps between training phases."""
    gradient_steps: int = 128
    """Gradient steps per training phase."""
    target_update_interval: int = 10
    """Env steps between target network updates."""
    exploration_fraction: float = 0.16
    """Fraction of ``total_timesteps`` over which epsilon falls linearly from initial to final."""
    exploration_initial_eps: float = 1.0
    """Epsilon at step 0."""
    exploration_final_eps: float = 0.04
    """Epsilon after the decay."""
    max_grad_norm: float = 10.0
    """Clip the global gradient norm to this value (SB3 default)."""
    net_arch: tuple[int, ...] = (256, 256)
    """Hidden layer widths of the Q-network (ReLU)."""
    total_timesteps: int = 50_000
    """Horizon of the exploration schedule in env steps (the Zoo's n_timesteps)."""
    deterministic_when_not_learning: bool = True
    """With ``learn_enabled = False`` act greedily (like SB3's ``evaluate_policy(deterministic=True)``)."""
    fused_adam: bool = True
    """Use torch's fused Adam kernel (same maths, ~3x faster; differs from unfused in the last bits)."""
    torch_threads: int = 1
    """torch intra-op threads, pinned for bit-reproducibility (results depend on it)."""
    device: str = "cpu"
    """``cpu`` or ``cuda`` (acting always runs on a CPU copy of the network)."""

    _RANGES: ClassVar[dict[str, tuple[float, float, bool, str]]] = {
        **_COMMON_RANGES,
        "learning_rate": (0.0, _INF, True, "use a step size > 0, e.g. 2.3e-3"),
        "buffer_size": (1, _INF, False, "use a capacity >= batch_size, e.g. 100000"),
        "learning_starts": (0, _INF, False, "use 0 or more env steps"),
        "batch_size": (1, _INF, False, "use 1 or more, e.g. 64"),
        "tau": (0.0, 1.0, True, "use a value in (0, 1]; 1.0 copies the network"),
        "train_freq": _STEPS,
        "gradient_steps": (0, _INF, False, "use 0 or more"),
        "target_update_interval": _STEPS,
        "exploration_fraction": (0.0, 1.0, True, "use a fraction in (0, 1]"),
        "exploration_initial_eps": (0.0, 1.0, False, "use a probability in [0, 1]"),
        "exploration_final_eps": (0.0, 1.0, False, "use a probability in [0, 1]"),
        "max_grad_norm": (0.0, _INF, True, "use a norm > 0, e.g. 10"),
    }

    def __post_init__(self) -> None:
        _check_fields(self)
        if self.buffer_size < self.batch_size:
            _fail("DQNConfig", "buffer_size", self.buffer_size, f"use at least batch_size ({self.batch_size})")

    @classmethod
    def env_defaults(cls, env_id: str | None) -> dict[str, Any]:
        """Zoo values for ``env_id`` that differ from the defaults (DQN: none beyond CartPole-v1's)."""
        return {}


@dataclass(frozen=True)
class PPOConfig:
    """Proximal Policy Optimisation (Schulman et al. 2017), clipped objective, GAE, SB3's details.

    Defaults: RL Zoo ``ppo.yml`` CartPole-v1 (n_envs 8, n_steps 32, n_timesteps 1e5), collected from one env.
    """

    n_steps: int = 256
    """Transitions per rollout over all envs (one env: 256 consecutive steps; ``--n-envs 8``: 8 x 32, the Zoo's)."""
    batch_size: int = 256
    """Minibatch size (256 = the whole rollout: one gradient step per epoch)."""
    n_epochs: int = 20
    """Passes over the rollout per update."""
    learning_rate: float = 1e-3
    """Adam step size at step 0 (see ``learning_rate_schedule``)."""
    learning_rate_schedule: str = "linear"
    """``linear`` (Zoo's ``lin_0.001``: falls to 0 at ``total_timesteps``) or ``constant``."""
    clip_range: float = 0.2
    """PPO clip coefficient at step 0 (see ``clip_range_schedule``)."""
    clip_range_schedule: str = "linear"
    """``linear`` (Zoo's ``lin_0.2``) or ``constant``."""
    gamma: float = 0.98
    """Discount factor."""
    gae_lambda: float = 0.8
    """GAE lambda."""
    ent_coef: float = 0.0
    """Entropy bonus coefficient."""
    vf_coef: float = 0.5
    """Value loss coefficient (value loss = MSE, as in SB3)."""
    max_grad_norm: float = 0.5
    """Clip the global gradient norm to this value."""
    normalize_advantage: bool = True
    """Normalise advantages per minibatch."""
    normalize_observations: bool = False
    """Normalise observations by running mean/std (SB3's VecNormalize norm_obs; the Zoo's ``normalize``)."""
    normalize_rewards: bool = False
    """Scale rewards by the running std of the discounted return (VecNormalize norm_reward)."""
    log_std_init: float = 0.0
    """Box actions: initial log standard deviation of the Gaussian policy (state-independent, learned)."""
    net_arch: tuple[int, ...] = (64, 64)
    """Hidden widths of the separate policy and value MLPs (tanh), SB3's MlpPolicy."""
    ortho_init: bool = True
    """Orthogonal init (gain sqrt 2 hidden, 0.01 policy head, 1 value head), as in SB3."""
    adam_eps: float = 1e-5
    """Adam epsilon (SB3 uses 1e-5 for on-policy algorithms)."""
    total_timesteps: int = 100_000
    """Horizon of the linear schedules in env steps (the Zoo's n_timesteps)."""
    deterministic_when_not_learning: bool = True
    """With ``learn_enabled = False`` take the most likely action (SB3's ``deterministic=True``)."""
    fused_adam: bool = True
    """Use torch's fused Adam kernel (same maths, faster; results differ from unfused in the last bits)."""
    torch_threads: int = 1
    """torch intra-op threads, pinned for bit-reproducibility (results depend on it)."""
    device: str = "cpu"
    """``cpu`` or ``cuda`` (acting always runs on a CPU copy of the policy)."""

    _RANGES: ClassVar[dict[str, tuple[float, float, bool, str]]] = {
        **_COMMON_RANGES,
        "n_steps": (2, _INF, False, "use 2 or more env steps per rollout, e.g. 256"),
        "batch_size": (2, _INF, False, "use 2 or more (advantages are normalised)"),
        "n_epochs": (1, _INF, False, "use 1 or more"),
        "learning_rate": (0.0, _INF, True, "use a step size > 0, e.g. 1e-3"),
        "clip_range": (0.0, _INF, True, "use a clip coefficient > 0, e.g. 0.2"),
        "gae_lambda": (0.0, 1.0, False, "use a lambda in [0, 1]"),
        "ent_coef": (0.0, _INF, False, "use 0 or more"),
        "vf_coef": (0.0, _INF, False, "use 0 or more"),
        "adam_eps": (0.0, _INF, True, "use a small positive number, e.g. 1e-5"),
        "log_std_init": (-20.0, 2.0, False, "use a log standard deviation in [-20, 2], e.g. 0"),
    }

    def __post_init__(self) -> None:
        _check_fields(self)
        if self.batch_size > self.n_steps:
            _fail("PPOConfig", "batch_size", self.batch_size, f"use at most n_steps ({self.n_steps})")

    @classmethod
    def env_defaults(cls, env_id: str | None) -> dict[str, Any]:
        """The RL Zoo's PPO values for ``env_id`` that differ from the (CartPole-v1) defaults."""
        return _env_defaults(cls, "ppo", env_id)


@dataclass(frozen=True)
class SACConfig:
    """Soft Actor-Critic (Haarnoja et al. 2018) with SB3's details: twin Q, polyak targets, tanh-squashed
    Gaussian policy, automatic entropy tuning towards -dim(actions). Box actions only.

    Defaults: RL Zoo ``sac.yml`` Pendulum-v1 (learning_rate 1e-3, n_timesteps 2e4) over SB3's SAC defaults.
    """

    learning_rate: float = 1e-3
    """Adam step size of actor, critics and entropy coefficient (see ``learning_rate_schedule``)."""
    learning_rate_schedule: str = "constant"
    """``constant`` or ``linear`` (the Zoo's ``lin_<x>``: falls to 0 at ``total_timesteps``)."""
    buffer_size: int = 1_000_000
    """Replay buffer capacity in transitions (a ring; its memory is checked before allocation)."""
    learning_starts: int = 100
    """Env steps of uniformly random actions before learning starts."""
    batch_size: int = 256
    """Transitions per gradient step, sampled uniformly with replacement."""
    tau: float = 0.005
    """Polyak coefficient of the target critics (1.0 = hard copy)."""
    gamma: float = 0.99
    """Discount factor."""
    train_freq: int = 1
    """Env steps between training phases."""
    gradient_steps: int = 1
    """Gradient steps per training phase."""
    target_update_interval: int = 1
    """Gradient steps between target updates."""
    ent_coef: float = 1.0
    """Entropy coefficient: the initial value when ``autotune_entropy`` (SB3's ``auto``), else fixed."""
    autotune_entropy: bool = True
    """Learn the entropy coefficient so the policy's entropy tracks -dim(actions) (SB3's ``ent_coef='auto'``)."""
    net_arch: tuple[int, ...] = (256, 256)
    """Hidden widths of the actor and of each critic (ReLU)."""
    total_timesteps: int = 20_000
    """Horizon of the linear learning-rate schedule in env steps (the Zoo's n_timesteps)."""
    deterministic_when_not_learning: bool = True
    """With ``learn_enabled = False`` act with the mean action (SB3's ``deterministic=True``)."""
    fused_adam: bool = True
    """Use torch's fused Adam kernel (same maths, faster; results differ from unfused in the last bits)."""
    torch_threads: int = 1
    """torch intra-op threads, pinned for bit-reproducibility (results depend on it)."""
    device: str = "cpu"
    """``cpu`` or ``cuda`` (acting always runs on a CPU copy of the actor)."""

    _RANGES: ClassVar[dict[str, tuple[float, float, bool, str]]] = {
        **_COMMON_RANGES,
        "learning_rate": (0.0, _INF, True, "use a step size > 0, e.g. 3e-4"),
        "buffer_size": (1, _INF, False, "use a capacity >= batch_size, e.g. 1000000"),
        "learning_starts": (0, _INF, False, "use 0 or more env steps"),
        "batch_size": (1, _INF, False, "use 1 or more, e.g. 256"),
        "tau": (0.0, 1.0, True, "use a value in (0, 1], e.g. 0.005"),
        "train_freq": _STEPS,
        "gradient_steps": (0, _INF, False, "use 0 or more"),
        "target_update_interval": (1, _INF, False, "use 1 or more gradient steps"),
        "ent_coef": (0.0, _INF, True, "use a coefficient > 0, e.g. 1.0 (autotuned) or 0.1 (fixed)"),
    }

    def __post_init__(self) -> None:
        _check_fields(self)
        if self.buffer_size < self.batch_size:
            _fail("SACConfig", "buffer_size", self.buffer_size, f"use at least batch_size ({self.batch_size})")

    @classmethod
    def env_defaults(cls, env_id: str | None) -> dict[str, Any]:
        """The RL Zoo's SAC values for ``env_id`` that differ from the (Pendulum-v1) defaults."""
        return _env_defaults(cls, "sac", env_id)


# ---------------------------------------------------------------------------------------- RL Zoo table
def _sb3_ppo(**zoo: Any) -> dict[str, Any]:
    """SB3's PPO defaults under a Zoo entry, ``n_steps`` = the Zoo's n_envs x n_steps (one env, or N envs
    with ``--n-envs``: n_steps counts all envs' transitions)."""
    n_envs = zoo.pop("n_envs", 1)
    values = {
        "learning_rate": 3e-4,
        "learning_rate_schedule": "constant",
        "n_steps": 2048,
        "batch_size": 64,
        "n_epochs": 10,
        "gamma": 0.99,
        "gae_lambda": 0.95,
        "clip_range": 0.2,
        "clip_range_schedule": "constant",
        "ent_coef": 0.0,
        "vf_coef": 0.5,
        "max_grad_norm": 0.5,
        "normalize_observations": False,
        "normalize_rewards": False,
        **zoo,
    }
    values["n_steps"] *= n_envs
    return values


def _sb3_sac(**zoo: Any) -> dict[str, Any]:
    """SB3's SAC defaults under a Zoo entry."""
    return {
        "learning_rate": 3e-4,
        "learning_rate_schedule": "constant",
        "buffer_size": 1_000_000,
        "learning_starts": 100,
        "batch_size": 256,
        "tau": 0.005,
        "gamma": 0.99,
        "train_freq": 1,
        "gradient_steps": 1,
        "ent_coef": 1.0,
        "autotune_entropy": True,
        "net_arch": (256, 256),
        **zoo,
    }


# agent -> Gymnasium env id -> field values. Copied from rl-baselines3-zoo hyperparams/{ppo,sac}.yml; the
# Zoo's use_sde / sde_sample_freq / log_std_init-for-gSDE are left out (no gSDE here) and its
# LunarLander*-v2 entries are keyed by the v3 ids Gymnasium 1.x registers.
ZOO: dict[str, dict[str, dict[str, Any]]] = {
    "ppo": {
        "CartPole-v1": _sb3_ppo(
            n_envs=8, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
            learning_rate=1e-3, learning_rate_schedule="linear", clip_range=0.2, clip_range_schedule="linear",
            total_timesteps=100_000,
        ),
        "Pendulum-v1": _sb3_ppo(
            n_envs=4, n_steps=1024, gae_lambda=0.95, gamma=0.9, n_epochs=10, learning_rate=1e-3,
            clip_range=0.2, total_timesteps=100_000,
        ),
        "Acrobot-v1": _sb3_ppo(
            normalize_observations=True, normalize_rewards=True, n_envs=16, n_steps=256, gae_lambda=0.94,
            gamma=0.99, n_epochs=4, total_timesteps=1_000_000,
        ),
        "LunarLander-v3": _sb3_ppo(
            n_envs=16, n_steps=1024, batch_size=64, gae_lambda=0.98, gamma=0.999, n_epochs=4, ent_coef=0.01,
            total_timesteps=1_000_000,
        ),
    },
    "sac": {
        "Pendulum-v1": _sb3_sac(learning_rate=1e-3, total_timesteps=20_000),
        "LunarLanderContinuous-v3": _sb3_sac(
            batch_size=256, learning_rate=7.3e-4, learning_rate_schedule="linear", buffer_size=1_000_000,
            gamma=0.99, tau=0.01, train_freq=1, gradient_steps=1, learning_starts=10_000, net_arch=(400, 300),
            total_timesteps=500_000,
        ),
        "MountainCarContinuous-v0": _sb3_sac(
            learning_rate=3e-4, buffer_size=50_000, batch_size=512, ent_coef=0.1, autotune_entropy=False,
            train_freq=32, gradient_steps=32, gamma=0.9999, tau=0.01, learning_starts=0, net_arch=(64, 64),
            total_timesteps=50_000,
        ),
    },
}  # fmt: skip
