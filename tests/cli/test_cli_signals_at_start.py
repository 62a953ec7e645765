"""Signals at the edges (issue 15 item 12): Ctrl-C while sphgym starts is exit 130 with one line, no traceback;
SIGHUP (terminal closed) checkpoints like SIGTERM and the resumed run is exact."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from tests.runner.runner_helpers import assert_same_run, run_fingerprint, run_proc
from tests.cli.cli_helpers import REPO, cli_env
from tests.reliability.reliability_stats import count

# Runs `sphgym train` as `python -m agents.cli.main` does, sending itself SIGINT as module MODULE is imported.
# SIGINT as in a foreground terminal, where Ctrl-C comes from, even when pytest runs as a background job (which
# ignores SIGINT, and its children would inherit that).
LAUNCHER = """
import importlib.abc, os, runpy, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
class Hook(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == {module!r}:
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, Hook())
sys.argv = ["sphgym", "train", "--agent", "random", "--run-dir", {run_dir!r}, "--no-progress"]
runpy.run_module("agents.cli.main", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize(
    "module",
    [
        "agents.cli.common",  # the command modules' imports, before main() runs
        "agents.cli.sweep",
        "agents.cli.config_loading",
        "agents.runner",  # inside main(): building the run
        "gymnasium",
    ],
)
def test_ctrl_c_while_starting_is_exit_130_in_one_line(tmp_path, module):
    run_dir = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER.format(module=module, run_dir=str(run_dir))],
        capture_output=True, text=True, env=cli_env(), cwd=REPO, timeout=120,
    )
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith("interrupted"), done.stderr
    assert not run_dir.exists() or not any(run_dir.iterdir())  # nothing half-made
    count("signals at the edges", "Ctrl-C while starting")


def _with_sighup(disposition, fn, *args, **kwargs):
    """``fn`` with this process's SIGHUP set to ``disposition``, which the child inherits: SIG_DFL as under a
    terminal, SIG_IGN as under ``nohup`` (what a background job of this suite may itself be running under)."""
    previous = signal.signal(signal.SIGHUP, disposition)
    try:
        return fn(*args, **kwargs)
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_sighup_checkpoints_like_sigterm_and_the_resume_is_exact(tmp_path):
    options = {"env": "CartPole-v1", "agent": "random", "episodes": 12, "checkpoint_every": 4, "seed": 2}
    reference = tmp_path / "reference"
    assert run_proc(reference, **options)[0] == 0
    run = tmp_path / "run"
    code, result, err = _with_sighup(
        signal.SIG_DFL, run_proc, run, environ={"SPHGYM_TEST_SIGNAL_AT_STEP": "57:SIGHUP"}, **options
    )
    assert code == 128 + signal.SIGHUP, err
    assert result["status"] == "interrupted" and result["signal"] == "SIGHUP" and result["global_step"] == 57
    assert "Resume with: sphgym resume" in err
    code, result, err = run_proc(run, resume=True, episodes=12)
    assert code == 0 and result["status"] == "completed", err
    assert_same_run(run_fingerprint(reference), run_fingerprint(run))
    count("signals at the edges", "SIGHUP")


def test_the_runner_restores_an_ignored_sigint(tmp_path):
    """A background job (`nohup`, `&`): SIGINT is ignored; training leaves it ignored afterwards."""
    from agents.runner import RunConfig, Runner

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        Runner(tmp_path, RunConfig(agent="random", episodes=2, tensorboard=False), log=None).train()
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
    count("signals at the edges", "ignored SIGINT kept")


def test_under_nohup_sighup_is_left_ignored_and_the_run_goes_on(tmp_path):
    """``nohup sphgym train``: the user asked the run to survive the terminal closing, so SIGHUP stays ignored."""
    options = {"env": "CartPole-v1", "agent": "random", "episodes": 12, "checkpoint_every": 4, "seed": 2}
    code, result, err = _with_sighup(
        signal.SIG_IGN, run_proc, tmp_path / "run", environ={"SPHGYM_TEST_SIGNAL_AT_STEP": "57:SIGHUP"}, **options
    )
    assert code == 0 and result["status"] == "completed" and result["episode"] == 12, err
    count("signals at the edges", "SIGHUP under nohup")
