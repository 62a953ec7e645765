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

Vectorised envs (``--n-envs N``, N > 1): the runner calls ``set_n_envs(N)`` once after construction, then
``act_batch(obs[N], active[N]) -> actions[N]`` and ``observe_batch(next_obs[N], rewards[N], terminated[N],
truncated[N])`` instead of ``act``/``observe``. The pending pair is shaped (N, ...) with a ``pending_active``
mask (saved in the state as ``pending_active``). ``active[i]`` is False when env ``i`` takes a Gymnasium 1.x
next-step autoreset step (the step after its episode ended is a reset: the action is ignored, the reward is 0
and no transition exists), so no transition is ever stored across an episode boundary. Off-policy agents store
the active rows one by one in env order, each followed by the same per-transition bookkeeping as ``observe``
(counters, target updates, training cadence: counted in transitions, as with one env); PPO fills a
``VecRollout`` of (n_steps / N, N) rows with GAE per env column; ``RunningMeanStd`` is updated from batch
moments. N = 1 never calls these: the per-env path and its digests are unchanged (a batched numpy forward of one
row may take another BLAS path than the vector forward and round differently, and the batched RNG draws and
rollout layout differ, so one shared path would move every recorded digest).
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

    def batch(self, obs: Any, n: int) -> np.ndarray:
        """A vector env's batched observations (``n`` rows) as an (n, size) float32 array."""
        if self.one_hot_start is None:
            return np.asarray(obs, dtype=np.float32).reshape(n, self.size)
        index = np.asarray(obs, dtype=np.int64).reshape(n) - self.one_hot_start
        if index.min() < 0 or index.max() >= self.size:
            raise ValueError(f"observations {obs!r} leave Discrete({self.size}, start={self.one_hot_start}).")
        x = np.zeros((n, self.size), dtype=np.float32)
        x[np.arange(n), index] = 1.0
        return x

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
        self.n_envs = 1
        self.pending_active = np.zeros(0, dtype=np.uint8)  # N > 1 only: which rows of the pending pair are set
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
        self.pending_active[:] = 0

    # ------------------------------------------------------------------------------- vectorised envs
    def set_n_envs(self, n_envs: int) -> None:
        """Act for ``n_envs`` envs at once (call once, before the first ``act_batch``; N = 1 keeps ``act``)."""
        if n_envs < 2:
            raise ValueError(f"{type(self).__name__}.set_n_envs needs 2 or more envs, got {n_envs}.")
        self.n_envs = n_envs
        self.pending_obs = np.zeros((n_envs, self.obs_size), dtype=np.float32)
        self.pending_action = np.zeros((n_envs, *(self.action_shape or (1,))), dtype=self.action_dtype)
        self.pending_active = np.zeros(n_envs, dtype=np.uint8)

    def encode_batch(self, obs: Any) -> np.ndarray:
        return self.observation_encoder.batch(obs, self.n_envs)

    def remember_batch(self, x: np.ndarray, actions: np.ndarray, active: np.ndarray) -> None:
        """``remember`` for N envs: rows of inactive envs (autoreset steps) are not pending."""
        if self.learn_enabled:
            self.pending_obs[:] = x
            self.pending_action.reshape(self.n_envs, -1)[:] = actions.reshape(self.n_envs, -1)
            self.pending_active[:] = active
            self.has_pending = bool(active.any())

    def env_actions(self, actions: np.ndarray) -> np.ndarray:
        """The vector env's actions for internal ones (N rows), as ``env_action`` maps one."""
        if self.discrete:
            return self.action_start + np.asarray(actions, dtype=np.int64).reshape(self.n_envs)
        shape = (self.n_envs, *self.action_space.shape)
        return np.asarray(actions, dtype=self.action_space.dtype).reshape(shape)

    def pending_rows(self) -> np.ndarray:
        """Indices of the pending rows, ascending (the deterministic order transitions are stored in)."""
        return np.flatnonzero(self.pending_active)

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
                **({"pending_active": self.pending_active.copy()} if self.n_envs > 1 else {}),
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
        if self.n_envs > 1 and not np.isin(arrays["pending_active"], (0, 1)).all():
            raise ValueError(f"{name}.set_state: 'pending_active' must hold only 0 and 1.")
        self.load_extra_state(arrays, counters)
        self.num_timesteps = counters["num_timesteps"]
        self.n_updates = counters["n_updates"]
        self.has_pending = bool(counters["has_pending"])
        self.pending_obs[:] = arrays["pending_obs"]
        self.pending_action[:] = arrays["pending_action"]
        if self.n_envs > 1:
            self.pending_active[:] = arrays["pending_active"]
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

    def store_and_learn(self, x: np.ndarray, action: Any, reward: float, next_x: np.ndarray, terminated: bool) -> None:
        """Store one transition and do what the algorithm does per env step (counters, training)."""
        raise NotImplementedError

    def observe_batch(self, next_obs: Any, rewards: np.ndarray, terminated: np.ndarray, truncated: np.ndarray) -> None:
        """``observe`` for N envs: the pending rows' transitions, one by one in env order."""
        if not self.learn_enabled or not self.has_pending:
            return
        next_x = self.encode_batch(next_obs)
        rows = self.pending_rows()
        self.pending_active[:] = 0
        self.has_pending = False
        for i in rows:
            action = self.pending_action[i].reshape(self.action_shape)
            self.store_and_learn(self.pending_obs[i], action, float(rewards[i]), next_x[i], bool(terminated[i]))

    def load_extra_state(self, arrays: ArrayDict, counters: dict[str, int]) -> None:
        pos, size = counters["buffer_pos"], counters["buffer_size"]
        self.buffer.load_arrays(type(self).__name__, "buffer", arrays, pos, size)
