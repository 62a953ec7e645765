"""The hierarchy agent's config: plain data, importable without numba.

Kept apart from :mod:`agents.hierarchy_agent` so that the command line can parse and validate
``--agent.FIELD`` options (and print ``--help``) without loading the hierarchy's compiled kernels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

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

    Defaults are our own, one set for every env (no per-env table): PyAOgmaNeo's values are noted where they
    differ. How they were tuned, with every variant tried, is in BENCHMARKS.md ("CartPole-v1: sample efficiency"
    and "Hierarchy agent beyond CartPole (issue 12): tuning log").
    """

    # --- network shape ------------------------------------------------------------------------------
    layers: tuple[Size3, ...] = ((5, 5, 64),)
    """Hidden size (x, y, z) of each layer, bottom first."""
    obs_radius: int = 2
    """Encoder receptive-field radius from the observation port into layer 0 (columns)."""
    action_radius: int = 2
    """Radius of the action port: encoder field into layer 0 and actor field onto layer 0."""
    skip_radius: int = 8
    """Radius of the actor's direct view of the observation port, beside layer 0's hidden state
    (`hierarchy.IODesc.skip_radius`; 8 covers every port up to 17 columns a side). -1: the actor sees layer 0
    only, as in PyAOgmaNeo. Tuning log in BENCHMARKS.md (issue 12, fourth round)."""
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
    history_capacity: int = 2048
    """Actor replay length (steps): the credit-assignment horizon and the memory replayed from. Longer than one
    full CartPole episode, so a good episode does not push the failures out of the replay (PyAOgmaNeo: 512)."""
    policy_dendrites: int = 4
    """Dendrites per action cell of the actor's policy head."""
    value_dendrites: int = 8
    """Dendrites of the actor's value head."""

    # --- codecs ------------------------------------------------------------------------------------
    obs_resolution: int = 16
    """Cells per observation dimension."""
    obs_squash_scale: float = 1.0
    """Sigmoid scale for observation dimensions without finite bounds (applied to the standardised value when
    ``obs_normalize`` is on: values about one standard deviation from the mean fill the middle bins)."""
    obs_squash_scales: tuple[float, ...] = ()
    """Optional per-Box-element squash scales overriding ``obs_squash_scale``; () = the same everywhere."""
    obs_normalize: bool = False
    """Centre and scale the sigmoid of unbounded Box elements by their running mean and standard deviation
    (learned from the observations seen while learning, part of the weights). Only for a Box observation space."""
    obs_calibrate_steps: int = 10000
    """Warm-up, in learning steps, after which each bounded Box element whose observed range (plus 10 % each side)
    is narrower than ``obs_calibrate_ratio`` of its declared range is binned over that observed range instead,
    for good (`agents.running_range`; the record is part of the weights). 0 = always the declared bounds. Only
    for a Box observation space."""
    obs_calibrate_ratio: float = 0.25
    """How much narrower than its declared range an element's observed range must be to replace it."""
    obs_low: tuple[float, ...] = ()
    """Optional per-dimension lower bounds (-inf: squash); () = the space's."""
    obs_high: tuple[float, ...] = ()
    """Optional per-dimension upper bounds; () = the space's."""
    action_bins: int = 9
    """Cells per Box action dimension (bin centres are the actions)."""
    action_low: tuple[float, ...] = ()
    """Optional per-element lower bounds of a Box action space (required where the space is unbounded)."""
    action_high: tuple[float, ...] = ()
    """Optional per-element upper bounds of a Box action space; same length as ``action_low``."""

    # --- learning ----------------------------------------------------------------------------------
    discount: float = 0.99
    """Reward discount (gamma)."""
    smoothing: float = 0.02
    """1 - lambda of the replayed lambda-return."""
    value_lr: float = 0.001
    """Actor value-head learning rate (PyAOgmaNeo: 0.001)."""
    policy_lr: float = 0.03
    """Actor policy learning rate (PyAOgmaNeo: 0.01)."""
    delay_rate: float = 0.01
    """Speed of the slow 'old policy' copy the PPO-style clip compares against (PyAOgmaNeo: 0.001)."""
    policy_clip: float = 0.2
    """PPO-style ratio clip."""
    td_scale_decay: float = 0.999
    """Decay of the running TD-error scale that normalises policy updates."""
    min_steps: int = 16
    """Replay samples younger than this are never reinforced (n-step span)."""
    history_iters: int = 16
    """Replayed updates per env step."""
    encoder_vigilance: float = 0.95
    """ART vigilance of the encoders (PyAOgmaNeo: 0.9)."""
    encoder_lr: float = 0.5
    """Encoder learning rate for committed cells."""
    encoder_active_ratio: float = 0.1
    """Fraction of columns that may learn per step (second-stage inhibition)."""
    reward_scale: float = 1.0
    """Rewards are multiplied by this before the actor sees them."""
    reward_normalize: bool = False
    """Divide rewards by the running root-mean-square of the discounted return (learned while learning, part of
    the weights), so the value head sees returns of order 1 whatever the env's reward scale."""
    surprise_reward: float = 0.0
    """Intrinsic reward for surprise, for exploration under sparse rewards: each step earns this times the mean over
    observation columns of (1 - the probability the hierarchy gave to the observed cell). 0 = off; above 0 the
    observation port also gets a decoder that predicts the next observation (more weights, slower steps)."""
    episodic: bool = True
    """True: episode ends are boundaries (terminated = no future value). False: one continuing stream, as
    PyAOgmaNeo's env runner does (clear_state is then a no-op and terminal_reward is added on termination)."""
    terminal_reward: float = 0.0
    """Added to the reward of a terminating step (PyAOgmaNeo's CartPole runner effectively uses -100)."""

    # --- pixel observations: an image encoder in front of the observation port (agents/pixel_frontend.py) ---
    image_scale: float = 1.0
    """Resize factor of image observations (a Box of 2 or 3 dims), as PyAOgmaNeo's env runner's image_scale."""
    image_max_size: int = 64
    """Longest side of the downscaled image (pixels): big renders are shrunk further to fit."""
    image_hidden_size: Size3 = (8, 8, 16)
    """Hidden size of the image encoder; its codes are the observation port."""
    image_radius: int = -1
    """Receptive-field radius of the image encoder's columns, in downscaled pixels; -1: just enough for the
    fields to cover the image (half the column spacing, rounded up, at least 1)."""
    image_learn_recon: bool = False
    """Also train the image encoder's reconstruction (only for looking at what it sees; costs time)."""

    def __post_init__(self) -> None:
        layers = tuple(tuple(int(v) for v in size) for size in self.layers)
        if not layers or any(len(size) != 3 or min(size) < 1 for size in layers):
            raise ValueError(
                f"HierarchyAgentConfig.layers must be a non-empty list of (x, y, z) sizes, got {self.layers!r}; "
                "e.g. layers = [[5, 5, 64]]"
            )
        object.__setattr__(self, "layers", layers)
        for name in ("obs_low", "obs_high", "obs_squash_scales", "action_low", "action_high"):
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))
        for name in ("obs_radius", "action_radius", "up_radius", "down_radius"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"HierarchyAgentConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        if not -1 <= int(self.skip_radius) <= 1024:
            raise ValueError(
                f"HierarchyAgentConfig.skip_radius must be in [-1, 1024] (-1: the actor sees layer 0 only), "
                f"got {self.skip_radius!r}"
            )
        if isinstance(self.obs_calibrate_steps, bool) or not 0 <= int(self.obs_calibrate_steps) <= 10**9:
            raise ValueError(
                f"HierarchyAgentConfig.obs_calibrate_steps must be in [0, 1e9] (0: no calibration), "
                f"got {self.obs_calibrate_steps!r}"
            )
        if not (isinstance(self.obs_calibrate_ratio, (int, float)) and 0.0 < self.obs_calibrate_ratio <= 1.0):
            raise ValueError(
                f"HierarchyAgentConfig.obs_calibrate_ratio must be in (0, 1], got {self.obs_calibrate_ratio!r}"
            )
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
        for name in ("recurrent_importance", "action_importance", "surprise_reward"):
            _positive(name, getattr(self, name), allow_zero=True)
        for name in (
            "discount",
            "smoothing",
            "delay_rate",
            "policy_clip",
            "td_scale_decay",
            "encoder_vigilance",
            "encoder_lr",
            "encoder_active_ratio",
        ):
            _unit(name, getattr(self, name))
        for name in ("obs_normalize", "reward_normalize", "episodic"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"HierarchyAgentConfig.{name} must be true or false, got {getattr(self, name)!r}")
        if not math.isfinite(self.terminal_reward):
            raise ValueError(f"HierarchyAgentConfig.terminal_reward must be finite, got {self.terminal_reward}")
        self._check_image_fields()

    def _check_image_fields(self) -> None:
        size = tuple(int(v) for v in self.image_hidden_size)
        if len(size) != 3 or min(size) < 1:
            raise ValueError(
                f"HierarchyAgentConfig.image_hidden_size must be an (x, y, z) size, got {self.image_hidden_size!r}; "
                "e.g. image_hidden_size = [8, 8, 16]"
            )
        object.__setattr__(self, "image_hidden_size", size)
        if not (isinstance(self.image_scale, (int, float)) and 0.0 < self.image_scale <= 1.0):
            raise ValueError(f"HierarchyAgentConfig.image_scale must be in (0, 1], got {self.image_scale!r}")
        if int(self.image_max_size) < 1:
            raise ValueError(f"HierarchyAgentConfig.image_max_size must be >= 1, got {self.image_max_size!r}")
        if int(self.image_radius) < -1:
            raise ValueError(f"HierarchyAgentConfig.image_radius must be >= -1 (-1: auto), got {self.image_radius!r}")


def codec_configs(config: HierarchyAgentConfig) -> tuple[Any, Any]:
    """The observation encoder's and action decoder's configs for ``config`` (one place builds them: the agent
    and the memory estimate in :mod:`agents.memory` must agree on the port sizes)."""
    from envs import ActionDecoderConfig, ObservationEncoderConfig

    return (
        ObservationEncoderConfig(
            resolution=config.obs_resolution,
            squash_scale=config.obs_squash_scale,
            low=config.obs_low,
            high=config.obs_high,
            squash_scales=config.obs_squash_scales,
        ),
        ActionDecoderConfig(bins=config.action_bins, low=config.action_low, high=config.action_high),
    )
