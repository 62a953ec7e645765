"""Start-up of the library alone: ``import hierarchy`` + build the CartPole hierarchy + its first step.

Each launch is a fresh interpreter (numba kernels loaded from their on-disk cache, modules from their bytecode
cache; one launch first fills both). Reports, per phase, the median over ``--repeats`` launches of the wall time, and the median process
CPU time of the whole launch (less sensitive to a loaded machine than wall time). ``--pythonpath`` times
another checkout of the package (e.g. an older commit exported with ``git archive``) for a before/after ratio;
launches of the two alternate.

    nice -n 10 python benchmarks/hierarchy_startup.py
    nice -n 10 python benchmarks/hierarchy_startup.py --pythonpath /tmp/old-checkout
"""

from __future__ import annotations

import argparse
import json
import os
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
print(json.dumps({"numpy+numba import": tn - t0, "import": t1 - t0, "build": t2 - t1, "first step": t3 - t2, "total": t3 - t0,
                  "cpu": time.process_time()}))
"""


def launch(pythonpath: str) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=pythonpath)
    # Warm means every cache present, Python's bytecode cache too (PYTHONDONTWRITEBYTECODE would recompile
    # every module at every launch: about 0.2 s of CPU that no installed package pays).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # From a neutral folder: ``python -c`` puts the working directory first on sys.path.
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=tempfile.gettempdir(), capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--pythonpath", help="also time the package found on this path (before/after)")
    args = ap.parse_args()
    paths = {"this checkout": str(REPO)}
    if args.pythonpath:
        paths["other"] = args.pythonpath
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in paths}
    for name, path in paths.items():
        launch(path)  # fills the numba cache if needed
    for _ in range(args.repeats):
        for name, path in paths.items():
            runs[name].append(launch(path))
    for name, rs in runs.items():
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        print(f"{name}: " + ", ".join(f"{k} {v:.3f} s" for k, v in med.items()))


if __name__ == "__main__":
    main()
