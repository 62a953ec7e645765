"""Helpers for the CLI tests: run ``sphgym`` as a real subprocess, hash a folder tree."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("SPHGYM_STARTUP_PROBE", None)
    env.setdefault("NUMBA_NUM_THREADS", "1")
    return env


def sphgym_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "agents.cli.main", *args]


def sphgym(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``sphgym ARGS`` to completion; stdout/stderr captured as text (stderr is not a TTY: no bar)."""
    return subprocess.run(
        sphgym_argv(*args), cwd=cwd, env=cli_env(), capture_output=True, text=True, timeout=timeout
    )


def tree_digest(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``root`` (directories listed too)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        out[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "<dir>"
    return out
