"""Exact resume of the torch agents through the real runner, with real processes (the runner's own helpers).

DQN and PPO (CartPole), SAC and Box-action PPO with observation and reward normalisation (Pendulum) train
once uninterrupted; then the same run is cut by SIGTERM mid-episode (the checkpoint is taken right there:
mid-rollout, with a partly filled replay ring), resumed, SIGKILLed mid-episode (resumes from the last
periodic checkpoint), and resumed to the end. Final weights/state digests, counters, RNGs,
env snapshot, episodes.csv, best/ and TensorBoard series (every tag but time/fps, the agents' ``metrics()``
losses included) must equal the uninterrupted run's.
"""

from __future__ import annotations

import signal

import pytest

from tests.runner.runner_helpers import assert_same_run, mid_episode_step, run_fingerprint, run_proc, tb_scalars

pytestmark = pytest.mark.slow

# the agents' own TensorBoard tags (their metrics()), which the resumed run must reproduce like the runner's
AGENT_TAGS = {
    "dqn": {"losses/td_loss", "losses/q_values", "charts/epsilon"},
    "ppo": {
        "charts/learning_rate",
        "losses/value_loss",
        "losses/policy_loss",
        "losses/entropy",
        "losses/old_approx_kl",
        "losses/approx_kl",
        "losses/clipfrac",
        "losses/explained_variance",
    },
    "sac": {"losses/qf_loss", "losses/actor_loss", "losses/alpha", "losses/alpha_loss", "charts/learning_rate"},
}

PPO_CARTPOLE = {"n_steps": 64, "batch_size": 32, "n_epochs": 2, "net_arch": [32, 32], "total_timesteps": 1500}
# learning from step 64, 2 gradient steps every 4 env steps, a ring of 500 that wraps during the run
SAC_PENDULUM = {
    "learning_starts": 64,
    "train_freq": 4,
    "gradient_steps": 2,
    "target_update_interval": 2,
    "batch_size": 32,
    "net_arch": [32, 32],
    "buffer_size": 500,
}

CASES = [
    pytest.param(
        "CartPole-v1",
        40,
        "dqn",
        # small ring (wraps during the run), an update every 16 steps
        {
            "learning_starts": 64,
            "train_freq": 16,
            "gradient_steps": 4,
            "batch_size": 16,
            "net_arch": [32, 32],
            "buffer_size": 300,
            "total_timesteps": 1500,
        },
        id="dqn",
    ),
    pytest.param(
        "CartPole-v1",
        40,
        "ppo",
        PPO_CARTPOLE,
        id="ppo",
    ),
    pytest.param(
        "Pendulum-v1",
        6,
        "sac",
        SAC_PENDULUM,
        id="sac-pendulum",
    ),
    pytest.param(
        "Pendulum-v1",
        6,
        "ppo",
        {
            "n_steps": 96,
            "batch_size": 32,
            "n_epochs": 2,
            "net_arch": [32, 32],
            "total_timesteps": 1200,
            "normalize_observations": True,
            "normalize_rewards": True,
        },
        id="ppo-box-pendulum",
    ),
]


# N = 4 env copies: PPO's 4-column rollout and SAC's per-transition training from batched acting
VECTOR_CASES = [
    pytest.param(
        "CartPole-v1",
        40,
        "ppo",
        PPO_CARTPOLE,
        id="ppo-4-envs",
    ),
    pytest.param(
        "Pendulum-v1",
        12,
        "sac",
        SAC_PENDULUM,
        id="sac-pendulum-4-envs",
    ),
]


def _episode_ends(run_dir) -> list[int]:
    return [int(line.split(",")[1]) for line in (run_dir / "episodes.csv").read_text().splitlines()[1:]]


@pytest.mark.parametrize(("env", "episodes", "agent", "agent_config"), CASES)
def test_killed_and_resumed_torch_run_equals_uninterrupted_run(tmp_path, env, episodes, agent, agent_config):
    _kill_resume_and_compare(tmp_path, env, episodes, agent, agent_config, n_envs=1)


@pytest.mark.parametrize(("env", "episodes", "agent", "agent_config"), VECTOR_CASES)
def test_killed_and_resumed_run_of_4_envs_equals_uninterrupted_run(tmp_path, env, episodes, agent, agent_config):
    _kill_resume_and_compare(tmp_path, env, episodes, agent, agent_config, n_envs=4)


def _kill_resume_and_compare(tmp_path, env, episodes, agent, agent_config, n_envs):
    options = {
        "env": env,
        "agent": agent,
        "agent_config": agent_config,
        "episodes": episodes,
        "checkpoint_every": max(1, episodes // 6),
        "n_envs": n_envs,
    }
    reference = tmp_path / "reference"
    code, result, err = run_proc(reference, seed=3, **options)
    assert code == 0, err
    ends = _episode_ends(reference)
    final_episodes = result["episode"]  # N envs: every episode of the target's vector step counts (< N extra)
    assert episodes <= final_episodes < episodes + n_envs
    scalars = tb_scalars(reference)
    assert AGENT_TAGS[agent] <= scalars.keys()
    # learning happened before the last episode ended: the losses logged there are not the initial zeros
    main_loss = {"dqn": "losses/td_loss", "ppo": "losses/value_loss", "sac": "losses/qf_loss"}[agent]
    assert scalars[main_loss][-1][1] != 0.0

    run = tmp_path / "interrupted"
    k1 = mid_episode_step(ends, 0.3, n_envs)
    code, result, err = run_proc(run, seed=3, environ={"SPHGYM_TEST_SIGNAL_AT_STEP": f"{k1}:SIGTERM"}, **options)
    assert code == 128 + signal.SIGTERM, err
    assert result["global_step"] == k1  # checkpointed mid-episode

    k2 = mid_episode_step(ends, 0.7, n_envs)
    code, _, err = run_proc(run, resume=True, environ={"SPHGYM_TEST_SIGNAL_AT_STEP": f"{k2}:SIGKILL"}, **options)
    assert code == -signal.SIGKILL, err

    code, result, err = run_proc(run, resume=True, **options)
    assert code == 0, err
    assert result["episode"] == final_episodes
    assert_same_run(run_fingerprint(reference), run_fingerprint(run))
