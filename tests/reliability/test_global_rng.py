"""Process-global RNGs: seeded from the run seed on a fresh run, restored on resume, compared like everything else.

Before this, two fresh processes with one seed started Python's ``random`` and numpy's legacy global generator
from OS entropy, so ``rng.json`` differed between them and a library drawing from ``np.random`` made a run
irreproducible. The env used here draws its rewards from both global generators.
"""

from __future__ import annotations

import json
import random
import signal

import numpy as np
import pytest

from agents.runner import RunConfig, Runner
from agents.runner.checkpoint import list_checkpoints
from agents.runner.config import derive_seeds
from tests.runner.runner_helpers import assert_same_run, run_fingerprint, run_proc

ENV = "tests.reliability.bad_envs:sphgym-test/GlobalRNG-v0"
TRUSTED = {"SPHGYM_TRUSTED_ENV_MODULES": "tests.reliability.bad_envs"}  # resume reads the env id from the folder
OPTIONS = {"env": ENV, "agent": "random", "episodes": 30, "checkpoint_every": 4, "keep": 20, "seed": 8}


def test_fresh_processes_of_one_seed_are_identical_even_with_global_rng_draws(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    for run_dir in (first, second):
        code, _, err = run_proc(run_dir, environ=TRUSTED, **OPTIONS)
        assert code == 0, err
    ids = [c.name for c in list_checkpoints(first / "checkpoints")]
    assert ids == [c.name for c in list_checkpoints(second / "checkpoints")] and len(ids) == 9
    for ckpt in ids:  # every checkpoint, not only the last: the global RNG states agree all along
        a, b = first / "checkpoints" / ckpt / "rng.json", second / "checkpoints" / ckpt / "rng.json"
        assert a.read_bytes() == b.read_bytes(), ckpt
    assert_same_run(run_fingerprint(first), run_fingerprint(second))

    # ... and the run interrupted mid-episode (this env's episode state is not capturable: the resume replays
    # the episode from its start, global RNG draws included) ends the same too.
    interrupted = tmp_path / "interrupted"
    code, _, err = run_proc(interrupted, environ={**TRUSTED, "SPHGYM_TEST_SIGNAL_AT_STEP": "97:SIGTERM"}, **OPTIONS)
    assert code == 128 + signal.SIGTERM, err
    code, _, err = run_proc(interrupted, resume=True, environ=TRUSTED, **OPTIONS)
    assert code == 0, err
    assert_same_run(run_fingerprint(first), run_fingerprint(interrupted))


def test_the_global_rng_seeds_are_derived_from_the_run_seed_and_recorded(tmp_path):
    config = RunConfig(agent="random", episodes=1, checkpoint_every=1, checkpoint_min_interval=0.0, seed=21)
    random.seed(1)
    np.random.seed(1)  # whatever the process did before must not matter
    Runner(tmp_path, config, log=None).train()
    first = list_checkpoints(tmp_path / "checkpoints")[0]
    seeds = json.loads((first / "runner.json").read_text())["seeds"]
    assert seeds == derive_seeds(21)
    random.seed(seeds["python_random"])
    np.random.seed(seeds["numpy_global"])
    from agents.runner.rng_state import capture_global_rng

    # nothing drew from them before the initial checkpoint: its rng.json is the freshly seeded state
    assert json.loads((first / "rng.json").read_text()) == json.loads(json.dumps(capture_global_rng()))


def test_torch_global_rng_is_seeded_too_when_torch_is_loaded(tmp_path):
    """In a process that has imported torch, a fresh run seeds torch's global generator from the run seed as
    well: two runs of one seed record the same torch state, whatever torch drew before each."""
    torch = pytest.importorskip("torch")
    config = RunConfig(agent="random", episodes=1, checkpoint_every=1, checkpoint_min_interval=0.0, seed=21)
    states = []
    for name, draw in (("a", 3), ("b", 7)):
        torch.rand(draw)  # a different prior state for each run
        Runner(tmp_path / name, config, log=None).train()
        first = list_checkpoints(tmp_path / name / "checkpoints")[0]
        states.append(json.loads((first / "rng.json").read_text())["torch"])
    assert states[0] == states[1]
    torch.manual_seed(derive_seeds(21)["torch_global"])
    assert states[0]["cpu"] == torch.get_rng_state().numpy().tobytes().hex()
    if not torch.cuda.is_initialized():  # CUDA states only when CUDA is in use (capturing them would start it)
        assert set(states[0]) == {"cpu"}, states[0].keys()


def test_a_pending_python_gauss_value_is_restored():
    """``random.gauss`` leaves a second normal pending (``gauss_next``, a float): a snapshot holding one restores
    it, so the next ``gauss`` draws equal the uninterrupted ones."""
    from agents.runner.rng_state import capture_global_rng, restore_global_rng

    saved = random.getstate()
    try:
        random.seed(7)
        random.gauss(0.0, 1.0)  # draws two normals, keeps one pending
        snapshot = json.loads(json.dumps(capture_global_rng()))
        assert isinstance(snapshot["python"]["gauss_next"], float)
        expected = [random.gauss(0.0, 1.0) for _ in range(3)]
        random.seed(99)
        restore_global_rng(snapshot)
        assert [random.gauss(0.0, 1.0) for _ in range(3)] == expected
    finally:
        random.setstate(saved)
