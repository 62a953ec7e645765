"""Progress bar for training and evaluation: episodes, env steps/s, last and rolling return, best.

Drawn with tqdm on stderr, and only when stderr is a terminal and ``--no-progress`` was not given; stdout
stays clean for results (``sphgym eval --json``). tqdm is imported only when a bar is actually shown.
"""

from __future__ import annotations

import math
import sys
import time
from collections import deque
from collections.abc import Iterable

from agents.cli.common import stderr_is_tty
from agents.runner.callbacks import Callback, EpisodeEvent

ROLLING_WINDOW = 100


def progress_enabled(no_progress: bool) -> bool:
    return not no_progress and stderr_is_tty()


class EpisodeProgress:
    """One bar over an episode or step budget, fed once per finished episode.

    Args:
        total: the budget (episodes or env steps) the bar fills up to; None for an open-ended bar.
        unit: ``"episodes"`` or ``"steps"``: what ``total`` and ``initial`` count.
        initial: budget already used (a resumed run starts part-way).
        enabled: draw the bar at all; when False every method is a cheap no-op.
        description: text at the left of the bar (``"train"``, ``"eval"``).
        recent_returns: returns of episodes before ``initial`` (so a resumed run's rolling mean is right).
        best: best metric so far, if the caller already knows it.
    """

    def __init__(
        self,
        total: int | None,
        unit: str = "episodes",
        initial: int = 0,
        enabled: bool = True,
        description: str = "train",
        recent_returns: Iterable[float] = (),
        best: float | None = None,
        start_step: int = 0,
    ) -> None:
        self.unit = unit
        self.enabled = enabled
        self.returns: deque[float] = deque(recent_returns, maxlen=ROLLING_WINDOW)
        self.best = best
        self.last: float | None = self.returns[-1] if self.returns else None
        self.episodes = 0
        self._rolling: float | None = None
        self._rate: float | None = None
        self._start_step = start_step
        self._last_step = start_step
        self._t0 = time.perf_counter()
        self._bar = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                initial=initial,
                desc=description,
                unit="ep" if unit == "episodes" else "step",
                file=sys.stderr,
                dynamic_ncols=_has_width(),
                ncols=None if _has_width() else 100,
                nrows=None if _has_width() else 20,
                leave=True,
                smoothing=0.1,
                bar_format=(
                    "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {unit} "
                    "[{elapsed}<{remaining}{postfix}]"
                ),
            )

    @property
    def rolling(self) -> float | None:
        return sum(self.returns) / len(self.returns) if self.returns else None

    def episode_done(
        self,
        episode_return: float,
        length: int,
        global_step: int | None = None,
        best: float | None = None,
        rolling: float | None = None,
        steps_per_second: float | None = None,
    ) -> None:
        """Record one finished episode and redraw (``rolling``/``best``/rate from the runner when given)."""
        self.episodes += 1
        self.last = float(episode_return)
        self.returns.append(self.last)
        self._rolling = rolling
        self._rate = steps_per_second
        self._last_step = global_step if global_step is not None else self._last_step + int(length)
        if best is not None:
            self.best = best
        elif self.best is None or self.last > self.best:
            self.best = self.last
        if self._bar is None:
            return
        self._bar.set_postfix_str(self.postfix(), refresh=False)
        self._bar.update(1 if self.unit == "episodes" else int(length))

    def postfix(self) -> str:
        rate = self._rate
        if rate is None:
            elapsed = max(time.perf_counter() - self._t0, 1e-9)
            rate = (self._last_step - self._start_step) / elapsed
        rolling = self._rolling if self._rolling is not None else self.rolling
        parts = [f"{rate:,.0f} steps/s", f"return {_fmt(self.last)}", f"mean {_fmt(rolling)}"]
        parts.append(f"best {_fmt(self.best)}")
        return " · ".join(parts)  # tqdm puts ", " in front

    def write(self, message: str) -> None:
        """Print a line above the bar (or plainly to stderr without one)."""
        if self._bar is not None:
            self._bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _has_width() -> bool:
    """A real terminal reports its width; a pty without one (``script``, some CI) reports 0 columns."""
    import os

    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns > 0
    except (OSError, ValueError, AttributeError):
        return False


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.3e}"


class ProgressCallback(Callback):
    """A runner callback that draws an ``EpisodeProgress`` (it only watches: it never stops the run).

    The bar is created at the first finished episode, when the budget and the starting point (a resumed run
    starts part-way) are known. ``say`` prints a message through the bar (or to stderr before it exists).
    """

    def __init__(self, enabled: bool, description: str = "train") -> None:
        self.enabled = enabled
        self.description = description
        self.bar: EpisodeProgress | None = None

    def say(self, message: str) -> None:
        """Print a message; a stderr that cannot be written (full device, closed) never stops the training."""
        try:
            if self.bar is not None:
                self.bar.write(message)
            else:
                print(message, file=sys.stderr, flush=True)
        except (OSError, ValueError):  # ValueError: the stream was closed
            pass

    def on_episode_end(self, event: EpisodeEvent) -> bool:
        if self.bar is None:
            by_steps = event.target_episodes is None
            self.bar = EpisodeProgress(
                total=event.target_steps if by_steps else event.target_episodes,
                unit="steps" if by_steps else "episodes",
                initial=(event.global_step - event.episode_length) if by_steps else event.episode - 1,
                enabled=self.enabled,
                description=self.description,
                start_step=event.global_step - event.episode_length,
            )
        self.bar.episode_done(
            event.episode_return,
            event.episode_length,
            event.global_step,
            best=event.best_metric,
            rolling=event.rolling_mean,
            steps_per_second=event.steps_per_second,
        )
        return True

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
