"""The hierarchy agent: a Sparse Predictive Hierarchy driving any Gymnasium env through the Agent protocol.

Observations are encoded into one input port, the action taken last is fed back through an ACTION port
whose actor samples the next action. Unlike the anchor's env runner, episode ends are real: a terminated
episode has no future value, a truncated one bootstraps from the value of its final observation, and the
replay memory never computes a return across two episodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from agents.protocol import ArrayDict
from envs import (
    ActionDecoderConfig,
    ObservationEncoderConfig,
    make_action_decoder,
    make_observation_encoder,
)
from hierarchy import Hierarchy, IODesc, IOType, LayerDesc

Size3 = tuple[int, int, int]


def _positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    ok = value >= 0 if allow_zero else value > 0
    if not (isinstance(value, (int, float)) and math.isfinite(value) and ok):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"HierarchyAgentConfig.{name} must be finite and {bound}, got {value!r}")


def _unit(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
        raise ValueError(f"HierarchyAgentConfig.{name} must be in [0, 1], got {value!r}")


@dataclass(frozen=True)
class HierarchyAgentConfig:
    """Everything that shapes a hierarchy agent. Plain data: round-trips through TOML/JSON.

    Defaults are our own, tuned on CartPole-v1 (see BENCHMARKS.md); PyAOgmaNeo's values are noted where
    they differ.
    """

    # --- network shape ------------------------------------------------------------------------------
    layers: tuple[Size3, ...] = ((5, 5, 64),)
    """Hidden size (x, y, z) of each layer, bottom first."""
    obs_radius: int = 2
    """Encoder receptive-field radius from the observation port into layer 0 (columns)."""
    action_radius: int = 2
    """Radius of the action port: encoder field into layer 0 and actor field onto layer 0."""
    up_radius: int = 2
    """Encoder radius of layer l > 0 onto layer l-1."""
    down_radius: int = 2
    """Decoder radius of layer l > 0 (predicting layer l-1)."""
    recurrent_radius: int = 0
    """Field of each encoder onto its own previous state (-1: no recurrence, 0: own column only)."""
    recurrent_importance: float = 0.5
    """Weight of the recurrent input relative to the observation."""
    action_importance: float = 1.0
    """Weight of the fed-back action relative to the observation."""
    history_capacity: int = 512
    """Actor replay length (steps): the credit-assignment horizon."""
    policy_dendrites: int = 4
    """Dendrites per action cell of the actor's policy head."""
    value_dendrites: int = 8
    """Dendrites of the actor's value head."""

    # --- codecs ------------------------------------------------------------------------------------
    obs_resolution: int = 16
    """Cells per observation dimension."""
    obs_squash_scale: float = 1.0
    """Sigmoid scale for observation dimensions without finite bounds."""
    obs_low: tuple[float, ...] = ()
    """Optional per-dimension lower bounds (-inf: squash); () = the space's."""
    obs_high: tuple[float, ...] = ()
    """Optional per-dimension upper bounds; () = the space's."""
    action_bins: int = 9
    """Cells per Box action dimension (bin centres are the actions)."""

    # --- learning ----------------------------------------------------------------------------------
    discount: float = 0.99
    """Reward discount (gamma)."""
    smoothing: float = 0.02
    """1 - lambda of the replayed lambda-return."""
    value_lr: float = 0.001
    """Actor value-head learning rate (PyAOgmaNeo: 0.001)."""
    policy_lr: float = 0.01
    """Actor policy learning rate (PyAOgmaNeo: 0.01)."""
    delay_rate: float = 0.001
    """Speed of the slow 'old policy' copy the PPO-style clip compares against."""
    policy_clip: float = 0.2
    """PPO-style ratio clip."""
    td_scale_decay: float = 0.999
    """Decay of the running TD-error scale that normalises policy updates."""
    min_steps: int = 16
    """Replay samples younger than this are never reinforced (n-step span)."""
    history_iters: int = 16
    """Replayed updates per env step."""
    encoder_vigilance: float = 0.9
    """ART vigilance of the encoders."""
    encoder_lr: float = 0.5
    """Encoder learning rate for committed cells."""
    encoder_active_ratio: float = 0.1
    """Fraction of columns that may learn per step (second-stage inhibition)."""
    reward_scale: float = 1.0
    """Rewards are multiplied by this before the actor sees them."""
    episodic: bool = True
    """True: episode ends are boundaries (terminated = no future value). False: one continuing stream, as
    PyAOgmaNeo's env runner does (clear_state is then a no-op and terminal_reward is added on termination)."""
    terminal_reward: float = 0.0
    """Added to the reward of a terminating step (PyAOgmaNeo's CartPole runner effectively uses -100)."""

    def __post_init__(self) -> None:
        layers = tuple(tuple(int(v) for v in size) for size in self.layers)
        if not layers or any(len(size) != 3 or min(size) < 1 for size in layers):
            raise ValueError(
                f"HierarchyAgentConfig.layers must be a non-empty list of (x, y, z) sizes, got {self.layers!r}; "
                "e.g. layers = [[5, 5, 64]]"
            )
        object.__setattr__(self, "layers", layers)
        for name in ("obs_low", "obs_high"):
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))
        for name in ("obs_radius", "action_radius", "up_radius", "down_radius"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"HierarchyAgentConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        if self.recurrent_radius < -1:
            raise ValueError(f"HierarchyAgentConfig.recurrent_radius must be >= -1, got {self.recurrent_radius}")
        for name in ("history_capacity", "history_iters"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"HierarchyAgentConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        if not 1 <= self.min_steps < self.history_capacity:
            raise ValueError(
                f"HierarchyAgentConfig.min_steps must be in [1, history_capacity), got {self.min_steps} "
                f"with history_capacity {self.history_capacity}"
            )
        for name in ("obs_squash_scale", "value_lr", "policy_lr", "reward_scale"):
            _positive(name, getattr(self, name))
        for name in ("recurrent_importance", "action_importance"):
            _positive(name, getattr(self, name), allow_zero=True)
        for name in ("discount", "smoothing", "delay_rate", "policy_clip", "td_scale_decay",
                     "encoder_vigilance", "encoder_lr", "encoder_active_ratio"):
            _unit(name, getattr(self, name))
        if not math.isfinite(self.terminal_reward):
            raise ValueError(f"HierarchyAgentConfig.terminal_reward must be finite, got {self.terminal_reward}")


class HierarchyAgent:
    """An SPH actor-critic behind the Agent protocol.

    State (``get_state``): the hierarchy's state buffer (temporal context, replay memory, RNG), the action
    last fed back and the reward waiting to be passed with the next observation. Weights
    (``get_weights``): the hierarchy's weights buffer (including slow policy copies and learned statistics).
    """

    OBS_PORT = 0
    ACTION_PORT = 1

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: HierarchyAgentConfig,
        seed: int,
    ) -> None:
        self.config = config
        self.learn_enabled = True
        self._encoder = make_observation_encoder(
            observation_space,
            ObservationEncoderConfig(
                resolution=config.obs_resolution,
                squash_scale=config.obs_squash_scale,
                low=config.obs_low,
                high=config.obs_high,
            ),
        )
        self._decoder = make_action_decoder(action_space, ActionDecoderConfig(bins=config.action_bins))
        io_descs = [
            IODesc(self._encoder.port_size, IOType.NONE, up_radius=config.obs_radius, down_radius=config.obs_radius),
            IODesc(
                self._decoder.port_size,
                IOType.ACTION,
                num_dendrites_per_cell=config.policy_dendrites,
                value_num_dendrites_per_cell=config.value_dendrites,
                up_radius=config.action_radius,
                down_radius=config.action_radius,
                history_capacity=config.history_capacity,
            ),
        ]
        layer_descs = [
            LayerDesc(size, up_radius=config.up_radius, recurrent_radius=config.recurrent_radius,
                      down_radius=config.down_radius)
            for size in config.layers
        ]
        self.hierarchy = Hierarchy(io_descs, layer_descs, seed=seed)
        self._apply_params()
        self._last_action = np.zeros(self._decoder.num_columns, dtype=np.int32)
        self._pending_reward = 0.0

    def _apply_params(self) -> None:
        c, params = self.config, self.hierarchy.params
        params.ios[self.ACTION_PORT].importance = c.action_importance
        actor = params.ios[self.ACTION_PORT].actor
        actor.vlr, actor.plr = c.value_lr, c.policy_lr
        actor.discount, actor.smoothing = c.discount, c.smoothing
        actor.delay_rate, actor.policy_clip = c.delay_rate, c.policy_clip
        actor.td_scale_decay = c.td_scale_decay
        actor.min_steps, actor.history_iters = c.min_steps, c.history_iters
        for layer in params.layers:
            layer.recurrent_importance = c.recurrent_importance
            layer.encoder.vigilance = c.encoder_vigilance
            layer.encoder.lr = c.encoder_lr
            layer.encoder.active_ratio = c.encoder_active_ratio

    # --- the protocol --------------------------------------------------------------------------------
    def act(self, obs: Any) -> Any:
        self.hierarchy.step(
            [self._encoder.encode(obs), self._last_action],
            learn_enabled=self.learn_enabled,
            reward=self._pending_reward,
        )
        self._pending_reward = 0.0
        self._last_action = self.hierarchy.get_prediction_cis(self.ACTION_PORT)
        return self._decoder.decode(self._last_action)

    def observe(self, next_obs: Any, reward: float, terminated: bool, truncated: bool) -> None:
        c = self.config
        reward = float(reward) * c.reward_scale
        if terminated:
            reward += c.terminal_reward
        if c.episodic and (terminated or truncated):
            # The final observation closes the episode: V = 0 if terminated, V(final obs) if truncated.
            self.hierarchy.step(
                [self._encoder.encode(next_obs), self._last_action],
                learn_enabled=self.learn_enabled,
                reward=reward,
                terminated=terminated,
                truncated=truncated and not terminated,
            )
            self._pending_reward = 0.0
        else:
            self._pending_reward = reward

    def clear_state(self) -> None:
        if not self.config.episodic:
            return  # continuing mode: one unbroken stream, like PyAOgmaNeo's env runner
        self.hierarchy.clear_state()
        self._last_action = np.zeros_like(self._last_action)
        self._pending_reward = 0.0

    # --- serialisation -----------------------------------------------------------------------------
    def get_weights(self) -> ArrayDict:
        return {"hierarchy": self.hierarchy.serialize_weights_to_buffer()}

    def set_weights(self, arrays: ArrayDict) -> None:
        _expect_keys("weights", arrays, {"hierarchy"})
        self.hierarchy.set_weights_from_buffer(arrays["hierarchy"])

    def get_state(self) -> ArrayDict:
        return {
            "hierarchy": self.hierarchy.serialize_state_to_buffer(),
            "last_action": self._last_action.copy(),
            "pending_reward": np.array([self._pending_reward], dtype=np.float64),
        }

    def set_state(self, arrays: ArrayDict) -> None:
        _expect_keys("state", arrays, {"hierarchy", "last_action", "pending_reward"})
        last_action = np.asarray(arrays["last_action"])
        if last_action.shape != self._last_action.shape or last_action.dtype.kind not in "iu":
            raise ValueError(
                f"state['last_action'] must be an int array of shape {self._last_action.shape}, "
                f"got {last_action.dtype} {last_action.shape}"
            )
        pending = np.asarray(arrays["pending_reward"], dtype=np.float64).reshape(-1)
        if pending.shape != (1,):
            raise ValueError(f"state['pending_reward'] must hold one float, got shape {pending.shape}")
        self.hierarchy.set_state_from_buffer(arrays["hierarchy"])
        self._last_action = last_action.astype(np.int32)
        self._pending_reward = float(pending[0])

    @property
    def weights_size(self) -> int:
        """Bytes of the hierarchy's weights buffer."""
        return self.hierarchy.get_weights_size()

    @property
    def state_size(self) -> int:
        """Bytes of the hierarchy's state buffer."""
        return self.hierarchy.get_state_size()


def _expect_keys(kind: str, arrays: ArrayDict, expected: set[str]) -> None:
    if set(arrays) != expected:
        raise ValueError(
            f"HierarchyAgent {kind} must hold exactly {sorted(expected)}, got {sorted(arrays)}; "
            "was it saved by another agent?"
        )
