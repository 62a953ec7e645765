"""Helpers shared by the torch agents: space checks, torch runtime pinning, seeding, array (de)serialisation.

Everything an agent saves goes through here as flat ``name -> numpy array`` dicts: tensors become arrays of
the same dtype, RNG states and small counters become arrays, anything structured becomes JSON bytes
(``uint8``). Nothing is pickled.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from agents.protocol import ArrayDict


# ------------------------------------------------------------------------------------------------ spaces
def check_spaces(agent: str, observation_space: gym.Space, action_space: gym.Space) -> tuple[int, int]:
    """Return (flat observation size, number of actions); unsupported spaces raise ``ValueError`` naming them."""
    if not isinstance(observation_space, gym.spaces.Box):
        raise ValueError(
            f"{agent} needs a Box observation space (flattened to a vector), got {observation_space!r}. "
            "Wrap the env (e.g. gymnasium.wrappers.FlattenObservation) or use the hierarchy agent."
        )
    if not isinstance(action_space, gym.spaces.Discrete):
        raise ValueError(
            f"{agent} needs a Discrete action space, got {action_space!r}. "
            "Discretise the actions (e.g. a DiscretizeAction wrapper) or use another agent."
        )
    return int(np.prod(observation_space.shape, dtype=np.int64)), int(action_space.n)


# ------------------------------------------------------------------------------------------------ runtime
def pin_torch_runtime(threads: int, device: str) -> torch.device:
    """Pin torch's intra-op thread count and switch on deterministic algorithms (both process-wide)."""
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    if not torch.are_deterministic_algorithms_enabled():
        torch.use_deterministic_algorithms(True)
    if device == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("device = 'cuda' but torch sees no CUDA device; use device = 'cpu'.")
        torch.backends.cudnn.benchmark = False
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    return torch.device(device)


def runtime_info(threads: int, device: torch.device) -> dict[str, Any]:
    """What a bit-exact resume depends on: record it next to the checkpoint, warn on a mismatch."""
    return {
        "torch_version": torch.__version__,
        "torch_threads": threads,
        "torch_threads_actual": torch.get_num_threads(),
        "device": str(device),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "numpy_version": np.__version__,
    }


def seed_generators(seed: int) -> tuple[np.random.Generator, torch.Generator]:
    """One root seed split with SeedSequence: a numpy Generator (acting) and a CPU torch.Generator (init, minibatches)."""
    np_seq, torch_seq = np.random.SeedSequence(seed).spawn(2)
    torch_generator = torch.Generator(device="cpu")
    torch_generator.manual_seed(int(torch_seq.generate_state(1, np.uint64)[0]))
    return np.random.Generator(np.random.PCG64(np_seq)), torch_generator


# --------------------------------------------------------------------------------------------------- nets
def mlp(sizes: Iterable[int], activation: type[nn.Module]) -> nn.Sequential:
    """Linear layers with ``activation`` between them, built without touching torch's global RNG."""
    sizes = list(sizes)
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.utils.skip_init(nn.Linear, n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def linears(net: nn.Sequential) -> list[nn.Linear]:
    return [m for m in net if isinstance(m, nn.Linear)]


@torch.no_grad()
def init_default(net: nn.Sequential, generator: torch.Generator) -> None:
    """torch's default nn.Linear init (Kaiming-uniform, a = sqrt 5), drawn from ``generator``."""
    for layer in linears(net):
        nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
        bound = 1.0 / math.sqrt(layer.in_features)
        nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


@torch.no_grad()
def init_orthogonal(net: nn.Sequential, generator: torch.Generator, hidden_gain: float, head_gain: float) -> None:
    """SB3's ``ortho_init``: orthogonal weights (``hidden_gain``, last layer ``head_gain``), zero biases."""
    layers = linears(net)
    for i, layer in enumerate(layers):
        gain = head_gain if i == len(layers) - 1 else hidden_gain
        nn.init.orthogonal_(layer.weight, gain=gain, generator=generator)
        layer.bias.zero_()


class NumpyMLP:
    """A CPU float32 numpy copy of an MLP for acting: one small forward costs ~10 us instead of ~60 us in torch.

    Refreshed from the torch network after every update and every ``set_weights``; it is derived data and
    never saved. Its outputs match torch's to float rounding, and are deterministic for given weights.
    """

    def __init__(self, net: nn.Sequential, activation: str) -> None:
        self.activation = activation
        self.layers: list[tuple[np.ndarray, np.ndarray]] = []
        self.refresh(net)

    def refresh(self, net: nn.Sequential) -> None:
        self.layers = [
            (
                np.ascontiguousarray(layer.weight.detach().to("cpu", torch.float32).numpy().T),
                layer.bias.detach().to("cpu", torch.float32).numpy().copy(),
            )
            for layer in linears(net)
        ]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        h = x
        last = len(self.layers) - 1
        for i, (weight, bias) in enumerate(self.layers):
            h = h @ weight
            h += bias
            if i < last:
                if self.activation == "relu":
                    np.maximum(h, 0.0, out=h)
                else:
                    np.tanh(h, out=h)
        return h


def make_adam(params: Iterable[nn.Parameter], lr: float, eps: float, fused: bool, device: torch.device) -> torch.optim.Adam:
    """Adam with its state materialised (step 0, zero moments), so the saved key set never depends on history."""
    params = list(params)
    optimizer = torch.optim.Adam(params, lr=lr, eps=eps, fused=fused or None, foreach=None if fused else True)
    for p in params:
        scalar_on_device = fused or optimizer.defaults.get("capturable", False)
        optimizer.state[p] = {
            "step": torch.zeros((), dtype=torch.float32, device=p.device if scalar_on_device else "cpu"),
            "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
            "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
        }
    return optimizer


# ---------------------------------------------------------------------------------------- serialisation
def json_to_array(value: Any) -> np.ndarray:
    """Plain data -> JSON bytes as a uint8 array (floats keep their exact value through ``repr``)."""
    return np.frombuffer(json.dumps(value, sort_keys=True).encode(), dtype=np.uint8).copy()


def array_to_json(array: np.ndarray) -> Any:
    return json.loads(np.asarray(array, dtype=np.uint8).tobytes().decode())


def tensor_to_array(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().to("cpu").numpy().copy()


def torch_generator_to_array(generator: torch.Generator) -> np.ndarray:
    return generator.get_state().numpy().copy()


def torch_generator_from_array(generator: torch.Generator, array: np.ndarray) -> None:
    generator.set_state(torch.from_numpy(np.ascontiguousarray(array, dtype=np.uint8)).clone())


def module_to_arrays(prefix: str, module: nn.Module) -> ArrayDict:
    return {f"{prefix}.{name}": tensor_to_array(t) for name, t in module.state_dict().items()}


def optimizer_to_arrays(prefix: str, optimizer: torch.optim.Optimizer) -> ArrayDict:
    """Adam moments and step counts per parameter index, plus the param groups (lr, betas, ...) as JSON."""
    state_dict = optimizer.state_dict()
    arrays = {f"{prefix}.param_groups": json_to_array(state_dict["param_groups"])}
    for index, per_param in state_dict["state"].items():
        for key, value in per_param.items():
            arrays[f"{prefix}.state.{index}.{key}"] = tensor_to_array(torch.as_tensor(value))
    return arrays


def check_arrays(owner: str, what: str, arrays: ArrayDict, expected: ArrayDict) -> None:
    """Same keys, dtypes and shapes as ``expected`` (JSON byte arrays may differ in length); else ``ValueError``."""
    missing = sorted(set(expected) - set(arrays))
    extra = sorted(set(arrays) - set(expected))
    if missing or extra:
        raise ValueError(
            f"{owner}.set_{what}: key mismatch; missing {missing}, unexpected {extra}. "
            f"Were these {what} saved by a {owner} with the same config and spaces?"
        )
    for key, reference in expected.items():
        value = arrays[key]
        if not isinstance(value, np.ndarray) or value.dtype != reference.dtype:
            raise ValueError(
                f"{owner}.set_{what}: {key!r} must be a numpy array of dtype {reference.dtype}, "
                f"got {type(value).__name__} {getattr(value, 'dtype', '')}."
            )
        if value.shape != reference.shape and not (reference.dtype == np.uint8 and value.ndim == 1):
            raise ValueError(
                f"{owner}.set_{what}: {key!r} has shape {value.shape}, expected {reference.shape} "
                "(saved with a different net_arch or env?)."
            )


def load_module(prefix: str, module: nn.Module, arrays: ArrayDict) -> None:
    state = {
        name: torch.from_numpy(np.array(arrays[f"{prefix}.{name}"])) for name in module.state_dict()
    }
    module.load_state_dict(state)


def load_optimizer(prefix: str, optimizer: torch.optim.Optimizer, arrays: ArrayDict) -> None:
    reference = optimizer.state_dict()
    state: dict[int, dict[str, torch.Tensor]] = {}
    for index, per_param in reference["state"].items():
        state[index] = {
            key: torch.from_numpy(np.array(arrays[f"{prefix}.state.{index}.{key}"])) for key in per_param
        }
    optimizer.load_state_dict({"state": state, "param_groups": array_to_json(arrays[f"{prefix}.param_groups"])})


def counters_to_array(values: dict[str, int]) -> np.ndarray:
    return np.array(list(values.values()), dtype=np.int64)
