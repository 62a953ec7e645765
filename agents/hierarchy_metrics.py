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
from numba import njit

from hierarchy import Hierarchy

_MID, _TERMINATED = 0, 1  # replay flags as Hierarchy.get_replay_view reports them
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
        self.layer_cells = []  # (columns, cells per column) per layer
        self.layer_offsets = []  # index of each layer's first cell in the masks
        for layer in range(hierarchy.get_num_layers()):
            x, y, z = hierarchy.get_hidden_size(layer)
            self.layer_offsets.append(sum(columns * cells for columns, cells in self.layer_cells))
            self.layer_cells.append((x * y, z))
        total = sum(columns * z for columns, z in self.layer_cells)
        self.sums = np.zeros(len(_SUMS), np.float64)
        self.used = np.zeros(total, np.uint8)  # cells active at least once this episode
        self.ever_used = np.zeros(total, np.uint8)  # ... at least once since the run started
        self.replay_fill = 0.0

    def record(self, hierarchy: Hierarchy) -> None:
        """Add the step the hierarchy just made."""
        values, rewards, flags, meta = hierarchy.get_replay_view(self.action_port)
        probs = hierarchy.get_prediction_acts(self.action_port)
        _add_step(values, rewards, flags, meta, probs, self.discount, self.sums)
        self.replay_fill = int(meta[1]) / len(flags)
        for layer, (offset, (_, z)) in enumerate(zip(self.layer_offsets, self.layer_cells, strict=True)):
            _mark_cells(hierarchy.get_hidden_cis(layer), offset, z, self.used, self.ever_used)

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
        for layer, (offset, (n_columns, z)) in enumerate(zip(self.layer_offsets, self.layer_cells, strict=True)):
            size = n_columns * z
            out[f"hierarchy/layer{layer}/cells_used_episode"] = float(self.used[offset : offset + size].mean())
            out[f"hierarchy/layer{layer}/cells_used_ever"] = float(self.ever_used[offset : offset + size].mean())
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


# The per-step work is a few small loops: compiled, it costs ~2 % of a hierarchy step (numpy calls cost ~25 %).
@njit(cache=True)
def _add_step(values, rewards, flags, meta, probs, discount, sums):  # pragma: no cover (numba)
    """Adds this step's mean V, the previous sample's TD error (if it is in this episode) and the entropy."""
    columns = values.shape[1]
    now, held = meta[0], meta[1]
    before = (now + 1) % flags.shape[0]  # the ring is written backwards
    value_now = 0.0
    for c in range(columns):
        value_now += values[now, c]
    sums[2] += value_now / columns
    if held >= 2 and flags[before] == _MID:  # the previous sample is in this episode: its TD error is known now
        bootstrap = 0.0 if flags[now] == _TERMINATED else discount
        td = 0.0
        for c in range(columns):
            td += rewards[now] + bootstrap * values[now, c] - values[before, c]
        td /= columns
        sums[0] += td
        sums[1] += abs(td)
        sums[4] += 1.0
    entropy = 0.0
    for j in range(probs.shape[0]):
        p = np.float64(probs[j])
        if p > 0.0:
            entropy -= p * np.log(p)
    sums[3] += entropy / columns  # mean entropy of a column's action distribution
    sums[5] += 1.0


@njit(cache=True)
def _mark_cells(cis, offset, z, used, ever_used):  # pragma: no cover (numba)
    for c in range(cis.shape[0]):
        used[offset + c * z + cis[c]] = 1
        ever_used[offset + c * z + cis[c]] = 1
