"""Sweeps on a local Ray (2 CPUs): results equal plain runs; killed trials and restored sweeps resume exactly.

One Ray instance for the module (starting Ray costs 5-15 s on a busy machine). A trial is "killed" with the
``SPHGYM_SWEEP_CRASH`` hook: its worker process calls ``os._exit`` once, mid-chunk (after a reported
checkpoint, before the next one), exactly like a worker lost to the OOM killer or a node failure.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray Tune is an optional extra (pip install 'sphgym[ray]'); CI installs it")
# Every test that starts a Ray runs in the same xdist worker, one after the other: a local Ray takes both cores,
# and some of its default ports are one per machine (docs/testing.md, "Suite run time").
pytestmark = pytest.mark.xdist_group("ray")

from agents.cli.main import main  # noqa: E402
from agents.runner import RunConfig, Runner, inspect_checkpoint  # noqa: E402
from agents.sweep import SweepPoint, SweepSpec, load_sweep, restore_sweep, run_sweep  # noqa: E402
from agents.sweep.trainable import CRASH_ENV, CRASH_FLAG, thread_env  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(
        address="local",  # never a cluster that happens to run on this machine
        num_cpus=2,
        include_dashboard=False,
        runtime_env={"env_vars": thread_env()},
        log_to_driver=False,
    )
    yield
    ray.shutdown()


def plain_run(config: RunConfig, run_dir: Path):
    """The same run without Ray: one uninterrupted Runner."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Runner(run_dir, config, log=None, handle_signals=False).train()


def assert_trial_equals_plain(spec: SweepSpec, point: SweepPoint, seed: int, tmp_path: Path) -> None:
    trial_dir = spec.trial_dir(point, seed)
    plain = plain_run(spec.trial_config(point, seed), tmp_path / f"plain-{trial_dir.name}")
    got = inspect_checkpoint(trial_dir)
    assert (got["episode"], got["global_step"]) == (plain.episode, plain.global_step)
    assert got["weights_sha256"] == plain.weights_sha256
    assert got["state_sha256"] == plain.state_sha256
    assert (trial_dir / "episodes.csv").read_bytes() == (plain.run_dir / "episodes.csv").read_bytes()


@pytest.mark.slow
def test_cli_sweep_two_seeds_equals_plain_runs(tmp_path, capsys):
    sweep_dir = tmp_path / "sweep"
    code = main(
        [
            "sweep",
            "--env",
            "CartPole-v1",
            "--agent",
            "hierarchy",
            "--seeds",
            "0-1",
            "--episodes",
            "12",
            "--report-every",
            "5",
            "--run-dir",
            str(sweep_dir),
            "--quiet",
        ]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    spec = load_sweep(sweep_dir)
    assert [t[1] for t in spec.trials] == [0, 1]
    for point, seed in spec.trials:
        # chunks of 5, 5 and 2 episodes, each a resume: still the uninterrupted run, bit for bit
        assert_trial_equals_plain(spec, point, seed, tmp_path)
        info = json.loads((spec.trial_dir(point, seed) / "sweep_trial.json").read_text())
        assert info["seed"] == seed
    assert "| base | 0/2 |" in out.out
    assert (sweep_dir / "results.md").is_file() and (sweep_dir / "results.csv").is_file()
    # Tune got one report (and one of our checkpoints) per chunk
    progress = (sweep_dir / "tune" / "base__s0" / "progress.csv").read_text().splitlines()
    assert len(progress) == 1 + 3
    # sphgym plot takes the sweep folder (a folder of run folders)
    code = main(["plot", str(sweep_dir), "--out", str(tmp_path / "sweep.png")])
    assert code == 0 and (tmp_path / "sweep.png").stat().st_size > 0
    assert "2 run(s)" in capsys.readouterr().out


def _random_spec(sweep_dir: Path, seeds: tuple[int, ...], max_failures: int) -> SweepSpec:
    config = RunConfig(agent="random", episodes=30, checkpoint_every=10, tensorboard=True).resolved()
    return SweepSpec(
        sweep_dir.resolve(),
        (SweepPoint("base", "base", {}, config),),
        seeds,
        report_every=10,
        max_failures=max_failures,
    )


@pytest.mark.slow
def test_killed_trial_is_restarted_by_tune_and_resumes_exactly(tmp_path, monkeypatch):
    monkeypatch.setenv(CRASH_ENV, "base__s1@15")  # seed 1 dies at episode 15 (last reported checkpoint: 10)
    spec = _random_spec(tmp_path / "sweep", (0, 1), max_failures=2)
    outcome = run_sweep(spec, verbose=0)
    assert outcome.ok, (outcome.errors, outcome.unfinished)
    assert (spec.trial_dir(spec.points[0], 1) / CRASH_FLAG).read_text().strip() == "15"  # it did die
    assert not (spec.trial_dir(spec.points[0], 0) / CRASH_FLAG).exists()
    last = {r.config["seed"]: r.metrics for r in outcome.tune_results}
    assert last[1]["resumed_from_episode"] == 10 and last[0]["resumed_from_episode"] == 0
    for seed in (0, 1):
        assert_trial_equals_plain(spec, spec.points[0], seed, tmp_path)
        assert last[seed]["weights_sha256"] == outcome.trials[seed].weights_sha256


@pytest.mark.slow
def test_restore_resumes_a_failed_trial_exactly(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(CRASH_ENV, "base__s0@15")
    spec = _random_spec(tmp_path / "sweep", (0,), max_failures=0)  # no restarts: the trial errors
    outcome = run_sweep(spec, verbose=0)
    assert [name for name, _ in outcome.errors] == ["base__s0"]
    assert outcome.unfinished == ["base__s0"] and outcome.trials[0].episodes == 10
    code = main(["sweep", "--restore", str(spec.sweep_dir), "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert "| base | 0/1 |" in capsys.readouterr().out
    assert_trial_equals_plain(spec, spec.points[0], 0, tmp_path)


def _session_events(run_dir: Path) -> dict[str, list]:
    """tag -> events of one HParams session folder (TensorBoard's data-provider reader)."""
    from tensorboard.backend.event_processing import plugin_event_accumulator as pea

    acc = pea.EventAccumulator(str(run_dir), size_guidance={pea.TENSORS: 0}).Reload()
    return {tag: acc.Tensors(tag) for tag in acc.Tags()["tensors"]}


@pytest.mark.slow
def test_hparams_one_session_per_trial_after_restore_and_in_a_live_tensorboard(tmp_path, monkeypatch):
    from agents.sweep.hparams import EPISODES_TO_SOLVE, FINAL_RETURN, HPARAMS_DIR, SOLVED
    from tests.runner.tensorboard_server import tensorboard_server

    base = RunConfig(agent="random", episodes=20, checkpoint_every=10, tensorboard=True)
    points = tuple(
        SweepPoint(f"metric_window={w}", f"metric_window={w}", {"metric_window": str(w)},
                   base.replace(metric_window=w).resolved())
        for w in (5, 10)
    )
    spec = SweepSpec((tmp_path / "sweep").resolve(), points, (3,), report_every=10, max_failures=0)
    monkeypatch.setenv(CRASH_ENV, "metric_window=10__s3@15")  # dies after its first report; no restarts
    first = run_sweep(spec, verbose=0)
    assert [name for name, _ in first.errors] == ["metric_window=10__s3"]
    hparams = spec.sweep_dir / HPARAMS_DIR
    crashed = hparams / "metric_window=10__s3"
    assert _session_events(crashed)[FINAL_RETURN][0].step == 10  # written for the unfinished trial too
    monkeypatch.delenv(CRASH_ENV)
    outcome = restore_sweep(spec.sweep_dir, verbose=0)
    assert outcome.ok, (outcome.errors, outcome.unfinished)

    by_folder = {t.folder: t for t in outcome.trials}
    assert sorted(p.name for p in hparams.iterdir() if p.is_dir()) == sorted(by_folder)
    for folder, trial in by_folder.items():
        assert len(list((hparams / folder).glob("events.out.tfevents.*"))) == 1
        events = _session_events(hparams / folder)
        assert len(events["_hparams_/session_start_info"]) == 1  # the restore replaced it, added none
        final = [(e.step, e.tensor_proto.float_val) for e in events[FINAL_RETURN]]
        assert final == [(20, [pytest.approx(trial.final_return)])]
        assert EPISODES_TO_SOLVE not in events  # random CartPole never solves
    assert not list((spec.sweep_dir / "tune").rglob("events.out.tfevents.*"))  # Tune's own TensorBoard logger is off
    progress = (spec.sweep_dir / "tune" / "metric_window=10__s3" / "progress.csv").read_text().splitlines()
    assert len(progress) == 1 + 2  # its CSV logger still runs, also after the restore (reports at 10 and 20)

    with tensorboard_server(spec.sweep_dir) as server:
        server.wait_for_runs({f"{HPARAMS_DIR}/{folder}" for folder in by_folder})
        experiment = server.post("/data/plugin/hparams/experiment", {"experimentName": ""})
        names = {h["name"]: h for h in experiment["hparamInfos"]}
        assert set(names) == {"point", "metric_window", "seed"}
        assert names["metric_window"]["domainDiscrete"] == [5, 10]
        assert {m["name"]["tag"] for m in experiment["metricInfos"]} == {FINAL_RETURN, EPISODES_TO_SOLVE, SOLVED}
        groups = server.post(
            "/data/plugin/hparams/session_groups",
            {"experimentName": "", "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_RUNNING"],
             "startIndex": 0, "sliceSize": 100},
        )
        assert groups["totalSize"] == 2
        seen = {}
        for group in groups["sessionGroups"]:
            (session,) = group["sessions"]
            metrics = {m["name"]["tag"]: m["value"] for m in session["metricValues"]}
            seen[session["name"]] = (group["hparams"]["metric_window"], group["hparams"]["seed"], metrics)
        for folder, trial in by_folder.items():
            window = spec.point(trial.point).run_config.metric_window
            final = pytest.approx(trial.final_return)
            assert seen[f"{HPARAMS_DIR}/{folder}"] == (window, 3, {FINAL_RETURN: final, SOLVED: 0.0})
