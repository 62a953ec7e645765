"""``sphgym eval``, ``inspect`` and ``verify`` on a small trained run (real subprocesses)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from tests.cli.cli_helpers import cli_env, sphgym, sphgym_argv, tree_digest

INSPECT_KEYS = {"episode", "global_step", "weights_sha256", "state_sha256", "best_metric", "early_stopping",
                "sizes", "rng_states", "versions"}


def test_eval_prints_statistics_and_leaves_the_run_folder_byte_identical(trained_run):
    before = tree_digest(trained_run)
    result = sphgym("eval", str(trained_run), "--episodes", "5", "--seed", "3")
    assert result.returncode == 0, result.stderr
    for word in ("mean", "std", "min", "max", "return", "length", "learning disabled"):
        assert word in result.stdout
    best = sphgym("eval", str(trained_run), "--episodes", "2", "--checkpoint", "best", "--json")
    assert best.returncode == 0, best.stderr
    assert tree_digest(trained_run) == before


def test_eval_json_is_reproducible_for_a_seed(trained_run):
    first = sphgym("eval", str(trained_run), "--episodes", "4", "--seed", "9", "--json")
    second = sphgym("eval", str(trained_run), "--episodes", "4", "--seed", "9", "--json")
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert data == json.loads(second.stdout)
    assert len(data["returns"]) == 4 and data["mean_return"] == sum(data["returns"]) / 4


def test_eval_of_a_named_checkpoint_id(trained_run):
    before = tree_digest(trained_run)
    oldest = sorted((trained_run / "checkpoints").iterdir())[0].name  # ep<episodes>-st<steps>
    result = sphgym("eval", str(trained_run), "--episodes", "1", "--checkpoint", oldest, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["checkpoint_episode"] == int(oldest[2:10])
    assert tree_digest(trained_run) == before


@pytest.mark.slow
def test_eval_inspect_and_verify_while_the_run_is_training(tmp_path):
    """The README's promise: eval, inspect and verify are safe on a run that is still training (they take no
    lock and write nothing), here with the hierarchy agent, checkpoints every 2 episodes and rotation on."""
    run_dir = tmp_path / "live"
    trainer = subprocess.Popen(
        sphgym_argv("train", "--agent", "hierarchy", "--episodes", "1000000", "--checkpoint-every", "2",
                    "--keep", "3", "--set", "checkpoint_min_interval=0", "--run-dir", str(run_dir),
                    "--no-progress"),
        env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and trainer.poll() is None:
            if len(list((run_dir / "checkpoints").glob("ep*"))) >= 3:
                break
            time.sleep(0.05)
        assert trainer.poll() is None, trainer.stderr.read()
        evaluated = sphgym("eval", str(run_dir), "--episodes", "2", "--seed", "1", "--json")
        assert evaluated.returncode == 0, evaluated.stderr
        assert json.loads(evaluated.stdout)["episodes"] == 2
        inspected = sphgym("inspect", str(run_dir), "--json")
        assert inspected.returncode == 0, inspected.stderr
        assert json.loads(inspected.stdout)["valid"]
        verified = sphgym("verify", str(run_dir), "--json")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert json.loads(verified.stdout)["ok"]
        assert trainer.poll() is None, "the trainer stopped while the tools ran"
    finally:
        trainer.terminate()
        _, err = trainer.communicate(timeout=60)
    assert trainer.returncode == 143, err
    assert "Traceback" not in err


def test_inspect_json_has_the_contract_keys(trained_run):
    result = sphgym("inspect", str(trained_run), "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert INSPECT_KEYS <= set(info)
    assert (info["episode"], len(info["weights_sha256"]), len(info["state_sha256"])) == (30, 64, 64)
    human = sphgym("inspect", info["checkpoint"])
    assert human.returncode == 0, human.stderr
    assert info["weights_sha256"] in human.stdout and "episode 30" in human.stdout


def test_verify_passes_on_a_good_run(trained_run):
    result = sphgym("verify", str(trained_run))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout


def _re_sign(ckpt: Path) -> None:
    """Recompute meta.json digests and the COMPLETE marker after editing a file (a valid forgery)."""
    from agents.runner.checkpoint import json_bytes
    from agents.runner.fsutil import sha256_bytes

    meta = json.loads((ckpt / "meta.json").read_text())
    for name, entry in meta["files"].items():
        data = (ckpt / name).read_bytes()
        entry.update(sha256=sha256_bytes(data), size=len(data))
    meta["weights_sha256"] = meta["files"]["weights.safetensors"]["sha256"]
    meta["state_sha256"] = meta["files"]["state.safetensors"]["sha256"]
    meta_bytes = json_bytes(meta)
    (ckpt / "meta.json").write_bytes(meta_bytes)
    (ckpt / "COMPLETE").write_bytes(json_bytes({"meta_sha256": sha256_bytes(meta_bytes)}))


def test_verify_fails_on_a_tampered_run(trained_run, tmp_path):
    from safetensors.numpy import load, save

    run_dir = tmp_path / "copy"
    shutil.copytree(trained_run, run_dir)
    newest = sorted((run_dir / "checkpoints").iterdir())[-1]
    state = load((newest / "state.safetensors").read_bytes())
    state["rng"] = np.frombuffer(
        json.dumps(np.random.default_rng(12345).bit_generator.state).encode(), dtype=np.uint8
    ).copy()
    (newest / "state.safetensors").write_bytes(save(state))
    _re_sign(newest)
    assert sphgym("inspect", str(newest), "--json").returncode == 0  # still a valid checkpoint ...
    result = sphgym("verify", str(run_dir))
    assert result.returncode == 3, result.stdout + result.stderr  # ... but not what the run produces
    assert "MISMATCH" in result.stdout and "state_sha256" in result.stdout


def test_verify_needs_two_checkpoints(tmp_path):
    run_dir = tmp_path / "r"
    assert sphgym("train", "--agent", "random", "--episodes", "2", "--checkpoint-every", "100",
                  "--keep", "1", "--run-dir", str(run_dir), "--no-progress").returncode == 0
    result = sphgym("verify", str(run_dir))
    assert result.returncode == 1 and "fewer than two" in result.stdout + result.stderr
