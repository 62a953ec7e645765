"""Unbounded reads and allocations (issue 15 item 8): config files are read with a size cap and never block;
sweep seed ranges and grids are bounded before anything is built."""

from __future__ import annotations

import os
import subprocess

import pytest

from agents.runner.config_schema import MAX_CONFIG_BYTES
from agents.sweep.spec import MAX_SEEDS, SweepSpecError, grid_points, parse_seeds
from tests.cli.cli_helpers import cli_env, sphgym_argv
from tests.reliability.reliability_stats import count


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    # a memory ceiling: an unbounded read of /dev/zero fails here instead of endangering the machine
    return subprocess.run(
        ["prlimit", f"--as={2 << 30}", *sphgym_argv(*args)], capture_output=True, text=True, env=cli_env(),
        timeout=timeout,
    )


def _one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sphgym train: error: config file"), result.stderr
    return lines[0]


def test_dev_zero_and_huge_files_are_refused_by_size(tmp_path):
    assert "larger than 1024 KiB" in _one_error_line(_run("train", "--config", "/dev/zero", "--print-config"))
    big = tmp_path / "big.toml"
    big.write_bytes(b"# padding\n" * (MAX_CONFIG_BYTES // 10 + 1))
    assert "larger than" in _one_error_line(_run("train", "--config", str(big), "--print-config"))
    count("input limits", "huge config refused")


def test_a_fifo_config_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "c.toml"
    os.mkfifo(fifo)
    line = _one_error_line(_run("train", "--config", str(fifo), "--print-config", timeout=30))
    assert "not a regular file" in line
    count("input limits", "FIFO config refused")


def test_dev_null_is_an_empty_config(tmp_path):
    result = _run("train", "--config", "/dev/null", "--print-config")
    assert result.returncode == 0 and 'env_id = "CartPole-v1"' in result.stdout, result.stderr


def test_seed_ranges_and_grids_are_bounded():
    assert len(parse_seeds(f"0-{MAX_SEEDS - 1}")) == MAX_SEEDS
    for text in ("0-100000000", f"0-{MAX_SEEDS}", "5,0-9999", "99999999999999999999999", str(2**63)):
        with pytest.raises(SweepSpecError):
            parse_seeds(text)
    with pytest.raises(SweepSpecError, match="config points"):
        grid_points([(f"k{i}", [str(v) for v in range(10)]) for i in range(10)])  # 10^10 points, never built
    count("input limits", "seeds and grid bounded")
