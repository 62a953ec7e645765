"""Runner in-process: config checks, fresh/resume rules, stop conditions, signals, lock, RNG fallbacks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import warnings

import numpy as np
import pytest

from agents.runner import (
    CheckpointError,
    IncompatibleCheckpointError,
    RunConfig,
    Runner,
    RunLockedError,
    RunnerWarning,
    inspect_checkpoint,
    load_run_config,
)
from agents.runner import checkpoint as checkpoint_module
from agents.runner import env_state
from agents.runner.callbacks import StopAtStep
from agents.runner.checkpoint import (
    arrays_to_bytes,
    obs_from_arrays,
    obs_to_arrays,
    read_checkpoint,
    write_checkpoint,
)
from agents.runner.lock import RunLock
from agents.runner.rng_state import capture_global_rng, restore_global_rng
from tests.runner.runner_helpers import REPO, assert_same_run, run_fingerprint

CARTPOLE = RunConfig(agent="random", episodes=40, checkpoint_every=5, checkpoint_min_interval=0.0, seed=11)


def train(run_dir, config=CARTPOLE, **kwargs):
    train_kwargs = {k: kwargs.pop(k) for k in ("episodes", "steps") if k in kwargs}
    return Runner(run_dir, config, log=None, **kwargs).train(**train_kwargs)


def resume(run_dir, config=None, **kwargs):
    train_kwargs = {k: kwargs.pop(k) for k in ("episodes", "steps") if k in kwargs}
    return Runner(run_dir, config, resume=True, log=None, **kwargs).train(**train_kwargs)


def signal_at(step, sig=signal.SIGINT):
    def hook(global_step):
        if global_step == step:
            os.kill(os.getpid(), sig)

    return hook


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("reference")
    result = train(run_dir)
    assert result.status == "completed"
    return run_dir, run_fingerprint(run_dir)


# ---------------------------------------------------------------------- config


def test_config_validation_names_field_and_fix():
    with pytest.raises(ValueError, match="episodes must be an integer >= 1, got -3"):
        RunConfig(episodes=-3)
    with pytest.raises(ValueError, match="set at least one budget"):
        RunConfig(episodes=None, steps=None)
    with pytest.raises(ValueError, match="early_stopping_mode must be 'max' or 'min'"):
        RunConfig(early_stopping_mode="up")
    with pytest.raises(ValueError, match="did you mean 'episodes'"):
        RunConfig.from_dict({"episode": 3})


def test_unknown_agent_config_field_fails_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="Unknown config field"):
        Runner(tmp_path / "run", RunConfig(agent="random", agent_config={"sed": 1}))
    assert not (tmp_path / "run").exists()


def test_load_run_config_toml_and_json(tmp_path):
    (tmp_path / "a.toml").write_text(
        'env_id = "Acrobot-v1"\nagent = "random"\nepisodes = 3\n[env_kwargs]\nmax_episode_steps = 50\n'
    )
    config = load_run_config(tmp_path / "a.toml")
    assert config.env_id == "Acrobot-v1" and config.env_kwargs == {"max_episode_steps": 50}
    (tmp_path / "b.json").write_text(json.dumps(config.to_dict()))
    assert load_run_config(tmp_path / "b.json") == config
    (tmp_path / "bad.toml").write_text("episodes = [")
    with pytest.raises(ValueError, match=r"bad\.toml"):
        load_run_config(tmp_path / "bad.toml")


def test_resolved_config_is_written_to_the_run_folder(tmp_path):
    train(tmp_path, CARTPOLE.replace(episodes=2))
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["agent"] == "random" and saved["episodes"] == 2 and saved["seed"] == 11


# ---------------------------------------------------------------------- fresh / resume rules


def test_fresh_run_refuses_a_used_folder_unless_overwrite(tmp_path):
    train(tmp_path, CARTPOLE.replace(episodes=3))
    with pytest.raises(FileExistsError, match="already holds a run"):
        Runner(tmp_path, CARTPOLE)
    result = train(tmp_path, CARTPOLE.replace(episodes=4), overwrite=True)
    assert result.episode == 4
    assert len((tmp_path / "episodes.csv").read_text().splitlines()) == 5
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 1


def test_resume_with_nothing_to_resume_from(tmp_path):
    with pytest.raises(FileNotFoundError, match="Nothing to resume from"):
        Runner(tmp_path / "missing", resume=True)


def test_resume_refuses_a_different_config_and_names_the_field(tmp_path):
    train(tmp_path, CARTPOLE.replace(episodes=3))
    with pytest.raises(IncompatibleCheckpointError, match=r"env_id: 'CartPole-v1' .* != 'Acrobot-v1'"):
        Runner(tmp_path, CARTPOLE.replace(env_id="Acrobot-v1"), resume=True)
    with pytest.raises(IncompatibleCheckpointError, match="metric_window"):
        Runner(tmp_path, CARTPOLE.replace(metric_window=7), resume=True)


def test_resume_ignores_seed_with_a_warning_and_may_raise_the_target(tmp_path):
    train(tmp_path, CARTPOLE.replace(episodes=3))
    with pytest.warns(RunnerWarning, match="ignores seed=99"):
        runner = Runner(tmp_path, CARTPOLE.replace(seed=99, episodes=6), resume=True, log=None)
    assert runner.config.seed == 11
    assert runner.train().episode == 6


def test_checkpoint_from_another_agent_config_is_refused_at_load(tmp_path):
    train(tmp_path, CARTPOLE.replace(episodes=3))
    # Make the folder's config disagree with the checkpoint's (as if edited by hand).
    saved = json.loads((tmp_path / "config.json").read_text())
    saved["env_kwargs"] = {"max_episode_steps": 100}
    (tmp_path / "config.json").write_text(json.dumps(saved))
    with pytest.raises(IncompatibleCheckpointError, match=r"env_kwargs\.max_episode_steps"):
        resume(tmp_path, episodes=5)


# ---------------------------------------------------------------------- targets and stop conditions


def test_steps_target_stops_mid_episode_and_a_raised_target_continues_exactly(tmp_path):
    config = CARTPOLE.replace(episodes=None, steps=900)
    direct = tmp_path / "direct"
    train(direct, config)
    split = tmp_path / "split"
    first = train(split, config.replace(steps=417))
    assert first.status == "completed" and first.global_step == 417
    assert inspect_checkpoint(split)["in_episode"]
    again = resume(split)
    assert again.already_finished and again.status == "completed"
    assert resume(split, steps=900).global_step == 900
    assert_same_run(run_fingerprint(direct), run_fingerprint(split))


def test_solved_stops_and_stays_finished_unless_stop_when_solved_is_turned_off(tmp_path):
    config = CARTPOLE.replace(reward_threshold=15.0, metric_window=5, episodes=200)
    result = train(tmp_path, config)
    assert result.status == "solved" and result.episode < 200
    assert result.rolling_mean >= 15.0
    again = resume(tmp_path)
    assert again.already_finished and again.status == "solved"
    more = resume(tmp_path, config.replace(stop_when_solved=False, episodes=result.episode + 3))
    assert more.status == "completed" and more.episode == result.episode + 3


def test_early_stopping_state_is_checkpointed(tmp_path):
    config = CARTPOLE.replace(early_stopping_patience=4, early_stopping_min_delta=1.0, episodes=500)
    result = train(tmp_path, config)
    assert result.status == "stopped_early" and result.episode < 500
    info = inspect_checkpoint(tmp_path)
    assert info["early_stopping"]["episodes_without_improvement"] == 4
    assert info["status"] == "stopped_early"
    assert resume(tmp_path).already_finished


def test_on_episode_hook_sees_every_episode_and_can_stop_the_run(tmp_path, reference):
    seen = []

    def hook(event):
        seen.append(event)
        return event.episode < 17

    result = train(tmp_path, on_episode=hook)
    assert result.status == "stopped" and result.exit_code == 0 and result.episode == 17
    assert [e.episode for e in seen] == list(range(1, 18))
    assert seen[-1].global_step == result.global_step and seen[-1].target_episodes == 40
    assert resume(tmp_path).status == "completed"
    assert_same_run(reference[1], run_fingerprint(tmp_path))


def test_best_weights_copy_follows_the_best_metric(tmp_path):
    every_episode = train(tmp_path / "a", CARTPOLE.replace(episodes=12, best_every=1, metric_window=3))
    best = json.loads((tmp_path / "a" / "best" / "best.json").read_text())
    assert best["episode"] == every_episode.best_episode and best["metric"] == every_episode.best_metric
    train(tmp_path / "b", CARTPOLE.replace(episodes=35, best_every=10, metric_window=5))
    best = json.loads((tmp_path / "b" / "best" / "best.json").read_text())
    assert best["episode"] in (10, 20, 30)
    assert inspect_checkpoint(tmp_path / "b")["best_saved"] == {
        "episode": best["episode"],
        "metric": best["metric"],
    }


def test_best_weights_are_the_weights_at_the_episode_in_best_json(tmp_path):
    """best/ holds the weights as they were at the end of the episode best.json names, not those at the
    (later) checkpoint that wrote them: a run trained to exactly that episode ends with the same bytes."""
    config = RunConfig(
        agent="hierarchy", episodes=30, checkpoint_every=1000, checkpoint_min_interval=0.0, best_every=1,
        metric_window=3, seed=4, tensorboard=False,
        agent_config={"history_capacity": 512},  # pinned: a run whose best 3-episode window is not its last
    )
    result = train(tmp_path / "long", config)
    best = json.loads((tmp_path / "long" / "best" / "best.json").read_text())
    assert best["episode"] < result.episode  # else the checkpoint's weights and the best ones coincide
    short = train(tmp_path / "short", config.replace(episodes=best["episode"]))
    assert short.episode == best["episode"] and short.global_step == best["global_step"]
    best_weights = (tmp_path / "long" / "best" / "weights.safetensors").read_bytes()
    assert best_weights == read_checkpoint(short.checkpoint).files["weights.safetensors"]
    assert best_weights != read_checkpoint(result.checkpoint).files["weights.safetensors"]


def test_tensorboard_rows_of_a_lost_session_are_purged_from_the_step_after_the_checkpoint(tmp_path):
    """One-step episodes (CartPole truncated after 1 step): the episode after the checkpoint at step 3 ends at
    step 4. A session killed after logging it (flushed) leaves a row at step 4 that the resumed session
    writes again: the purge must start exactly at checkpoint step + 1, or the row is doubled."""
    from agents.runner.tensorboard_log import ScalarWriter
    from tests.reliability.reliability_faults import run_forked

    config = RunConfig(
        agent="random", episodes=8, checkpoint_every=3, checkpoint_min_interval=0.0, seed=5,
        env_kwargs={"max_episode_steps": 1},
    )
    reference = tmp_path / "reference"
    train(reference, config)
    run_dir = tmp_path / "killed"

    def child():
        ScalarWriter.maybe_flush = lambda self, every_seconds=0.0: self.flush()  # the rows reach the file
        submit = checkpoint_module.BackgroundWriter.submit

        def submit_and_wait(self, job):  # the checkpoint at step 3 is complete before the kill
            submit(self, job)
            self.wait()

        checkpoint_module.BackgroundWriter.submit = submit_and_wait

        def on_episode(event):
            if event.episode == 4:
                os.kill(os.getpid(), signal.SIGKILL)

        Runner(run_dir, config, log=None, on_episode=on_episode).train()

    assert run_forked(child) == -signal.SIGKILL
    assert inspect_checkpoint(run_dir)["global_step"] == 3
    assert resume(run_dir).status == "completed"
    assert_same_run(run_fingerprint(reference), run_fingerprint(run_dir))


def test_the_episode_log_is_on_disk_before_the_checkpoint_covering_it_is_written(tmp_path, monkeypatch):
    """Each checkpoint job fsyncs episodes.csv first; the rows it counts must be in the file (flushed by the
    training thread) by then, or a power cut could leave a checkpoint ahead of its log. Checkpoint jobs run
    synchronously here, so no later flush of the training thread can hide a missing one."""

    submit = checkpoint_module.BackgroundWriter.submit

    def submit_and_wait(self, job):
        submit(self, job)
        self.wait()

    monkeypatch.setattr(checkpoint_module.BackgroundWriter, "submit", submit_and_wait)
    seen, checked = [], []
    real_fsync = os.fsync
    csv_path = str(tmp_path / "episodes.csv")

    def fsync(fd):
        if os.readlink(f"/proc/self/fd/{fd}") == csv_path:
            with open(csv_path, "rb") as handle:
                rows = handle.read().count(b"\n") - 1
            checked.append((rows, len(seen)))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    train(tmp_path, CARTPOLE.replace(episodes=6, checkpoint_every=2), on_episode=seen.append)
    monkeypatch.undo()
    assert len(checked) >= 3 and all(rows == episodes for rows, episodes in checked), checked


# ---------------------------------------------------------------------- signals


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_episode_checkpoints_there_and_resume_is_exact(tmp_path, reference, sig):
    messages = []
    # The handlers in place before (SIG_IGN when pytest runs as a background job, Python's default otherwise).
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    during = []
    send = signal_at(123, sig)

    def hook(step):
        if step == 1:
            during.append({s: signal.getsignal(s) for s in before})
        send(step)

    result = Runner(tmp_path, CARTPOLE, log=messages.append, step_hook=hook).train()
    assert result.status == "interrupted" and result.signal == sig.name
    assert result.exit_code == 128 + sig and result.global_step == 123
    assert any("Resume with: sphgym resume" in m for m in messages)
    assert inspect_checkpoint(tmp_path)["in_episode"]
    assert all(during[0][s] is not before[s] for s in before)  # the runner's own handlers while training
    assert {s: signal.getsignal(s) for s in before} == before  # and the previous ones restored after
    assert resume(tmp_path).status == "completed"
    assert_same_run(reference[1], run_fingerprint(tmp_path))


HIERARCHY_SMOKE = CARTPOLE.replace(
    agent="hierarchy", agent_config={"layers": [[3, 3, 16]], "history_capacity": 64}, episodes=6, checkpoint_every=2
)


def test_a_stop_mid_episode_then_resume_of_the_hierarchy_agent_is_exact(tmp_path):
    """In-process twin of the real-process kill tests for an agent that reads its observations (the random agent
    ignores them): the resumed run must act on the observation saved in the checkpoint (a resume that lost it
    would pass ``None`` to ``act``, or reset the env) and end byte for byte like the uninterrupted run."""
    train(tmp_path / "reference", HIERARCHY_SMOKE)
    rows = (tmp_path / "reference" / "episodes.csv").read_text().splitlines()[1:]
    ends = [int(row.split(",")[1]) for row in rows]
    stop = ends[2] + 2  # two steps into the fourth episode
    result = train(tmp_path / "run", HIERARCHY_SMOKE, callbacks=[StopAtStep(stop)])
    assert result.status == "stopped" and result.global_step == stop
    assert inspect_checkpoint(tmp_path / "run")["in_episode"]
    assert resume(tmp_path / "run").status == "completed"
    assert_same_run(run_fingerprint(tmp_path / "reference"), run_fingerprint(tmp_path / "run"))


def test_a_saved_observation_of_another_shape_is_refused(tmp_path):
    """A mid-episode checkpoint whose observation does not fit the env (a crafted file, or another env's):
    refused naming runner.safetensors, never fed to the agent."""
    stopped = train(tmp_path, CARTPOLE.replace(episodes=None, steps=30))
    ckpt = read_checkpoint(stopped.checkpoint)
    assert ckpt.json("runner.json")["in_episode"]
    arrays = ckpt.arrays("runner.safetensors")
    (key,) = [k for k in arrays if k.startswith("obs")]
    files = dict(ckpt.files, **{"runner.safetensors": arrays_to_bytes(dict(arrays, **{key: arrays[key][:3]}))})
    meta = {k: v for k, v in ckpt.meta.items() if k not in ("files", "format_version", "id")}
    checkpoint_module.remove_tree(ckpt.path)
    write_checkpoint(ckpt.path.parent, ckpt.path.name, files, meta)
    with pytest.raises(CheckpointError, match=r"runner\.safetensors .*observation has shape \(3,\)"):
        resume(tmp_path, steps=60)


def test_periodic_checkpoints_keep_the_minimum_interval_between_them(tmp_path, monkeypatch):
    """``checkpoint_min_interval`` counts from the last checkpoint, not from the start: on a clock that ticks one
    second per env step, periodic checkpoints are at least that many seconds apart (and some are written)."""
    import time as real_time
    from types import SimpleNamespace

    from agents.runner import runner as runner_module
    from agents.runner.callbacks import Callback

    clock = SimpleNamespace(now=0.0)
    fake_time = SimpleNamespace(**{n: getattr(real_time, n) for n in ("time", "strftime", "perf_counter")})
    fake_time.monotonic = lambda: clock.now
    monkeypatch.setattr(runner_module, "time", fake_time)
    monkeypatch.setattr(checkpoint_module.BackgroundWriter, "busy", property(lambda self: False))  # no I/O race

    class Record(Callback):
        steps: list[int] = []

        def on_checkpoint(self, event):
            if event.kind == "periodic":
                self.steps.append(event.global_step)

    def tick(global_step):
        clock.now = float(global_step)

    config = CARTPOLE.replace(episodes=30, checkpoint_every=1, checkpoint_min_interval=100.0)
    assert train(tmp_path, config, step_hook=tick, callbacks=[Record()]).status == "completed"
    gaps = [b - a for a, b in zip(Record.steps, Record.steps[1:])]
    assert len(Record.steps) >= 3 and min(gaps) >= 100, Record.steps


def test_the_final_checkpoint_is_on_disk_when_callbacks_hear_of_it(tmp_path, monkeypatch):
    """Callbacks learn of a checkpoint only once it is durable: the final one is waited for (a slow disk here),
    never reported while its write is still running."""
    import time as real_time

    from agents.runner import runner as runner_module
    from agents.runner.callbacks import Callback

    original = runner_module.write_checkpoint

    def slow_write(*args, **kwargs):
        real_time.sleep(0.3)
        return original(*args, **kwargs)

    monkeypatch.setattr(runner_module, "write_checkpoint", slow_write)

    class Check(Callback):
        seen: list[bool] = []

        def on_checkpoint(self, event):
            if event.final:
                self.seen.append(read_checkpoint(event.path).id == event.path.name)

    assert train(tmp_path, CARTPOLE.replace(episodes=2), callbacks=[Check()]).status == "completed"
    assert Check.seen == [True]


def test_second_ctrl_c_during_the_checkpoint_write_corrupts_nothing(tmp_path, reference, monkeypatch):
    original = checkpoint_module.write_file_synced
    first_ctrl_c = signal_at(201)
    armed, sent = [], []

    def hook(step):
        if step == 201:
            armed.append(step)
        first_ctrl_c(step)

    def write_and_interrupt(path, data):
        if armed and not sent:
            sent.append(path)
            os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl-C again in the middle of the write
        original(path, data)

    monkeypatch.setattr(checkpoint_module, "write_file_synced", write_and_interrupt)
    messages = []
    result = Runner(tmp_path, CARTPOLE, log=messages.append, step_hook=hook).train()
    monkeypatch.undo()
    assert result.status == "interrupted" and sent
    assert any("received again" in m for m in messages)
    read_checkpoint(result.checkpoint)  # complete and digest-valid
    assert resume(tmp_path).status == "completed"
    assert_same_run(reference[1], run_fingerprint(tmp_path))


def test_boundary_replay_fallback_in_process(tmp_path, reference, monkeypatch):
    monkeypatch.setattr(env_state, "can_capture_episode_state", lambda env: False)
    result = Runner(tmp_path, CARTPOLE, log=None, step_hook=signal_at(250)).train()
    assert result.status == "interrupted" and result.global_step < 250
    assert not inspect_checkpoint(tmp_path)["in_episode"]
    resume(tmp_path)
    assert_same_run(reference[1], run_fingerprint(tmp_path))


# ---------------------------------------------------------------------- lock


def test_live_lock_is_refused_and_stale_lock_taken_over(tmp_path):
    train(tmp_path, CARTPOLE.replace(episodes=2))
    with RunLock(tmp_path):
        with pytest.raises(RunLockedError, match=f"pid {os.getpid()}"):
            resume(tmp_path, episodes=3)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    (tmp_path / "run.lock").write_text(json.dumps({"pid": int(dead.stdout), "host": os.uname().nodename}))
    with pytest.warns(RunnerWarning, match="stale lock"):
        assert resume(tmp_path, episodes=3).episode == 3
    assert not (tmp_path / "run.lock").exists()


# ---------------------------------------------------------------------- missing RNG state


def _strip_checkpoint(path, drop):
    ckpt = read_checkpoint(path)
    files = {name: data for name, data in ckpt.files.items() if name not in drop}
    meta = {k: v for k, v in ckpt.meta.items() if k not in ("files", "format_version", "id")}
    checkpoint_module.remove_tree(path)
    write_checkpoint(path.parent, path.name, files, meta)
    return ckpt


def test_checkpoint_without_rng_and_env_state_loads_loudly_and_cartpole_rng_is_rebuilt(tmp_path, reference):
    stopped = train(tmp_path, on_episode=lambda e: e.episode < 15)
    assert stopped.status == "stopped"
    original = _strip_checkpoint(stopped.checkpoint, drop=("rng.json", "env.json"))
    info = inspect_checkpoint(tmp_path)
    assert "python" not in info["rng_states"] and "env" not in info["rng_states"]

    # The reconstruction replays one seeded reset and one reset per later episode: check it against the saved
    # RNG.
    env = env_state.make_env("CartPole-v1", {})
    env_state.reconstruct_env_rng(env, json.loads(original.files["runner.json"])["seeds"]["env"], 15)
    saved = json.loads(original.files["env.json"])
    assert env_state.capture_env_state(env)["np_random"] == saved["np_random"]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resume(tmp_path)
    text = " ".join(str(w.message) for w in caught)
    assert "has no rng.json" in text and "rebuilt the CartPole-v1 RNG" in text
    assert_same_run(reference[1], run_fingerprint(tmp_path))


def test_checkpoint_without_env_state_of_an_env_whose_rng_cannot_be_rebuilt_says_the_run_will_differ(tmp_path):
    """Acrobot's RNG is not reset-only: without env.json the env restarts from its seed, and the user is told
    the resumed run will NOT match (the run still completes)."""
    config = CARTPOLE.replace(env_id="Acrobot-v1", episodes=3, checkpoint_every=1)
    stopped = train(tmp_path, config, on_episode=lambda e: e.episode < 1)
    assert stopped.status == "stopped"
    _strip_checkpoint(stopped.checkpoint, drop=("env.json",))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = resume(tmp_path, callbacks=[StopAtStep(stopped.global_step)])  # a checkpoint before any step
        assert again.status == "stopped" and again.global_step == stopped.global_step
        assert read_checkpoint(again.checkpoint).json("runner.json")["env_reset_done"] is False  # restarts
        assert resume(tmp_path).status == "completed"
    text = " ".join(str(w.message) for w in caught)
    assert "has no env.json and the RNG of Acrobot-v1 cannot be rebuilt" in text and "will NOT match" in text


def test_a_mid_episode_checkpoint_without_env_state_is_refused(tmp_path):
    stopped = train(tmp_path, CARTPOLE.replace(episodes=None, steps=30))
    assert read_checkpoint(stopped.checkpoint).json("runner.json")["in_episode"]
    _strip_checkpoint(stopped.checkpoint, drop=("env.json",))
    with pytest.raises(CheckpointError, match="is mid-episode and has no env.json"):
        resume(tmp_path, steps=60)


def test_global_rng_capture_round_trips():
    import random

    snapshot = capture_global_rng()
    expected = (random.random(), np.random.random())
    restore_global_rng(json.loads(json.dumps(snapshot)))
    assert (random.random(), np.random.random()) == expected
    assert "torch" in snapshot or "torch" not in sys.modules


def test_resume_restores_the_global_rngs_saved_in_the_checkpoint(tmp_path):
    import random

    result = train(tmp_path, CARTPOLE.replace(episodes=3))
    saved = json.loads((result.checkpoint / "rng.json").read_text())
    random.seed(12345)
    np.random.seed(12345)
    resume(tmp_path, episodes=4, on_episode=lambda e: False)  # stops right after one episode
    again = json.loads(
        (read_checkpoint(inspect_checkpoint(tmp_path)["checkpoint"]).path / "rng.json").read_text()
    )
    assert again == saved  # nothing drew from them, and they were restored rather than left at 12345


# ---------------------------------------------------------------------- observation encoding


@pytest.mark.parametrize(
    "obs",
    [
        np.array([1.5, -2.0], dtype=np.float32),
        np.int64(3),
        7,
        0.25,
        {"a": np.zeros((2, 2), dtype=np.uint8), "b": (1, np.array([3.0]))},
    ],
)
def test_observation_round_trip(obs):
    kind, arrays = obs_to_arrays(obs)
    back = obs_from_arrays(json.loads(json.dumps(kind)), arrays)
    assert type(back) is type(obs)
    if isinstance(obs, dict):
        assert (
            np.array_equal(back["a"], obs["a"])
            and back["b"][0] == 1
            and np.array_equal(back["b"][1], obs["b"][1])
        )
    else:
        assert np.array_equal(back, obs) and np.asarray(back).dtype == np.asarray(obs).dtype


def test_training_with_the_runner_never_imports_torch(tmp_path):
    code = (
        "import sys; from agents.runner import RunConfig, Runner, evaluate, inspect_checkpoint, verify_run\n"
        f"Runner({str(tmp_path)!r}, RunConfig(agent='random', episodes=3, checkpoint_every=1), "
        "log=None).train()\n"
        f"evaluate({str(tmp_path)!r}, episodes=1); inspect_checkpoint({str(tmp_path)!r}); "
        f"verify_run({str(tmp_path)!r})\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert 'tensorboard.summary' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr


def test_an_env_whose_episode_state_cannot_be_captured_resumes_from_an_episode_boundary_exactly(tmp_path):
    """FrozenLake's snapshot never holds its episode state (``episode_state_captured`` False): a checkpoint at an
    episode boundary needs none, and the resume ends like the uninterrupted run."""
    config = RunConfig(
        env_id="FrozenLake-v1", agent="random", episodes=12, checkpoint_every=3, checkpoint_min_interval=0.0, seed=5
    )
    train(tmp_path / "reference", config)
    stopped = train(tmp_path / "run", config, on_episode=lambda e: e.episode < 5)
    assert stopped.status == "stopped"
    assert json.loads((stopped.checkpoint / "env.json").read_text())["episode_state_captured"] is False
    assert resume(tmp_path / "run").status == "completed"
    assert_same_run(run_fingerprint(tmp_path / "reference"), run_fingerprint(tmp_path / "run"))


def test_an_episode_target_already_reached_mid_episode_finishes_that_episode(tmp_path):
    """A steps-target run stops mid-episode; resumed with an episode target it has already reached (and no steps
    target), it finishes the episode in progress: with one env a run ends at an episode boundary."""
    config = CARTPOLE.replace(episodes=None, steps=30)
    first = train(tmp_path, config)
    info = json.loads((first.checkpoint / "runner.json").read_text())
    assert first.status == "completed" and info["in_episode"]
    result = resume(tmp_path, config.replace(episodes=info["episode"], steps=None))
    end = json.loads((result.checkpoint / "runner.json").read_text())
    assert result.status == "completed" and not end["in_episode"]
    assert end["episode"] == info["episode"] + 1 and end["global_step"] > info["global_step"]
