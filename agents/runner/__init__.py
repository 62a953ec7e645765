"""The episode runner: training runs with atomic checkpoints that resume bit-identically.

Public API (see the README): ``RunConfig``, ``Runner`` → ``TrainResult``,
``EpisodeEvent``, ``evaluate`` → ``EvalResult``, ``inspect_checkpoint``, ``verify_run`` → ``VerifyReport``.
Importing this package never imports torch.
"""

from agents.runner.config import RunConfig, derive_seeds, load_run_config
from agents.runner.errors import (
    CheckpointError,
    IncompatibleCheckpointError,
    RunLockedError,
    RunnerError,
    RunnerWarning,
)
from agents.runner.evaluation import EvalResult, evaluate
from agents.runner.inspect import inspect_checkpoint
from agents.runner.runner import EpisodeEvent, Runner, TrainResult, read_folder_config
from agents.runner.verify import VerifyReport, verify_run

__all__ = [
    "CheckpointError",
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
