"""Per-episode diagnostics of the hierarchy agent for TensorBoard, read from the hierarchy without changing it.

After every hierarchy step the agent calls :meth:`EpisodeMetrics.record` (it copies two small arrays; the steps are
added in blocks, see ``_flush``); at an episode end the runner logs :meth:`EpisodeMetrics.values`;
``clear_state`` (the next episode's start) calls :meth:`EpisodeMetrics.reset`.
The accumulators are part of the agent's state (``to_arrays``, ``check``/``apply``), so a run resumed
mid-episode logs the same numbers as an uninterrupted one. In continuing mode (``episodic=False``) ``clear_state``
changes nothing, so the "episode" means become means over the whole stream so far. Everything here only reads:
actions, weights and the hierarchy's own state are the same with or without it.

The observation port is an input-only (NONE) port, so the hierarchy makes no prediction of the next
observation. Its world model is in the layers above the first: layer l >= 1 predicts layer l-1's next hidden
CSDR, logged as ``hierarchy/layer{l}/prediction_accuracy`` (none with the default single layer). How often an
encoder commits a new cell (its ART vigilance test) is not logged: the committed flags are reachable only
through the whole weights buffer (~0.6 MB, ~2 ms to serialise and read back on CartPole), far over the time
budget of a per-episode metric.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hierarchy import Hierarchy

_MID, _TERMINATED = 0, 1  # replay flags as Hierarchy.get_replay_view reports them
_SUMS = ("td_error", "abs_td_error", "value", "entropy", "td_count", "steps")
_BLOCK = 64  # steps noted before they are added (fewer if the replay ring is smaller)


class EpisodeMetrics:
    """Running sums of one episode, plus the encoder cells used this episode and ever (per layer).

    Per step (:meth:`record`) only what is gone by the episode's end is accumulated, in one compiled call: the
    step's mean value, TD error and policy entropy, and the cells each layer just activated. Everything else
    (replay fill, the fractions and means) is computed when :meth:`values` is asked for, once per episode.

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
        self.masks = np.zeros((2, total), np.uint8)
        self.used = self.masks[0]  # cells active at least once this episode
        self.ever_used = self.masks[1]  # ... at least once since the run started
        self._layers, self._z0 = len(self.layer_cells), self.layer_cells[0][1]
        # Layer l >= 1 predicts layer l-1's next hidden CSDR: the prediction made last step, and per layer
        # [columns predicted right, columns compared] this episode. "valid" = 1 once a prediction of this
        # episode is held (the first step of an episode has nothing to compare with).
        self.predicted = [np.zeros(self.layer_cells[layer - 1][0], np.int32) for layer in self._predicting_layers]
        self.prediction_counts = np.zeros((len(self.predicted), 2), np.float64)
        self.prediction_valid = np.zeros(1, np.uint8)
        self._cell_tags = [
            (f"hierarchy/layer{layer}/cells_used_episode", f"hierarchy/layer{layer}/cells_used_ever")
            for layer in range(self._layers)
        ]
        self._accuracy_tags = [f"hierarchy/layer{layer}/prediction_accuracy" for layer in self._predicting_layers]
        self._hierarchy = hierarchy
        self._view_replay()
        # Steps recorded but not yet added (see `_flush`): the action port's policy and layer 0's cells of each.
        # At most capacity - 1 of them, so the ring still holds the sample before the oldest.
        block = max(1, min(_BLOCK, len(self._replay[2]) - 1))
        self._probs = np.zeros((block, hierarchy.get_prediction_acts(action_port).size), np.float32)
        self._cis = np.zeros((block, self.layer_cells[0][0]), np.int32)
        self._pending = 0

    @property
    def _predicting_layers(self) -> range:
        return range(1, len(self.layer_cells))

    def _view_replay(self) -> None:
        """Views of the action port's replay ring and policy and of layer 0's cells, fetched once: the hierarchy
        updates them in place (its steps and its state loader alike), so they stay current; fetched again after
        every state load all the same."""
        self._replay = self._hierarchy.get_replay_view(self.action_port)
        self._policy = self._hierarchy.get_prediction_acts_view(self.action_port)
        self._cells0 = self._hierarchy.get_hidden_cis_view(0)

    def record(self, hierarchy: Hierarchy) -> None:
        """Note the step the hierarchy just made (its policy and layer 0's cells are copied; the rest is read
        from the replay ring when the block is added)."""
        pending = self._pending
        self._probs[pending] = self._policy
        self._cis[pending] = self._cells0
        self._pending = pending + 1
        if self._pending == len(self._cis):
            self._flush()
        if self._layers > 1:
            self._record_upper_layers(hierarchy)

    def _flush(self) -> None:
        """Add the pending steps, oldest first: each one's mean V (the ring's sample of that step), the TD error
        of the sample before it (if in the same episode), its policy entropy, and layer 0's cells. The sums come
        out as if each step had been added when it was made (same values, same order)."""
        if self._pending:
            values, rewards, flags, meta = self._replay
            _add_steps(values, rewards, flags, meta, self._probs, self._cis, self._pending, self.discount,
                       self.sums, self._z0, self.masks)
            self._pending = 0

    def _record_upper_layers(self, hierarchy: Hierarchy) -> None:
        """Layers >= 1: mark their cells, score last step's prediction of the layer below, hold the new one."""
        for layer in range(1, self._layers):
            cis = hierarchy.get_hidden_cis(layer)
            _mark_cells(cis, self.layer_offsets[layer], self.layer_cells[layer][1], self.masks)
        for k, layer in enumerate(self._predicting_layers):
            if self.prediction_valid[0]:
                _count_hits(self.predicted[k], hierarchy.get_hidden_cis(layer - 1), self.prediction_counts[k])
            self.predicted[k][:] = hierarchy.get_layer_prediction_cis(layer)
        self.prediction_valid[0] = 1

    def reset(self) -> None:
        """A new episode: zero the sums and this episode's cell mask (the run-wide mask stays). Called before
        the hierarchy's ``clear_state`` marks the ring's newest sample as a boundary."""
        self._flush()  # the run-wide mask needs the pending steps' cells
        self.sums[:] = 0.0
        self.used[:] = 0
        self.prediction_counts[:] = 0.0
        self.prediction_valid[0] = 0

    def replay_fill(self) -> float:
        """Replay samples held / capacity, now."""
        _, _, flags, meta = self._replay
        return int(meta[1]) / len(flags)

    def values(self) -> dict[str, float]:
        """The episode's scalars by TensorBoard tag (means over its steps; zeros before any step)."""
        self._flush()
        td_error, abs_td, value, entropy, td_count, steps = self.sums.tolist()
        out = {
            "losses/td_error": td_error / td_count if td_count else 0.0,
            "losses/abs_td_error": abs_td / td_count if td_count else 0.0,
            "hierarchy/value_estimate": value / steps if steps else 0.0,
            "hierarchy/policy_entropy": entropy / steps if steps else 0.0,
            "hierarchy/replay_fill": self.replay_fill(),
        }
        for (episode_tag, ever_tag), offset, (n_columns, z) in zip(
            self._cell_tags, self.layer_offsets, self.layer_cells, strict=True
        ):
            end = offset + n_columns * z
            out[episode_tag] = np.count_nonzero(self.used[offset:end]) / (end - offset)
            out[ever_tag] = np.count_nonzero(self.ever_used[offset:end]) / (end - offset)
        for (hits, compared), tag in zip(self.prediction_counts.tolist(), self._accuracy_tags, strict=True):
            out[tag] = hits / compared if compared else 0.0
        return out

    # --- state -------------------------------------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        """The accumulators (one hierarchy layer: ``metrics_sums`` and the two cell masks; more layers add the
        layer predictions held and their hit counts)."""
        self._flush()
        arrays = {
            "metrics_sums": np.concatenate([self.sums, [self.replay_fill()]]),
            "metrics_cells_used": self.used.copy(),
            "metrics_cells_ever": self.ever_used.copy(),
        }
        if self.predicted:
            arrays["metrics_predicted"] = np.concatenate(self.predicted)
            arrays["metrics_prediction_counts"] = np.concatenate(
                [self.prediction_valid.astype(np.float64), self.prediction_counts.reshape(-1)]
            )
        return arrays

    def check(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``to_arrays`` output checked for :meth:`apply` (split so a caller can check everything before it
        changes anything).

        Raises:
            ValueError: A wrong shape or dtype, a non-finite or negative sum, a replay fill outside [0, 1], a
                cell mask holding anything but 0 and 1, a held prediction outside its layer's cells, or more
                prediction hits than comparisons.
        """
        sums = np.asarray(arrays["metrics_sums"])
        if sums.shape != (len(_SUMS) + 1,) or sums.dtype != np.float64 or not np.isfinite(sums).all():
            raise ValueError(
                f"state['metrics_sums'] must hold {len(_SUMS) + 1} finite float64, got {sums.dtype} {sums.shape}"
            )
        if (sums[[1, 4, 5]] < 0).any() or not 0.0 <= sums[-1] <= 1.0:
            raise ValueError("state['metrics_sums'] holds a negative count or a replay fill outside [0, 1]")
        checked = {"metrics_sums": sums}
        for key in ("metrics_cells_used", "metrics_cells_ever"):
            mask = np.asarray(arrays[key])
            if mask.shape != self.used.shape or mask.dtype != np.uint8 or mask.max(initial=0) > 1:
                raise ValueError(
                    f"state[{key!r}] must hold {self.used.size} uint8 of 0/1, got {mask.dtype} {mask.shape}"
                )
            checked[key] = mask
        if self.predicted:
            checked.update(self._check_predictions(arrays))
        return checked

    def _check_predictions(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        predicted = np.asarray(arrays["metrics_predicted"])
        sizes = [p.size for p in self.predicted]
        if predicted.shape != (sum(sizes),) or predicted.dtype != np.int32:
            raise ValueError(
                f"state['metrics_predicted'] must hold {sum(sizes)} int32, got {predicted.dtype} {predicted.shape}"
            )
        cells = [self.layer_cells[layer - 1][1] for layer in self._predicting_layers]  # of the layer predicted
        highs = np.repeat(cells, sizes)
        if predicted.size and ((predicted < 0) | (predicted >= highs)).any():
            raise ValueError("state['metrics_predicted'] holds a cell index outside its layer's cells")
        counts = np.asarray(arrays["metrics_prediction_counts"])
        if counts.shape != (1 + self.prediction_counts.size,) or counts.dtype != np.float64:
            raise ValueError(
                f"state['metrics_prediction_counts'] must hold {1 + self.prediction_counts.size} float64, got "
                f"{counts.dtype} {counts.shape}"
            )
        pairs = counts[1:].reshape(-1, 2)
        if not np.isfinite(counts).all() or counts[0] not in (0.0, 1.0) or (pairs < 0).any() or (
            pairs[:, 0] > pairs[:, 1]
        ).any():
            raise ValueError(
                "state['metrics_prediction_counts'] must hold a 0/1 flag, then per layer hits <= comparisons, "
                "all finite and >= 0"
            )
        return {"metrics_predicted": predicted, "metrics_prediction_counts": counts}

    def apply(self, checked: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`check` returned (after the hierarchy's own state: the replay views are fetched
        again)."""
        self.sums[:] = checked["metrics_sums"][:-1]
        self.used[:] = checked["metrics_cells_used"]
        self.ever_used[:] = checked["metrics_cells_ever"]
        if self.predicted:
            offset = 0
            for held in self.predicted:
                held[:] = checked["metrics_predicted"][offset : offset + held.size]
                offset += held.size
            counts = checked["metrics_prediction_counts"]
            self.prediction_valid[0] = int(counts[0])
            self.prediction_counts[:] = counts[1:].reshape(self.prediction_counts.shape)
        self._view_replay()
        self._pending = 0  # steps noted before the load belong to another history


# Per step, `record` only copies two small arrays; this kernel adds a block of steps in one compiled call.
@njit(cache=True)
def _add_steps(values, rewards, flags, meta, probs, cis, n, discount, sums, z, masks):  # pragma: no cover
    """Adds the last ``n`` steps (rows ``0..n-1`` of ``probs`` and ``cis``), oldest first; step k's sample is
    ``n-1-k`` pushes before the newest. Per step: its mean V, the TD error of the sample before it if that is in
    the same episode, its policy entropy (``probs[k]``), and layer 0's active cells (``cis[k]``, ``z`` cells per
    column; see `_mark_cells`)."""
    capacity = flags.shape[0]
    columns = values.shape[1]
    newest, held_now = meta[0], meta[1]
    for k in range(n):
        later = n - 1 - k  # pushes made after this step's
        now = (newest + later) % capacity  # the ring is written backwards
        before = (now + 1) % capacity
        value_now = 0.0
        for c in range(columns):
            value_now += values[now, c]
        sums[2] += value_now / columns
        # held_now - later >= 2: the ring held the sample before this one when this step was made (n < capacity)
        if held_now - later >= 2 and flags[before] == _MID:
            bootstrap = 0.0 if flags[now] == _TERMINATED else discount
            td = 0.0
            for c in range(columns):
                td += rewards[now] + bootstrap * values[now, c] - values[before, c]
            td /= columns
            sums[0] += td
            sums[1] += abs(td)
            sums[4] += 1.0
        entropy = 0.0
        for j in range(probs.shape[1]):
            p = np.float64(probs[k, j])
            if p > 0.0:
                entropy -= p * np.log(p)
        sums[3] += entropy / columns  # mean entropy of a column's action distribution
        sums[5] += 1.0
        _mark_cells(cis[k], 0, z, masks)


@njit(cache=True)
def _mark_cells(cis, offset, z, masks):  # pragma: no cover (numba)
    """Marks the active cells (``cis``, ``z`` cells per column, from mask index ``offset``) used this episode
    (``masks[0]``) and ever (``masks[1]``)."""
    for c in range(cis.shape[0]):
        masks[0, offset + c * z + cis[c]] = 1
        masks[1, offset + c * z + cis[c]] = 1


@njit(cache=True)
def _count_hits(predicted, actual, counts):  # pragma: no cover (numba)
    """counts += [columns where the prediction held equals the actual CSDR, columns]."""
    hits = 0
    for c in range(actual.shape[0]):
        if predicted[c] == actual[c]:
            hits += 1
    counts[0] += hits
    counts[1] += actual.shape[0]
