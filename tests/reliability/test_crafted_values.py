"""Crafted checkpoints with valid signatures but values that do not fit (issue 15 item 10): refused with a
message naming the file, never a traceback or a silently diverging resume."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.runner import RunConfig, Runner
from agents.runner.checkpoint import list_checkpoints
from agents.runner.errors import CheckpointError, RunnerError
from tests.reliability.reliability_stats import count
from tests.reliability.test_untrusted_files import resign

CONFIG = RunConfig(agent="random", episodes=6, checkpoint_every=2, checkpoint_min_interval=0.0, keep=3, seed=4)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = tmp_path_factory.mktemp("crafted") / "run"
    Runner(run, CONFIG.replace(episodes=4), log=None).train()
    return run


def _copy(trained, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    return run, list_checkpoints(run / "checkpoints")[-1]


def test_a_mid_episode_checkpoint_without_its_observation_is_refused(tmp_path):
    """runner.json says mid-episode but names no saved observation: the resumed run would act on nothing (or on
    a reset env), so the checkpoint is refused, naming the file."""
    run = tmp_path / "run"
    Runner(run, CONFIG.replace(episodes=None, steps=30), log=None).train()
    ckpt = list_checkpoints(run / "checkpoints")[-1]
    info = json.loads((ckpt / "runner.json").read_text())
    assert info["in_episode"] and info["obs_kind"] is not None
    resign(ckpt, "runner.json", json.dumps(dict(info, obs_kind=None)).encode())
    with pytest.raises(CheckpointError, match=r"runner\.safetensors .*mid-episode but holds no observation"):
        Runner(run, resume=True, log=None).train(steps=60)
    count("crafted values", "mid-episode checkpoint without observation refused")


def test_a_null_env_snapshot_after_the_env_was_reset_is_refused(trained, tmp_path):
    run, ckpt = _copy(trained, tmp_path)
    assert json.loads((ckpt / "runner.json").read_text())["env_reset_done"]
    resign(ckpt, "env.json", b"null")
    with pytest.raises(CheckpointError, match=r"env\.json cannot be used .*null but runner\.json says the env was"):
        Runner(run, resume=True, log=None).train(episodes=6)
    count("crafted values", "null env snapshot refused")


def test_a_string_where_a_number_belongs_is_a_value_error():
    with pytest.raises(ValueError, match="wrong type"):
        RunConfig(agent="hierarchy", agent_config={"policy_lr": "x"}).resolved()
    count("crafted values", "string for a float (API)")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    key=st.sampled_from(["seed", "episodes", "metric_window", "keep", "reward_threshold", "episode_step_limit"]),
    value=st.one_of(st.text(max_size=5), st.floats(allow_nan=True), st.integers(-5, 5), st.none(), st.booleans(),
                    st.lists(st.integers(), max_size=2)),  # fmt: skip
)
def test_semantic_fuzz_of_the_checkpoint_config_is_refused_or_loaded(trained, tmp_path_factory, key, value):
    """Re-signed config.json values of any type: a CheckpointError/ValueError naming the problem, or a resume."""
    run, ckpt = _copy(trained, tmp_path_factory.mktemp("fuzz"))
    config = json.loads((ckpt / "config.json").read_text())
    config[key] = value
    resign(ckpt, "config.json", json.dumps(config).encode())
    try:
        Runner(run, resume=True, log=None).train(episodes=6)
        outcome = "loaded"
    except (RunnerError, ValueError) as exc:  # CheckpointError, IncompatibleCheckpointError, a config check
        assert str(exc), exc
        outcome = "refused"
    count("crafted values", f"config fuzz {outcome}")


@pytest.mark.parametrize("snapshot", [b"[1, 2]", b'"cartpole"', b"3"])
def test_an_env_snapshot_that_is_not_an_object_is_refused(trained, tmp_path, snapshot):
    run, ckpt = _copy(trained, tmp_path)
    resign(ckpt, "env.json", snapshot)
    with pytest.raises(CheckpointError, match=r"env\.json cannot be used .*must be a JSON object"):
        Runner(run, resume=True, log=None).train(episodes=6)
    count("crafted values", "env snapshot not an object refused")


@pytest.mark.parametrize("captured", ["missing", False])
def test_a_mid_episode_checkpoint_whose_env_snapshot_lacks_the_episode_state_is_refused(tmp_path, captured):
    """Mid-episode, an env restored without its episode state would restart the episode: a different run."""
    run = tmp_path / "run"
    Runner(run, CONFIG.replace(episodes=None, steps=30), log=None).train()
    ckpt = list_checkpoints(run / "checkpoints")[-1]
    assert json.loads((ckpt / "runner.json").read_text())["in_episode"]
    snapshot = json.loads((ckpt / "env.json").read_text())
    assert snapshot["episode_state_captured"] is True
    if captured == "missing":
        del snapshot["episode_state_captured"]
    else:
        snapshot["episode_state_captured"] = captured
    resign(ckpt, "env.json", json.dumps(snapshot).encode())
    with pytest.raises(CheckpointError, match="is mid-episode but its env snapshot lacks the episode state"):
        Runner(run, resume=True, log=None).train(steps=60)
    count("crafted values", "mid-episode env snapshot without episode state refused")


def test_cuda_rng_states_on_a_machine_without_cuda_are_a_warning_on_resume(trained, tmp_path):
    import warnings

    from agents.runner import RunnerWarning
    from agents.runner.rng_state import capture_global_rng

    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here: the states would be restored")
    run, ckpt = _copy(trained, tmp_path)
    rng = json.loads((ckpt / "rng.json").read_text())
    cpu = capture_global_rng()["torch"]["cpu"]
    rng["torch"] = {"cpu": cpu, "cuda": [cpu]}
    resign(ckpt, "rng.json", json.dumps(rng).encode())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Runner(run, resume=True, log=None).train(episodes=6)
    said = [str(w.message) for w in caught if issubclass(w.category, RunnerWarning)]
    assert said == ["the checkpoint holds CUDA RNG states but CUDA is not available; they were not restored"]


@pytest.mark.parametrize("field", ["episode", "global_step"])
def test_counters_that_contradict_the_checkpoints_name_are_refused(trained, tmp_path, field):
    run, ckpt = _copy(trained, tmp_path)
    info = json.loads((ckpt / "runner.json").read_text())
    resign(ckpt, "runner.json", json.dumps(dict(info, **{field: info[field] + 1})).encode())
    with pytest.raises(CheckpointError, match=r"runner\.json cannot be used .*contradict the checkpoint's name"):
        Runner(run, resume=True, log=None).train(episodes=6)
    count("crafted values", "counters contradicting the checkpoint name refused")
