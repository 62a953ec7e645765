"""Package-level checks: doctests of every module, and the import boundary (gymnasium + numpy only)."""

import doctest
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

MODULES = [
    "envs.action_codecs",
    "envs.capture",
    "envs.cartpole_no_velocity",
    "envs.delayed_cue",
    "envs.exact_values",
    "envs.image_observations",
    "envs.make",
    "envs.observation_codecs",
    "envs.pixel_catch",
    "envs.port_layout",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no doctest to run"
    assert result.failed == 0


def test_every_module_with_examples_is_doctested():
    import envs

    with_examples = {
        f"envs.{info.name}"
        for info in pkgutil.iter_modules(envs.__path__)
        if ">>>" in Path(envs.__path__[0], f"{info.name}.py").read_text()
    }
    assert with_examples == set(MODULES)


def test_envs_imports_only_gymnasium_and_numpy():
    code = (
        "import sys, envs; "
        "banned = ('agents', 'hierarchy', 'torch', 'numba'); "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in banned); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
