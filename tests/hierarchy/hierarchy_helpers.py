"""Shared builders for the hierarchy tests (small shapes: every test stays fast)."""

from __future__ import annotations

import numpy as np

from hierarchy import Hierarchy, IODesc, IOType, LayerDesc


def cartpole_like(seed: int = 0, history_capacity: int = 64, layers: int = 1) -> Hierarchy:
    """The anchor's CartPole shape, smaller: obs (2,2,16) NONE + action (1,1,2), hidden (4,4,16)."""
    return Hierarchy(
        [
            IODesc((2, 2, 16), IOType.NONE, up_radius=2),
            IODesc((1, 1, 2), IOType.ACTION, history_capacity=history_capacity),
        ],
        [LayerDesc((4, 4, 16))] * layers,
        seed=seed,
    )


def every_kind(seed: int = 0, skip_radius: int = -1) -> Hierarchy:
    """Two layers, a prediction port, a none port and an action port (every component type); ``skip_radius``
    >= 0 lets the actor see both input ports directly."""
    h = Hierarchy(
        [
            IODesc((2, 3, 8), IOType.PREDICTION, up_radius=1, down_radius=1),
            IODesc((1, 2, 5), IOType.NONE, up_radius=1),
            IODesc((1, 1, 3), IOType.ACTION, down_radius=2, history_capacity=40, skip_radius=skip_radius),
        ],
        [LayerDesc((3, 3, 12), recurrent_radius=1), LayerDesc((2, 2, 10), up_radius=1, down_radius=1)],
        seed=seed,
    )
    h.params.ios[2].actor.min_steps = 4
    h.params.ios[2].actor.history_iters = 4
    return h


def drive(h: Hierarchy, steps: int, seed: int = 0, learn: bool = True, start: int = 0) -> list[np.ndarray]:
    """Feed a deterministic pseudo-random stream; the action port gets the hierarchy's own last action.

    Returns, per step, every port's prediction concatenated (for equality checks).
    """
    rng = np.random.default_rng(seed)
    outs = []
    for t in range(start + steps):
        inputs = []
        for i in range(h.get_num_io()):
            x, y, z = h.get_io_size(i)
            if h.get_io_type(i) == IOType.ACTION:
                inputs.append(h.get_prediction_cis(i))
            else:
                inputs.append(rng.integers(0, z, x * y).astype(np.int32))
        reward = float(rng.random())
        terminated = bool(rng.random() < 0.03)
        truncated = bool(rng.random() < 0.02)
        mimic = 0.3 if rng.random() < 0.05 else 0.0
        clear = bool(rng.random() < 0.02)
        if t < start:
            continue
        h.step(inputs, learn, reward, mimic, terminated=terminated, truncated=truncated)
        if clear:
            h.clear_state()
        outs.append(
            np.concatenate([h.get_prediction_cis(i) for i in range(h.get_num_io()) if h.get_io_type(i) != IOType.NONE])
        )
    return outs
