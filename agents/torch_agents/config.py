"""Config dataclasses of the torch agents (DQN, PPO). This module never imports torch.

Defaults are the RL Baselines3 Zoo's tuned CartPole-v1 hyperparameters (``hyperparams/dqn.yml`` and
``hyperparams/ppo.yml``), with Stable-Baselines3's defaults for everything the Zoo leaves unset. Names follow
SB3 where one exists, so a Zoo entry can be copied field by field.

The runner steps **one** env, so PPO collects its rollout from a single env stream: ``n_steps`` is the
number of consecutive steps of that stream per update. The Zoo's CartPole PPO runs 8 envs x 32 steps = 256
transitions per update; ``n_steps = 256`` keeps the batch, minibatch and update counts equal. The GAE
segments are then 256 steps long instead of 32 (fewer bootstraps from the critic), a small difference
measured by ``benchmarks/torch_vs_sb3.py``.

Schedules (DQN's epsilon, PPO's linear learning rate and clip range) run over ``total_timesteps`` env steps,
the Zoo's ``n_timesteps``; past it they hold their final value (epsilon: ``exploration_final_eps``;
PPO's linear schedules: 0, i.e. learning stops). Set ``total_timesteps`` to the run's step budget when that
differs from the Zoo's.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

DEVICES = ("cpu", "cuda")
SCHEDULES = ("constant", "linear")


def _fail(cls: str, name: str, value: object, fix: str) -> None:
    raise ValueError(f"{cls}.{name} = {value!r} is invalid: {fix}.")


def _check_common(config: object) -> None:
    """Checks shared by both configs: numeric types, net_arch, device, threads."""
    cls = type(config).__name__
    for f in fields(config):  # type: ignore[arg-type]
        value = getattr(config, f.name)
        annotation = str(f.type)
        if annotation == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            _fail(cls, f.name, value, "use a whole number")
        if annotation == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))):
            _fail(cls, f.name, value, "use a number")
        if annotation == "bool" and not isinstance(value, bool):
            _fail(cls, f.name, value, "use true or false")
    net_arch = config.net_arch  # type: ignore[attr-defined]
    if isinstance(net_arch, list):  # TOML/JSON give lists; keep the frozen config hashable
        object.__setattr__(config, "net_arch", tuple(net_arch))
        net_arch = config.net_arch  # type: ignore[attr-defined]
    if (
        not isinstance(net_arch, tuple)
        or not net_arch
        or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in net_arch)
    ):
        _fail(cls, "net_arch", net_arch, "give hidden layer widths as positive integers, e.g. (64, 64)")
    if config.device not in DEVICES:  # type: ignore[attr-defined]
        _fail(cls, "device", config.device, f"use one of {', '.join(DEVICES)}")  # type: ignore[attr-defined]
    if config.torch_threads < 1:  # type: ignore[attr-defined]
        _fail(cls, "torch_threads", config.torch_threads, "use 1 or more (1 is fastest for small nets)")  # type: ignore[attr-defined]
    if config.total_timesteps < 1:  # type: ignore[attr-defined]
        _fail(cls, "total_timesteps", config.total_timesteps, "use the run's step budget (>= 1)")  # type: ignore[attr-defined]


def _check_range(config: object, name: str, low: float, high: float, fix: str, low_open: bool = False) -> None:
    value = getattr(config, name)
    if value < low or value > high or (low_open and value == low):
        _fail(type(config).__name__, name, value, fix)


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

    def __post_init__(self) -> None:
        _check_common(self)
        _check_range(self, "learning_rate", 0.0, float("inf"), "use a step size > 0, e.g. 2.3e-3", True)
        _check_range(self, "buffer_size", 1, float("inf"), "use a capacity >= batch_size, e.g. 100000")
        if self.buffer_size < self.batch_size:
            _fail("DQNConfig", "buffer_size", self.buffer_size, f"use at least batch_size ({self.batch_size})")
        _check_range(self, "learning_starts", 0, float("inf"), "use 0 or more env steps")
        _check_range(self, "batch_size", 1, float("inf"), "use 1 or more, e.g. 64")
        _check_range(self, "tau", 0.0, 1.0, "use a value in (0, 1]; 1.0 copies the network", True)
        _check_range(self, "gamma", 0.0, 1.0, "use a discount in [0, 1]")
        _check_range(self, "train_freq", 1, float("inf"), "use 1 or more env steps")
        _check_range(self, "gradient_steps", 0, float("inf"), "use 0 or more")
        _check_range(self, "target_update_interval", 1, float("inf"), "use 1 or more env steps")
        _check_range(self, "exploration_fraction", 0.0, 1.0, "use a fraction in (0, 1]", True)
        for name in ("exploration_initial_eps", "exploration_final_eps"):
            _check_range(self, name, 0.0, 1.0, "use a probability in [0, 1]")
        _check_range(self, "max_grad_norm", 0.0, float("inf"), "use a norm > 0, e.g. 10", True)


@dataclass(frozen=True)
class PPOConfig:
    """Proximal Policy Optimisation (Schulman et al. 2017), clipped objective, GAE, SB3's details.

    Defaults: RL Zoo ``ppo.yml`` CartPole-v1 (n_envs 8, n_steps 32, n_timesteps 1e5), collected from one env.
    """

    n_steps: int = 256
    """Env steps per rollout (one env; the Zoo's 8 envs x 32 steps)."""
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

    def __post_init__(self) -> None:
        _check_common(self)
        _check_range(self, "n_steps", 2, float("inf"), "use 2 or more env steps per rollout, e.g. 256")
        _check_range(self, "batch_size", 2, float("inf"), "use 2 or more (advantages are normalised)")
        if self.batch_size > self.n_steps:
            _fail("PPOConfig", "batch_size", self.batch_size, f"use at most n_steps ({self.n_steps})")
        _check_range(self, "n_epochs", 1, float("inf"), "use 1 or more")
        _check_range(self, "learning_rate", 0.0, float("inf"), "use a step size > 0, e.g. 1e-3", True)
        _check_range(self, "clip_range", 0.0, float("inf"), "use a clip coefficient > 0, e.g. 0.2", True)
        for name in ("learning_rate_schedule", "clip_range_schedule"):
            if getattr(self, name) not in SCHEDULES:
                _fail("PPOConfig", name, getattr(self, name), f"use one of {', '.join(SCHEDULES)}")
        _check_range(self, "gamma", 0.0, 1.0, "use a discount in [0, 1]")
        _check_range(self, "gae_lambda", 0.0, 1.0, "use a lambda in [0, 1]")
        _check_range(self, "ent_coef", 0.0, float("inf"), "use 0 or more")
        _check_range(self, "vf_coef", 0.0, float("inf"), "use 0 or more")
        _check_range(self, "max_grad_norm", 0.0, float("inf"), "use a norm > 0, e.g. 0.5", True)
        _check_range(self, "adam_eps", 0.0, float("inf"), "use a small positive number, e.g. 1e-5", True)
