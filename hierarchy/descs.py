"""Shape descriptors of a hierarchy: IO ports (`IODesc`) and layers (`LayerDesc`).

Names and defaults follow PyAOgmaNeo so its users feel at home. Both are frozen, validated dataclasses: a bad
value raises ``ValueError`` naming the field, the value and what is accepted.
"""

from __future__ import annotations

import dataclasses
from enum import IntEnum
from typing import Any


class IOType(IntEnum):
    """What a port does. ``NONE``: input only. ``PREDICTION``: input, and the next step is predicted.
    ``ACTION``: input (the action actually taken), and an actor proposes the next action."""

    NONE = 0
    PREDICTION = 1
    ACTION = 2


def _check_size(name: str, value: Any) -> tuple[int, int, int]:
    try:
        size = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a tuple of three positive ints (x, y, z), got {value!r}") from None
    if len(size) != 3 or any(v < 1 for v in size) or any(int(v) != v for v in value):
        raise ValueError(f"{name} must be a tuple of three positive ints (x, y, z), got {value!r}")
    return size  # type: ignore[return-value]


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            if int(value) != value:
                raise ValueError
            value = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be an int, got {value!r}") from None
    if value < low or (high is not None and value > high):
        rng = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {rng}, got {value}")
    return int(value)


def _check_io_type(value: Any) -> IOType:
    if isinstance(value, str):
        try:
            return IOType[value.upper()]
        except KeyError:
            pass
    else:
        try:
            return IOType(value)
        except ValueError:
            pass
    raise ValueError(f"io_type must be IOType.NONE, IOType.PREDICTION or IOType.ACTION, got {value!r}")


@dataclasses.dataclass(frozen=True)
class IODesc:
    """One input/output port.

    Args:
        size: the port's CSDR shape (x, y, z): x*y columns of z cells each.
        io_type: `IOType.NONE`, `IOType.PREDICTION` or `IOType.ACTION`.
        num_dendrites_per_cell: dendrites per output cell of this port's decoder / actor policy (>= 2, even
            split into inhibitory and excitatory halves).
        value_num_dendrites_per_cell: dendrites of the actor's value head (>= 2).
        up_radius: encoder receptive-field radius from this port into layer 0 (columns).
        down_radius: radius of this port's decoder / actor onto layer 0's hidden state.
        history_capacity: actor replay ring length (credit-assignment horizon), in steps.
    """

    size: tuple[int, int, int] = (5, 5, 16)
    io_type: IOType = IOType.PREDICTION
    num_dendrites_per_cell: int = 4
    value_num_dendrites_per_cell: int = 8
    up_radius: int = 2
    down_radius: int = 2
    history_capacity: int = 512

    def __post_init__(self) -> None:
        s = object.__setattr__
        s(self, "size", _check_size("IODesc.size", self.size))
        s(self, "io_type", _check_io_type(self.io_type))
        s(
            self,
            "num_dendrites_per_cell",
            _check_int("IODesc.num_dendrites_per_cell", self.num_dendrites_per_cell, 2, 1024),
        )
        s(
            self,
            "value_num_dendrites_per_cell",
            _check_int("IODesc.value_num_dendrites_per_cell", self.value_num_dendrites_per_cell, 2, 1024),
        )
        s(self, "up_radius", _check_int("IODesc.up_radius", self.up_radius, 0, 1024))
        s(self, "down_radius", _check_int("IODesc.down_radius", self.down_radius, 0, 1024))
        s(self, "history_capacity", _check_int("IODesc.history_capacity", self.history_capacity, 2, 1 << 24))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["size"] = list(self.size)
        d["io_type"] = self.io_type.name.lower()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> IODesc:
        return cls(**{**d, "size": tuple(d["size"])})


@dataclasses.dataclass(frozen=True)
class LayerDesc:
    """One layer of the hierarchy.

    Args:
        hidden_size: the encoder's hidden CSDR shape (x, y, z).
        num_dendrites_per_cell: dendrites per cell of this layer's decoder (layers > 0 predict the one below).
        up_radius: encoder receptive-field radius onto the layer below (unused for layer 0, which uses
            each port's `IODesc.up_radius`).
        recurrent_radius: radius onto the encoder's own previous hidden state; -1 disables recurrence.
        down_radius: radius of this layer's decoders onto its hidden state and feedback.
    """

    hidden_size: tuple[int, int, int] = (5, 5, 16)
    num_dendrites_per_cell: int = 4
    up_radius: int = 2
    recurrent_radius: int = 0
    down_radius: int = 2

    def __post_init__(self) -> None:
        s = object.__setattr__
        s(self, "hidden_size", _check_size("LayerDesc.hidden_size", self.hidden_size))
        s(
            self,
            "num_dendrites_per_cell",
            _check_int("LayerDesc.num_dendrites_per_cell", self.num_dendrites_per_cell, 2, 1024),
        )
        s(self, "up_radius", _check_int("LayerDesc.up_radius", self.up_radius, 0, 1024))
        s(self, "recurrent_radius", _check_int("LayerDesc.recurrent_radius", self.recurrent_radius, -1, 1024))
        s(self, "down_radius", _check_int("LayerDesc.down_radius", self.down_radius, 0, 1024))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["hidden_size"] = list(self.hidden_size)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LayerDesc:
        return cls(**{**d, "hidden_size": tuple(d["hidden_size"])})
