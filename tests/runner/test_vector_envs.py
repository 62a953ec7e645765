"""``--n-envs N``: N env copies through Gymnasium's SyncVectorEnv, in-process (the real-process kill tests with
N = 4 are in tests/runner/test_runner_resume.py and tests/torch_agents/test_torch_resume.py).

Covers the next-step autoreset boundary (the step after a copy's episode ended is a reset step: inactive, no
transition stored across it), the episode accounting order (by step, then env index), the step-budget rounding,
exact resume from a checkpoint taken mid-rollout, and the one-line refusals.
"""

from __future__ import annotations

import csv
import hashlib
import subprocess
import sys

import numpy as np
import pytest

from agents.runner import RunConfig, Runner, env_state
from agents.runner.callbacks import StopAtStep

SMALL = {
    "ppo": {"n_steps": 32, "batch_size": 16, "n_epochs": 2, "net_arch": [16, 16], "total_timesteps": 2000},
    "dqn": {
        "learning_starts": 32, "train_freq": 8, "gradient_steps": 2, "batch_size": 16, "net_arch": [16, 16],
        "buffer_size": 200, "total_timesteps": 2000,
    },
    "sac": {"learning_starts": 32, "batch_size": 16, "net_arch": [16, 16], "buffer_size": 300},
}


def _config(agent: str = "ppo", env_id: str = "CartPole-v1", n_envs: int = 4, **run) -> RunConfig:
    values = dict(episodes=None, steps=400, checkpoint_every=3, checkpoint_min_interval=0.0, tensorboard=False)
    values.update(run)
    return RunConfig(env_id=env_id, agent=agent, agent_config=SMALL.get(agent, {}), n_envs=n_envs, **values)


def _rows(run_dir) -> list[tuple[int, int, float, int]]:
    with open(run_dir / "episodes.csv", newline="") as f:
        return [(int(r[0]), int(r[1]), float(r[2]), int(r[3])) for r in list(csv.reader(f))[1:]]


class _Spy:
    """Wraps a batched agent and records, per vector step, ``active`` and the env outcomes it was given."""

    def __init__(self, agent) -> None:
        self.agent = agent
        self.steps: list[dict[str, np.ndarray]] = []

    def __getattr__(self, name):
        return getattr(self.agent, name)

    def act_batch(self, obs, active):
        self.steps.append({"obs": np.array(obs), "active": np.array(active)})
        return self.agent.act_batch(obs, active)

    def observe_batch(self, next_obs, rewards, terminated, truncated):
        outcome = {"next_obs": next_obs, "terminated": terminated, "truncated": truncated}
        self.steps[-1].update({k: np.array(v) for k, v in outcome.items()})
        self.agent.observe_batch(next_obs, rewards, terminated, truncated)


def _spy_run(tmp_path, monkeypatch, config: RunConfig) -> tuple[_Spy, Runner]:
    from agents.runner import runner as runner_module

    spies: list[_Spy] = []
    original = runner_module._Session._build_agent

    def build(session, cfg):
        spies.append(_Spy(original(session, cfg)))
        return spies[-1]

    monkeypatch.setattr(runner_module._Session, "_build_agent", build)
    result = Runner(tmp_path / "run", config, log=None).train()
    assert result.status == "completed"
    return spies[0], result


def test_step_after_a_done_is_a_reset_step_and_no_transition_spans_it(tmp_path, monkeypatch):
    spy, _ = _spy_run(tmp_path, monkeypatch, _config("dqn", steps=600, n_envs=4))
    agent = spy.agent
    ends = 0
    for t, step in enumerate(spy.steps):
        done = step["terminated"] | step["truncated"]
        ends += int(done.sum())
        if t + 1 < len(spy.steps):
            # Gymnasium 1.x next-step autoreset: exactly the copies that ended are inactive at the next step
            assert (spy.steps[t + 1]["active"] == ~done).all()
        # a reset step reports nothing: no reward-bearing end, and its next obs is a fresh reset obs
        assert not done[~step["active"]].any()
        fresh = step["next_obs"][~step["active"]]
        assert (np.abs(fresh) <= 0.05).all()  # CartPole resets uniformly in [-0.05, 0.05]
    assert ends > 10
    stored = sum(int(step["active"].sum()) for step in spy.steps)
    assert agent.num_timesteps == stored  # one transition per active copy-step, none for reset steps
    # every stored transition's next_obs is its own step's outcome, never the next episode's first obs
    active_next = np.concatenate([s["next_obs"][s["active"]] for s in spy.steps]).astype(np.float32)
    buffer = agent.buffer
    assert buffer.size == buffer.capacity  # the ring wrapped: its rows in time order start at pos
    chronological = np.roll(buffer.next_obs, -buffer.pos, axis=0)
    np.testing.assert_array_equal(chronological, active_next[-buffer.capacity :])


def test_episodes_are_accounted_by_step_then_env_index(tmp_path, monkeypatch):
    spy, result = _spy_run(tmp_path, monkeypatch, _config("ppo", steps=800, n_envs=4))
    expected, lengths, returns = [], np.zeros(4, int), np.zeros(4)
    for t, step in enumerate(spy.steps):
        lengths += step["active"]
        returns += step["active"]  # CartPole: reward 1 per real step
        for i in np.flatnonzero(step["terminated"] | step["truncated"]):  # ascending env index
            expected.append(((t + 1) * 4, float(returns[i]), int(lengths[i])))
            lengths[i], returns[i] = 0, 0.0
    rows = _rows(tmp_path / "run")
    assert [(step, ret, length) for _, step, ret, length in rows] == expected
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    assert any(a[1] == b[1] for a, b in zip(rows, rows[1:]))  # some steps end two episodes: order matters


def test_step_budget_stops_at_first_multiple_of_n(tmp_path):
    result = Runner(tmp_path / "run", _config("ppo", steps=10, n_envs=4), log=None).train()
    assert (result.status, result.global_step) == ("completed", 12)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("agent", "env_id", "config"),
    [
        ("ppo", "CartPole-v1", {}),
        ("dqn", "CartPole-v1", {}),
        ("sac", "Pendulum-v1", {"steps": 480}),
        ("ppo", "Pendulum-v1", {"steps": 480}),
    ],
)
def test_checkpoint_mid_rollout_resumes_bit_identically(tmp_path, agent, env_id, config):
    cfg = _config(agent, env_id, n_envs=4, **config)
    if agent == "ppo" and env_id == "Pendulum-v1":
        agent_config = dict(SMALL["ppo"], normalize_observations=True, normalize_rewards=True)
        cfg = cfg.replace(agent_config=agent_config)
    reference = Runner(tmp_path / "ref", cfg, log=None).train()
    stop_at = 4 * 37  # mid-rollout (rollouts are 8 vector steps), mid-episode for every copy
    cut = Runner(tmp_path / "cut", cfg, log=None, callbacks=[StopAtStep(stop_at)]).train()
    assert (cut.status, cut.global_step) == ("stopped", stop_at)
    resumed = Runner(tmp_path / "cut", resume=True, log=None).train()
    assert resumed.status == "completed"
    for field in ("global_step", "episode", "weights_sha256", "state_sha256"):
        assert getattr(resumed, field) == getattr(reference, field), field
    for name in ("episodes.csv",):
        ref_bytes, cut_bytes = ((p / name).read_bytes() for p in (tmp_path / "ref", tmp_path / "cut"))
        assert hashlib.sha256(ref_bytes).hexdigest() == hashlib.sha256(cut_bytes).hexdigest()


def test_vector_env_snapshot_round_trip_continues_identically():
    config = _config("ppo", n_envs=3)
    envs = [env_state.make_run_vector_env(config) for _ in range(2)]
    envs[0].reset(seed=5)
    for _ in range(30):  # some copies end episodes: their autoreset flags are set at some steps
        envs[0].step(np.zeros(3, dtype=np.int64))
    snapshot = env_state.capture_env_state(envs[0])
    assert snapshot["episode_state_captured"] and len(snapshot["envs"]) == 3
    envs[1].reset(seed=99)
    env_state.restore_env_state(envs[1], snapshot)
    for t in range(40):
        actions = np.array([t % 2, 1, 0], dtype=np.int64)
        a, b = envs[0].step(actions), envs[1].step(actions)
        for x, y in zip(a[:4], b[:4]):
            np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError, match="3 booleans"):
        env_state.restore_env_state(envs[1], dict(snapshot, autoreset=[True]))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"agent": "hierarchy", "agent_config": {}}, "so --n-envs 4 is not supported: use --n-envs 1"),
        ({"agent": "random", "agent_config": {}}, "steps one env at a time"),
        ({"agent_config": {"n_steps": 30, "batch_size": 8}}, "must be a multiple of n_envs = 4"),
    ],
)
def test_unsupported_combinations_are_refused_in_one_line(tmp_path, changes, message):
    config = _config("ppo", n_envs=4).replace(**changes)
    with pytest.raises(ValueError, match=message) as info:
        Runner(tmp_path / "run", config, log=None).train()
    assert "\n" not in str(info.value)
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_env_without_capturable_episode_state_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(env_state, "can_capture_episode_state", lambda env: False)
    with pytest.raises(ValueError, match="mid-episode state sphgym can capture.*use --n-envs 1"):
        Runner(tmp_path / "run", _config("ppo", n_envs=2), log=None).train()


@pytest.mark.parametrize("value", [0, 257, True, 2.0])
def test_n_envs_is_validated(value):
    with pytest.raises(ValueError, match="n_envs must be an integer from 1 to 256"):
        RunConfig(n_envs=value)


@pytest.mark.slow
def test_cli_flag_help_print_config_and_errors(tmp_path):
    def sphgym(*args):
        return subprocess.run(
            [sys.executable, "-m", "agents.cli.main", *args], capture_output=True, text=True, timeout=120
        )

    assert "--n-envs N" in sphgym("train", "--help").stdout
    printed = sphgym("train", "--agent", "ppo", "--n-envs", "8", "--print-config")
    assert printed.returncode == 0 and "n_envs = 8" in printed.stdout
    bad = sphgym("train", "--agent", "ppo", "--n-envs", "300", "--run-dir", str(tmp_path / "a"))
    assert bad.returncode == 1 and "n_envs must be an integer from 1 to 256" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    run = tmp_path / "ok"
    trained = sphgym("train", "--agent", "ppo", "--n-envs", "2", "--steps", "40", "--run-dir", str(run))
    assert trained.returncode == 0, trained.stderr
    inspected = sphgym("inspect", str(run)).stdout
    assert "2 envs (--n-envs)" in inspected and "2 env copies" in inspected
    refused = sphgym("train", "--agent", "hierarchy", "--n-envs", "2", "--run-dir", str(tmp_path / "b"))
    assert refused.returncode == 1 and "use --n-envs 1" in refused.stderr
    assert "Traceback" not in refused.stderr
