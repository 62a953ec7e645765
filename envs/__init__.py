"""The Gymnasium side of sphgym: making envs, encoding observations, decoding actions, capturing env state.

Imports only gymnasium and numpy. Importing this package registers sphgym's own envs
(``sphgym/CartPoleNoVelocity-v0``, ``sphgym/DelayedCue-v0``, ``sphgym/PixelCatch-v0``) with Gymnasium.

Modules, one job each:

* :mod:`envs.make` -- :func:`make_env`, :func:`list_env_ids`.
* :mod:`envs.observation_codecs` -- observations -> column indices (:func:`make_observation_encoder`).
* :mod:`envs.action_codecs` -- column indices <-> actions (:func:`make_action_decoder`).
* :mod:`envs.capture` -- env RNG, wrapper and episode state as JSON-able snapshots for exact resume.
* :mod:`envs.image_observations` -- image observations -> small flat uint8 images (:class:`ImageObservationCodec`).
* :mod:`envs.cartpole_no_velocity`, :mod:`envs.delayed_cue` -- memory tasks; :mod:`envs.pixel_catch` -- a tiny
  pixel game; :mod:`envs.minigrid_image` -- MiniGrid seen as images (``sphgym/MiniGrid-*``, optional
  ``minigrid``); :mod:`envs.registration`.
* :mod:`envs.port_layout`, :mod:`envs.exact_values`, :mod:`envs.errors` -- helpers and exceptions.
"""

from envs.registration import SPHGYM_ENV_IDS, register_envs

register_envs()

from envs.action_codecs import ActionDecoder, ActionDecoderConfig, make_action_decoder  # noqa: E402
from envs.capture import (  # noqa: E402
    EnvSnapshot,
    can_capture_episode_state,
    capture_env_state,
    register_episode_state,
    restore_env_state,
)
from envs.cartpole_no_velocity import CartPoleNoVelocityEnv  # noqa: E402
from envs.delayed_cue import DelayedCueEnv  # noqa: E402
from envs.errors import (  # noqa: E402
    NonFiniteObservationError,
    SnapshotMismatchError,
    UnknownEnvironmentError,
    UnsupportedSpaceError,
)
from envs.image_observations import ImageObservationCodec, ImageObservationConfig, is_image_space  # noqa: E402
from envs.make import list_env_ids, make_env  # noqa: E402
from envs.observation_codecs import (  # noqa: E402
    ObservationEncoder,
    ObservationEncoderConfig,
    make_observation_encoder,
)
from envs.pixel_catch import PixelCatchEnv  # noqa: E402
from envs.port_layout import grid_shape  # noqa: E402

__all__ = [
    "SPHGYM_ENV_IDS",
    "ActionDecoder",
    "ActionDecoderConfig",
    "CartPoleNoVelocityEnv",
    "DelayedCueEnv",
    "EnvSnapshot",
    "ImageObservationCodec",
    "ImageObservationConfig",
    "NonFiniteObservationError",
    "ObservationEncoder",
    "ObservationEncoderConfig",
    "PixelCatchEnv",
    "SnapshotMismatchError",
    "UnknownEnvironmentError",
    "UnsupportedSpaceError",
    "can_capture_episode_state",
    "capture_env_state",
    "grid_shape",
    "is_image_space",
    "list_env_ids",
    "make_action_decoder",
    "make_env",
    "make_observation_encoder",
    "register_envs",
    "register_episode_state",
    "restore_env_state",
]
