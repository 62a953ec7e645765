"""Package-level checks: doctests of every module, and the import boundary (gymnasium + numpy only)."""

import doctest
import importlib
import subprocess
import sys

import pytest

MODULES = [
    "envs.action_codecs",
    "envs.capture",
    "envs.cartpole_no_velocity",
    "envs.delayed_cue",
    "envs.exact_values",
    "envs.make",
    "envs.observation_codecs",
    "envs.port_layout",
    "envs.registration",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_envs_imports_only_gymnasium_and_numpy():
    code = (
        "import sys, envs; "
        "banned = ('agents', 'hierarchy', 'torch', 'numba'); "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in banned); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
