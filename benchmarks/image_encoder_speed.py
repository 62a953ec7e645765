"""Speed of `ImageEncoder.step` on 32x32 and 64x64 images, side by side with pyaogmaneo's ImageEncoder.

Configurations (grey images, random pixels, one visible layer, PyAOgmaNeo's default params):

* 32x32x1 -> hidden (5, 5, 16), radius 4 (9x9 fields, the default radius);
* 64x64x1 -> hidden (8, 8, 16), radius 4;
* 64x64x3 -> hidden (8, 8, 16), radius 4 (RGB).

Modes: ``learn`` = step(learn_enabled=True), ``learn+recon`` = also learn_recon=True, ``infer`` = learning off.
Timing alternates ours / pyaogmaneo in short blocks and reports the median steps/s over repeats, so background
load hits both alike. pyaogmaneo runs with 1 thread; ours is single-threaded.

    python benchmarks/image_encoder_speed.py            # ~1 minute
    python benchmarks/image_encoder_speed.py --quick    # a few seconds
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hierarchy import ImageEncoder, ImageVisibleLayerDesc

CONFIGS = [((32, 32, 1), (5, 5, 16), 4), ((64, 64, 1), (8, 8, 16), 4), ((64, 64, 3), (8, 8, 16), 4)]
MODES = {"learn": (True, False), "learn+recon": (True, True), "infer": (False, False)}


def make(lib: str, image, hidden, radius):
    if lib == "ours":
        return ImageEncoder(hidden, [ImageVisibleLayerDesc(image, radius)], seed=0)
    try:
        import pyaogmaneo as neo
    except ImportError:
        return None
    neo.set_num_threads(1)
    neo.set_global_state(1)
    return neo.ImageEncoder(hidden, [neo.ImageVisibleLayerDesc(image, radius)])


def run_block(enc, images: np.ndarray, start: int, n: int, learn: bool, recon: bool) -> tuple[float, float]:
    """Step ``n`` times and read the codes, as an agent does; return steps per second (wall clock, CPU time)."""
    m = len(images)
    t0, c0 = time.perf_counter(), time.process_time()
    for t in range(start, start + n):
        enc.step([images[t % m]], learn, recon)
        enc.get_hidden_cis()
    return n / (time.perf_counter() - t0), n / max(time.process_time() - c0, 1e-9)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short run (fewer, shorter repeats)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None, help="steps per timed block")
    args = ap.parse_args()
    repeats = args.repeats or (3 if args.quick else 7)
    steps = args.steps or (100 if args.quick else 400)

    print(f"{repeats} repeats x {steps} steps; median steps/s of step + get_hidden_cis, wall clock | CPU time")
    print(
        f"{'image':10s} {'hidden':12s} {'mode':12s} {'ours':>9s} {'pyaogmaneo':>11s} {'ratio':>7s} | "
        f"{'ours':>9s} {'pyaogmaneo':>11s} {'ratio':>7s}"
    )
    for image, hidden, radius in CONFIGS:
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, (64, int(np.prod(image))), dtype=np.uint8)
        encs = {lib: make(lib, image, hidden, radius) for lib in ("ours", "pyaogmaneo")}
        encs = {k: v for k, v in encs.items() if v is not None}
        for enc in encs.values():  # warm-up: numba compile / cache load, first learning steps
            run_block(enc, images, 0, 20, True, True)
        speed: dict[tuple[str, str], list[tuple[float, float]]] = {}
        pos = 20
        for _ in range(repeats):
            for mode, (learn, recon) in MODES.items():
                for lib, enc in encs.items():
                    speed.setdefault((lib, mode), []).append(run_block(enc, images, pos, steps, learn, recon))
                pos += steps
        for mode in MODES:
            line = f"{'x'.join(map(str, image)):10s} {str(hidden):12s} {mode:12s}"
            for clock in (0, 1):
                ours = statistics.median(v[clock] for v in speed[("ours", mode)])
                line += (" | " if clock else " ") + f"{ours:9,.0f}"
                if "pyaogmaneo" in encs:
                    neo = statistics.median(v[clock] for v in speed[("pyaogmaneo", mode)])
                    line += f" {neo:11,.0f} {ours / neo:6.2f}x"
            print(line)
    if "pyaogmaneo" not in encs:
        print("pyaogmaneo not installed: no side-by-side figures (pip install pyaogmaneo==2.14.4)")


if __name__ == "__main__":
    main()
