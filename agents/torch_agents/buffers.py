"""Transition stores of the torch agents: a replay ring (DQN, SAC) and an on-policy rollout (PPO).

Both keep one numpy array per column (cheap per-step writes; ``torch.from_numpy`` shares them) and save only
their filled rows, so a checkpoint of a young run stays small. The action column's shape and dtype are
parameters: ``()`` int64 for Discrete actions, ``(n,)`` float32 for Box actions.

The memory estimate runs *before* anything is allocated: a buffer that would not fit (together with the copy
a checkpoint makes of it) is refused with a ``ValueError`` naming both numbers, instead of swapping or being
killed by the OOM killer hours into a run.
"""

from __future__ import annotations


import numpy as np

from agents.memory import available_memory
from agents.protocol import ArrayDict

# the checkpoint copies the filled rows once (get_state) while the buffer itself stays alive
_CHECKPOINT_COPIES = 1


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def check_memory(owner: str, field: str, rows: int, row_bytes: int, available: int | None = None) -> int:
    """Refuse a buffer of ``rows`` x ``row_bytes`` (plus its checkpoint copy) that would not fit in memory.

    Args:
        owner: config class name for the message, e.g. ``"SACConfig"``.
        field: the config field that sets ``rows``, e.g. ``"buffer_size"``.
        rows: buffer capacity in transitions.
        row_bytes: bytes per transition (all columns).
        available: bytes available; None reads the machine's (tests pass a number).

    Returns:
        The estimate in bytes.

    Raises:
        ValueError: the estimate exceeds the available memory; the message names both and the fix.
    """
    estimate = rows * row_bytes * (1 + _CHECKPOINT_COPIES)
    available = available_memory() if available is None else available
    if available is not None and estimate > available:
        raise ValueError(
            f"{owner}.{field} = {rows} needs about {_gib(estimate)} (buffer + its checkpoint copy, "
            f"{row_bytes} bytes per transition) but this machine has {_gib(available)} available; "
            f"use a smaller {field} (at most about {available // (row_bytes * (1 + _CHECKPOINT_COPIES))})."
        )
    return estimate


class Transitions:
    """Columns ``obs``, ``next_obs``, ``actions``, ``rewards``, ``terminated`` (+ subclasses' extras)."""

    def __init__(
        self,
        capacity: int,
        obs_size: int,
        action_shape: tuple[int, ...],
        action_dtype: type[np.generic],
        extra_columns: tuple[str, ...] = (),
        num_actions: int | None = None,
    ) -> None:
        self.capacity = capacity
        self.num_actions = num_actions  # Discrete actions: stored indices must be in [0, num_actions)
        self.obs = np.zeros((capacity, obs_size), dtype=np.float32)
        self.next_obs = np.zeros((capacity, obs_size), dtype=np.float32)
        self.actions = np.zeros((capacity, *action_shape), dtype=action_dtype)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=np.float32)  # no bootstrap from next_obs
        self.columns: tuple[str, ...] = ("obs", "next_obs", "actions", "rewards", "terminated", *extra_columns)
        for name in extra_columns:
            setattr(self, name, np.zeros(capacity, dtype=np.float32))
        self.pos = 0
        self.size = 0

    @staticmethod
    def row_bytes(obs_size: int, action_shape: tuple[int, ...], action_dtype: type[np.generic], extra: int = 0) -> int:
        """Bytes per transition of a store with these columns (for ``check_memory``)."""
        action = int(np.prod(action_shape, dtype=np.int64)) * np.dtype(action_dtype).itemsize
        return 2 * obs_size * 4 + action + (2 + extra) * 4

    def write(self, i: int, obs: np.ndarray, action: object, reward: float, next_obs: np.ndarray, terminated: bool):
        self.obs[i] = obs
        self.next_obs[i] = next_obs
        self.actions[i] = action
        self.rewards[i] = reward
        self.terminated[i] = terminated

    def to_arrays(self, prefix: str) -> ArrayDict:
        """The filled rows only (the whole ring once full); positions go in the owner's counters."""
        n = self.size
        return {f"{prefix}.{name}": getattr(self, name)[:n].copy() for name in self.columns}

    def reference_arrays(self, prefix: str, arrays: ArrayDict) -> ArrayDict:
        """What ``to_arrays`` would return with as many rows as ``arrays`` holds (for key/dtype/shape checks)."""
        reference = {}
        for name in self.columns:
            key, column = f"{prefix}.{name}", getattr(self, name)
            rows = len(arrays[key]) if isinstance(arrays.get(key), np.ndarray) and arrays[key].ndim else 0
            reference[key] = np.zeros((rows, *column.shape[1:]), column.dtype)
        return reference

    def load_arrays(self, owner: str, prefix: str, arrays: ArrayDict, pos: int, size: int) -> None:
        """Inverse of ``to_arrays`` with the saved positions; ``ValueError`` if rows and counters disagree."""
        if not (0 <= size <= self.capacity and 0 <= pos < self.capacity):
            raise ValueError(
                f"{owner}.set_state: {prefix} pos {pos} / size {size} do not fit capacity {self.capacity}."
            )
        for name in self.columns:
            column = arrays[f"{prefix}.{name}"]
            if len(column) != size:
                raise ValueError(f"{owner}.set_state: '{prefix}.{name}' holds {len(column)} rows, expected {size}.")
        for name in self.columns:
            self._check_values(owner, f"{prefix}.{name}", name, np.asarray(arrays[f"{prefix}.{name}"]))
        for name in self.columns:
            getattr(self, name)[:size] = arrays[f"{prefix}.{name}"]
        self.pos, self.size = pos, size

    def _check_values(self, owner: str, key: str, name: str, column: np.ndarray) -> None:
        """Values a later update would index with or learn from: in range and finite, else ``ValueError``."""
        if column.dtype.kind == "f" and not np.isfinite(column).all():
            raise ValueError(f"{owner}.set_state: '{key}' holds non-finite values.")
        if name in ("terminated", "dones") and not np.isin(column, (0.0, 1.0)).all():
            raise ValueError(f"{owner}.set_state: '{key}' must hold only 0 and 1.")
        if name == "actions" and self.num_actions is not None and column.size:
            if column.min() < 0 or column.max() >= self.num_actions:
                raise ValueError(
                    f"{owner}.set_state: '{key}' holds action indices outside [0, {self.num_actions})."
                )


class ReplayBuffer(Transitions):
    """A ring of transitions: once full, the oldest are overwritten."""

    def add(self, obs: np.ndarray, action: object, reward: float, next_obs: np.ndarray, terminated: bool) -> None:
        self.write(self.pos, obs, action, reward, next_obs, terminated)
        self.pos = (self.pos + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)


class Rollout(Transitions):
    """``n_steps`` consecutive transitions of one env stream, plus ``dones`` (the GAE chain is cut after them)."""

    def __init__(
        self,
        n_steps: int,
        obs_size: int,
        action_shape: tuple[int, ...],
        action_dtype: type[np.generic],
        num_actions: int | None = None,
        extra_columns: tuple[str, ...] = (),
    ) -> None:
        super().__init__(n_steps, obs_size, action_shape, action_dtype, ("dones", *extra_columns), num_actions)
        self.n_steps = n_steps

    def add(
        self, obs: np.ndarray, action: object, reward: float, next_obs: np.ndarray, terminated: bool, done: bool
    ) -> None:
        self.write(self.pos, obs, action, reward, next_obs, terminated)
        self.dones[self.pos] = done
        self.pos += 1
        self.size = self.pos

    @property
    def full(self) -> bool:
        return self.pos == self.n_steps

    def clear(self) -> None:
        self.pos = self.size = 0


class VecRollout(Rollout):
    """The rollout of ``n_envs`` env streams: ``n_steps / n_envs`` vector steps of ``n_envs`` rows each, stored
    step-major (row ``t * n_envs + i`` is env ``i`` at vector step ``t``), so env ``i``'s column is the rows
    ``i, i + n_envs, ...``. ``valid`` is 0 on the rows of envs that took a Gymnasium next-step autoreset step
    (reset, no transition): they are skipped by GAE and the update.
    """

    def __init__(
        self,
        n_steps: int,
        n_envs: int,
        obs_size: int,
        action_shape: tuple[int, ...],
        action_dtype: type[np.generic],
        num_actions: int | None = None,
    ) -> None:
        if n_envs < 2 or n_steps % n_envs or n_steps < 2 * n_envs:
            raise ValueError(
                f"PPOConfig.n_steps = {n_steps} must be a multiple of n_envs = {n_envs} and at least 2 x n_envs "
                f"(n_steps counts the rollout's transitions across all envs); use e.g. n_steps = "
                f"{max(2, n_steps // n_envs) * n_envs}."
            )
        super().__init__(n_steps, obs_size, action_shape, action_dtype, num_actions, ("valid",))
        self.n_envs = n_envs

    def add_batch(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_obs: np.ndarray,
        terminated: np.ndarray,
        dones: np.ndarray,
        valid: np.ndarray,
    ) -> None:
        """One vector step: ``n_envs`` rows (invalid rows are written as zeros)."""
        rows = slice(self.pos, self.pos + self.n_envs)
        keep = valid.astype(np.float32)
        self.obs[rows] = obs * keep[:, None]
        self.next_obs[rows] = next_obs * keep[:, None]
        self.actions[rows] = np.where(valid.reshape(-1, *([1] * (actions.ndim - 1))), actions, 0)
        self.rewards[rows] = rewards * keep
        self.terminated[rows] = terminated * keep
        self.dones[rows] = dones * keep
        self.valid[rows] = keep
        self.pos += self.n_envs
        self.size = self.pos

    def _check_values(self, owner: str, key: str, name: str, column: np.ndarray) -> None:
        super()._check_values(owner, key, name, column)
        if name == "valid" and not np.isin(column, (0.0, 1.0)).all():
            raise ValueError(f"{owner}.set_state: '{key}' must hold only 0 and 1.")

    def load_arrays(self, owner: str, prefix: str, arrays: ArrayDict, pos: int, size: int) -> None:
        if pos % self.n_envs:
            raise ValueError(f"{owner}.set_state: {prefix} pos {pos} is not a whole number of vector steps.")
        super().load_arrays(owner, prefix, arrays, pos, size)
