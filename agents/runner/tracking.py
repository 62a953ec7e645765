"""Rolling episode statistics, the best metric and early stopping: plain state, saved in every checkpoint."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TrackUpdate:
    """What one finished episode changed."""

    rolling_mean: float
    rolling_length: float
    is_best: bool
    solved: bool
    stop_early: bool


class EpisodeTracker:
    """Mean return over the last ``window`` episodes, best value of that mean, patience counter, solved flag.

    Means use ``math.fsum`` (exactly rounded, independent of summation order), so a restored tracker continues
    bit-identically.

    The best metric (and the ``best/`` copy) counts only rolling means over a FULL window of ``window`` episodes:
    a mean over the first few episodes is noise (on FrozenLake the first success is a mean of 1.0 at episode 1,
    which no full window would beat). A run shorter than its window has no best yet.
    """

    def __init__(
        self,
        window: int,
        mode: str = "max",
        min_delta: float = 0.0,
        patience: int | None = None,
        reward_threshold: float | None = None,
    ) -> None:
        self.window = window
        self.mode = mode
        self.min_delta = min_delta
        self.patience = patience
        self.reward_threshold = reward_threshold
        self.returns: deque[float] = deque(maxlen=window)
        self.lengths: deque[int] = deque(maxlen=window)
        self.best_metric: float | None = None
        self.best_episode: int | None = None
        self.best_global_step: int | None = None
        self.reference: float | None = None  # early-stopping reference (last value that beat it by min_delta)
        self.episodes_without_improvement = 0
        # The best/ copy: best rolling mean among the episodes where best/ may be refreshed (see
        # RunConfig.best_every).
        self.saved_best_metric: float | None = None
        self.saved_best_episode: int | None = None

    def _better(self, value: float, than: float | None, delta: float) -> bool:
        if than is None:
            return True
        return value > than + delta if self.mode == "max" else value < than - delta

    def update(self, episode_return: float, length: int, episode: int, global_step: int) -> TrackUpdate:
        self.returns.append(float(episode_return))
        self.lengths.append(int(length))
        mean = math.fsum(self.returns) / len(self.returns)
        mean_length = math.fsum(self.lengths) / len(self.lengths)
        is_best = self.window_full and self._better(mean, self.best_metric, 0.0)
        if is_best:
            self.best_metric, self.best_episode, self.best_global_step = mean, episode, global_step
        if self._better(mean, self.reference, self.min_delta):
            self.reference = mean
            self.episodes_without_improvement = 0
        else:
            self.episodes_without_improvement += 1
        stop_early = self.patience is not None and self.episodes_without_improvement >= self.patience
        solved = (
            self.reward_threshold is not None and len(self.returns) >= self.window and mean >= self.reward_threshold
        )
        return TrackUpdate(mean, mean_length, is_best, solved, stop_early)

    def offer_saved_best(self, episode: int) -> bool:
        """Whether the current rolling mean beats the best/ copy (and becomes it)."""
        mean = self.rolling_mean
        if not self.window_full or not self._better(mean, self.saved_best_metric, 0.0):
            return False
        self.saved_best_metric, self.saved_best_episode = mean, episode
        return True

    @property
    def window_full(self) -> bool:
        """Whether the last ``window`` episodes have all finished (only then does a mean count as a best)."""
        return len(self.returns) >= self.window

    @property
    def rolling_mean(self) -> float | None:
        return math.fsum(self.returns) / len(self.returns) if self.returns else None

    # ------------------------------------------------------------------ state

    def state_json(self) -> dict[str, Any]:
        return {
            "best_metric": self.best_metric,
            "best_episode": self.best_episode,
            "best_global_step": self.best_global_step,
            "saved_best_metric": self.saved_best_metric,
            "saved_best_episode": self.saved_best_episode,
            "early_stopping": {
                "reference": self.reference,
                "episodes_without_improvement": self.episodes_without_improvement,
                "patience": self.patience,
                "min_delta": self.min_delta,
                "mode": self.mode,
            },
        }

    def state_arrays(self) -> dict[str, np.ndarray]:
        return {
            "recent_returns": np.asarray(self.returns, dtype=np.float64).reshape(-1),
            "recent_lengths": np.asarray(self.lengths, dtype=np.int64).reshape(-1),
        }

    def load(self, json_state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Restore ``state_json()`` / ``state_arrays()`` output; ``ValueError``/``KeyError`` if it does not fit
        (nothing is changed then)."""
        early = json_state["early_stopping"]
        numbers = {
            "best_metric": json_state["best_metric"],
            "saved_best_metric": json_state["saved_best_metric"],
            "reference": early["reference"],
        }
        counts = {
            "best_episode": json_state["best_episode"],
            "best_global_step": json_state["best_global_step"],
            "saved_best_episode": json_state["saved_best_episode"],
        }
        for name, value in numbers.items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ValueError(f"tracker {name} must be a number or null, got {value!r}")
        for name, value in counts.items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"tracker {name} must be an integer >= 0 or null, got {value!r}")
        without = early["episodes_without_improvement"]
        if isinstance(without, bool) or not isinstance(without, int) or without < 0:
            raise ValueError(f"tracker episodes_without_improvement must be an integer >= 0, got {without!r}")
        returns, lengths = arrays["recent_returns"], arrays["recent_lengths"]
        if (
            returns.ndim != 1
            or lengths.ndim != 1
            or returns.dtype != np.float64
            or lengths.dtype.kind not in "iu"
            or len(returns) != len(lengths)
            or len(returns) > self.window
        ):
            raise ValueError(
                f"recent_returns/recent_lengths must be 1-D float64/int arrays of equal length <= {self.window}, "
                f"got {returns.dtype}{returns.shape} and {lengths.dtype}{lengths.shape}"
            )
        self.best_metric = numbers["best_metric"]
        self.best_episode = counts["best_episode"]
        self.best_global_step = counts["best_global_step"]
        self.saved_best_metric = numbers["saved_best_metric"]
        self.saved_best_episode = counts["saved_best_episode"]
        self.reference = numbers["reference"]
        self.episodes_without_improvement = without
        self.returns = deque((float(x) for x in returns), maxlen=self.window)
        self.lengths = deque((int(x) for x in lengths), maxlen=self.window)
