"""``restore_global_rng`` in-process: every saved value is checked before use, and the generators continue exactly
where ``capture_global_rng`` found them (torch's too, also in a process that has not imported torch yet)."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import numpy as np
import pytest

from agents.runner.rng_state import capture_global_rng, restore_global_rng


def _draws() -> tuple:
    return random.random(), float(np.random.random())


@pytest.mark.parametrize("bad", ["0.5", 1, True, [0.5]])
def test_a_python_gauss_next_that_is_not_a_float_or_null_is_refused_before_any_change(bad):
    snapshot = capture_global_rng()
    snapshot["python"]["gauss_next"] = bad
    before = random.getstate()
    with pytest.raises(ValueError, match="python gauss_next must be a float or null"):
        restore_global_rng(snapshot)
    assert random.getstate() == before


@pytest.mark.parametrize(("key", "bad"), [("pos", "3"), ("pos", 1.5), ("has_gauss", True), ("gauss", "0.5")])
def test_a_numpy_value_of_the_wrong_type_is_refused_before_any_change(key, bad):
    snapshot = capture_global_rng()
    snapshot["numpy"][key] = bad
    before = capture_global_rng()
    with pytest.raises(ValueError, match=f"numpy {key} must be a number"):
        restore_global_rng(snapshot)
    assert capture_global_rng() == before


def test_python_numpy_and_torch_generators_continue_where_they_were_captured():
    torch = pytest.importorskip("torch")
    snapshot = capture_global_rng()
    expected = (_draws(), torch.rand(4))
    _draws(), torch.rand(10)
    assert restore_global_rng(snapshot) == []  # no note: nothing was left unrestored
    draws = _draws()
    assert draws == expected[0]
    assert torch.equal(torch.rand(4), expected[1])


def test_a_torch_state_torch_would_normalise_is_refused():
    pytest.importorskip("torch")
    snapshot = capture_global_rng()
    raw = bytearray.fromhex(snapshot["torch"]["cpu"])
    raw[-1] ^= 0xFF  # the tail (seed/offset fields): torch accepts it and silently restores something else
    snapshot["torch"]["cpu"] = raw.hex()
    with pytest.raises(ValueError, match="torch CPU generator state is malformed"):
        restore_global_rng(snapshot)


def test_cuda_states_without_cuda_are_a_note():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here: the states would be restored")
    snapshot = capture_global_rng()
    snapshot["torch"]["cuda"] = [snapshot["torch"]["cpu"]]
    assert restore_global_rng(snapshot) == [
        "the checkpoint holds CUDA RNG states but CUDA is not available; they were not restored"
    ]


def test_a_torch_state_is_restored_in_a_process_that_has_not_imported_torch():
    """A run saved with torch loaded, resumed where nothing has imported it yet: torch is imported to restore it."""
    torch = pytest.importorskip("torch")
    snapshot = capture_global_rng()
    expected = torch.rand(3).tolist()
    code = (
        "import json, sys\n"
        "from agents.runner.rng_state import restore_global_rng\n"
        "assert 'torch' not in sys.modules\n"
        "notes = restore_global_rng(json.loads(sys.stdin.read()))\n"
        "import torch\n"
        "print(json.dumps([notes, torch.rand(3).tolist()]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], input=json.dumps(snapshot), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [[], expected]
