"""The headline promise, with real processes: interrupt a run any way you like, resume, get the same run.

Each case trains uninterrupted once, then trains the same config again while interrupting it: SIGTERM and
SIGINT mid-episode (the process signals itself right after a chosen global step), a real timed SIGKILL (the
test kills it once ``episodes.csv`` reaches a row count), and a SIGKILL mid-episode at a chosen step; it
resumes after each. The final checkpoint (weights_sha256, state_sha256, counters, RNGs, env snapshot),
``episodes.csv``, ``best/`` and every TensorBoard scalar series (except the wall-clock ``time/fps``) must be
identical.
"""

from __future__ import annotations

import importlib.util
import signal

import pytest

from tests.runner.runner_helpers import (
    mid_episode_step,
    assert_same_run,
    count_rows,
    run_and_kill_when,
    run_fingerprint,
    run_proc,
    tb_scalars_plugin_reader,
)

pytestmark = pytest.mark.slow

NO_CAPTURE = {"SPHGYM_TEST_NO_CAPTURE": "1"}

CASES = [
    pytest.param(
        {"env": "CartPole-v1", "agent": "random", "episodes": 80, "checkpoint_every": 7},
        {},
        id="cartpole-random",
    ),
    # An agent with metrics(): its TensorBoard series must be exact across interruptions too.
    pytest.param(
        {"env": "CartPole-v1", "agent": "metric-random", "episodes": 40, "checkpoint_every": 7},
        {},
        id="cartpole-agent-metrics",
    ),
    pytest.param(
        {"env": "Acrobot-v1", "agent": "random", "episodes": 8, "checkpoint_every": 3},
        {},
        id="acrobot-random",
    ),
    pytest.param(
        {"env": "sphgym/CartPoleNoVelocity-v0", "agent": "random", "episodes": 60, "checkpoint_every": 7},
        {},
        id="cartpole-no-velocity-random",
    ),
    pytest.param(
        {"env": "CartPole-v1", "agent": "random", "episodes": 60, "checkpoint_every": 7},
        NO_CAPTURE,
        id="cartpole-random-boundary-replay",
    ),
    # The hierarchy agent learns at every step: weights, temporal state and replay memory all move. 30 episodes:
    # still four periodic checkpoints (7, 14, 21, 28) and the four interruptions at 20/45/60/85 % of the run; 60
    # only cost time. Acrobot (another port layout: 6 observation dims, 3 actions) and CartPoleNoVelocity (a
    # wrapper the hierarchy must remember through) stay: the kill tests only ever grow (docs/testing.md).
    pytest.param(
        {"env": "CartPole-v1", "agent": "hierarchy", "episodes": 30, "checkpoint_every": 7},
        {},
        id="cartpole-hierarchy",
    ),
    pytest.param(
        {"env": "Acrobot-v1", "agent": "hierarchy", "episodes": 6, "checkpoint_every": 2},
        {},
        id="acrobot-hierarchy",
    ),
    pytest.param(
        {"env": "sphgym/CartPoleNoVelocity-v0", "agent": "hierarchy", "episodes": 30, "checkpoint_every": 7},
        {},
        id="cartpole-no-velocity-hierarchy",
    ),
    pytest.param(
        {"env": "CartPole-v1", "agent": "hierarchy", "episodes": 30, "checkpoint_every": 7},
        NO_CAPTURE,
        id="cartpole-hierarchy-boundary-replay",
    ),
    # Observation calibration (issue 12): the bin ranges switch from the declared bounds to the observed ones at
    # step 300 of 800, between the SIGTERM and the SIGINT: the record and the switch must survive every cut.
    pytest.param(
        {
            "env": "MountainCar-v0",
            "agent": "hierarchy",
            "agent_config": {"obs_calibrate_steps": 300, "obs_calibrate_ratio": 1.0},
            "episodes": 4,
            "checkpoint_every": 1,
        },
        {},
        id="mountaincar-hierarchy-calibration",
    ),
    # N = 4 env copies (SyncVectorEnv): every copy's env snapshot, autoreset flag and episode counters, PPO's
    # rollout of 4 columns; signals land at vector step boundaries, mid-episode for the copies.
    pytest.param(
        {
            "env": "CartPole-v1",
            "agent": "ppo",
            "agent_config": {"n_steps": 64, "batch_size": 32, "n_epochs": 2, "net_arch": [32, 32]},
            "episodes": 60,
            "checkpoint_every": 7,
            "n_envs": 4,
        },
        {},
        id="cartpole-ppo-4-envs",
    ),
    # Pixel observations: an image encoder in front of the hierarchy learns at every step too.
    pytest.param(
        {"env": "sphgym/PixelCatch-v0", "agent": "hierarchy", "episodes": 50, "checkpoint_every": 7},
        {},
        id="pixel-catch-hierarchy",
    ),
    # MiniGrid through its image observation: object state, so resumes replay from the last boundary.
    pytest.param(
        {"env": "sphgym/MiniGrid-Empty-Random-5x5-v0", "agent": "hierarchy", "episodes": 20, "checkpoint_every": 3},
        NO_CAPTURE,
        id="minigrid-image-hierarchy-boundary-replay",
        marks=pytest.mark.skipif(importlib.util.find_spec("minigrid") is None, reason="minigrid not installed"),
    ),
]


def _episode_ends(run_dir) -> list[int]:
    lines = (run_dir / "episodes.csv").read_text().splitlines()[1:]
    return [int(line.split(",")[1]) for line in lines]


@pytest.mark.parametrize(("options", "extra_env"), CASES)
def test_interrupted_run_equals_uninterrupted_run(tmp_path, options, extra_env):
    reference = tmp_path / "reference"
    code, result, err = run_proc(reference, seed=7, environ=extra_env, **options)
    assert code == 0, err
    assert result["status"] == "completed"
    ends = _episode_ends(reference)
    episodes = options["episodes"]
    n_envs = options.get("n_envs", 1)
    # N copies: episodes that end in the target's vector step are all counted (the target may be passed by < N)
    assert result["episode"] == episodes if n_envs == 1 else episodes <= result["episode"] < episodes + n_envs
    final_episodes = result["episode"]

    run = tmp_path / "interrupted"
    # 1. SIGTERM mid-episode.
    k1 = mid_episode_step(ends, 0.2, n_envs)
    code, result, err = run_proc(
        run, seed=7, environ={**extra_env, "SPHGYM_TEST_SIGNAL_AT_STEP": f"{k1}:SIGTERM"}, **options
    )
    assert code == 128 + signal.SIGTERM, err
    assert result["status"] == "interrupted" and result["signal"] == "SIGTERM"
    assert "Resume with: sphgym resume" in err
    if extra_env is NO_CAPTURE:
        assert result["global_step"] in ends and result["global_step"] < k1  # fell back to the last boundary
        assert "cannot be captured" in err
    else:
        assert result["global_step"] == k1  # checkpointed exactly where it stopped, mid-episode

    # 2. SIGINT mid-episode, after resuming.
    k2 = mid_episode_step(ends, 0.45, n_envs)
    code, result, err = run_proc(
        run, resume=True, environ={**extra_env, "SPHGYM_TEST_SIGNAL_AT_STEP": f"{k2}:SIGINT"}, **options
    )
    assert code == 128 + signal.SIGINT, err
    assert result["status"] == "interrupted" and result["signal"] == "SIGINT"

    # 3. A real SIGKILL at a time of the test's choosing (slowed steps give it a window).
    rows = max(count_rows(run) + 1, int(episodes * 0.6))
    code = run_and_kill_when(
        run, rows, resume=True, environ={**extra_env, "SPHGYM_TEST_STEP_SLEEP": "0.0003"}, **options
    )
    assert code == -signal.SIGKILL

    # 4. SIGKILL mid-episode at a chosen step (no chance to checkpoint: resumes from the last periodic one).
    k4 = mid_episode_step(ends, 0.85, n_envs)
    code, _, err = run_proc(
        run, resume=True, environ={**extra_env, "SPHGYM_TEST_SIGNAL_AT_STEP": f"{k4}:SIGKILL"}, **options
    )
    assert code == -signal.SIGKILL, err

    # 5. Resume to the end; the stale lock of the killed process is taken over with a warning.
    code, result, err = run_proc(run, resume=True, environ=extra_env, **options)
    assert code == 0, err
    assert result["status"] == "completed" and result["episode"] == final_episodes
    assert "stale lock" in err

    assert_same_run(run_fingerprint(reference), run_fingerprint(run))
    if options["agent"] == "metric-random":
        series = run_fingerprint(reference)["tensorboard"]
        assert {"agent/rng_position", "losses/fake_loss"} <= series.keys()
        assert len(series["agent/rng_position"]) == episodes  # one value per episode end
    if options["agent"] == "hierarchy":  # its metrics() diagnostics are among the series compared above
        series = run_fingerprint(reference)["tensorboard"]
        assert {"losses/td_error", "hierarchy/policy_entropy", "hierarchy/layer0/cells_used_ever"} <= series.keys()
        assert len(series["hierarchy/replay_fill"]) == episodes
    if options["env"] == "CartPole-v1" and not extra_env:
        assert tb_scalars_plugin_reader(reference) == tb_scalars_plugin_reader(run)

    # 6. Resuming a finished run is a no-op that says so.
    code, result, err = run_proc(run, resume=True, environ=extra_env, **options)
    assert code == 0 and result["already_finished"] and "already finished" in err
