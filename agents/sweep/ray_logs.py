"""Keep Ray Tune's harmless restore noise off the terminal.

A driver killed between deleting an old Tune checkpoint and saving Tune's experiment state leaves that state
listing checkpoints that are gone. After ``Tuner.restore`` Tune deletes them again when newer ones arrive, and
logs each ``FileNotFoundError`` as an ERROR with a traceback, once per trial, although nothing is wrong: the
checkpoint it wanted to delete is already deleted, and the trial goes on. ``quiet_ray_logs`` drops exactly
those records; every other Ray message passes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

TUNE_CONTROLLER_LOGGER = "ray.tune.execution.tune_controller"
CHECKPOINT_ERROR = "Error handling checkpoint"


class _DeletedCheckpointFilter(logging.Filter):
    """Drop Tune's "Error handling checkpoint" record when its exception is a checkpoint already deleted."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (
            CHECKPOINT_ERROR in str(record.msg)
            and isinstance(exc, FileNotFoundError)
            and "checkpoint_" in str(exc)
        )


@contextmanager
def quiet_ray_logs() -> Iterator[None]:
    """While the block runs, Tune's already-deleted-checkpoint errors are not logged."""
    log = logging.getLogger(TUNE_CONTROLLER_LOGGER)
    only = _DeletedCheckpointFilter()
    log.addFilter(only)
    try:
        yield
    finally:
        log.removeFilter(only)
