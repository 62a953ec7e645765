"""Golden test: pins what training produces, so a refactor that moves code cannot move results.

For CartPole-v1 seed 0 it trains the hierarchy agent (30 episodes), DQN and PPO (small step budgets) and compares
the final ``weights_sha256``, ``state_sha256`` and the sha256 of ``episodes.csv`` with values recorded before the
issue-11 redesign; it also pins the key set of ``sphgym inspect --json``, the exit codes of a few commands and
the rows of the README's error table.

Every config is spelled out as a literal here (run fields and every agent field), never taken from the dataclass
defaults: retuning a default must not break this test, and this test must not hide a retuned default.

When an algorithm change is INTENDED (new update rule, new field that changes the numbers, a different env
version), re-record the expected digests below consciously, in a commit of its own that says why. Print the new
values with: ``SPHGYM_GOLDEN_PRINT=1 python -m pytest -q -s tests/test_golden.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agents.runner import RunConfig, Runner

REPO = Path(__file__).resolve().parents[1]
PRINT = os.environ.get("SPHGYM_GOLDEN_PRINT") == "1"

RUN_FIELDS = {
    "env_id": "CartPole-v1",
    "env_kwargs": {},
    "seed": 0,
    "steps": None,
    "checkpoint_every": 10,
    "checkpoint_min_interval": 0.0,
    "keep": 3,
    "metric_window": 100,
    "best_every": 10,
    "stop_when_solved": True,
    "reward_threshold": None,
    "early_stopping_patience": None,
    "early_stopping_min_delta": 0.0,
    "early_stopping_mode": "max",
    "tensorboard": False,
}

HIERARCHY = {
    "layers": [[5, 5, 64]],
    "obs_radius": 2,
    "action_radius": 2,
    "up_radius": 2,
    "down_radius": 2,
    "recurrent_radius": 0,
    "recurrent_importance": 0.5,
    "action_importance": 1.0,
    "history_capacity": 512,
    "policy_dendrites": 4,
    "value_dendrites": 8,
    "obs_resolution": 16,
    "obs_squash_scale": 1.0,
    "obs_low": [],
    "obs_high": [],
    "action_bins": 9,
    "discount": 0.99,
    "smoothing": 0.02,
    "value_lr": 0.001,
    "policy_lr": 0.03,
    "delay_rate": 0.01,
    "policy_clip": 0.2,
    "td_scale_decay": 0.999,
    "min_steps": 16,
    "history_iters": 16,
    "encoder_vigilance": 0.95,
    "encoder_lr": 0.5,
    "encoder_active_ratio": 0.1,
    "reward_scale": 1.0,
    "episodic": True,
    "terminal_reward": 0.0,
}

DQN = {
    "learning_rate": 0.0023,
    "buffer_size": 2000,
    "learning_starts": 200,
    "batch_size": 32,
    "tau": 1.0,
    "gamma": 0.99,
    "train_freq": 16,
    "gradient_steps": 4,
    "target_update_interval": 10,
    "exploration_fraction": 0.16,
    "exploration_initial_eps": 1.0,
    "exploration_final_eps": 0.04,
    "max_grad_norm": 10.0,
    "net_arch": [32, 32],
    "total_timesteps": 1500,
    "deterministic_when_not_learning": True,
    "fused_adam": True,
    "torch_threads": 1,
    "device": "cpu",
}

PPO = {
    "n_steps": 64,
    "batch_size": 32,
    "n_epochs": 2,
    "learning_rate": 0.001,
    "learning_rate_schedule": "linear",
    "clip_range": 0.2,
    "clip_range_schedule": "linear",
    "gamma": 0.98,
    "gae_lambda": 0.8,
    "ent_coef": 0.0,
    "vf_coef": 0.5,
    "max_grad_norm": 0.5,
    "normalize_advantage": True,
    "net_arch": [32, 32],
    "ortho_init": True,
    "adam_eps": 1e-05,
    "total_timesteps": 1500,
    "deterministic_when_not_learning": True,
    "fused_adam": True,
    "torch_threads": 1,
    "device": "cpu",
}

CASES = {
    "hierarchy": dict(RUN_FIELDS, agent="hierarchy", agent_config=HIERARCHY, episodes=30),
    "dqn": dict(RUN_FIELDS, agent="dqn", agent_config=DQN, episodes=None, steps=1500),
    "ppo": dict(RUN_FIELDS, agent="ppo", agent_config=PPO, episodes=None, steps=1500),
}

# Recorded on commit d81b0bb (before the issue-11 refactor). Re-record only for an intended algorithm change.
EXPECTED = {
    "hierarchy": {
        "episode": 30,
        "global_step": 731,
        "status": "completed",
        "weights_sha256": "575d1e0eaa5bc89f973ce1c7565ecbaee8247c0ad37c16ce793d813f72151fff",
        "state_sha256": "021868d95949d870c387ae0ef23f1d84ab16f64899a450e691a42a622c5e8c1a",
        "episodes_csv_sha256": "b018070bdd9ed4c083f71d0ddf1ec461ca4959c6478f3da680c83db95dfcf0de"
    },
    "dqn": {
        "episode": 145,
        "global_step": 1500,
        "status": "completed",
        "weights_sha256": "30a2da920a24f3877027a8393b1694b15d1a0fdd73f826cb5e0acaa97e5659f6",
        "state_sha256": "5755466053f778c2b15070682e926ee20c3e6267bb4aaf5db99c5984e85a0c38",
        "episodes_csv_sha256": "e16a55d7980196688e66a1ce6f91602b057ae8e4d4426679436f045047408e0b"
    },
    "ppo": {
        "episode": 64,
        "global_step": 1500,
        "status": "completed",
        "weights_sha256": "857b25fc3bb0b161e70ff199b1abe761ff8890db02b42db5fe75ce6f24d064ba",
        "state_sha256": "ef7869953c4ec1b5aae19fb542a5a1a4cf3e1693d09a2fdf5179d72027dab255",
        "episodes_csv_sha256": "e6829d901e5d58cc58b20f7641e2155c74079e0ef1cd2997bb69cb3765eb3146"
    }
}

INSPECT_JSON_KEYS = [
    "best_episode",
    "best_global_step",
    "best_metric",
    "best_saved",
    "checkpoint",
    "checkpoints",
    "config",
    "created",
    "early_stopping",
    "env_episode_state_captured",
    "episode",
    "episode_step",
    "format_version",
    "global_step",
    "id",
    "in_episode",
    "kind",
    "problems",
    "reward_threshold",
    "rng_states",
    "run_dir",
    "seeds",
    "sizes",
    "state_keys",
    "state_sha256",
    "status",
    "threads",
    "valid",
    "versions",
    "weights_keys",
    "weights_sha256"
]
EXIT_CODES = {
    "train --agent dqm": 1,
    "train --episodes -3": 1,
    "train --set sed=1": 1,
    "train into a used folder": 1,
    "resume of a finished run": 0,
    "resume of a missing folder": 1,
    "eval of a missing folder": 1,
    "eval --episodes 2": 0,
    "verify": 0
}
# sha256 of each row of the README's "#### Errors (exit 1)" table as recorded; rows may be added, none may change.
README_ERROR_ROWS = [
    "a29e38eb0e9763760dc86d1afba06a21fca2d4653a258392a3579d6c8876762c",
    "a44cebc497f9e05069d429f541350454268024ca1d354ba3f64b7f8f257fdcc7",
    "aba117f44d95ab0f23fca305b7e1bf85a80539e581c04c29aa2aac3106c10898",
    "0eaf40e93dad10a32ef5029e0e58d965b6b0de7ce1f8f9648fa52036213b4499",
    "2ec0e7c2e21a716c0c71a4af72a1c6c2d4a8a9dd752009c755925cbd92365d2e",
    "df8ba337bc8aa5df8479e1fd132db08fcbb47c55fa0828dcdd76e55f0464b029",
    "d32439832758cba15b3b6e3293c684adfb24d537da4efd7a02604a27d9870b2c",
    "c4de0723604871185c12ae7e21a07935784ed1a077a91cc11079e0f99c807942",
    "4217b128d22b6a99ced03f56864075d3ed4690edbb9f4b956259082b45e73c00",
    "247f29f869161874f849024800218c6fcd59e83e6604d64fba742449a385801e",
    "3f635cb988a2ee549830127d61b8b28e2c8688fdaadff426f34d03781ef04101",
    "4b8c09d46df8e3f492fa7b28fdb6a5e78bf2a3df89ffaf94c42cad5180750dd2",
    "f4726ac9b14774374184cf0487aeea050c5ac083a926c376b04be842a29f50ca",
    "1af2455ed33049f9c589ac2972ceb05a0d43a2f40ff9b2425a68aae7018f3be7",
    "528f65fa7759e17ea3704f582d642fe9a26c101068a826a1e558c46ab8e4395b",
    "9425d44f8979a6fcb5d8da55baf03636fa27738bc1bf42787afc2ab905b31dd6",
    "b144278bc4e1ab46e8d4d5d7a805a79568ea4bcde354d61a2534e493e3800e5d",
    "70802e111b22d3970b100b9e306cd536003a10bdcaeea20341861892f1bedd4e",
    "d30cb4b9ccd063a1022064636cb05572efec09419ee1db030a8b5f5e2d68157d",
    "13b12b3549c2d933debecff68d4acf0225adec5c49cad9e71f0b418a50979199",
    "2c0460ff42a7b343074b5edc4adc6e2a8c39fe465dc4051e016d800752cc7ec7",
    "a5fc52a51688d4ab6381d614d28eb59c893b87ded7e305b5a62b231774cc2fba",
    "43fd30556401cbf15d6ccd2bbe400343418fb6fb9ccdd14448fe44f98ea2a47f",
    "d3c6b515dd0c44d535499f4e793f7c7b3f4beed60140df7d9330cd5fbc04ac28",
    "8531c2faee9da542841ec7255fb84ab491b400fd9306f40d3411f25234f06a9a",
    "370ead4533e0d6d2d41b99902cd0a760755b5f02e273c0963f0a596be02e3d12",
    "6ee6a3e76d8a61e37c0e9ee88feea4ed8fc6c603b024872238724ba2b467a376"
]


def _train(run_dir: Path, name: str) -> dict:
    result = Runner(run_dir, RunConfig.from_dict(CASES[name]), handle_signals=False).train()
    return {
        "episode": result.episode,
        "global_step": result.global_step,
        "status": result.status,
        "weights_sha256": result.weights_sha256,
        "state_sha256": result.state_sha256,
        "episodes_csv_sha256": hashlib.sha256((run_dir / "episodes.csv").read_bytes()).hexdigest(),
    }


def _sphgym(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("SPHGYM_STARTUP_PROBE", None)
    return subprocess.run(
        [sys.executable, "-m", "agents.cli.main", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _readme_error_rows() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    table = text.split("#### Errors (exit 1)", 1)[1].split("####", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| Situation")]
    return [hashlib.sha256(row.encode("utf-8")).hexdigest() for row in rows]


@pytest.fixture(scope="module")
def hierarchy_run(tmp_path_factory) -> tuple[Path, dict]:
    run_dir = tmp_path_factory.mktemp("golden") / "hierarchy"
    return run_dir, _train(run_dir, "hierarchy")


@pytest.mark.slow
def test_hierarchy_agent_is_unchanged(hierarchy_run) -> None:
    _, got = hierarchy_run
    if PRINT:
        print("hierarchy", json.dumps(got, indent=4))
    assert got == EXPECTED["hierarchy"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dqn", "ppo"])
def test_torch_agents_are_unchanged(tmp_path, name) -> None:
    got = _train(tmp_path / name, name)
    if PRINT:
        print(name, json.dumps(got, indent=4))
    assert got == EXPECTED[name]


@pytest.mark.slow
def test_command_line_surface_is_unchanged(hierarchy_run, tmp_path) -> None:
    run_dir, _ = hierarchy_run
    inspected = _sphgym("inspect", str(run_dir), "--json")
    assert inspected.returncode == 0, inspected.stderr
    keys = sorted(json.loads(inspected.stdout))
    codes = {
        "train --agent dqm": _sphgym("train", "--agent", "dqm", "--run-dir", str(tmp_path / "a")).returncode,
        "train --episodes -3": _sphgym("train", "--episodes", "-3", "--run-dir", str(tmp_path / "b")).returncode,
        "train --set sed=1": _sphgym("train", "--set", "sed=1", "--run-dir", str(tmp_path / "c")).returncode,
        "train into a used folder": _sphgym("train", "--run-dir", str(run_dir)).returncode,
        "resume of a finished run": _sphgym("resume", str(run_dir)).returncode,
        "resume of a missing folder": _sphgym("resume", str(tmp_path / "none")).returncode,
        "eval of a missing folder": _sphgym("eval", str(tmp_path / "none")).returncode,
        "eval --episodes 2": _sphgym("eval", str(run_dir), "--episodes", "2").returncode,
        "verify": _sphgym("verify", str(run_dir)).returncode,
    }
    rows = _readme_error_rows()
    if PRINT:
        print("INSPECT_JSON_KEYS =", json.dumps(keys))
        print("EXIT_CODES =", json.dumps(codes, indent=4))
        print("README_ERROR_ROWS =", json.dumps(rows, indent=4))
    assert keys == INSPECT_JSON_KEYS
    assert codes == EXIT_CODES
    missing = [digest for digest in README_ERROR_ROWS if digest not in rows]
    assert not missing, f"{len(missing)} row(s) of the README's error table changed or vanished"
