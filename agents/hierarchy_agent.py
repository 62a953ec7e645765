"""The hierarchy agent: a Sparse Predictive Hierarchy driving any Gymnasium env through the Agent protocol.

Observations are encoded into one input port, the action taken last is fed back through an ACTION port
whose actor samples the next action. Unlike the anchor's env runner, episode ends are real: a terminated
episode has no future value, a truncated one bootstraps from the value of its final observation, and the
replay memory never computes a return across two episodes.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from agents.hierarchy_config import HierarchyAgentConfig
from agents.pixel_frontend import make_pixel_frontend, pixel_arrays, pixel_keys, pixel_restore, pixel_size  # imgenc
from agents.protocol import ArrayDict
from envs import (
    ActionDecoderConfig,
    ObservationEncoderConfig,
    make_action_decoder,
    make_observation_encoder,
)
from hierarchy import Hierarchy, IODesc, IOType, LayerDesc


class HierarchyAgent:
    """An SPH actor-critic behind the Agent protocol.

    State (``get_state``): the hierarchy's state buffer (temporal context, replay memory, RNG), the action
    last fed back and the reward waiting to be passed with the next observation. Weights
    (``get_weights``): the hierarchy's weights buffer (including slow policy copies and learned statistics).
    Image observations (a Box of 2 or 3 dims) go through an image encoder first (`agents.pixel_frontend`),
    whose buffers are under ``"image_encoder"`` in both.
    """

    OBS_PORT = 0
    ACTION_PORT = 1
    rng_state_keys = ("hierarchy",)
    """State keys holding the agent's RNG: the hierarchy's RNG word lives inside its state buffer."""

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: HierarchyAgentConfig,
        seed: int,
    ) -> None:
        self.config = config
        self.learn_enabled = True
        self._pixels = make_pixel_frontend(observation_space, config, seed, lambda: self.learn_enabled)  # imgenc
        self._encoder = self._pixels or make_observation_encoder(  # imgenc: image observations use the frontend
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
            LayerDesc(
                size,
                up_radius=config.up_radius,
                recurrent_radius=config.recurrent_radius,
                down_radius=config.down_radius,
            )
            for size in config.layers
        ]
        self.hierarchy = Hierarchy(io_descs, layer_descs, seed=seed)
        if self._pixels:  # imgenc: the image encoder's RNG word is in its state buffer
            self.rng_state_keys = ("hierarchy", "image_encoder")
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
        return {
            "hierarchy": self.hierarchy.serialize_weights_to_buffer(),
            **pixel_arrays(self._pixels, "weights"),  # imgenc
        }

    def set_weights(self, arrays: ArrayDict) -> None:
        _expect_keys("weights", arrays, {"hierarchy"} | pixel_keys(self._pixels))  # imgenc
        with pixel_restore(self._pixels, arrays, "weights"):  # imgenc: both or neither
            self.hierarchy.set_weights_from_buffer(arrays["hierarchy"])

    def get_state(self) -> ArrayDict:
        return {
            "hierarchy": self.hierarchy.serialize_state_to_buffer(),
            "last_action": self._last_action.copy(),
            "pending_reward": np.array([self._pending_reward], dtype=np.float64),
            **pixel_arrays(self._pixels, "state"),  # imgenc
        }

    def set_state(self, arrays: ArrayDict) -> None:
        _expect_keys("state", arrays, {"hierarchy", "last_action", "pending_reward"} | pixel_keys(self._pixels))
        last_action = np.asarray(arrays["last_action"])
        if last_action.shape != self._last_action.shape or last_action.dtype.kind not in "iu":
            raise ValueError(
                f"state['last_action'] must be an int array of shape {self._last_action.shape}, "
                f"got {last_action.dtype} {last_action.shape}"
            )
        cells = self._decoder.port_size[2]
        if last_action.size and (last_action.min() < 0 or last_action.max() >= cells):
            raise ValueError(
                f"state['last_action'] holds {last_action.tolist()}, outside the action port's cells 0..{cells - 1}"
            )
        if not np.isfinite(np.asarray(arrays["pending_reward"], dtype=np.float64)).all():
            raise ValueError("state['pending_reward'] is not a finite number")
        pending = np.asarray(arrays["pending_reward"], dtype=np.float64).reshape(-1)
        if pending.shape != (1,):
            raise ValueError(f"state['pending_reward'] must hold one float, got shape {pending.shape}")
        with pixel_restore(self._pixels, arrays, "state"):  # imgenc: both or neither
            self.hierarchy.set_state_from_buffer(arrays["hierarchy"])
        self._last_action = last_action.astype(np.int32)
        self._pending_reward = float(pending[0])

    @property
    def weights_size(self) -> int:
        """Bytes of the hierarchy's weights buffer (plus the image encoder's, for pixel observations)."""
        return self.hierarchy.get_weights_size() + pixel_size(self._pixels, "weights")  # imgenc

    @property
    def state_size(self) -> int:
        """Bytes of the hierarchy's state buffer (plus the image encoder's, for pixel observations)."""
        return self.hierarchy.get_state_size() + pixel_size(self._pixels, "state")  # imgenc


def _expect_keys(kind: str, arrays: ArrayDict, expected: set[str]) -> None:
    if set(arrays) != expected:
        raise ValueError(
            f"HierarchyAgent {kind} must hold exactly {sorted(expected)}, got {sorted(arrays)}; "
            "was it saved by another agent?"
        )
