"""Exceptions and the warning category of the runner (one place, so the CLI can map them to exit codes)."""

from __future__ import annotations


class RunnerError(Exception):
    """Base class of the runner's own errors."""


class CheckpointError(RunnerError):
    """A checkpoint is missing, torn or corrupt (the message names the file and the problem)."""


class IncompatibleCheckpointError(RunnerError):
    """A checkpoint was made by another config, agent, env or format version (the message names it)."""


class EnvCreationError(RunnerError):
    """The env could not be made: unknown or wrongly typed ``env_kwargs``, a module that is not installed, ..."""


class TrainingDivergedError(RunnerError):
    """The agent's weights or losses became NaN/inf: the run stops before saving them."""


class RunLockedError(RunnerError):
    """Another live process is training in this run folder."""


class RunnerWarning(UserWarning):
    """Something the user should know but that does not stop the run (stale lock, skipped checkpoint, ...)."""
