"""``sphgym train`` / ``sphgym resume`` happy paths, config precedence, signals (real subprocesses)."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.cli.cli_helpers import cli_env, sphgym, sphgym_argv

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def rows(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "episodes.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_train_default_agent_is_the_hierarchy_and_summary_says_what_next(tmp_path):
    run_dir = tmp_path / "h"
    result = sphgym("train", "--episodes", "3", "--run-dir", str(run_dir), "--no-progress")
    assert result.returncode == 0, result.stderr
    config = json.loads((run_dir / "config.json").read_text())
    assert (config["agent"], config["env_id"], config["episodes"]) == ("hierarchy", "CartPole-v1", 3)
    assert len(rows(run_dir)) == 3
    summary = result.stdout.strip().splitlines()[-1]
    for hint in (str(run_dir), "sphgym eval", "tensorboard --logdir"):
        assert hint in summary
    assert "Traceback" not in result.stderr


def test_default_run_dir_is_named_after_env_agent_seed_and_sanitised(tmp_path):
    result = sphgym(
        "train", "--env", "sphgym/CartPoleNoVelocity-v0", "--agent", "random", "--seed", "4",
        "--episodes", "2", "--no-progress", cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.startswith("sphgym--CartPoleNoVelocity-v0__random__s4__")
    assert "/" not in run_dir.name and len(rows(run_dir)) == 2


def test_config_file_then_flags_then_set_precedence(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(
        'env_id = "Acrobot-v1"\nseed = 5\nepisodes = 2\ncheckpoint_every = 7\n'
        '[env_kwargs]\nmax_episode_steps = 20\n[agent]\nname = "random"\n'
    )
    run_dir = tmp_path / "r"
    result = sphgym(
        "train", "--config", str(config), "--seed", "6", "--set", "checkpoint_every=3",
        "--run-dir", str(run_dir), "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["env_id"] == "Acrobot-v1" and saved["agent"] == "random"
    assert (saved["seed"], saved["episodes"], saved["checkpoint_every"]) == (6, 2, 3)
    assert saved["env_kwargs"] == {"max_episode_steps": 20}
    assert all(int(r["length"]) <= 20 for r in rows(run_dir))


def test_print_config_is_a_valid_config_file_with_typed_agent_overrides(tmp_path):
    result = sphgym(
        "train", "--agent", "dqn", "--agent.net_arch", "32,32", "--set", "agent.gamma=0.5", "--steps", "500",
        "--print-config",
    )
    assert result.returncode == 0, result.stderr
    data = tomllib.loads(result.stdout)
    assert data["agent"]["name"] == "dqn"
    assert data["agent"]["net_arch"] == [32, 32] and data["agent"]["gamma"] == 0.5
    assert data["steps"] == 500 and "episodes" not in data  # --steps alone: no episode cap
    # ... and the printed file is accepted back as --config
    path = tmp_path / "printed.toml"
    path.write_text(result.stdout)
    again = sphgym("train", "--config", str(path), "--print-config")
    assert again.returncode == 0, again.stderr
    assert tomllib.loads(again.stdout) == data


def test_resume_raises_the_target_and_a_finished_run_says_so(tmp_path):
    run_dir = tmp_path / "r"
    first = sphgym("train", "--agent", "random", "--episodes", "4", "--run-dir", str(run_dir),
                   "--no-progress")
    assert first.returncode == 0, first.stderr
    done = sphgym("resume", str(run_dir), "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "already finished" in done.stdout + done.stderr
    more = sphgym("train", "--resume", str(run_dir), "--episodes", "7", "--no-progress")
    assert more.returncode == 0, more.stderr
    assert [int(r["episode"]) for r in rows(run_dir)] == list(range(1, 8))


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_checkpoints_and_exits_with_a_resume_hint(tmp_path, sig, code):
    run_dir = tmp_path / "r"
    proc = subprocess.Popen(
        sphgym_argv("train", "--agent", "random", "--episodes", "1000000", "--checkpoint-every", "1000000",
                    "--run-dir", str(run_dir), "--no-progress"),
        env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until the loop is running (a few episodes logged)
            csv_path = run_dir / "episodes.csv"
            if csv_path.exists() and csv_path.stat().st_size > 200:
                break
            time.sleep(0.05)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    assert f"sphgym resume {run_dir}" in out + err
    assert "Traceback" not in err
    info = json.loads(sphgym("inspect", str(run_dir), "--json").stdout)
    assert info["valid"] and info["episode"] > 0
    target = info["episode"] + 2
    resumed = sphgym("resume", str(run_dir), "--episodes", str(target), "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    assert len(rows(run_dir)) == target
    # ... and the resumed run ends exactly like one trained to that target without a signal.
    whole = tmp_path / "whole"
    straight = sphgym("train", "--agent", "random", "--episodes", str(target), "--checkpoint-every", "1000000",
                      "--run-dir", str(whole), "--no-progress")
    assert straight.returncode == 0, straight.stderr
    assert (run_dir / "episodes.csv").read_bytes() == (whole / "episodes.csv").read_bytes()
    ends = [json.loads(sphgym("inspect", str(d), "--json").stdout) for d in (run_dir, whole)]
    assert [(e["weights_sha256"], e["state_sha256"], e["global_step"]) for e in ends[:1]] == [
        (e["weights_sha256"], e["state_sha256"], e["global_step"]) for e in ends[1:]
    ]


def test_progress_bar_is_drawn_on_a_terminal(tmp_path):
    pty = pytest.importorskip("pty")
    import os

    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            sphgym_argv("train", "--agent", "random", "--episodes", "12", "--run-dir", str(tmp_path / "r")),
            env=cli_env(), stdout=subprocess.PIPE, stderr=slave, text=True,
        )
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(timeout=60)
    finally:
        os.close(master)
    drawn = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0
    assert "12/12" in drawn and "steps/s" in drawn and "best" in drawn
    assert "steps/s" not in proc.stdout.read()  # the bar never goes to stdout


def test_a_run_folder_in_use_is_refused(tmp_path):
    run_dir = tmp_path / "r"
    proc = subprocess.Popen(
        sphgym_argv("train", "--agent", "random", "--episodes", "1000000", "--run-dir", str(run_dir),
                    "--no-progress"),
        env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not (run_dir / "episodes.csv").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        second = sphgym("resume", str(run_dir), "--no-progress")
        assert second.returncode == 1, second.stderr
        assert "Traceback" not in second.stderr and str(proc.pid) in second.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    assert proc.returncode == 143
