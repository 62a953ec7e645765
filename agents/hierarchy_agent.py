"""The hierarchy agent: a Sparse Predictive Hierarchy driving any Gymnasium env through the Agent protocol.

Observations are encoded into one input port, the action taken last is fed back through an ACTION port
whose actor samples the next action. Unlike the anchor's env runner, episode ends are real: a terminated
episode has no future value, a truncated one bootstraps from the value of its final observation, and the
replay memory never computes a return across two episodes.

Scales come from experience, not from per-env settings: with ``obs_normalize`` the sigmoid of each unbounded
observation element is centred on its running mean and scaled by its running standard deviation, and with
``reward_normalize`` rewards are divided by the running root-mean-square of the discounted return. Both
statistics are updated only while learning and live in the weights (``obs_moments``, ``return_moments``), so
evaluation from saved weights and an exactly resumed run see the same numbers. The same holds for the range each
bounded observation element covers during the first ``obs_calibrate_steps`` learning steps (``obs_range``): an
element whose declared bounds turn out far wider than that range is binned over the observed range from then on.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from agents.hierarchy_config import HierarchyAgentConfig, codec_configs
from agents.hierarchy_metrics import EpisodeMetrics
from agents.pixel_frontend import make_pixel_frontend, pixel_arrays, pixel_keys, pixel_restore, pixel_size  # imgenc
from agents.protocol import ArrayDict
from agents.running_moments import RunningMoments
from agents.running_range import RunningRange, calibrated_bounds
from envs import make_action_decoder, make_observation_encoder
from envs.observation_codecs import BoxEncoder
from hierarchy import Hierarchy, IODesc, IOType, LayerDesc


class HierarchyAgent:
    """An SPH actor-critic behind the Agent protocol.

    State (``get_state``): the hierarchy's state buffer (temporal context, replay memory, RNG), the action
    last fed back, the reward waiting to be passed with the next observation, the episode's diagnostics
    (``metrics_*``, `agents.hierarchy_metrics`) and (with ``reward_normalize``) the episode's discounted return
    so far. Weights (``get_weights``): the hierarchy's weights buffer
    (including slow policy copies and learned statistics), the running observation/return moments and the
    observation range recorded for calibration (``obs_range``).
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
        obs_codec, action_codec = codec_configs(config)
        self._encoder = self._pixels or make_observation_encoder(observation_space, obs_codec)  # imgenc
        self._decoder = make_action_decoder(action_space, action_codec)
        # Running statistics (None when switched off or not applicable).
        self._squashed: np.ndarray | None = None  # indices of the unbounded Box elements
        self._obs_moments: RunningMoments | None = None
        if config.obs_normalize and isinstance(self._encoder, BoxEncoder) and not self._encoder.ranged.all():
            self._squashed = np.flatnonzero(~self._encoder.ranged)
            self._obs_moments = RunningMoments(self._squashed.size)
            self._base_scale = self._encoder.scale[self._squashed].copy()
        self._obs_range: RunningRange | None = None
        if config.obs_calibrate_steps > 0 and isinstance(self._encoder, BoxEncoder) and self._encoder.ranged.any():
            self._obs_range = RunningRange(self._encoder.num_dims, config.obs_calibrate_steps)
            self._declared = (self._encoder.low.copy(), self._encoder.high.copy())
        self._return_moments = RunningMoments(1) if config.reward_normalize else None
        self._return_acc = 0.0
        io_descs = [
            IODesc(
                self._encoder.port_size,
                IOType.PREDICTION if config.surprise_reward > 0 else IOType.NONE,
                up_radius=config.obs_radius,
                down_radius=config.obs_radius,
            ),
            IODesc(
                self._decoder.port_size,
                IOType.ACTION,
                num_dendrites_per_cell=config.policy_dendrites,
                value_num_dendrites_per_cell=config.value_dendrites,
                up_radius=config.action_radius,
                down_radius=config.action_radius,
                history_capacity=config.history_capacity,
                skip_radius=config.skip_radius,
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
        self._metrics = EpisodeMetrics(self.hierarchy, self.ACTION_PORT, config.discount)

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
        cis = self._encoder.encode(obs)  # checks obs (shape, finiteness) before the statistics see it
        if self._obs_range is not None and self.learn_enabled and not self._obs_range.full:
            self._obs_range.update(np.asarray(obs, dtype=np.float64).reshape(-1))
            if self._obs_range.full:  # the warm-up ends here: bin from this observation on
                self._apply_range()
                cis = self._encoder.encode(obs)
        if self._obs_moments is not None and self.learn_enabled:
            self._obs_moments.update(np.asarray(obs, dtype=np.float64).reshape(-1)[self._squashed])
            self._recentre()
        self.hierarchy.step([cis, self._last_action], learn_enabled=self.learn_enabled, reward=self._pending_reward)
        self._metrics.record(self.hierarchy)
        self._pending_reward = 0.0
        self._last_action = self.hierarchy.get_prediction_cis(self.ACTION_PORT)
        return self._decoder.decode(self._last_action)

    def _recentre(self) -> None:
        """Place the squashing sigmoid of the unbounded elements on their running mean and spread."""
        moments, encoder = self._obs_moments, self._encoder
        if moments.count < 2:
            centre, scale = np.zeros(moments.size), self._base_scale
        else:
            centre, scale = moments.mean, self._base_scale / np.maximum(moments.std(), _MIN_STD)
        full_centre = np.zeros(encoder.num_dims)
        full_scale = np.ones(encoder.num_dims)
        full_centre[self._squashed] = centre
        full_scale[self._squashed] = scale
        encoder.recentre(full_centre, full_scale)

    def _apply_range(self) -> None:
        """Bin the bounded elements over their calibrated ranges once the warm-up is over, else the declared ones."""
        low, high = self._declared
        if self._obs_range.full:
            low, high = calibrated_bounds(low, high, self._obs_range, self.config.obs_calibrate_ratio)
        self._encoder.rerange(low, high)

    def _normalise_reward(self, reward: float) -> float:
        """Divide by the running RMS of the discounted return (updating it first while learning)."""
        moments = self._return_moments
        if self.learn_enabled:
            self._return_acc = self._return_acc * self.config.discount + reward
            moments.update(np.array([self._return_acc]))
        rms = float(np.sqrt(moments.m2[0] / max(moments.count, 1) + moments.mean[0] ** 2))
        return reward / rms if rms > _MIN_STD else reward

    def _surprise(self, cis: np.ndarray) -> float:
        """Mean over observation columns of 1 - the probability the last step's prediction gave the observed cell."""
        acts = self.hierarchy.get_prediction_acts(self.OBS_PORT).reshape(cis.size, -1)
        return float(1.0 - acts[np.arange(cis.size), cis].mean())

    def observe(self, next_obs: Any, reward: float, terminated: bool, truncated: bool) -> None:
        c = self.config
        reward = float(reward) * c.reward_scale
        if terminated:
            reward += c.terminal_reward
        next_cis = None
        if c.surprise_reward > 0:
            next_cis = self._encoder.encode(next_obs)
            reward += c.surprise_reward * self._surprise(next_cis)
        if self._return_moments is not None:
            reward = self._normalise_reward(reward)
        if c.episodic and (terminated or truncated):
            # The final observation closes the episode: V = 0 if terminated, V(final obs) if truncated.
            self.hierarchy.step(
                [self._encoder.encode(next_obs) if next_cis is None else next_cis, self._last_action],
                learn_enabled=self.learn_enabled,
                reward=reward,
                terminated=terminated,
                truncated=truncated and not terminated,
            )
            self._metrics.record(self.hierarchy)
            self._pending_reward = 0.0
        else:
            self._pending_reward = reward

    def metrics(self) -> dict[str, float]:
        """The episode's diagnostics by TensorBoard tag (`agents.hierarchy_metrics`; logged at episode ends)."""
        return self._metrics.values()

    def clear_state(self) -> None:
        if not self.config.episodic:
            return  # continuing mode: one unbroken stream, like PyAOgmaNeo's env runner (metrics accumulate too)
        self._metrics.reset()
        self.hierarchy.clear_state()
        self._last_action = np.zeros_like(self._last_action)
        self._pending_reward = 0.0
        self._return_acc = 0.0

    # --- serialisation -----------------------------------------------------------------------------
    def _moments(self) -> dict[str, RunningMoments]:
        found = {"obs_moments": self._obs_moments, "return_moments": self._return_moments}
        return {name: m for name, m in found.items() if m is not None}

    def get_weights(self) -> ArrayDict:
        weights = {
            "hierarchy": self.hierarchy.serialize_weights_to_buffer(),
            **pixel_arrays(self._pixels, "weights"),  # imgenc
        }
        weights.update({name: m.array.copy() for name, m in self._moments().items()})
        if self._obs_range is not None:
            weights["obs_range"] = self._obs_range.array.copy()
        return weights

    def set_weights(self, arrays: ArrayDict) -> None:
        moments = self._moments()
        ranged = {"obs_range"} if self._obs_range is not None else set()
        _expect_keys("weights", arrays, {"hierarchy", *moments, *ranged} | pixel_keys(self._pixels))  # imgenc
        loaded = {}
        for name, m in moments.items():  # checked before anything changes
            loaded[name] = RunningMoments(m.size)
            loaded[name].load(arrays[name], f"weights[{name!r}]")
        if self._obs_range is not None:
            seen = RunningRange(self._obs_range.size, self._obs_range.limit)
            seen.load(arrays["obs_range"], "weights['obs_range']")
        with pixel_restore(self._pixels, arrays, "weights"):  # imgenc: both or neither
            self.hierarchy.set_weights_from_buffer(arrays["hierarchy"])
        for name, m in moments.items():
            m.array[:] = loaded[name].array
        if self._obs_moments is not None:
            self._recentre()
        if self._obs_range is not None:
            self._obs_range.array[:] = seen.array
            self._apply_range()

    def get_state(self) -> ArrayDict:
        state = {
            "hierarchy": self.hierarchy.serialize_state_to_buffer(),
            "last_action": self._last_action.copy(),
            "pending_reward": np.array([self._pending_reward], dtype=np.float64),
            **pixel_arrays(self._pixels, "state"),  # imgenc
            **self._metrics.to_arrays(),
        }
        if self._return_moments is not None:
            state["return_acc"] = np.array([self._return_acc], dtype=np.float64)
        return state

    def set_state(self, arrays: ArrayDict) -> None:
        keys = {"hierarchy", "last_action", "pending_reward", *self._metrics.to_arrays()}
        keys |= pixel_keys(self._pixels)  # imgenc
        if self._return_moments is not None:
            keys.add("return_acc")
        _expect_keys("state", arrays, keys)
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
        return_acc = 0.0
        if "return_acc" in arrays:
            acc = np.asarray(arrays["return_acc"])
            if acc.shape != (1,) or acc.dtype != np.float64 or not np.isfinite(acc).all():
                raise ValueError(f"state['return_acc'] must hold one finite float64, got {acc.dtype} {acc.shape}")
            return_acc = float(acc[0])
        metrics = self._metrics.check(arrays)
        with pixel_restore(self._pixels, arrays, "state"):  # imgenc: both or neither
            self.hierarchy.set_state_from_buffer(arrays["hierarchy"])
        self._metrics.apply(metrics)
        self._last_action = last_action.astype(np.int32)
        self._pending_reward = float(pending[0])
        self._return_acc = return_acc

    @property
    def weights_size(self) -> int:
        """Bytes of the hierarchy's weights buffer (plus the image encoder's, for pixel observations)."""
        return self.hierarchy.get_weights_size() + pixel_size(self._pixels, "weights")  # imgenc

    @property
    def state_size(self) -> int:
        """Bytes of the hierarchy's state buffer (plus the image encoder's, for pixel observations)."""
        return self.hierarchy.get_state_size() + pixel_size(self._pixels, "state")  # imgenc


_MIN_STD = 1e-6
"""Spreads below this count as zero (a constant element or return stays at the middle / unscaled)."""


def _expect_keys(kind: str, arrays: ArrayDict, expected: set[str]) -> None:
    if set(arrays) != expected:
        raise ValueError(
            f"HierarchyAgent {kind} must hold exactly {sorted(expected)}, got {sorted(arrays)}; "
            "was it saved by another agent?"
        )
