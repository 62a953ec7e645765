"""evaluate, inspect_checkpoint and verify_run: the library functions behind `sphgym eval/inspect/verify`."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from agents.runner import CheckpointError, RunConfig, Runner, evaluate, inspect_checkpoint, verify_run
from agents.runner.checkpoint import arrays_from_bytes, arrays_to_bytes, read_checkpoint, write_checkpoint
from agents.runner.evaluation import load_weights_for_eval

CONFIG = RunConfig(
    agent="random", episodes=30, checkpoint_every=10, checkpoint_min_interval=0.0, seed=2, metric_window=5
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    Runner(run_dir, CONFIG, log=None).train()
    return run_dir


def tree_digest(root):
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_evaluate_is_reproducible_and_leaves_the_run_folder_byte_identical(run):
    before = tree_digest(run)
    first = evaluate(run, episodes=5, seed=3)
    again = evaluate(run, episodes=5, seed=3)
    other = evaluate(run, episodes=5, seed=4)
    assert tree_digest(run) == before
    assert first == again and first.returns != other.returns
    assert first.episodes == 5 and first.min_return <= first.mean_return <= first.max_return
    assert first.checkpoint_episode == 30 and first.checkpoint.name.startswith("ep00000030")
    assert json.loads(json.dumps(first.to_dict()))["returns"] == list(first.returns)


@pytest.fixture(scope="module")
def hierarchy_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("hierarchy_run")
    config = RunConfig(agent="hierarchy", episodes=12, checkpoint_every=6, checkpoint_min_interval=0.0, seed=1)
    Runner(run_dir, config, log=None).train()
    return run_dir


def test_evaluate_a_hierarchy_run_clears_the_agent_before_every_episode(hierarchy_run, monkeypatch):
    """A hierarchy agent (weights and temporal state, unlike the random agent): each episode starts with
    clear_state() before its first act, so no context leaks from one evaluation episode into the next; the
    weights loaded are the checkpoint's and never move; the same seed gives the same returns."""
    import agents.runner.evaluation as evaluate_module

    events, built = [], []
    original = evaluate_module.build_agent

    def spy(config, env, seed):
        agent = original(config, env, seed)
        built.append(agent)
        for method in ("clear_state", "act"):
            real = getattr(agent, method)

            def wrapped(*args, _real=real, _name=method):
                events.append(_name)
                return _real(*args)

            setattr(agent, method, wrapped)
        return agent

    monkeypatch.setattr(evaluate_module, "build_agent", spy)
    before = tree_digest(hierarchy_run)
    result = evaluate(hierarchy_run, episodes=4, seed=5)
    assert tree_digest(hierarchy_run) == before
    starts = [i for i, event in enumerate(events) if event == "clear_state"]
    assert len(starts) == 4 and starts[0] == 0
    runs = [events[a + 1 : b] for a, b in zip(starts, [*starts[1:], len(events)], strict=True)]
    assert [len(r) for r in runs] == list(result.lengths) and all(set(r) == {"act"} for r in runs)
    ckpt = read_checkpoint(sorted((hierarchy_run / "checkpoints").iterdir())[-1])
    assert arrays_to_bytes(built[0].get_weights()) == ckpt.files["weights.safetensors"]
    monkeypatch.undo()
    assert evaluate(hierarchy_run, episodes=4, seed=5).returns == result.returns


def test_evaluate_checkpoint_choices(run):
    before = tree_digest(run)
    best = evaluate(run, episodes=2, seed=0, checkpoint="best")
    assert best.checkpoint == run / "best"
    older = sorted((run / "checkpoints").iterdir())[0]
    assert evaluate(run, episodes=2, seed=0, checkpoint=str(older)).checkpoint == older
    assert evaluate(older, episodes=2, seed=0).checkpoint_episode == int(older.name[2:10])
    assert tree_digest(run) == before  # read-only for a named checkpoint and a checkpoint path too
    with pytest.raises(ValueError, match="episodes must be an integer >= 1"):
        evaluate(run, episodes=0)
    for seed in (-1, True, 1.5):
        with pytest.raises(ValueError, match="seed must be an integer >= 0"):
            evaluate(run, episodes=1, seed=seed)
    with pytest.raises(FileNotFoundError):
        evaluate(run / "nope")


def test_evaluate_disables_learning_and_hook_can_stop(run, monkeypatch):
    import agents.runner.evaluation as evaluate_module

    built = []
    original = evaluate_module.build_agent

    def spy(config, env, seed):
        agent = original(config, env, seed)
        built.append(agent)
        return agent

    monkeypatch.setattr(evaluate_module, "build_agent", spy)
    result = evaluate(run, episodes=10, seed=1, on_episode=lambda e: e.episode < 3)
    assert result.episodes == 3 and built[0].learn_enabled is False


def test_inspect_reports_what_the_cli_needs(run):
    info = inspect_checkpoint(run)
    for key in (
        "episode",
        "global_step",
        "weights_sha256",
        "state_sha256",
        "best_metric",
        "early_stopping",
        "sizes",
        "rng_states",
        "versions",
        "threads",
        "format_version",
        "config",
        "checkpoints",
    ):
        assert key in info, key
    assert info["episode"] == 30 and info["valid"] and info["problems"] == []
    assert {"python", "numpy", "env", "action_space", "agent"} <= set(info["rng_states"])
    assert info["sizes"]["total"] == sum(v for k, v in info["sizes"].items() if k != "total")
    ckpt = read_checkpoint(info["checkpoint"])
    assert info["weights_sha256"] == hashlib.sha256(ckpt.files["weights.safetensors"]).hexdigest()
    assert inspect_checkpoint(info["checkpoint"])["state_sha256"] == info["state_sha256"]
    json.dumps(info)
    with pytest.raises(FileNotFoundError):
        inspect_checkpoint(run / "missing")


def test_verify_passes_on_a_good_run(run):
    before = tree_digest(run)
    report = verify_run(run)
    assert report.ok, report.message
    assert report.start.startswith("ep00000020") and report.end.startswith("ep00000030")
    assert {c[0] for c in report.checks} >= {"weights_sha256", "state_sha256", "env.json"}
    assert tree_digest(run) == before
    assert verify_run(run, start=report.start).ok
    assert verify_run(str(run)).ok  # a path given as text (the CLI's) works the same
    assert read_checkpoint(str(run / "checkpoints" / report.end)).id == report.end
    with pytest.raises(CheckpointError, match="is not a checkpoint directory"):
        read_checkpoint(run / "checkpoints" / "ep00000099-st0000009999")


def test_verify_fails_on_a_tampered_but_well_formed_checkpoint(tmp_path):
    Runner(tmp_path, CONFIG, log=None).train()
    newest = sorted((tmp_path / "checkpoints").iterdir())[-1]
    ckpt = read_checkpoint(newest)
    state = arrays_from_bytes(ckpt.files["state.safetensors"], "state")
    rng = json.loads(state["rng"].tobytes())
    rng["state"]["state"] += 1  # a different agent RNG, with digests recomputed: only a re-run can tell
    files = dict(ckpt.files)
    files["state.safetensors"] = arrays_to_bytes(
        {"rng": np.frombuffer(json.dumps(rng).encode(), dtype=np.uint8)}
    )
    meta = {k: v for k, v in ckpt.meta.items() if k not in ("files", "format_version", "id")}
    write_checkpoint(newest.parent, newest.name, files, meta)
    report = verify_run(tmp_path)
    assert not report.ok and "state_sha256" in report.message


def _tamper_json(data: bytes) -> bytes:
    value = json.loads(data)
    value["tampered"] = 1  # still valid JSON, another digest
    return json.dumps(value).encode()


def _tamper_runner_arrays(data: bytes) -> bytes:
    arrays = arrays_from_bytes(data, "runner.safetensors")
    key = sorted(k for k, a in arrays.items() if a.size and a.dtype.kind == "f")[0]
    arrays[key] = arrays[key].copy()
    arrays[key].flat[0] += 1.0  # a different recorded return
    return arrays_to_bytes(arrays)


@pytest.mark.parametrize(
    ("name", "tamper"),
    [("runner.safetensors", _tamper_runner_arrays), ("rng.json", _tamper_json), ("env.json", _tamper_json)],
)
def test_verify_reports_a_mismatch_in_each_compared_file(tmp_path, name, tamper):
    """The newest checkpoint's file is changed and re-signed (digests recomputed): verify must report that
    file, and only it, as differing from the re-run."""
    Runner(tmp_path, CONFIG, log=None).train()
    newest = sorted((tmp_path / "checkpoints").iterdir())[-1]
    ckpt = read_checkpoint(newest)
    files = dict(ckpt.files)
    files[name] = tamper(files[name])
    meta = {k: v for k, v in ckpt.meta.items() if k not in ("files", "format_version", "id")}
    write_checkpoint(newest.parent, newest.name, files, meta)
    report = verify_run(tmp_path)
    assert not report.ok and name in report.message
    assert [check[0] for check in report.checks if not check[3]] == [name]


def test_verify_of_a_folder_without_checkpoints_says_so(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    with pytest.raises(FileNotFoundError, match="has no checkpoints to verify"):
        verify_run(tmp_path)


def test_verify_needs_two_checkpoints(tmp_path):
    Runner(tmp_path, CONFIG.replace(episodes=3), log=None).train()
    for path in sorted((tmp_path / "checkpoints").iterdir())[:-1]:
        import shutil

        shutil.rmtree(path)
    report = verify_run(tmp_path)
    assert not report.ok and "fewer than two" in report.message


def test_best_weights_with_a_wrong_digest_are_refused(tmp_path):
    Runner(tmp_path, CONFIG.replace(episodes=3, best_every=1, metric_window=2), log=None).train()
    info = json.loads((tmp_path / "best" / "best.json").read_text())
    info["weights_sha256"] = "0" * 64
    (tmp_path / "best" / "best.json").write_text(json.dumps(info))
    with pytest.raises(CheckpointError, match="does not match the digest"):
        load_weights_for_eval(tmp_path, "best")


def test_verify_from_a_start_not_followed_by_another_checkpoint_says_so(run):
    newest = sorted(p.name for p in (run / "checkpoints").iterdir())[-1]
    for start in ("nope", newest):
        report = verify_run(run, start=start)
        assert not report.ok and report.start == start and report.end is None
        assert report.message.startswith(f"Cannot verify from {start!r}: it is not a valid checkpoint"), report.message


def _resign_with_another_agent_rng(path) -> None:
    ckpt = read_checkpoint(path)
    rng = json.loads(arrays_from_bytes(ckpt.files["state.safetensors"], "state")["rng"].tobytes())
    rng["state"]["state"] += 1
    files = dict(ckpt.files)
    files["state.safetensors"] = arrays_to_bytes({"rng": np.frombuffer(json.dumps(rng).encode(), dtype=np.uint8)})
    write_checkpoint(path.parent, path.name, files, {k: v for k, v in ckpt.meta.items() if k not in ("files", "id")})


def test_verify_re_runs_from_its_start_checkpoint_not_from_scratch(tmp_path):
    """A start checkpoint changed (and re-signed) makes the re-run differ from the next one: a re-run from the start
    of the run, which a deterministic run also reproduces, would not see it."""
    Runner(tmp_path, CONFIG, log=None).train()
    start = sorted((tmp_path / "checkpoints").iterdir())[-2]
    _resign_with_another_agent_rng(start)
    report = verify_run(tmp_path)
    assert report.start == start.name and not report.ok, report.message


def test_verify_reports_a_mismatch_in_runner_json(tmp_path):
    Runner(tmp_path, CONFIG, log=None).train()
    newest = sorted((tmp_path / "checkpoints").iterdir())[-1]
    ckpt = read_checkpoint(newest)
    files = dict(ckpt.files)
    files["runner.json"] = _tamper_json(files["runner.json"])
    meta = {k: v for k, v in ckpt.meta.items() if k not in ("files", "id")}
    write_checkpoint(newest.parent, newest.name, files, meta)
    report = verify_run(tmp_path)
    assert [check[0] for check in report.checks if not check[3]] == ["runner counters, tracker, episodes.csv digest"]


def test_verify_leaves_no_temporary_folder(run, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert verify_run(run).ok
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "2", None])
def test_evaluate_refuses_a_video_episodes_that_is_not_a_positive_integer(run, tmp_path, bad):
    with pytest.raises(ValueError, match="video_episodes must be an integer >= 1"):
        evaluate(run, episodes=1, video_dir=tmp_path / "videos", video_episodes=bad)
    assert not (tmp_path / "videos").exists()


def test_evaluate_reports_each_episode_with_the_steps_so_far_and_stops_when_asked(run):
    events = []
    result = evaluate(run, episodes=4, seed=1, on_episode=lambda e: events.append(e) or e.episode < 3)
    assert result.episodes == 3 and [e.episode for e in events] == [1, 2, 3]
    assert [e.episode_length for e in events] == list(result.lengths)
    assert [e.global_step for e in events] == list(np.cumsum(result.lengths))
    assert [e.episode_return for e in events] == list(result.returns)
    assert all(e.steps_per_second > 0 and e.target_episodes == 4 for e in events)
    assert all(e.best_metric is None and not e.is_best for e in events)  # eval has no best


def test_ctrl_c_during_verify_interrupts_it_instead_of_reporting_a_mismatch(run, monkeypatch):
    """verify's re-run installs no signal handlers: Ctrl-C raises KeyboardInterrupt (the CLI exits 130), it never
    becomes a re-run stopped early and reported as differing from the checkpoint."""
    import os
    import signal

    from agents.runner import verify as verify_module
    from agents.runner.callbacks import StopAtStep

    class CtrlCMidway(StopAtStep):
        sent = False

        def on_step(self, global_step):
            if not self.sent:  # at the re-run's first step
                self.sent = True
                os.kill(os.getpid(), signal.SIGINT)
            return super().on_step(global_step)

    monkeypatch.setattr(verify_module, "StopAtStep", CtrlCMidway)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # even where the job ignores SIGINT
    try:
        with pytest.raises(KeyboardInterrupt):
            verify_run(run)
    finally:
        signal.signal(signal.SIGINT, previous)


def test_evaluate_lets_the_agent_observe_every_step(run, monkeypatch):
    """The Agent protocol as in training: act, then observe the step's outcome (episode ends included)."""
    from agents.random_agent import RandomAgent

    seen = []
    monkeypatch.setattr(RandomAgent, "observe", lambda self, obs, r, term, trunc: seen.append(term or trunc))
    result = evaluate(run, episodes=3, seed=1)
    assert len(seen) == sum(result.lengths) and seen.count(True) == 3
    assert [i + 1 for i, end in enumerate(seen) if end] == list(np.cumsum(result.lengths))


def test_a_verify_temp_folder_that_cannot_be_removed_does_not_hide_the_verdict(run, tmp_path, monkeypatch):
    import shutil
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # what is left behind stays in pytest's tmp_path
    original = shutil.rmtree

    def stuck(path, ignore_errors=False, **kwargs):
        if "sphgym-verify-" in str(path):
            if not ignore_errors:
                raise PermissionError(13, "Permission denied", str(path))
            return None
        return original(path, ignore_errors=ignore_errors, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", stuck)
    assert verify_run(run).ok


def test_evaluate_of_a_run_without_checkpoints_says_so(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    with pytest.raises(FileNotFoundError, match=r"No valid checkpoint in .* \(no checkpoints\)\."):
        evaluate(tmp_path, episodes=1)


def test_evaluate_of_best_before_any_best_says_when_it_will_exist(tmp_path):
    Runner(tmp_path, CONFIG.replace(episodes=3), log=None).train()  # metric_window 5: no full window yet
    assert not (tmp_path / "best").exists()
    with pytest.raises(FileNotFoundError, match=r"best/ is written at episodes that are multiples of best_every"):
        evaluate(tmp_path, episodes=1, checkpoint="best")


def test_evaluate_of_a_checkpoint_folder_without_its_marker_is_refused_as_interrupted(run, tmp_path):
    import shutil

    torn = tmp_path / "ep00000030-st0000000586"
    shutil.copytree(sorted((run / "checkpoints").iterdir())[-1], torn)
    (torn / "COMPLETE").unlink()
    with pytest.raises(CheckpointError, match="has no COMPLETE marker"):
        evaluate(torn, episodes=1)


@pytest.mark.parametrize("checkpoint", ["", "   "])
def test_evaluate_refuses_an_empty_checkpoint_name(run, checkpoint):
    with pytest.raises(ValueError, match="checkpoint is empty"):
        evaluate(run, episodes=1, checkpoint=checkpoint)


def test_evaluate_of_a_best_folder_given_as_the_path_evaluates_the_best_weights(run):
    assert (run / "best").is_dir()
    assert evaluate(run / "best", episodes=1).checkpoint == run / "best"


def test_evaluate_of_a_linked_best_folder_is_refused(run, tmp_path):
    import shutil

    from agents.runner.errors import RunnerError

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    shutil.move(str(copy / "best"), str(tmp_path / "elsewhere"))
    (copy / "best").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(RunnerError, match="symbolic link"):
        evaluate(copy, episodes=1, checkpoint="best")


def test_a_missing_dependency_without_video_is_not_called_a_video_error(run, monkeypatch):
    import gymnasium as gym

    from agents.random_agent import RandomAgent

    def missing(self, obs):
        raise gym.error.DependencyNotInstalled("some renderer is not installed")

    monkeypatch.setattr(RandomAgent, "act", missing)
    with pytest.raises(gym.error.DependencyNotInstalled, match="some renderer") as caught:
        evaluate(run, episodes=1)
    assert "video" not in str(caught.value)


def test_evaluate_takes_a_path_as_text_and_names_a_missing_one(run, tmp_path):
    assert evaluate(str(run), episodes=1).episodes == 1
    with pytest.raises(FileNotFoundError, match="does not exist \\(expected a run folder or a checkpoint directory\\)"):
        evaluate(tmp_path / "missing", episodes=1)


def test_a_video_writer_that_cannot_be_imported_when_the_video_is_saved_is_a_video_error(run, tmp_path, monkeypatch):
    """moviepy imports, but the part that writes the MP4 (imported when a recording is saved, at close) does not:
    the error names the video extra, and no video is claimed."""
    import gc
    import sys
    import warnings

    from agents.runner.evaluation import VideoUnavailableError

    pytest.importorskip("moviepy", reason='the video extra is not installed (pip install -e ".[video]")')
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setitem(sys.modules, "moviepy.video.io.ImageSequenceClip", None)
    with warnings.catch_warnings():  # the unsaved recording's wrapper complains when it is collected
        warnings.filterwarnings("ignore", message=".*Unable to save last video.*")
        with pytest.raises(VideoUnavailableError, match="video"):
            evaluate(run, episodes=1, video_dir=tmp_path / "videos")
        gc.collect()


def test_a_missing_renderer_with_video_is_one_error_without_a_warning_about_the_empty_video(run, tmp_path, monkeypatch):
    import sys
    import warnings

    from agents.runner.evaluation import VideoUnavailableError

    pytest.importorskip("moviepy", reason='the video extra is not installed (pip install -e ".[video]")')
    monkeypatch.setitem(sys.modules, "pygame", None)  # CartPole's rgb_array renderer
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(VideoUnavailableError, match="pygame"):
            evaluate(run, episodes=1, video_dir=tmp_path / "videos")
    assert not [w for w in caught if "Ignored saving a video" in str(w.message)]
