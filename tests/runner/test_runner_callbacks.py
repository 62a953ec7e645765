"""Callbacks watch a run and can only stop it; the agent's metrics() reach TensorBoard."""

from __future__ import annotations

import dataclasses
import json

import pytest

from agents.registry import AGENTS
from agents.runner import Callback, CheckpointEvent, EpisodeEvent, RunConfig, Runner
from agents.runner.callbacks import StopAtStep
from tests.runner import metric_agent
from tests.runner.runner_helpers import assert_same_run, run_fingerprint, tb_scalars

CONFIG = RunConfig(agent="random", episodes=24, checkpoint_every=5, checkpoint_min_interval=0.0, seed=5)


class Recorder(Callback):
    """Records every hook call; ``stop_at`` = (hook name, value at which to return False)."""

    def __init__(self, stop_at: tuple[str, int] | None = None) -> None:
        self.steps: list[int] = []
        self.episodes: list[EpisodeEvent] = []
        self.checkpoints: list[CheckpointEvent] = []
        self.stop_at = stop_at

    def on_step(self, global_step: int) -> bool:
        self.steps.append(global_step)
        return self.stop_at != ("step", global_step)

    def on_episode_end(self, event: EpisodeEvent) -> bool:
        self.episodes.append(event)
        return self.stop_at != ("episode", event.episode)

    def on_checkpoint(self, event: CheckpointEvent) -> bool:
        self.checkpoints.append(event)
        return self.stop_at != ("checkpoint", event.episode)


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("plain")
    Runner(run_dir, CONFIG, log=None).train()
    return run_fingerprint(run_dir)


def test_callbacks_see_every_step_episode_and_durable_checkpoint_without_changing_the_run(tmp_path, plain_run):
    recorder = Recorder()
    result = Runner(tmp_path, CONFIG, log=None, callbacks=[recorder]).train()
    assert result.status == "completed"
    assert_same_run(plain_run, run_fingerprint(tmp_path))  # watching changes nothing
    assert recorder.steps == list(range(1, result.global_step + 1))
    assert [e.episode for e in recorder.episodes] == list(range(1, 25))
    with pytest.raises(dataclasses.FrozenInstanceError):
        recorder.episodes[0].episode_return = 1e9  # type: ignore[misc]
    kinds = [e.kind for e in recorder.checkpoints]
    assert kinds[0] == "initial" and kinds[-1] == "final" and "periodic" in kinds
    for event in recorder.checkpoints:
        # durable when announced: complete on disk (unless rotated away since), digests as recorded
        meta_path = event.path / "meta.json"
        if meta_path.exists():
            meta = json.loads(meta_path.read_text())
            assert (event.path / "COMPLETE").exists()
            assert (meta["weights_sha256"], meta["state_sha256"]) == (event.weights_sha256, event.state_sha256)
    assert recorder.checkpoints[-1].path == result.checkpoint and recorder.checkpoints[-1].status == "completed"


@pytest.mark.parametrize("hook", ["step", "episode", "checkpoint"])
def test_returning_false_stops_the_run_with_status_stopped_and_it_resumes_exactly(tmp_path, plain_run, hook):
    stop_value = {"step": 77, "episode": 7, "checkpoint": 5}[hook]
    result = Runner(tmp_path, CONFIG, log=None, callbacks=[Recorder((hook, stop_value))]).train()
    assert result.status == "stopped" and result.exit_code == 0
    if hook == "step":
        assert result.global_step == stop_value  # stopped (and checkpointed) at that very step
    if hook == "episode":
        assert result.episode == stop_value
    if hook == "checkpoint":
        assert result.episode >= stop_value
    assert Runner(tmp_path, resume=True, log=None).train().status == "completed"
    assert_same_run(plain_run, run_fingerprint(tmp_path))


def test_stop_at_step_is_exact(tmp_path):
    result = Runner(tmp_path, CONFIG, log=None, callbacks=[StopAtStep(100)]).train()
    assert (result.status, result.global_step) == ("stopped", 100)


def test_the_function_hooks_still_work_alongside_callbacks(tmp_path):
    seen: list[int] = []
    recorder = Recorder()
    result = Runner(
        tmp_path, CONFIG, log=None, callbacks=[recorder], on_episode=lambda e: seen.append(e.episode) or e.episode < 3
    ).train()
    assert result.status == "stopped" and seen == [1, 2, 3] and len(recorder.episodes) == 3


def test_agent_metrics_are_logged_at_every_episode_end(tmp_path, monkeypatch):
    monkeypatch.setitem(AGENTS, metric_agent.NAME, metric_agent.SPEC)  # registered for this test only
    config = dataclasses.replace(CONFIG, agent=metric_agent.NAME, episodes=6)
    Runner(tmp_path, config, log=None).train()
    scalars = tb_scalars(tmp_path)
    ends = [int(line.split(",")[1]) for line in (tmp_path / "episodes.csv").read_text().splitlines()[1:]]
    for tag in metric_agent.TAGS:
        assert [step for step, _ in scalars[tag]] == ends
    position = [value for _, value in scalars["agent/rng_position"]]
    loss = [value for _, value in scalars["losses/fake_loss"]]
    assert all(abs(p + q - 1.0) < 1e-6 for p, q in zip(position, loss, strict=True)) and len(set(position)) > 1


def test_a_finished_runs_result_describes_its_last_checkpoint_like_the_final_event(tmp_path):
    recorder = Recorder()
    Runner(tmp_path, CONFIG, log=None, callbacks=[recorder]).train()
    again = Runner(tmp_path, resume=True, log=None, callbacks=[Recorder()]).train()
    assert again.already_finished and again.checkpoint_event() == recorder.checkpoints[-1]


def test_stop_at_step_already_reached_stops_before_any_step(tmp_path):
    """A resumed run told to stop at the step it resumes from stops there (on_start), before stepping."""
    run_dir = tmp_path / "run"
    first = Runner(run_dir, dataclasses.replace(CONFIG, episodes=3), log=None, handle_signals=False).train()
    resumed = Runner(
        run_dir, resume=True, log=None, handle_signals=False, callbacks=[StopAtStep(first.global_step)]
    ).train(episodes=6)
    assert resumed.status == "stopped"
    assert (resumed.global_step, resumed.episode) == (first.global_step, first.episode)
    assert resumed.weights_sha256 == first.weights_sha256 and resumed.state_sha256 == first.state_sha256
