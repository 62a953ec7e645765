"""Suite-wide settings: compiled bytecode on for the test session and the processes it starts.

Many tests start fresh interpreters (training processes, the ``sphgym`` CLI, Ray workers). Where
``PYTHONDONTWRITEBYTECODE`` is set (some sandboxes and CI images set it), each of them compiled every project
module from source (~0.2 s of CPU per process, a few hundred processes per suite run) and pytest re-rewrote the
asserts of every test module at every run. Bytecode is written to the usual ``__pycache__`` folders (git-ignored).

``SPHGYM_TESTS_NO_BYTECODE=1`` keeps it off: ``benchmarks/mutation_test.py`` sets it, because it rewrites a
module in place between runs and a stale ``.pyc`` (same mtime second and size) would run the wrong mutant.
"""

from __future__ import annotations

import os
import sys

if os.environ.get("SPHGYM_TESTS_NO_BYTECODE") != "1":
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.dont_write_bytecode = False
