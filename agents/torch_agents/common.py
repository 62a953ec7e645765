"""Helpers shared by the torch agents: torch runtime pinning, seeding, networks, Adam, array (de)serialisation.

Everything an agent saves goes through here as flat ``name -> numpy array`` dicts: tensors become arrays of
the same dtype, RNG states and small counters become arrays, anything structured becomes JSON bytes
(``uint8``). Nothing is pickled.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import sys
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.protocol import ArrayDict


# ------------------------------------------------------------------------------------------------ runtime
def pin_torch_runtime(threads: int, device: str) -> torch.device:
    """Pin torch's intra-op thread count and switch on deterministic algorithms (both process-wide)."""
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    if not torch.are_deterministic_algorithms_enabled():
        _use_deterministic_algorithms()
    if device == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("device = 'cuda' but torch sees no CUDA device; use device = 'cpu'.")
        # cuBLAS needs this before its first call to be deterministic (PyTorch notes/randomness)
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    return torch.device(device)


def _use_deterministic_algorithms() -> None:
    """``torch.use_deterministic_algorithms(True)`` without its side import of torch._inductor (5-10 s here).

    The public function also sets ``torch._inductor.config.deterministic``, which only matters for
    ``torch.compile``; we never compile, so set the eager switch directly unless inductor is already loaded.
    """
    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if setter is None or "torch._inductor.config" in sys.modules:
        torch.use_deterministic_algorithms(True)
    else:
        setter(True, warn_only=False)


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
    """Split one seed with SeedSequence: numpy Generator (acting), CPU torch.Generator (init, batches)."""
    np_seq, torch_seq = np.random.SeedSequence(seed).spawn(2)
    torch_generator = torch.Generator(device="cpu")
    torch_generator.manual_seed(int(torch_seq.generate_state(1, np.uint64)[0]))
    return np.random.Generator(np.random.PCG64(np_seq)), torch_generator


# --------------------------------------------------------------------------------------------------- nets
def mlp(sizes: Iterable[int], activation: type[nn.Module]) -> nn.Sequential:
    """Linear layers with ``activation`` between them; torch's global RNG is left as it was.

    The default init drawn here is thrown away: callers re-initialise from the agent's own generator.
    """
    sizes = list(sizes)
    layers: list[nn.Module] = []
    with torch.random.fork_rng(devices=[]):
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            layers.append(nn.Linear(n_in, n_out))
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


@torch.no_grad()
def polyak_update(network: nn.Module, target_network: nn.Module, tau: float) -> None:
    for param, target_param in zip(network.parameters(), target_network.parameters(), strict=True):
        if tau == 1.0:
            target_param.copy_(param)
        else:
            target_param.mul_(1.0 - tau).add_(param, alpha=tau)


class NumpyMLP:
    """A CPU float32 numpy copy of an MLP for acting: a small forward costs ~10 us instead of ~60 us in torch.

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


def clip_grad_norm(grads: list[torch.Tensor], max_norm: float) -> torch.Tensor:
    """``torch.nn.utils.clip_grad_norm_`` (same ops, same bits) on a gradient list, minus dispatch cost."""
    total_norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads, 2.0)), 2.0)
    torch._foreach_mul_(grads, torch.clamp(max_norm / (total_norm + 1e-6), max=1.0))
    return total_norm


class Adam:
    """Adam (Kingma & Ba 2015) over named parameters, with its state as plain tensors for exact saving.

    ``fused=True`` calls torch's fused kernel directly (bit-identical to ``torch.optim.Adam(fused=True)``);
    ``fused=False`` is torch's single-tensor algorithm written out (bit-identical to
    ``torch.optim.Adam(foreach=False)``). Both are tested against ``torch.optim.Adam``. We do not use
    ``torch.optim`` itself because constructing any of its optimizers imports ``torch._dynamo`` (5-10 s on a
    busy 2-core box), and its ``step`` wrapper costs more than the update of a CartPole-sized network.
    """

    def __init__(self, named_params: dict[str, nn.Parameter], lr: float, eps: float, fused: bool) -> None:
        self.names = list(named_params)
        self.params = list(named_params.values())
        self.lr, self.beta1, self.beta2, self.eps, self.fused = lr, 0.9, 0.999, eps, fused
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.steps = [torch.zeros((), dtype=torch.float32, device=p.device if fused else "cpu") for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def grads(self) -> list[torch.Tensor]:
        return [p.grad for p in self.params]  # type: ignore[misc]

    @torch.no_grad()
    def step(self) -> None:
        grads = self.grads()
        if self.fused:
            torch._foreach_add_(self.steps, 1)
            torch._fused_adam_(
                self.params, grads, self.exp_avg, self.exp_avg_sq, [], self.steps,
                lr=self.lr, beta1=self.beta1, beta2=self.beta2, weight_decay=0.0, eps=self.eps,
                amsgrad=False, maximize=False, grad_scale=None, found_inf=None,
            )  # fmt: skip
            return
        for param, grad, exp_avg, exp_avg_sq, step_t in zip(
            self.params, grads, self.exp_avg, self.exp_avg_sq, self.steps, strict=True
        ):
            step_t += 1
            exp_avg.lerp_(grad, 1 - self.beta1)
            exp_avg_sq.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
            step = step_t.item()
            bias_correction1 = 1 - self.beta1**step
            bias_correction2 = 1 - self.beta2**step
            step_size = self.lr / bias_correction1
            denom = (exp_avg_sq.sqrt() / bias_correction2**0.5).add_(self.eps)
            param.addcdiv_(exp_avg, denom, value=-step_size)

    def to_arrays(self, prefix: str) -> ArrayDict:
        arrays: ArrayDict = {}
        for name, exp_avg, exp_avg_sq, step in zip(self.names, self.exp_avg, self.exp_avg_sq, self.steps, strict=True):
            arrays[f"{prefix}.{name}.exp_avg"] = tensor_to_array(exp_avg)
            arrays[f"{prefix}.{name}.exp_avg_sq"] = tensor_to_array(exp_avg_sq)
            arrays[f"{prefix}.{name}.step"] = tensor_to_array(step).reshape(1)  # no 0-d arrays in files
        return arrays

    @torch.no_grad()
    def load_arrays(self, prefix: str, arrays: ArrayDict) -> None:
        for name, exp_avg, exp_avg_sq, step in zip(self.names, self.exp_avg, self.exp_avg_sq, self.steps, strict=True):
            exp_avg.copy_(torch.from_numpy(np.array(arrays[f"{prefix}.{name}.exp_avg"])))
            exp_avg_sq.copy_(torch.from_numpy(np.array(arrays[f"{prefix}.{name}.exp_avg_sq"])))
            step.copy_(torch.from_numpy(np.array(arrays[f"{prefix}.{name}.step"])).reshape(()))


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


def check_arrays(owner: str, what: str, arrays: ArrayDict, expected: ArrayDict) -> None:
    """Same keys, dtypes, shapes as ``expected`` (JSON byte arrays may differ in length), else ValueError."""
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
    state = {name: torch.from_numpy(np.array(arrays[f"{prefix}.{name}"])) for name in module.state_dict()}
    module.load_state_dict(state)


def linear_or_constant(schedule: str, initial: float, progress_remaining: float) -> float:
    """The Zoo's ``lin_<x>``: ``x * progress_remaining``; ``constant``: ``x``."""
    return initial * progress_remaining if schedule == "linear" else initial
