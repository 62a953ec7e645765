"""A PyAOgmaNeo image loop (env-runner style) runs on `hierarchy` with only the import changed.

The loop is the benchmark's PyAOgmaNeo side (`benchmarks/pixel_envs.run_pyaogmaneo`, written from the env
runner's description): module threads and RNG, ``ImageEncoder`` + ``ImageVisibleLayerDesc`` by position,
lower-case port types, ``enc.step([image], True)`` feeding a NONE port, ``h.step(cis, True, reward)``.
"""

from __future__ import annotations

import sys

import pytest

import hierarchy
from benchmarks.pixel_envs import run_pyaogmaneo


def test_the_pyaogmaneo_image_loop_runs_on_hierarchy_reproducibly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyaogmaneo", hierarchy)  # `import pyaogmaneo as neo` now gets ours
    before = hierarchy.get_global_state()
    try:
        first = run_pyaogmaneo("sphgym/PixelCatch-v0", 0, 200, layers=1)
        again = run_pyaogmaneo("sphgym/PixelCatch-v0", 0, 200, layers=1)
        other = run_pyaogmaneo("sphgym/PixelCatch-v0", 1, 200, layers=1)
    finally:
        hierarchy.set_global_state(before)
    assert first is not None and len(first) == 200 // 7  # 7-step episodes, the last one unfinished
    assert {r for _, r in first} <= {-1.0, 1.0}
    assert again == first  # set_global_state(seed + 1) alone makes the unseeded script repeat
    assert other != first
