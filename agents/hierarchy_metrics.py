"""Per-episode diagnostics of the hierarchy agent for TensorBoard, read from the hierarchy without changing it.

After every hierarchy step the agent calls :meth:`EpisodeMetrics.record`; at an episode end the runner logs
:meth:`EpisodeMetrics.values`; ``clear_state`` (the next episode's start) calls :meth:`EpisodeMetrics.reset`.
The accumulators are part of the agent's state (``to_arrays``, ``check``/``apply``), so a run resumed
mid-episode logs the same numbers as an uninterrupted one. In continuing mode (``episodic=False``) ``clear_state``
changes nothing, so the "episode" means become means over the whole stream so far. Everything here only reads:
actions, weights and the hierarchy's own state are the same with or without it.

The observation port is an input-only (NONE) port, so the hierarchy makes no prediction of the next
observation and there is no prediction accuracy to log.
"""

from __future__ import annotations

import numpy as np

from hierarchy import Hierarchy

_MID, _TERMINATED = 0, 1  # replay flags as Hierarchy.get_replay_tail reports them
_SUMS = ("td_error", "abs_td_error", "value", "entropy", "td_count", "steps")


class EpisodeMetrics:
    """Running sums of one episode, plus the encoder cells used this episode and ever (per layer).

    Args:
        hierarchy: The agent's hierarchy (its layer sizes fix the cell masks).
        action_port: Index of the ACTION port whose values, TD errors and policy are reported.
        discount: The actor's discount, for the one-step TD error ``r + discount * V' - V``.
    """

    def __init__(self, hierarchy: Hierarchy, action_port: int, discount: float) -> None:
        self.action_port = action_port
        self.discount = float(discount)
        self.layer_cells = []
        for layer in range(hierarchy.get_num_layers()):
            x, y, z = hierarchy.get_hidden_size(layer)
            self.layer_cells.append((x * y, z))
        total = sum(columns * z for columns, z in self.layer_cells)
        self.sums = np.zeros(len(_SUMS), np.float64)
        self.used = np.zeros(total, np.uint8)  # cells active at least once this episode
        self.ever_used = np.zeros(total, np.uint8)  # ... at least once since the run started
        self.replay_fill = 0.0

    def record(self, hierarchy: Hierarchy) -> None:
        """Add the step the hierarchy just made."""
        values, rewards, flags, held, capacity = hierarchy.get_replay_tail(self.action_port, 2)
        sums = self.sums
        sums[2] += float(values[0].mean())
        if held >= 2 and flags[1] == _MID:  # the previous sample belongs to this episode: its TD error is known now
            bootstrap = 0.0 if flags[0] == _TERMINATED else values[0].astype(np.float64)
            td = float(np.mean(rewards[0] + self.discount * bootstrap - values[1]))
            sums[0] += td
            sums[1] += abs(td)
            sums[4] += 1.0
        probs = hierarchy.get_prediction_acts(self.action_port).astype(np.float64)
        logs = np.log(np.where(probs > 0.0, probs, 1.0))
        sums[3] += float(-(probs * logs).sum()) / len(values[0])  # mean entropy of a column's action distribution
        sums[5] += 1.0
        self.replay_fill = held / capacity
        offset = 0
        for layer, (n_columns, z) in enumerate(self.layer_cells):
            cells = offset + np.arange(n_columns) * z + hierarchy.get_hidden_cis(layer)
            self.used[cells] = 1
            offset += n_columns * z
        self.ever_used |= self.used

    def reset(self) -> None:
        """A new episode: zero the sums and this episode's cell mask (the run-wide mask stays)."""
        self.sums[:] = 0.0
        self.used[:] = 0

    def values(self) -> dict[str, float]:
        """The episode's scalars by TensorBoard tag (means over its steps; zeros before any step)."""
        td_error, abs_td, value, entropy, td_count, steps = self.sums
        out = {
            "losses/td_error": td_error / td_count if td_count else 0.0,
            "losses/abs_td_error": abs_td / td_count if td_count else 0.0,
            "hierarchy/value_estimate": value / steps if steps else 0.0,
            "hierarchy/policy_entropy": entropy / steps if steps else 0.0,
            "hierarchy/replay_fill": self.replay_fill,
        }
        offset = 0
        for layer, (n_columns, z) in enumerate(self.layer_cells):
            size = n_columns * z
            out[f"hierarchy/layer{layer}/cells_used_episode"] = float(self.used[offset : offset + size].mean())
            out[f"hierarchy/layer{layer}/cells_used_ever"] = float(self.ever_used[offset : offset + size].mean())
            offset += size
        return out

    # --- state -------------------------------------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        sums = np.concatenate([self.sums, [self.replay_fill]])
        return {
            "metrics_sums": sums,
            "metrics_cells_used": self.used.copy(),
            "metrics_cells_ever": self.ever_used.copy(),
        }

    def check(self, arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``to_arrays`` output checked for :meth:`apply` (split so a caller can check everything before it
        changes anything).

        Raises:
            ValueError: A wrong shape or dtype, a non-finite or negative sum, a replay fill outside [0, 1], or a
                cell mask holding anything but 0 and 1.
        """
        sums = np.asarray(arrays["metrics_sums"])
        if sums.shape != (len(_SUMS) + 1,) or sums.dtype != np.float64 or not np.isfinite(sums).all():
            raise ValueError(
                f"state['metrics_sums'] must hold {len(_SUMS) + 1} finite float64, got {sums.dtype} {sums.shape}"
            )
        if (sums[[1, 4, 5]] < 0).any() or not 0.0 <= sums[-1] <= 1.0:
            raise ValueError("state['metrics_sums'] holds a negative count or a replay fill outside [0, 1]")
        masks = {}
        for key in ("metrics_cells_used", "metrics_cells_ever"):
            mask = np.asarray(arrays[key])
            if mask.shape != self.used.shape or mask.dtype != np.uint8 or mask.max(initial=0) > 1:
                raise ValueError(
                    f"state[{key!r}] must hold {self.used.size} uint8 of 0/1, got {mask.dtype} {mask.shape}"
                )
            masks[key] = mask
        return sums, masks["metrics_cells_used"], masks["metrics_cells_ever"]

    def apply(self, checked: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        """Restore what :meth:`check` returned."""
        sums, used, ever_used = checked
        self.sums[:] = sums[:-1]
        self.replay_fill = float(sums[-1])
        self.used[:] = used
        self.ever_used[:] = ever_used
