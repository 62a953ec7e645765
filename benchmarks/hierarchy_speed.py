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
    python benchmarks/hierarchy_speed.py --profile  # where one step's time goes (ours only)
    python benchmarks/hierarchy_speed.py --scaling [--threads 2]  # step time against hidden size, layers, port
    python benchmarks/hierarchy_speed.py --load     # loading a full buffer, restoring state + weights

``--profile`` splits a step of ours into: the Python wrapper (`Hierarchy.step` minus the kernel call), the
kernel call's fixed cost (one `fused_step` call from Python minus the same call repeated inside numba), and the
kernels' own compute; then the cProfile top functions of a few thousand steps.
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


def run_block(h, obs_stream: np.ndarray, start: int, n: int, learn: bool) -> tuple[float, float]:
    """Step ``n`` times like an agent loop (inputs in, action out); return (wall seconds, CPU seconds)."""
    action = np.asarray(h.get_prediction_cis(1), np.int32)
    m = len(obs_stream)
    t0, c0 = time.perf_counter(), time.process_time()
    for t in range(start, start + n):
        h.step([obs_stream[t % m], action], learn, 1.0)
        action = h.get_prediction_cis(1)
    return time.perf_counter() - t0, time.process_time() - c0


SCALING = [  # (label, hidden sizes bottom first, observation port)
    ("1 x (5,5,64)", [(5, 5, 64)], (2, 2, 16)),
    ("1 x (8,8,64)", [(8, 8, 64)], (2, 2, 16)),
    ("1 x (16,16,64)", [(16, 16, 64)], (2, 2, 16)),
    ("2 x (5,5,64)", [(5, 5, 64)] * 2, (2, 2, 16)),
    ("4 x (5,5,64)", [(5, 5, 64)] * 4, (2, 2, 16)),
    ("1 x (8,8,64), 16x16 port", [(8, 8, 64)], (16, 16, 16)),
]


def scaling(threads: int, blocks: int) -> None:
    """Step time per shape, learning on and off, ours and pyaogmaneo, both at ``threads`` threads.

    One thread count per process: numba's and OpenMP's idle worker threads would otherwise bill their spinning to
    the single-threaded blocks. With one thread the figure is CPU time; with more it is wall time (what threads
    buy), which only means something on a quiet machine.
    """
    import hierarchy

    try:
        import pyaogmaneo as neo
    except ImportError:
        neo = None
    clock = 1 if threads == 1 else 0  # run_block returns (wall, CPU)
    what = "CPU" if threads == 1 else "wall"
    print(f"{threads} thread(s): median µs per step ({what} time) of {blocks} alternating blocks; learn on / off")
    header = ["shape", "ours"] + (["pyaogmaneo", "pyaogmaneo / ours"] if neo is not None else [])
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    hierarchy.set_num_threads(threads)
    if neo is not None:
        neo.set_num_threads(threads)
    for label, hidden, port in SCALING:
        obs = np.random.default_rng(0).integers(0, port[2], (4096, port[0] * port[1])).astype(np.int32)
        ios = [(port, "none"), ((1, 1, 2), "action")]
        hs = {
            "ours": Hierarchy(
                [IODesc(size, IOType[kind.upper()], up_radius=2) for size, kind in ios],
                [LayerDesc(size) for size in hidden],
                seed=0,
            )
        }
        if neo is not None:
            neo.set_global_state(1)
            hs["pyaogmaneo"] = neo.Hierarchy(
                [neo.IODesc(size, getattr(neo, kind), up_radius=2) for size, kind in ios],
                [neo.LayerDesc(size) for size in hidden],
            )
        # Steps per block: about 0.2 s of the slower one, after a warm-up that fills the replay ring.
        slowest = 0.0
        for h in hs.values():
            run_block(h, obs, 0, 520, True)
            slowest = max(slowest, run_block(h, obs, 520, 20, True)[clock] / 20)
        steps = max(20, int(0.2 / slowest))
        times: dict[tuple[str, bool], list[float]] = {}
        pos = 600
        for _ in range(blocks):
            for learn in (True, False):
                for name, h in hs.items():
                    secs = run_block(h, obs, pos, steps, learn)[clock]
                    times.setdefault((name, learn), []).append(secs / steps * 1e6)
                pos += steps
        med = {k: statistics.median(v) for k, v in times.items()}
        row = [label] + [f"{med[(n, True)]:,.0f} / {med[(n, False)]:,.0f}" for n in hs]
        if neo is not None:
            row.append(
                f"{med[('pyaogmaneo', True)] / med[('ours', True)]:.2f}x / "
                f"{med[('pyaogmaneo', False)] / med[('ours', False)]:.2f}x"
            )
        print("| " + " | ".join(row) + " |", flush=True)


def load_times(repeats: int) -> None:
    """Milliseconds (CPU) to load a full buffer and to restore state + weights, ours and pyaogmaneo, interleaved."""
    rng = np.random.default_rng(0)
    obs = rng.integers(0, 16, (4096, 4)).astype(np.int32)
    ours = make_ours()
    run_block(ours, obs, 0, 600, True)
    full = ours.serialize_to_buffer()
    state, weights = ours.serialize_state_to_buffer(), ours.serialize_weights_to_buffer()

    def restore() -> None:
        ours.set_state_from_buffer(state)
        ours.set_weights_from_buffer(weights)

    tasks = {
        "ours: full buffer -> Hierarchy": lambda: Hierarchy.from_buffer(full),
        "ours: state + weights restore": restore,
    }
    neo_h = make_neo()
    if neo_h is not None:
        import pyaogmaneo as neo

        run_block(neo_h, obs, 0, 600, True)
        neo_full = neo_h.serialize_to_buffer()
        tasks["pyaogmaneo: full buffer -> Hierarchy"] = lambda: neo.Hierarchy(buffer=neo_full)
    times: dict[str, list[float]] = {name: [] for name in tasks}
    for task in tasks.values():
        task()  # warm-up: caches, first allocation
    for _ in range(repeats):
        for name, task in tasks.items():
            t0 = time.process_time()
            for _ in range(10):
                task()
            times[name].append((time.process_time() - t0) / 10 * 1e3)
    for name, ts in times.items():
        print(f"{name:38s} median {statistics.median(ts):6.3f} ms  (min {min(ts):.3f}, {repeats} blocks of 10)")


def profile(obs_stream: np.ndarray, steps: int) -> None:
    """Print the split of one step's time (see the module docstring) and the cProfile summary."""
    import cProfile
    import pstats

    from numba import njit

    from hierarchy.fused import fused_step

    @njit
    def repeat(n, arena, lay, pv, learn, reward, mimic, flag):
        for _ in range(n):
            fused_step(arena, lay, pv, learn, reward, mimic, flag)

    h = make_ours()
    run_block(h, obs_stream, 0, 600, True)
    f = h._fused
    f.step(h.params, True, 1.0, 0.0, 0)
    print(f"one step of ours, CartPole shapes, fastest of 30 blocks of {steps} steps (µs per step, CPU time)")
    print(f"{'':10s} {'step':>8s} {'wrapper':>8s} {'call':>8s} {'compute':>8s}")
    for learn in (True, False):
        full, call, compute = [], [], []
        for _ in range(30):
            full.append(run_block(h, obs_stream, 600, steps, learn)[1] / steps)
            t0 = time.process_time()
            for _ in range(steps):
                fused_step(f.arena, f.lay, f.pv, learn, 1.0, 0.0, 0)
            call.append((time.process_time() - t0) / steps)
            repeat(1, f.arena, f.lay, f.pv, learn, 1.0, 0.0, 0)
            t0 = time.process_time()
            repeat(steps, f.arena, f.lay, f.pv, learn, 1.0, 0.0, 0)
            compute.append((time.process_time() - t0) / steps)
        m = [min(x) * 1e6 for x in (full, call, compute)]  # the least disturbed block: the machine is shared
        label = "learn on" if learn else "learn off"
        print(f"{label:10s} {m[0]:8.2f} {m[0] - m[1]:8.2f} {m[1] - m[2]:8.2f} {m[2]:8.2f}")
    prof = cProfile.Profile(time.process_time)
    prof.enable()
    run_block(h, obs_stream, 600, 3 * steps, True)
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short run (fewer, shorter repeats)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None, help="steps per timed block")
    ap.add_argument("--profile", action="store_true", help="split one step's time of ours (no pyaogmaneo)")
    ap.add_argument("--scaling", action="store_true", help="step time against hierarchy size (see --threads)")
    ap.add_argument("--threads", type=int, default=1, help="with --scaling: kernel threads of both libraries")
    ap.add_argument("--load", action="store_true", help="time loading a full buffer and restoring state + weights")
    args = ap.parse_args()
    if args.load:
        load_times(args.repeats or 15)
        return
    if args.scaling:
        scaling(args.threads, args.repeats or 5)
        return
    if args.profile:
        profile(np.random.default_rng(0).integers(0, 16, (4096, 4)).astype(np.int32), args.steps or 500)
        return
    repeats = args.repeats or (3 if args.quick else 7)
    steps = args.steps or (1000 if args.quick else 4000)

    rng = np.random.default_rng(0)
    obs_stream = rng.integers(0, 16, (4096, 4)).astype(np.int32)
    hs = {"ours": make_ours(), "pyaogmaneo": make_neo()}
    hs = {k: v for k, v in hs.items() if v is not None}
    for h in hs.values():  # warm-up: numba compile, full replay ring
        run_block(h, obs_stream, 0, 600, True)

    wall: dict[tuple[str, bool], list[float]] = {}
    cpu: dict[tuple[str, bool], list[float]] = {}
    pos = 600
    for _ in range(repeats):
        for learn in (True, False):
            for name, h in hs.items():
                secs, cpu_secs = run_block(h, obs_stream, pos, steps, learn)
                wall.setdefault((name, learn), []).append(steps / secs)
                cpu.setdefault((name, learn), []).append(steps / max(cpu_secs, 1e-9))
            pos += steps

    print(f"CartPole config, {repeats} repeats x {steps} steps; median steps/s of step + get_prediction_cis")
    print(
        f"{'':12s} {'learn on':>10s} {'learn off':>10s} {'on (CPU)':>10s} {'off (CPU)':>10s} "
        f"{'state B':>9s} {'weights B':>10s} {'full B':>10s}"
    )
    med = {k: statistics.median(v) for k, v in wall.items()}
    cmed = {k: statistics.median(v) for k, v in cpu.items()}
    for name, h in hs.items():
        print(
            f"{name:12s} {med[(name, True)]:10,.0f} {med[(name, False)]:10,.0f} {cmed[(name, True)]:10,.0f} "
            f"{cmed[(name, False)]:10,.0f} {h.get_state_size():9,d} {h.get_weights_size():10,d} "
            f"{h.get_size():10,d}"
        )
    if "pyaogmaneo" in hs:
        r = [d[("ours", learn)] / d[("pyaogmaneo", learn)] for d in (med, cmed) for learn in (True, False)]
        print(f"{'ratio':12s} {r[0]:9.2f}x {r[1]:9.2f}x {r[2]:9.2f}x {r[3]:9.2f}x   (ours / pyaogmaneo)")
        print("(wall-clock columns are what a user sees; CPU-time columns are less sensitive to other load)")
    else:
        print("pyaogmaneo not installed: no side-by-side figures (pip install pyaogmaneo==2.14.4)")


if __name__ == "__main__":
    main()
