"""Callbacks: code that watches a run (progress bars, reporters, audits) without reaching into the runner.

In the spirit of Stable-Baselines3's ``BaseCallback``, smaller: a callback gets values, never the runner, the
agent or the env, and the only thing it can say back is "stop" (return ``False``). So no callback can change
what is trained: a run with callbacks is bit-identical to one without, up to where a callback stopped it (and
a stopped run resumes exactly like any other).

Hooks (override the ones you need; returning ``None`` or ``True`` means "go on"):

- ``on_start(global_step)``: once, when the loop starts (fresh or resumed), before any env step of the session.
- ``on_step(global_step)``: after every env step (keep it cheap: it runs in the training loop). Only callbacks
  that override it are called per step.
- ``on_episode_end(event)``: after every finished episode, with a frozen ``EpisodeEvent``.
- ``on_checkpoint(event)``: once a checkpoint is durable on disk (``CheckpointEvent``). Periodic checkpoints
  are written in the background; their event comes at the first episode end after the write finished.

A stop requested by ``on_start``, ``on_step`` or ``on_checkpoint`` takes effect at the next step boundary, one requested by
``on_episode_end`` at that episode's end; either way the run ends with status ``"stopped"`` after writing a
checkpoint.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class EpisodeEvent:
    """Passed to ``on_episode_end`` (and the ``on_episode`` function) after each finished episode.

    Evaluation passes the same event with ``best_metric=None``, ``is_best=False`` and ``target_steps=None``.
    """

    episode: int
    global_step: int
    episode_return: float
    episode_length: int
    rolling_mean: float
    best_metric: float | None
    is_best: bool
    steps_per_second: float
    target_episodes: int | None
    target_steps: int | None


@dataclass(frozen=True)
class CheckpointEvent:
    """Passed to ``on_checkpoint`` once a checkpoint directory is complete and fsynced.

    ``kind`` is ``initial``, ``periodic``, ``final``, ``signal`` or a boundary kind; ``final`` is True for the
    checkpoint written as ``train()`` ends (whatever its kind); ``status`` and ``best_metric`` are the ones
    recorded in it.
    """

    path: Path
    kind: str
    final: bool
    episode: int
    global_step: int
    status: str
    best_metric: float | None
    weights_sha256: str
    state_sha256: str


class Callback:
    """Base class: every hook does nothing and lets the run go on."""

    def on_start(self, global_step: int) -> bool | None:
        return None

    def on_step(self, global_step: int) -> bool | None:
        return None

    def on_episode_end(self, event: EpisodeEvent) -> bool | None:
        return None

    def on_checkpoint(self, event: CheckpointEvent) -> bool | None:
        return None


def overrides(callback: Callback, hook: str) -> bool:
    """True if ``callback``'s class overrides ``hook`` (the runner calls per-step hooks only then)."""
    return getattr(type(callback), hook, None) is not getattr(Callback, hook)


class CallbackList:
    """Calls each hook of several callbacks in order; ``False`` if any of them asked to stop."""

    def __init__(self, callbacks: Iterable[Callback]) -> None:
        self.callbacks: tuple[Callback, ...] = tuple(callbacks)
        self.step_callbacks: tuple[Callback, ...] = tuple(c for c in self.callbacks if overrides(c, "on_step"))

    def on_step(self, global_step: int) -> bool:
        go_on = True
        for callback in self.step_callbacks:
            if callback.on_step(global_step) is False:
                go_on = False
        return go_on

    def on_start(self, global_step: int) -> bool:
        return self._every("on_start", global_step)

    def on_episode_end(self, event: EpisodeEvent) -> bool:
        return self._every("on_episode_end", event)

    def on_checkpoint(self, event: CheckpointEvent) -> bool:
        return self._every("on_checkpoint", event)

    def _every(self, hook: str, event: object) -> bool:
        """Call ``hook`` of every callback (all of them, even after one said stop); False if any said stop."""
        answers = [getattr(callback, hook)(event) for callback in self.callbacks]
        return all(answer is not False for answer in answers)


# ---------------------------------------------------------------------- small callbacks used by sphgym


class EpisodeFunction(Callback):
    """Adapts an ``on_episode(event) -> bool`` function (the older hook) to a callback."""

    def __init__(self, function: Callable[[EpisodeEvent], bool | None]) -> None:
        self.function = function

    def on_episode_end(self, event: EpisodeEvent) -> bool | None:
        return self.function(event)


class StepFunction(Callback):
    """Adapts a ``step_hook(global_step)`` function to a callback; it is only watched, it never stops."""

    def __init__(self, function: Callable[[int], object]) -> None:
        self.function = function

    def on_step(self, global_step: int) -> bool | None:
        self.function(global_step)
        return None


class StopAtStep(Callback):
    """Stop the run exactly at ``step`` global env steps (``sphgym verify`` re-runs to the next checkpoint)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_start(self, global_step: int) -> bool | None:
        return global_step < self.step

    def on_step(self, global_step: int) -> bool | None:
        return global_step < self.step


class FirstStepProbe(Callback):
    """Print ``SPHGYM_FIRST_STEP <unix time>`` on stderr at the first env step (benchmarks/startup_time.py)."""

    def __init__(self) -> None:
        self.done = False

    def on_step(self, global_step: int) -> bool | None:
        if not self.done:
            self.done = True
            print(f"SPHGYM_FIRST_STEP {time.time():.6f}", file=sys.stderr, flush=True)
        return None


def as_callbacks(
    callbacks: Sequence[Callback] | None,
    on_episode: Callable[[EpisodeEvent], bool | None] | None = None,
    step_hook: Callable[[int], object] | None = None,
) -> CallbackList:
    """One ``CallbackList`` from callbacks plus the function hooks ``on_episode`` and ``step_hook``."""
    items = list(callbacks or ())
    if step_hook is not None:
        items.insert(0, StepFunction(step_hook))
    if on_episode is not None:
        items.append(EpisodeFunction(on_episode))
    return CallbackList(items)
