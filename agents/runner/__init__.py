"""The episode runner: training runs with atomic checkpoints that resume bit-identically.

Public API (see the README): ``RunConfig``, ``load_run_config``, ``Runner`` → ``TrainResult``, callbacks
(``Callback``, ``EpisodeEvent``, ``CheckpointEvent``), ``evaluate`` → ``EvalResult``, ``inspect_checkpoint``,
``verify_run`` → ``VerifyReport``, ``read_folder_config``. Importing this package never imports torch.
"""

from agents.runner.callbacks import Callback, CheckpointEvent, EpisodeEvent
from agents.runner.config import RunConfig, derive_seeds
from agents.runner.config_schema import ConfigError, load_run_config
from agents.runner.errors import (
    CheckpointError,
    IncompatibleCheckpointError,
    RunLockedError,
    RunnerError,
    RunnerWarning,
)
from agents.runner.evaluation import EvalResult, evaluate
from agents.runner.inspect import inspect_checkpoint
from agents.runner.run_folder import read_config as read_folder_config
from agents.runner.runner import Runner, TrainResult
from agents.runner.verify import VerifyReport, verify_run

__all__ = [
    "Callback",
    "CheckpointError",
    "CheckpointEvent",
    "ConfigError",
    "EpisodeEvent",
    "EvalResult",
    "IncompatibleCheckpointError",
    "RunConfig",
    "RunLockedError",
    "Runner",
    "RunnerError",
    "RunnerWarning",
    "TrainResult",
    "VerifyReport",
    "derive_seeds",
    "evaluate",
    "inspect_checkpoint",
    "load_run_config",
    "read_folder_config",
    "verify_run",
]
