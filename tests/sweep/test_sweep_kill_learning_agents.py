"""Sweep kill tests with an agent that learns: a killed trial, and a restored sweep, resume to the same bytes.

``test_sweep_ray.py`` kills and restores trials of the random agent, whose weights file is empty. Here the
trial is the hierarchy agent at smoke size (weights, temporal state and replay memory all move at every step).
It dies with the ``SPHGYM_SWEEP_CRASH`` hook (``os._exit`` mid-chunk: after a reported checkpoint, before the
next) and must end byte for byte like a plain uninterrupted run: weights and state digests, counters,
``episodes.csv``. One agent, not also DQN: both paths restore through the same trainable code
(``tune.get_checkpoint`` -> ``install_checkpoint`` -> ``Runner(resume=True)``), and a DQN trial cost 90 s
(torch in every worker) on a loaded machine; the torch agents' real-process kill tests are in
``tests/torch_agents/test_torch_resume.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray Tune is an optional extra (pip install 'sphgym[ray]'); CI installs it")
# Every test that starts a Ray runs in the same xdist worker, one after the other: a local Ray takes both cores,
# and some of its default ports are one per machine (docs/testing.md, "Suite run time").
pytestmark = pytest.mark.xdist_group("ray")

# One local Ray for this module, as in test_sweep_ray.py (its module-scoped autouse fixture, imported).
from test_sweep_ray import assert_trial_equals_plain, local_ray  # noqa: E402,F401

from agents.cli.main import main  # noqa: E402
from agents.runner import RunConfig  # noqa: E402
from agents.sweep import SweepPoint, SweepSpec, run_sweep  # noqa: E402
from agents.sweep.trainable import CRASH_ENV, CRASH_FLAG  # noqa: E402

EPISODES, REPORT_EVERY, CRASH_AT = 12, 5, 8  # chunks of 5, 5, 2 episodes; the trial dies inside the second
# Smoke size: one small layer and a short replay (the default hierarchy is 5x5x64 with a 2048-step replay).
HIERARCHY = {"layers": [[3, 3, 16]], "history_capacity": 64}


def _spec(sweep_dir: Path, max_failures: int) -> SweepSpec:
    config = RunConfig(
        agent="hierarchy", agent_config=HIERARCHY, episodes=EPISODES, checkpoint_every=REPORT_EVERY, tensorboard=True
    ).resolved()
    return SweepSpec(
        sweep_dir.resolve(),
        (SweepPoint("base", "base", {}, config),),
        (0,),
        report_every=REPORT_EVERY,
        max_failures=max_failures,
    )


@pytest.mark.slow
def test_killed_hierarchy_trial_is_restarted_by_tune_and_resumes_exactly(tmp_path, monkeypatch):
    monkeypatch.setenv(CRASH_ENV, f"base__s0@{CRASH_AT}")
    spec = _spec(tmp_path / "sweep", max_failures=1)
    outcome = run_sweep(spec, verbose=0)
    assert outcome.ok, (outcome.errors, outcome.unfinished)
    trial_dir = spec.trial_dir(spec.points[0], 0)
    assert (trial_dir / CRASH_FLAG).read_text().strip() == str(CRASH_AT)  # it did die
    (last,) = [r.metrics for r in outcome.tune_results]
    assert last["resumed_from_episode"] == REPORT_EVERY  # restarted from the last reported checkpoint
    assert last["weights_sha256"] == outcome.trials[0].weights_sha256
    assert_trial_equals_plain(spec, spec.points[0], 0, tmp_path)


@pytest.mark.slow
def test_restored_hierarchy_sweep_resumes_the_failed_trial_exactly(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(CRASH_ENV, f"base__s0@{CRASH_AT}")
    spec = _spec(tmp_path / "sweep", max_failures=0)  # no restarts: the trial errors
    outcome = run_sweep(spec, verbose=0)
    assert [name for name, _ in outcome.errors] == ["base__s0"]
    assert outcome.unfinished == ["base__s0"] and outcome.trials[0].episodes == REPORT_EVERY
    monkeypatch.delenv(CRASH_ENV)  # the crash flag alone already keeps it from dying twice; be explicit
    code = main(["sweep", "--restore", str(spec.sweep_dir), "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert "| base | 0/1 |" in capsys.readouterr().out
    assert_trial_equals_plain(spec, spec.points[0], 0, tmp_path)
