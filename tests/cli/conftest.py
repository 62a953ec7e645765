"""Fixtures for the CLI tests (helpers live in cli_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.cli.cli_helpers import sphgym


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A finished 30-episode random-agent run, checkpoints at episodes 10, 20, 30 (read-only for tests)."""
    run_dir = tmp_path_factory.mktemp("trained") / "run"
    result = sphgym(
        "train", "--agent", "random", "--episodes", "30", "--checkpoint-every", "10", "--keep", "3",
        "--set", "checkpoint_min_interval=0", "--set", "metric_window=5", "--run-dir", str(run_dir), "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    return run_dir
