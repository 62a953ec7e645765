"""evaluate, inspect_checkpoint and verify_run: the library functions behind `sphgym eval/inspect/verify`."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from agents.runner import CheckpointError, RunConfig, Runner, evaluate, inspect_checkpoint, verify_run
from agents.runner.checkpoint import arrays_from_bytes, arrays_to_bytes, read_checkpoint, write_checkpoint
from agents.runner.evaluation import load_weights_for_eval

CONFIG = RunConfig(
    agent="random", episodes=30, checkpoint_every=10, checkpoint_min_interval=0.0, seed=2, metric_window=5
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    Runner(run_dir, CONFIG, log=None).train()
    return run_dir


def tree_digest(root):
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_evaluate_is_reproducible_and_leaves_the_run_folder_byte_identical(run):
    before = tree_digest(run)
    first = evaluate(run, episodes=5, seed=3)
    again = evaluate(run, episodes=5, seed=3)
    other = evaluate(run, episodes=5, seed=4)
    assert tree_digest(run) == before
    assert first == again and first.returns != other.returns
    assert first.episodes == 5 and first.min_return <= first.mean_return <= first.max_return
    assert first.checkpoint_episode == 30 and first.checkpoint.name.startswith("ep00000030")
    assert json.loads(json.dumps(first.to_dict()))["returns"] == list(first.returns)


def test_evaluate_checkpoint_choices(run):
    best = evaluate(run, episodes=2, seed=0, checkpoint="best")
    assert best.checkpoint == run / "best"
    older = sorted((run / "checkpoints").iterdir())[0]
    assert evaluate(run, episodes=2, seed=0, checkpoint=str(older)).checkpoint == older
    assert evaluate(older, episodes=2, seed=0).checkpoint_episode == int(older.name[2:10])
    with pytest.raises(ValueError, match="episodes must be an integer >= 1"):
        evaluate(run, episodes=0)
    with pytest.raises(FileNotFoundError):
        evaluate(run / "nope")


def test_evaluate_disables_learning_and_hook_can_stop(run, monkeypatch):
    import agents.runner.evaluation as evaluate_module

    built = []
    original = evaluate_module.build_agent

    def spy(config, env, seed):
        agent = original(config, env, seed)
        built.append(agent)
        return agent

    monkeypatch.setattr(evaluate_module, "build_agent", spy)
    result = evaluate(run, episodes=10, seed=1, on_episode=lambda e: e.episode < 3)
    assert result.episodes == 3 and built[0].learn_enabled is False


def test_inspect_reports_what_the_cli_needs(run):
    info = inspect_checkpoint(run)
    for key in (
        "episode",
        "global_step",
        "weights_sha256",
        "state_sha256",
        "best_metric",
        "early_stopping",
        "sizes",
        "rng_states",
        "versions",
        "threads",
        "format_version",
        "config",
        "checkpoints",
    ):
        assert key in info, key
    assert info["episode"] == 30 and info["valid"] and info["problems"] == []
    assert {"python", "numpy", "env", "action_space", "agent"} <= set(info["rng_states"])
    assert info["sizes"]["total"] == sum(v for k, v in info["sizes"].items() if k != "total")
    ckpt = read_checkpoint(info["checkpoint"])
    assert info["weights_sha256"] == hashlib.sha256(ckpt.files["weights.safetensors"]).hexdigest()
    assert inspect_checkpoint(info["checkpoint"])["state_sha256"] == info["state_sha256"]
    json.dumps(info)
    with pytest.raises(FileNotFoundError):
        inspect_checkpoint(run / "missing")


def test_verify_passes_on_a_good_run(run):
    before = tree_digest(run)
    report = verify_run(run)
    assert report.ok, report.message
    assert report.start.startswith("ep00000020") and report.end.startswith("ep00000030")
    assert {c[0] for c in report.checks} >= {"weights_sha256", "state_sha256", "env.json"}
    assert tree_digest(run) == before
    assert verify_run(run, start=report.start).ok


def test_verify_fails_on_a_tampered_but_well_formed_checkpoint(tmp_path):
    Runner(tmp_path, CONFIG, log=None).train()
    newest = sorted((tmp_path / "checkpoints").iterdir())[-1]
    ckpt = read_checkpoint(newest)
    state = arrays_from_bytes(ckpt.files["state.safetensors"], "state")
    rng = json.loads(state["rng"].tobytes())
    rng["state"]["state"] += 1  # a different agent RNG, with digests recomputed: only a re-run can tell
    files = dict(ckpt.files)
    files["state.safetensors"] = arrays_to_bytes(
        {"rng": np.frombuffer(json.dumps(rng).encode(), dtype=np.uint8)}
    )
    meta = {k: v for k, v in ckpt.meta.items() if k not in ("files", "format_version", "id")}
    write_checkpoint(newest.parent, newest.name, files, meta)
    report = verify_run(tmp_path)
    assert not report.ok and "state_sha256" in report.message


def test_verify_needs_two_checkpoints(tmp_path):
    Runner(tmp_path, CONFIG.replace(episodes=3), log=None).train()
    for path in sorted((tmp_path / "checkpoints").iterdir())[:-1]:
        import shutil

        shutil.rmtree(path)
    report = verify_run(tmp_path)
    assert not report.ok and "fewer than two" in report.message


def test_best_weights_with_a_wrong_digest_are_refused(tmp_path):
    Runner(tmp_path, CONFIG.replace(episodes=3, best_every=1, metric_window=2), log=None).train()
    info = json.loads((tmp_path / "best" / "best.json").read_text())
    info["weights_sha256"] = "0" * 64
    (tmp_path / "best" / "best.json").write_text(json.dumps(info))
    with pytest.raises(CheckpointError, match="does not match the digest"):
        load_weights_for_eval(tmp_path, "best")
