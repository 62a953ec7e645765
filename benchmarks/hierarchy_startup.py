"""Start-up of the library alone: ``import hierarchy`` + build the CartPole hierarchy + its first step.

Each launch is a fresh interpreter (numba kernels loaded from their on-disk cache, modules from their
bytecode cache; one launch first fills both). Reports, per phase, the median over ``--repeats`` launches of the
wall time, and the median process CPU time of the whole launch (less sensitive to a loaded machine than wall
time). The "numba floor" launch imports numba and calls one trivial kernel from its cache: what any numba
library pays before its own work. ``--pythonpath`` times another checkout of the package (e.g. an older commit
exported with ``git archive``) for a before/after ratio; launches alternate.

    nice -n 10 python benchmarks/hierarchy_startup.py
    nice -n 10 python benchmarks/hierarchy_startup.py --pythonpath /tmp/old-checkout
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROBE = """
import json, time
t0 = time.perf_counter()
import numpy as np
import numba
tn = time.perf_counter()
import hierarchy
from hierarchy import Hierarchy, IODesc, IOType, LayerDesc
t1 = time.perf_counter()
h = Hierarchy([IODesc((2, 2, 16), IOType.NONE, up_radius=2), IODesc((1, 1, 2), IOType.ACTION, up_radius=2)],
              [LayerDesc((5, 5, 64))], seed=0)
t2 = time.perf_counter()
h.step([np.zeros(4, np.int32), np.zeros(1, np.int32)], True, 0.0)
t3 = time.perf_counter()
print(json.dumps({"numpy+numba import": tn - t0, "import": t1 - t0, "build": t2 - t1, "first step": t3 - t2,
                  "total": t3 - t0, "cpu": time.process_time()}))
"""


# numba's own floor: import it, then call one trivial kernel loaded from its on-disk cache. The first cached
# load in a process installs numba's typing and lowering registries (imports most of numba), whatever the kernel.
FLOOR_KERNEL = """
from numba import njit


@njit(cache=True)
def total(x):
    return x.sum()
"""
FLOOR_PROBE = """
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import numba
tn = time.perf_counter()
import startup_floor_kernel
startup_floor_kernel.total(np.zeros(3))
t1 = time.perf_counter()
print(json.dumps({"numpy+numba import": tn - t0, "first cached kernel": t1 - tn, "total": t1 - t0,
                  "cpu": time.process_time()}))
"""


def launch(pythonpath: str, probe: str = PROBE) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=pythonpath)
    # Warm means every cache present, Python's bytecode cache too (PYTHONDONTWRITEBYTECODE would recompile
    # every module at every launch: about 0.2 s of CPU that no installed package pays).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # From a neutral folder: ``python -c`` puts the working directory first on sys.path.
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=tempfile.gettempdir(), capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--pythonpath", help="also time the package found on this path (before/after)")
    args = ap.parse_args()
    floor_dir = tempfile.mkdtemp(prefix="sphgym-startup-floor-")
    Path(floor_dir, "startup_floor_kernel.py").write_text(FLOOR_KERNEL)
    paths = {"this checkout": (str(REPO), PROBE), "numba floor": (floor_dir, FLOOR_PROBE)}
    if args.pythonpath:
        paths["other"] = (args.pythonpath, PROBE)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in paths}
    for path, probe in paths.values():
        launch(path, probe)  # fills the numba and bytecode caches if needed
    for _ in range(args.repeats):
        for name, (path, probe) in paths.items():
            runs[name].append(launch(path, probe))
    shutil.rmtree(floor_dir, ignore_errors=True)
    print(f"medians of {args.repeats} warm launches (wall time per phase; cpu = the whole launch's CPU time)")
    for name, rs in runs.items():
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        print(f"{name}: " + ", ".join(f"{k} {v:.3f} s" for k, v in med.items()))


if __name__ == "__main__":
    main()
