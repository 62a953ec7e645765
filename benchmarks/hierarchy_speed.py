"""Speed of `Hierarchy.step` on the anchor's CartPole configuration, side by side with pyaogmaneo.

Configuration (PyAOgmaNeo's CartPole env-runner example at 2.14.4): one layer (5, 5, 64); an observation
port (2, 2, 16), type none, up_radius 2; an action port (1, 1, 2), type action; everything else at its
default (history_capacity 512, 16 replay iterations per step, ...).

Both hierarchies get the same input stream (pseudo-random observation CSDRs; the action port is fed the
hierarchy's own last action; reward 1 every step), after a warm-up that fills the replay ring. Timing
alternates ours / pyaogmaneo in short blocks and reports the median over repeats, so background load hits
both alike. pyaogmaneo runs with 1 thread (`set_num_threads(1)`); ours is single-threaded.

    python benchmarks/hierarchy_speed.py            # ~1 minute
    python benchmarks/hierarchy_speed.py --quick    # a few seconds
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hierarchy import Hierarchy, IODesc, IOType, LayerDesc


def make_ours():
    return Hierarchy(
        [IODesc((2, 2, 16), IOType.NONE, up_radius=2), IODesc((1, 1, 2), IOType.ACTION)],
        [LayerDesc((5, 5, 64))],
        seed=0,
    )


def make_neo():
    try:
        import pyaogmaneo as neo
    except ImportError:
        return None
    neo.set_num_threads(1)
    neo.set_global_state(1)
    return neo.Hierarchy(
        [neo.IODesc((2, 2, 16), neo.none, up_radius=2), neo.IODesc((1, 1, 2), neo.action)],
        [neo.LayerDesc((5, 5, 64))],
    )


def run_block(h, obs_stream: np.ndarray, start: int, n: int, learn: bool) -> float:
    """Step ``n`` times; return seconds. Mirrors an agent loop: inputs in, action out."""
    action = np.asarray(h.get_prediction_cis(1), np.int32)
    m = len(obs_stream)
    t0 = time.perf_counter()
    for t in range(start, start + n):
        h.step([obs_stream[t % m], action], learn, 1.0)
        action = h.get_prediction_cis(1)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short run (fewer, shorter repeats)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None, help="steps per timed block")
    args = ap.parse_args()
    repeats = args.repeats or (3 if args.quick else 7)
    steps = args.steps or (1000 if args.quick else 4000)

    rng = np.random.default_rng(0)
    obs_stream = rng.integers(0, 16, (4096, 4)).astype(np.int32)
    hs = {"ours": make_ours(), "pyaogmaneo": make_neo()}
    hs = {k: v for k, v in hs.items() if v is not None}
    for h in hs.values():  # warm-up: numba compile, full replay ring
        run_block(h, obs_stream, 0, 600, True)

    results: dict[tuple[str, bool], list[float]] = {}
    pos = 600
    for _ in range(repeats):
        for learn in (True, False):
            for name, h in hs.items():
                secs = run_block(h, obs_stream, pos, steps, learn)
                results.setdefault((name, learn), []).append(steps / secs)
            pos += steps

    print(
        f"CartPole config, {repeats} repeats x {steps} steps, median steps/s (step + get_prediction_cis)"
    )
    print(
        f"{'':12s} {'learn on':>12s} {'learn off':>12s} {'state bytes':>12s} {'weights bytes':>14s} "
        f"{'full bytes':>11s}"
    )
    for name, h in hs.items():
        on = statistics.median(results[(name, True)])
        off = statistics.median(results[(name, False)])
        print(
            f"{name:12s} {on:12,.0f} {off:12,.0f} {h.get_state_size():12,d} {h.get_weights_size():14,d} "
            f"{h.get_size():11,d}"
        )
    if "pyaogmaneo" in hs:
        on = statistics.median(results[("ours", True)]) / statistics.median(results[("pyaogmaneo", True)])
        off = statistics.median(results[("ours", False)]) / statistics.median(results[("pyaogmaneo", False)])
        print(f"{'ratio':12s} {on:11.2f}x {off:11.2f}x   (ours / pyaogmaneo)")
    else:
        print("pyaogmaneo not installed: no side-by-side figures (pip install pyaogmaneo==2.14.4)")


if __name__ == "__main__":
    main()
