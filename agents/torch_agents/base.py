"""``TorchAgent``: what every torch baseline shares, so that an algorithm file holds only its networks,
its update function and how it acts.

The base owns:

* the spaces: observations become a flat float32 vector (Box: flattened; Discrete: one-hot), actions are
  Discrete (an index) or Box (a flat float32 vector, reshaped to the space's shape when returned);
* the torch runtime (thread count and deterministic algorithms pinned) and the two generators (numpy for
  acting, CPU torch for initialisation and minibatches), split from the seed;
* the pending pair: the (observation, action) of an ``act`` waiting for its ``observe``;
* ``runtime_info()``, and the save format: weights = every module's tensors + every optimiser's state (+ any
  learned statistics), state = the subclass's transition store + counters + pending pair + last losses + the
  generators, restored last so that a failed ``set_state`` leaves the RNG untouched.

Subclasses set the class attributes below and fill ``modules()``, ``optimizers()`` and, where they keep
more, ``extra_weights``/``load_extra_weights`` and ``extra_state``/``load_extra_state``; ``ReplayAgent``
(below) fills the latter for agents with a replay ring.

Vectorised envs (not wired yet): the batched path is ``act_batch(obs[N]) -> actions[N]`` and
``observe_batch(next_obs[N], rewards[N], terminated[N], truncated[N])`` beside today's per-env calls, with the
pending pair shaped (N, ...), ``ReplayBuffer`` writing N rows per call, ``Rollout`` holding (n_steps, N)
columns with GAE run per env column, and ``RunningMeanStd`` updated from batch moments. N = 1 keeps the
present calls, so the default digests do not move.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from torch import nn

from agents.protocol import ArrayDict
from agents.rng_arrays import generator_state_from_array, generator_state_to_array
from agents.torch_agents import common
from agents.torch_agents.buffers import ReplayBuffer


class ObservationEncoder:
    """Box observations flattened to float32; Discrete observations one-hot (FrozenLake, Taxi)."""

    def __init__(self, owner: str, space: gym.Space) -> None:
        if isinstance(space, gym.spaces.Box):
            self.size = int(np.prod(space.shape, dtype=np.int64))
            self.one_hot_start: int | None = None
        elif isinstance(space, gym.spaces.Discrete):
            self.size = int(space.n)
            self.one_hot_start = int(space.start)
        else:
            raise ValueError(
                f"{owner} needs a Box (flattened to a vector) or Discrete (one-hot) observation space, got "
                f"{space!r}. Wrap the env (e.g. gymnasium.wrappers.FlattenObservation) or use the hierarchy agent."
            )

    def __call__(self, obs: Any) -> np.ndarray:
        if self.one_hot_start is None:
            return np.asarray(obs, dtype=np.float32).reshape(self.size)
        x = np.zeros(self.size, dtype=np.float32)
        index = int(obs) - self.one_hot_start
        if not 0 <= index < self.size:
            raise ValueError(f"observation {obs!r} is outside Discrete({self.size}, start={self.one_hot_start}).")
        x[index] = 1.0
        return x


class TorchAgent:
    """Base of the torch baselines (see the module docstring); not an agent on its own."""

    config_class: ClassVar[type]
    """The config dataclass the subclass accepts."""
    action_spaces: ClassVar[tuple[type[gym.Space], ...]] = (gym.spaces.Discrete,)
    """Action space types the subclass supports."""
    counter_names: ClassVar[tuple[str, ...]] = ()
    """Subclass counters saved between ``n_updates`` and ``has_pending`` (read by ``_counters``)."""
    loss_names: ClassVar[tuple[str, ...]] = ()
    """Keys of ``last_losses`` in save order."""
    rng_state_keys: ClassVar[tuple[str, ...]] = ("np_rng", "torch_rng")

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, config: Any, seed: int) -> None:
        name = type(self).__name__
        if not isinstance(config, self.config_class):
            raise ValueError(f"{name} needs a {self.config_class.__name__}, got {type(config).__name__}.")
        self.observation_encoder = ObservationEncoder(name, observation_space)
        self.obs_size = self.observation_encoder.size
        self._init_action_space(name, action_space)
        self.config = config
        self.learn_enabled = True
        self.device = common.pin_torch_runtime(config.torch_threads, config.device)
        self.np_rng, self.torch_rng = common.seed_generators(seed)

        self.num_timesteps = 0
        self.n_updates = 0
        self.pending_obs = np.zeros(self.obs_size, dtype=np.float32)
        self.pending_action = np.zeros(self.action_shape or (1,), dtype=self.action_dtype)
        self.has_pending = False
        self.last_losses = dict.fromkeys(self.loss_names, 0.0)

    def _init_action_space(self, name: str, space: gym.Space) -> None:
        if not isinstance(space, self.action_spaces):
            kinds = " or ".join(k.__name__ for k in self.action_spaces)
            raise ValueError(
                f"{name} needs a {kinds} action space, got {space!r}. "
                "Wrap the env (e.g. a DiscretizeAction wrapper for a Box space) or use another agent."
            )
        self.action_space = space
        if isinstance(space, gym.spaces.Discrete):
            self.discrete = True
            self.n_actions = int(space.n)
            self.action_start = int(space.start)
            self.action_shape: tuple[int, ...] = ()
            self.action_dtype: type[np.generic] = np.int64
        else:
            self.discrete = False
            self.action_dim = int(np.prod(space.shape, dtype=np.int64))
            self.action_low = np.asarray(space.low, dtype=np.float32).reshape(self.action_dim)
            self.action_high = np.asarray(space.high, dtype=np.float32).reshape(self.action_dim)
            self.action_shape = (self.action_dim,)
            self.action_dtype = np.float32

    # ------------------------------------------------------------------------------------ subclass hooks
    def modules(self) -> dict[str, nn.Module]:
        """Networks saved in the weights, by key prefix."""
        raise NotImplementedError

    def optimizers(self) -> dict[str, common.Adam]:
        """Optimisers saved in the weights, by key prefix."""
        raise NotImplementedError

    def extra_weights(self) -> ArrayDict:
        """Learned arrays that are not module tensors (e.g. running normalisation statistics)."""
        return {}

    def load_extra_weights(self, arrays: ArrayDict) -> None:
        """Inverse of ``extra_weights`` (``arrays`` already checked against it)."""

    def refresh_acting_copies(self) -> None:
        """Rebuild derived acting data (numpy copies of networks) after the weights changed."""

    def extra_state(self) -> ArrayDict:
        """The subclass's transition store and other state (may vary in length; see ``state_reference``)."""
        return {}

    def state_reference(self, arrays: ArrayDict) -> ArrayDict:
        """``extra_state`` shaped like ``arrays`` where lengths may vary (buffers), for the key/dtype check."""
        return self.extra_state()

    def load_extra_state(self, arrays: ArrayDict, counters: dict[str, int]) -> None:
        """Inverse of ``extra_state``; may raise ``ValueError`` (before any RNG is restored)."""

    def _counters(self) -> dict[str, int]:
        """Values of ``counter_names``."""
        return {}

    # ------------------------------------------------------------------------------------------- acting
    def encode(self, obs: Any) -> np.ndarray:
        return self.observation_encoder(obs)

    def remember(self, x: np.ndarray, action: Any) -> None:
        """Hold (observation, action) of an ``act`` while learning, until ``observe`` completes it."""
        if self.learn_enabled:
            self.pending_obs[:] = x
            self.pending_action.reshape(-1)[:] = action
            self.has_pending = True

    def env_action(self, action: Any) -> Any:
        """The env's action for an internal one: index + start, or a vector reshaped to the Box's shape."""
        if self.discrete:
            return self.action_start + int(action)
        return np.asarray(action, dtype=self.action_space.dtype).reshape(self.action_space.shape)

    def clear_state(self) -> None:
        self.has_pending = False  # an act() never observed (the episode was cut off) is dropped

    def metrics(self) -> dict[str, float]:
        """TensorBoard scalars at an episode end: the last update's losses (tag = key; zeros before the first
        update). They live in the state (``last_losses``), so a resumed run logs the same values."""
        return dict(self.last_losses)

    # ------------------------------------------------------------------------------------------- saving
    def runtime_info(self) -> dict[str, Any]:
        return common.runtime_info(self.config.torch_threads, self.device)

    def get_weights(self) -> ArrayDict:
        arrays: ArrayDict = {}
        for prefix, module in self.modules().items():
            arrays.update(common.module_to_arrays(prefix, module))
        for prefix, optimizer in self.optimizers().items():
            arrays.update(optimizer.to_arrays(prefix))
        arrays.update(self.extra_weights())
        return arrays

    def set_weights(self, arrays: ArrayDict) -> None:
        common.check_arrays(type(self).__name__, "weights", arrays, self.get_weights())
        for prefix, module in self.modules().items():
            common.load_module(prefix, module, arrays)
        for prefix, optimizer in self.optimizers().items():
            optimizer.load_arrays(prefix, arrays)
        self.load_extra_weights(arrays)
        self.refresh_acting_copies()

    def _all_counters(self) -> dict[str, int]:
        return {
            "num_timesteps": self.num_timesteps,
            "n_updates": self.n_updates,
            **self._counters(),
            "has_pending": int(self.has_pending),
        }

    def get_state(self) -> ArrayDict:
        state = self.extra_state()
        state.update(
            {
                "counters": np.array(list(self._all_counters().values()), dtype=np.int64),
                "pending_obs": self.pending_obs.copy(),
                "pending_action": self.pending_action.copy(),
                "last_losses": np.array([self.last_losses[k] for k in self.loss_names], dtype=np.float64),
                "np_rng": generator_state_to_array(self.np_rng),
                "torch_rng": common.torch_generator_to_array(self.torch_rng),
            }
        )
        return state

    def set_state(self, arrays: ArrayDict) -> None:
        name = type(self).__name__
        reference = self.get_state()
        reference.update(self.state_reference(arrays))
        common.check_arrays(name, "state", arrays, reference)
        counter_names = list(self._all_counters())
        counters = dict(zip(counter_names, (int(v) for v in arrays["counters"]), strict=True))
        if counters["num_timesteps"] < 0 or counters["n_updates"] < 0 or counters["has_pending"] not in (0, 1):
            raise ValueError(f"{name}.set_state: counters {counters} are out of range.")
        self.load_extra_state(arrays, counters)
        self.num_timesteps = counters["num_timesteps"]
        self.n_updates = counters["n_updates"]
        self.has_pending = bool(counters["has_pending"])
        self.pending_obs[:] = arrays["pending_obs"]
        self.pending_action[:] = arrays["pending_action"]
        self.last_losses = dict(zip(self.loss_names, (float(v) for v in arrays["last_losses"]), strict=True))
        # RNG last (after everything that could fail)
        generator_state_from_array(self.np_rng, arrays["np_rng"])
        common.torch_generator_from_array(self.torch_rng, arrays["torch_rng"])



class ReplayAgent(TorchAgent):
    """A ``TorchAgent`` whose state holds a replay ring ``self.buffer`` (DQN, SAC): its filled rows as
    ``buffer.*`` and its position and size as counters."""

    counter_names = ("buffer_pos", "buffer_size")
    buffer: ReplayBuffer

    def _counters(self) -> dict[str, int]:
        return {"buffer_pos": self.buffer.pos, "buffer_size": self.buffer.size}

    def extra_state(self) -> ArrayDict:
        return self.buffer.to_arrays("buffer")

    def state_reference(self, arrays: ArrayDict) -> ArrayDict:
        return self.buffer.reference_arrays("buffer", arrays)

    def load_extra_state(self, arrays: ArrayDict, counters: dict[str, int]) -> None:
        pos, size = counters["buffer_pos"], counters["buffer_size"]
        self.buffer.load_arrays(type(self).__name__, "buffer", arrays, pos, size)
