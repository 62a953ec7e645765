"""The runner's background checkpoint writes: when callbacks hear of them (only once durable, no later than the next
checkpoint; a slow disk here, so that a write is still running when the next episode ends) and how a failed one is
reported."""

from __future__ import annotations

import errno
import time

import pytest

from agents.runner import RunConfig, Runner
from agents.runner import runner as runner_module
from agents.runner.callbacks import Callback
from agents.runner.checkpoint import CheckpointError, read_checkpoint

CONFIG = RunConfig(agent="random", episodes=6, checkpoint_every=1, checkpoint_min_interval=0.0, seed=3)


class _Record(Callback):
    def __init__(self) -> None:
        self.episodes = 0
        self.heard: list[tuple[int, int, bool, bool]] = []  # (checkpoint's episode, episodes ended, final, durable)

    def on_episode_end(self, event):
        self.episodes = event.episode

    def on_checkpoint(self, event):
        try:
            durable = read_checkpoint(event.path).id == event.path.name
        except CheckpointError:
            durable = False
        self.heard.append((event.episode, self.episodes, event.final, durable))


def test_periodic_checkpoints_are_delivered_durable_and_before_the_next_one_is_written(tmp_path, monkeypatch):
    original = runner_module.write_checkpoint

    def slow_write(*args, **kwargs):
        time.sleep(0.2)
        return original(*args, **kwargs)

    monkeypatch.setattr(runner_module, "write_checkpoint", slow_write)
    record = _Record()
    assert Runner(tmp_path, CONFIG, log=None, callbacks=[record]).train().status == "completed"
    assert [h[0] for h in record.heard] == [0, 1, 2, 3, 4, 5, 6, 6], record.heard  # initial, per episode, final
    assert all(durable for *_, durable in record.heard), record.heard
    for episode, ended, final, _ in record.heard:
        assert final or ended <= episode + 1, record.heard  # heard of when the next checkpoint was submitted


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), ": No space left on device. No checkpoint was written yet"),
        (OSError("the disk is on fire"), ": the disk is on fire. No checkpoint was written yet"),
    ],
)
def test_a_failed_write_is_one_sentence_naming_the_os_error_without_its_number(tmp_path, monkeypatch, error, said):
    def failing(*args, **kwargs):
        raise error

    monkeypatch.setattr(runner_module, "write_checkpoint", failing)
    with pytest.raises(CheckpointError) as caught:
        Runner(tmp_path, CONFIG, log=None).train()
    message = str(caught.value)
    assert message.startswith("Could not write checkpoint ep00000000-st0000000000" + said), message
    assert "[Errno" not in message
