"""Shared torch-agent helpers: our Adam and grad clipping equal torch's bit for bit, the numpy acting copy
matches the torch network, network building leaves torch's global RNG alone, configs import no torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from agents.torch_agents import common


def _net(seed: int = 0) -> nn.Sequential:
    net = common.mlp([4, 16, 16, 2], nn.ReLU)
    common.init_default(net, torch.Generator().manual_seed(seed))
    return net


def _train(net: nn.Sequential, step_fn, zero_fn, steps: int = 25) -> list[np.ndarray]:
    data = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x = torch.randn(32, 4, generator=data)
        y = torch.randn(32, generator=data)
        zero_fn()
        F_loss = nn.functional.smooth_l1_loss(net(x)[:, 0], y) * 50.0  # large grads: clipping engages
        F_loss.backward()
        step_fn()
    return [p.detach().numpy().copy() for p in net.parameters()]


@pytest.mark.parametrize("fused", [True, False])
def test_adam_and_clipping_match_torch_bit_for_bit(fused):
    ours_net, ref_net = _net(), _net()
    ours = common.Adam(dict(ours_net.named_parameters()), lr=3e-3, eps=1e-5, fused=fused)
    ref = torch.optim.Adam(
        ref_net.parameters(), lr=3e-3, eps=1e-5, fused=fused or None, foreach=False if not fused else None
    )

    def ours_step():
        common.clip_grad_norm(ours.grads(), 0.5)
        ours.step()

    def ref_step():
        nn.utils.clip_grad_norm_(ref_net.parameters(), 0.5)
        ref.step()

    got = _train(ours_net, ours_step, ours.zero_grad)
    expected = _train(ref_net, ref_step, ref.zero_grad)
    for a, b in zip(got, expected, strict=True):
        assert a.tobytes() == b.tobytes()
    ref_state = ref.state_dict()["state"]
    for i, name in enumerate(ours.names):
        arrays = ours.to_arrays("opt")
        assert arrays[f"opt.{name}.exp_avg_sq"].tobytes() == ref_state[i]["exp_avg_sq"].numpy().tobytes()
        assert arrays[f"opt.{name}.step"].tolist() == [float(ref_state[i]["step"])] == [25.0]


def test_adam_state_round_trip():
    net = _net()
    adam = common.Adam(dict(net.named_parameters()), lr=1e-3, eps=1e-8, fused=True)
    _train(net, adam.step, adam.zero_grad, steps=3)
    other = common.Adam(dict(_net(5).named_parameters()), lr=1e-3, eps=1e-8, fused=True)
    other.load_arrays("o", adam.to_arrays("o"))
    assert all(
        a.tobytes() == b.tobytes()
        for a, b in zip(adam.to_arrays("o").values(), other.to_arrays("o").values(), strict=True)
    )


def test_numpy_copy_matches_torch_network():
    for activation, module in (("relu", nn.ReLU), ("tanh", nn.Tanh)):
        net = common.mlp([6, 32, 32, 3], module)
        common.init_orthogonal(net, torch.Generator().manual_seed(0), 2**0.5, 0.01)
        copy = common.NumpyMLP(net, activation)
        x = np.random.default_rng(0).normal(size=(10, 6)).astype(np.float32)
        with torch.no_grad():
            expected = net(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(np.stack([copy(row) for row in x]), expected, rtol=1e-5, atol=1e-6)


def test_building_networks_leaves_the_global_torch_rng_alone():
    before = torch.get_rng_state()
    net = common.mlp([4, 64, 2], nn.Tanh)
    common.init_orthogonal(net, torch.Generator().manual_seed(0), 1.0, 1.0)
    assert torch.equal(torch.get_rng_state(), before)


def test_runtime_is_pinned_and_recorded():
    torch.set_num_threads(2)
    device = common.pin_torch_runtime(1, "cpu")
    info = common.runtime_info(1, device)
    assert torch.get_num_threads() == 1 and torch.are_deterministic_algorithms_enabled()
    assert info["torch_threads_actual"] == 1 and info["torch_version"] == torch.__version__


def test_seeded_generators_are_reproducible_and_distinct():
    a_np, a_torch = common.seed_generators(7)
    b_np, b_torch = common.seed_generators(7)
    assert a_np.integers(1 << 30) == b_np.integers(1 << 30)
    assert torch.equal(torch.randint(1 << 30, (3,), generator=a_torch), torch.randint(1 << 30, (3,), generator=b_torch))
    c_np, _ = common.seed_generators(8)
    assert c_np.integers(1 << 62) != common.seed_generators(7)[0].integers(1 << 62)


def test_json_arrays_keep_exact_floats():
    value = {"lr": 0.1 + 0.2, "n": 3}
    assert common.array_to_json(common.json_to_array(value)) == value


def test_config_module_does_not_import_torch():
    code = (
        "import sys; import agents.torch_agents.config as c; c.DQNConfig(); c.PPOConfig();"
        "from agents.registry import make_agent_config;"
        "make_agent_config('ppo', {'n_steps': 64, 'batch_size': 64});"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(__import__("pathlib").Path(__file__).parents[2]))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
def test_cuda_without_a_gpu_is_a_clear_error():
    from agents.torch_agents.config import PPOConfig
    from agents.torch_agents.ppo import PPOAgent
    import gymnasium as gym

    with pytest.raises(ValueError, match="CUDA"):
        PPOAgent(gym.spaces.Box(-1, 1, (4,)), gym.spaces.Discrete(2), PPOConfig(device="cuda"), 0)


# ------------------------------------------------------------------------------ configs: one validation rule
def _torch_configs():
    from agents.torch_agents.config import DQNConfig, PPOConfig, SACConfig

    return (DQNConfig, PPOConfig, SACConfig)


def _fields_of_type(cls, annotation: str) -> list[str]:
    import dataclasses

    return [f.name for f in dataclasses.fields(cls) if str(f.type) == annotation]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_every_float_field_of_every_torch_config_refuses_non_finite_values(value):
    for cls in _torch_configs():
        floats = _fields_of_type(cls, "float")
        assert floats
        for name in floats:
            with pytest.raises(ValueError) as info:
                cls(**{name: value})
            message = str(info.value)
            assert message == f"{cls.__name__}.{name} = {value!r} is invalid: use a finite number.", message


def test_every_numeric_field_has_a_declared_range():
    for cls in _torch_configs():
        for name in _fields_of_type(cls, "float") + _fields_of_type(cls, "int"):
            assert name in cls._RANGES, f"{cls.__name__}.{name} has no range"


def test_out_of_range_values_name_field_value_and_fix():
    from agents.torch_agents.config import SACConfig

    with pytest.raises(ValueError, match=r"^SACConfig\.tau = 1\.5 is invalid: use a value in \(0, 1\]"):
        SACConfig(tau=1.5)
    with pytest.raises(ValueError, match=r"^SACConfig\.ent_coef = 0\.0 is invalid"):
        SACConfig(ent_coef=0.0)
    with pytest.raises(ValueError, match="learning_rate_schedule"):
        SACConfig(learning_rate_schedule="cosine")


# ------------------------------------------------------------------------------------------- RL Zoo table
def test_zoo_table_entries_build_valid_configs_and_cartpole_ppo_is_the_default():
    from agents.torch_agents.config import ZOO, PPOConfig, SACConfig

    classes = {"ppo": PPOConfig, "sac": SACConfig}
    for agent, table in ZOO.items():
        for env_id in table:
            classes[agent](**classes[agent].env_defaults(env_id))
    assert PPOConfig.env_defaults("CartPole-v1") == {}  # default digests unchanged
    assert SACConfig.env_defaults("Pendulum-v1") == {}
    assert PPOConfig.env_defaults("NoSuchEnv-v0") == {}


def test_registry_applies_the_zoo_entry_under_the_users_values():
    from agents.registry import make_agent_config

    config = make_agent_config("ppo", {"n_epochs": 3}, env_id="Pendulum-v1")
    assert (config.n_steps, config.gamma, config.learning_rate_schedule, config.n_epochs) == (4096, 0.9, "constant", 3)
    assert make_agent_config("ppo", {}, env_id="Acrobot-v1").normalize_observations
    sac = make_agent_config("sac", {}, env_id="MountainCarContinuous-v0")
    assert (sac.ent_coef, sac.autotune_entropy, sac.net_arch) == (0.1, False, (64, 64))
    assert make_agent_config("ppo", {}) == make_agent_config("ppo", {}, env_id="CartPole-v1")
    assert make_agent_config("random", {}, env_id="Pendulum-v1") is not None  # no table: defaults


# ------------------------------------------------------------------------------------------- buffers
def test_memory_check_names_the_estimate_and_what_is_available():
    from agents.memory import available_memory
    from agents.torch_agents.buffers import check_memory

    assert check_memory("X", "buffer_size", 1000, 40, available=10**9) == 80_000
    with pytest.raises(ValueError, match=r"X\.buffer_size = 1000 needs about .* has 0\.00 GiB available.*at most"):
        check_memory("X", "buffer_size", 1000, 40, available=1000)
    assert (available_memory() or 1) > 0


def test_rng_helpers_live_in_one_shared_module():
    from agents import random_agent, rng_arrays

    assert random_agent.generator_state_to_array is rng_arrays.generator_state_to_array
    rng = np.random.default_rng(3)
    saved = rng_arrays.generator_state_to_array(rng)
    first = rng.random()
    rng_arrays.generator_state_from_array(rng, saved)
    assert rng.random() == first
