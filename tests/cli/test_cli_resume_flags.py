"""`train --resume` with --print-config / --seed (issue 15 item 5): print without training; name the run's seed."""

from __future__ import annotations

import shutil
import tomllib

from tests.cli.cli_helpers import sphgym, tree_digest


def test_resume_with_print_config_prints_and_writes_nothing(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    before = tree_digest(run)
    result = sphgym("train", "--resume", str(run), "--print-config", "--episodes", "50", "--seed", "99")
    assert result.returncode == 0, result.stderr
    printed = tomllib.loads(result.stdout)
    assert printed["episodes"] == 50 and printed["seed"] == 0  # the raised target; the run's own seed
    assert tree_digest(run) == before  # nothing trained, nothing written


def test_resume_with_another_seed_names_the_runs_own_seed(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    result = sphgym("train", "--resume", str(run), "--seed", "99", "--episodes", "31", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "ignores seed=99" in result.stderr
    assert "(seed 0," in result.stderr and "seed 99" not in result.stderr
