"""Where do 2 threads pay off? `Hierarchy.step` time at 1 and 2 kernel threads (`hierarchy.set_num_threads`).

Shapes: the anchor's CartPole ports (obs (2, 2, 16) none, action (1, 1, 2)) under 1 or 3 layers of (5, 5, 64),
and a wider 2-layer (8, 8, 64) hierarchy. Each shape is timed in alternating blocks, 1 thread then 2, after a
warm-up that fills the replay ring (learning on, reward 1, the action port fed the hierarchy's own action);
the result is the median step time per thread count and the ratio 2 threads / 1 thread (< 1: 2 threads pay).
Results are bit-identical at every thread count (tests/hierarchy/test_hierarchy_golden.py), so only speed is
compared. On a shared machine run it under ``nice`` and read the ratios, not the absolute times: a second
thread that has to wait for a core makes every parallel region slower.

    nice -n 10 python benchmarks/hierarchy_threads.py            # a few minutes (first run compiles the twins)
    nice -n 10 python benchmarks/hierarchy_threads.py --quick
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hierarchy  # noqa: E402
from hierarchy import Hierarchy, IODesc, IOType, LayerDesc  # noqa: E402

SHAPES = {
    "1 x (5,5,64)": [(5, 5, 64)],
    "3 x (5,5,64)": [(5, 5, 64)] * 3,
    "2 x (8,8,64)": [(8, 8, 64)] * 2,
}


def build(layers: list[tuple[int, int, int]]) -> Hierarchy:
    return Hierarchy(
        [IODesc((2, 2, 16), IOType.NONE, up_radius=2), IODesc((1, 1, 2), IOType.ACTION)],
        [LayerDesc(size) for size in layers],
        seed=0,
    )


def median_seconds(step: Callable[[int], object], steps: int) -> float:
    """Median seconds of ``step(t)`` over t = 0 .. steps - 1 (one timing per call)."""
    times = []
    for t in range(steps):
        t0 = time.perf_counter()
        step(t)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def block(h: Hierarchy, obs: np.ndarray, steps: int) -> float:
    """Median seconds per step over ``steps`` steps."""
    return median_seconds(lambda t: h.step([obs[t % len(obs)], h.get_prediction_cis(1)], True, 1.0), steps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer and shorter blocks")
    args = ap.parse_args()
    blocks, steps, warmup = (2, 50, 100) if args.quick else (5, 200, 600)
    obs = np.random.default_rng(0).integers(0, 16, (1000, 4)).astype(np.int32)
    print(f"| layers | 1 thread (us/step) | 2 threads (us/step) | 2 / 1 |\n|---|---|---|---|")
    for name, layers in SHAPES.items():
        one, two = one_and_two_threads({1: build(layers), 2: build(layers)}, block, obs, warmup, steps, blocks)
        print(f"| {name} | {one * 1e6:.0f} | {two * 1e6:.0f} | {two / one:.2f} |", flush=True)


def one_and_two_threads(
    items: dict[int, Any], block: Callable[[Any, np.ndarray, int], float], data: np.ndarray, warmup: int, steps: int,
    blocks: int,
) -> tuple[float, float]:
    """Median step time with 1 and 2 threads: ``items[n]`` runs on n threads, warmed up, then timed in alternating
    blocks (``block(item, data, steps)`` -> seconds per step); the thread count is left at 1."""
    for threads, item in items.items():
        hierarchy.set_num_threads(threads)
        block(item, data, warmup)
    medians: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(blocks):
        for threads, item in items.items():
            hierarchy.set_num_threads(threads)
            medians[threads].append(block(item, data, steps))
    hierarchy.set_num_threads(1)
    return statistics.median(medians[1]), statistics.median(medians[2])


if __name__ == "__main__":
    main()
