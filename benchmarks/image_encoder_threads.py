"""Where do 2 threads pay off for the image encoder? `ImageEncoder.step` time at 1 and 2 kernel threads.

Shapes as in ``image_encoder_speed.py`` (radius 4): 32x32 grey into (5, 5, 16), 64x64 grey and RGB into
(8, 8, 16), plus an (8, 8, 16) encoder on the 8x8 PixelCatch image (radius 1, the agent's default) and on
MiniGrid's 7x7x3 view. Each is timed in alternating blocks, 1 thread then 2 (learning on, random images),
after a warm-up; the result is the median step time per thread count and the ratio 2 threads / 1 thread
(< 1: 2 threads pay). Results are bit-identical at every thread count (tests/hierarchy/test_image_encoder.py),
so only speed is compared. On a shared machine read the ratios, not the absolute times.

    nice -n 10 python benchmarks/image_encoder_threads.py          # about a minute (first run compiles the twins)
    nice -n 10 python benchmarks/image_encoder_threads.py --quick
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.hierarchy_threads import median_seconds, one_and_two_threads  # noqa: E402
from hierarchy import ImageEncoder, ImageVisibleLayerDesc  # noqa: E402

SHAPES = {  # name: (image size, hidden size, radius)
    "8x8x1 -> (8,8,16) r1 (PixelCatch)": ((8, 8, 1), (8, 8, 16), 1),
    "7x7x3 -> (8,8,16) r1 (MiniGrid)": ((7, 7, 3), (8, 8, 16), 1),
    "32x32x1 -> (5,5,16) r4": ((32, 32, 1), (5, 5, 16), 4),
    "64x64x1 -> (8,8,16) r4": ((64, 64, 1), (8, 8, 16), 4),
    "64x64x3 -> (8,8,16) r4": ((64, 64, 3), (8, 8, 16), 4),
}


def block(enc: ImageEncoder, images: np.ndarray, steps: int) -> float:
    """Median seconds per learning step over ``steps`` steps."""
    return median_seconds(lambda t: enc.step([images[t % len(images)]], True), steps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer and shorter blocks")
    args = ap.parse_args()
    blocks, steps, warmup = (2, 50, 50) if args.quick else (5, 200, 200)
    print("| image -> hidden | 1 thread (us/step) | 2 threads (us/step) | 2 / 1 |\n|---|---|---|---|")
    for name, (size, hidden, radius) in SHAPES.items():
        images = np.random.default_rng(0).integers(0, 256, (64, int(np.prod(size))), dtype=np.uint8)
        encs = {n: ImageEncoder(hidden, [ImageVisibleLayerDesc(size, radius)], seed=0) for n in (1, 2)}
        one, two = one_and_two_threads(encs, block, images, warmup, steps, blocks)
        print(f"| {name} | {one * 1e6:.0f} | {two * 1e6:.0f} | {two / one:.2f} |", flush=True)


if __name__ == "__main__":
    main()
