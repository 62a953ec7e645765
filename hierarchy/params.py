"""Run-time parameters of a hierarchy, reachable like PyAOgmaNeo's: ``h.params.ios[i].actor.plr``.

Unlike descriptors these may change between steps (each `Hierarchy.step` reads them). Every assignment is
validated at once: a bad value raises ``ValueError`` naming the field, the value and the accepted range, so
``step`` itself needs no per-step validation.

Defaults are PyAOgmaNeo 2.14.4's except three (docs/algorithm.md, "Where we differ"); how they were chosen is
in BENCHMARKS.md (hierarchy tuning history).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, ClassVar

# field -> (kind, low, high); kind "f" float, "i" int, "b" bool. Ranges are inclusive.
_Spec = dict[str, tuple[str, float, float]]


class _Validated:
    _SPEC: ClassVar[_Spec] = {}

    def __setattr__(self, name: str, value: Any) -> None:
        spec = self._SPEC.get(name)
        if spec is not None:
            value = _check(type(self).__name__, name, value, spec)
        elif not name.startswith("_") and name not in _field_names(type(self)):
            raise AttributeError(f"{type(self).__name__} has no parameter {name!r}")
        object.__setattr__(self, name, value)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]


@functools.cache
def _field_names(cls: type) -> frozenset[str]:
    """A params class's field names (computed once per class: every assignment looks them up)."""
    return frozenset(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]


def _check(owner: str, name: str, value: Any, spec: tuple[str, float, float]) -> Any:
    kind, low, high = spec
    if kind == "b":
        if not isinstance(value, (bool, int)) or value not in (0, 1):
            raise ValueError(f"{owner}.{name} must be a bool, got {value!r}")
        return bool(value)
    if kind == "i":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{owner}.{name} must be an int in [{int(low)}, {int(high)}], got {value!r}")
    else:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            try:
                value = float(value)  # numpy scalars
            except (TypeError, ValueError):
                raise ValueError(f"{owner}.{name} must be a float in [{low}, {high}], got {value!r}") from None
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{owner}.{name} must be finite, got {value!r}")
    if value < low or value > high:
        raise ValueError(f"{owner}.{name} must be in [{low}, {high}], got {value!r}")
    return value


@dataclasses.dataclass
class EncoderParams(_Validated):
    """Fuzzy-ART encoder of one layer.

    Args:
        choice: ART choice parameter (small positive; favours committed cells with little weight).
        vigilance: minimum match for a committed cell to win (and learn); lower = coarser categories.
        lr: learning rate of committed cells (uncommitted cells commit in one shot).
        active_ratio: fraction of locally strongest columns allowed to learn each step.
        l_radius: radius (columns) of that lateral competition.

    Defaults are PyAOgmaNeo 2.14.4's except ``vigilance`` (0.9 there; see the module docstring).
    """

    _SPEC: ClassVar[_Spec] = {
        "choice": ("f", 1e-9, 1e9),
        "vigilance": ("f", 0.0, 1.0),
        "lr": ("f", 0.0, 1.0),
        "active_ratio": ("f", 0.0, 1.0),
        "l_radius": ("i", 0, 1 << 16),
    }
    choice: float = 0.01
    vigilance: float = 0.95
    lr: float = 0.5
    active_ratio: float = 0.1
    l_radius: int = 2


@dataclasses.dataclass
class DecoderParams(_Validated):
    """Dendritic softmax decoder (next-step predictor).

    Args:
        scale: gain applied to dendrite inputs before softplus.
        lr: learning rate of the cross-entropy update (in units of the int8 weight range).
    """

    _SPEC: ClassVar[_Spec] = {"scale": ("f", 0.0, 1e6), "lr": ("f", 0.0, 1e3)}
    scale: float = 8.0
    lr: float = 0.1


@dataclasses.dataclass
class ActorParams(_Validated):
    """Replay actor-critic with PPO-style clipping against a slow (delayed) policy.

    Args:
        vlr: value learning rate.
        plr: policy learning rate.
        smoothing: λ-return smoothing s = 1 - λ (targets shrink toward the stored old value).
        delay_rate: EMA rate of the delayed ("old") policy weights, per learning step.
        policy_clip: PPO clip ε on π(a)/π_delayed(a).
        discount: gamma.
        td_scale_decay: decay of the per-column running |δ| scale used to normalise the policy step.
        min_steps: samples younger than this are never replayed (their λ-return is too short).
        history_iters: replayed samples per step.
        value_range: accepted for PyAOgmaNeo scripts and saved with the params, but **inert**: our value head
            is not bounded or binned, so there is no range to set.

    Defaults are PyAOgmaNeo 2.14.4's except ``plr`` (0.01 there) and ``delay_rate`` (0.001 there; see the
    module docstring).
    """

    _SPEC: ClassVar[_Spec] = {
        "vlr": ("f", 0.0, 1e3),
        "plr": ("f", 0.0, 1e3),
        "smoothing": ("f", 0.0, 1.0),
        "delay_rate": ("f", 0.0, 1.0),
        "policy_clip": ("f", 0.0, 1e3),
        "discount": ("f", 0.0, 1.0),
        "td_scale_decay": ("f", 0.0, 1.0),
        "min_steps": ("i", 1, 1 << 24),
        "history_iters": ("i", 0, 1 << 16),
        "value_range": ("f", 0.0, 1e9),
    }
    vlr: float = 0.001
    plr: float = 0.03
    smoothing: float = 0.02
    delay_rate: float = 0.01
    policy_clip: float = 0.2
    discount: float = 0.99
    td_scale_decay: float = 0.999
    min_steps: int = 16
    history_iters: int = 16
    value_range: float = 10.0


@dataclasses.dataclass
class LayerParams(_Validated):
    """Per-layer parameters: ``recurrent_importance`` weighs the encoder's own previous state."""

    _SPEC: ClassVar[_Spec] = {"recurrent_importance": ("f", 0.0, 1e6)}
    recurrent_importance: float = 0.5
    encoder: EncoderParams = dataclasses.field(default_factory=EncoderParams)
    decoder: DecoderParams = dataclasses.field(default_factory=DecoderParams)

    def __setattr__(self, name: str, value: Any) -> None:
        _check_sub(self, name, value, {"encoder": EncoderParams, "decoder": DecoderParams})
        super().__setattr__(name, value)


@dataclasses.dataclass
class IOParams(_Validated):
    """Per-port parameters: ``importance`` weighs the port in layer 0's encoder."""

    _SPEC: ClassVar[_Spec] = {"importance": ("f", 0.0, 1e6)}
    importance: float = 1.0
    decoder: DecoderParams = dataclasses.field(default_factory=DecoderParams)
    actor: ActorParams = dataclasses.field(default_factory=ActorParams)

    def __setattr__(self, name: str, value: Any) -> None:
        _check_sub(self, name, value, {"decoder": DecoderParams, "actor": ActorParams})
        super().__setattr__(name, value)


def _check_sub(owner: Any, name: str, value: Any, kinds: dict[str, type]) -> None:
    kind = kinds.get(name)
    if kind is not None and not isinstance(value, kind):
        raise ValueError(f"{type(owner).__name__}.{name} must be a {kind.__name__}, got {type(value).__name__}")


@dataclasses.dataclass
class Params(_Validated):
    """All run-time parameters: one `LayerParams` per layer, one `IOParams` per port.

    ``anticipation``: decoders below the top layer also learn with the layer's current hidden CSDR standing in
    for feedback (docs/algorithm.md, "Decoder"). Replacing ``layers`` / ``ios`` with a list of the wrong length
    or element type is refused when the hierarchy next steps (or at once, for the type), naming the mismatch.
    """

    _SPEC: ClassVar[_Spec] = {"anticipation": ("b", 0, 1)}
    layers: list[LayerParams] = dataclasses.field(default_factory=list)
    ios: list[IOParams] = dataclasses.field(default_factory=list)
    anticipation: bool = True

    def __setattr__(self, name: str, value: Any) -> None:
        kind = {"layers": LayerParams, "ios": IOParams}.get(name)
        if kind is not None:
            if not isinstance(value, (list, tuple)):
                raise ValueError(f"Params.{name} must be a list of {kind.__name__}, got {type(value).__name__}")
            value = list(value)
            for i, item in enumerate(value):
                if not isinstance(item, kind):
                    raise ValueError(f"Params.{name}[{i}] must be a {kind.__name__}, got {type(item).__name__}")
        super().__setattr__(name, value)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Params:
        layers = [
            LayerParams(
                recurrent_importance=lp["recurrent_importance"],
                encoder=EncoderParams(**lp["encoder"]),
                decoder=DecoderParams(**lp["decoder"]),
            )
            for lp in d["layers"]
        ]
        ios = [
            IOParams(
                importance=ip["importance"],
                decoder=DecoderParams(**ip["decoder"]),
                actor=ActorParams(**ip["actor"]),
            )
            for ip in d["ios"]
        ]
        return cls(layers=layers, ios=ios, anticipation=d["anticipation"])
