"""Shape descriptors of a hierarchy: IO ports (`IODesc`) and layers (`LayerDesc`).

Names, argument order and defaults follow PyAOgmaNeo so its scripts run unchanged: fields may be assigned
after construction (``ld = LayerDesc(); ld.hidden_size = (5, 5, 64)``). Every assignment (the constructor's
too) is validated at once: a bad value raises ``ValueError`` naming the field, the value and what is accepted.
A `Hierarchy` keeps its own copies, which are locked: change a copy (``copy.copy(d)``) and build again.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from enum import IntEnum
from typing import Any, ClassVar


class NamedIntEnum(IntEnum):
    """An IntEnum that prints as ``Class.NAME`` (not a digit) and parses a member, its number or its name in
    any case; subclasses add PyAOgmaNeo's lower-case names as aliases."""

    def __str__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    def __format__(self, spec: str) -> str:
        return str(self) if not spec else format(int(self), spec)

    @classmethod
    def parse(cls, value: Any, what: str) -> Any:
        """The member ``value`` names; ``ValueError`` naming ``what`` and the accepted members otherwise."""
        if isinstance(value, str):
            if value.upper() in cls.__members__:
                return cls[value.upper()]
        elif not isinstance(value, bool):
            try:
                return cls(value)
            except ValueError:
                pass
        names = " or ".join(f"{cls.__name__}.{name}" for name in cls.__members__ if name.isupper())
        raise ValueError(f"{what} must be {names}, got {value!r}")


class IOType(NamedIntEnum):
    """What a port does. ``NONE``: input only. ``PREDICTION``: input, and the next step is predicted.
    ``ACTION``: input (the action actually taken), and an actor proposes the next action.

    The lower-case names (``IOType.none``, ``IOType.prediction``, ``IOType.action``) are PyAOgmaNeo's and are
    the same members. ``str()`` gives the name (``"IOType.ACTION"``), not the number."""

    NONE = 0
    PREDICTION = 1
    ACTION = 2
    none = 0
    prediction = 1
    action = 2


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


class _Desc:
    """Validation on every assignment, locking, and copies that are unlocked (shared by both descriptors)."""

    _CHECKS: ClassVar[dict[str, Callable[[str, Any], Any]]] = {}

    def __setattr__(self, name: str, value: Any) -> None:
        owner = type(self).__name__
        if self.__dict__.get("_locked", False):
            raise AttributeError(
                f"this {owner} belongs to a built Hierarchy and cannot change; change a copy "
                f"(copy.copy) and build a new Hierarchy"
            )
        check = self._CHECKS.get(name)
        if check is None:
            raise AttributeError(f"{owner} has no field {name!r} (fields: {', '.join(self._CHECKS)})")
        object.__setattr__(self, name, check(f"{owner}.{name}", value))

    def locked_copy(self) -> Any:
        """A copy that refuses assignment (what a Hierarchy keeps)."""
        out = copy.copy(self)
        object.__setattr__(out, "_locked", True)
        return out

    def __copy__(self) -> Any:
        return type(self)(**{f.name: getattr(self, f.name) for f in dataclasses.fields(self)})  # type: ignore[arg-type]

    def __deepcopy__(self, memo: dict) -> Any:
        return self.__copy__()

    _OPTIONAL: ClassVar[dict[str, Any]] = {}
    """Fields added after the buffer format was fixed, with the value that leaves them out of `to_dict`: a
    hierarchy that does not use them writes the bytes it always wrote, and older buffers load as before."""

    def to_dict(self) -> dict[str, Any]:
        """The fields that shape a hierarchy (inert PyAOgmaNeo-only fields, and `_OPTIONAL` fields at their
        'unused' value, are left out)."""
        d = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
            if f.compare and self._OPTIONAL.get(f.name, ...) != getattr(self, f.name)
        }
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
            elif isinstance(v, IOType):
                d[k] = v.name.lower()
        return d


@dataclasses.dataclass
class IODesc(_Desc):
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
        value_size: accepted for PyAOgmaNeo scripts but **inert** (our value head is a scalar, not a
            distribution over bins); not saved and not compared.
        skip_radius: ``ACTION`` ports only (sphgym extension; -1, the default, is PyAOgmaNeo's design): when
            >= 0 the actor also sees every non-action port's input CSDR directly, with this radius, beside
            layer 0's hidden state (docs/algorithm.md, "Actor"). Written to buffers only when >= 0.
    """

    size: tuple[int, int, int] = (5, 5, 16)
    io_type: IOType = IOType.PREDICTION
    num_dendrites_per_cell: int = 4
    value_num_dendrites_per_cell: int = 8
    up_radius: int = 2
    down_radius: int = 2
    history_capacity: int = 512
    value_size: int = dataclasses.field(default=128, compare=False)
    skip_radius: int = -1  # last: the positional order above is PyAOgmaNeo's

    _CHECKS: ClassVar[dict[str, Callable[[str, Any], Any]]] = {
        "size": _check_size,
        "io_type": lambda _, v: IOType.parse(v, "io_type"),
        "num_dendrites_per_cell": lambda n, v: _check_int(n, v, 2, 1024),
        "value_num_dendrites_per_cell": lambda n, v: _check_int(n, v, 2, 1024),
        "up_radius": lambda n, v: _check_int(n, v, 0, 1024),
        "down_radius": lambda n, v: _check_int(n, v, 0, 1024),
        "history_capacity": lambda n, v: _check_int(n, v, 2, 1 << 24),
        "skip_radius": lambda n, v: _check_int(n, v, -1, 1024),
        "value_size": lambda n, v: _check_int(n, v, 1, 1 << 24),
    }
    _OPTIONAL: ClassVar[dict[str, Any]] = {"skip_radius": -1}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> IODesc:
        return cls(**{**d, "size": tuple(d["size"])})


@dataclasses.dataclass
class LayerDesc(_Desc):
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

    _CHECKS: ClassVar[dict[str, Callable[[str, Any], Any]]] = {
        "hidden_size": _check_size,
        "num_dendrites_per_cell": lambda n, v: _check_int(n, v, 2, 1024),
        "up_radius": lambda n, v: _check_int(n, v, 0, 1024),
        "recurrent_radius": lambda n, v: _check_int(n, v, -1, 1024),
        "down_radius": lambda n, v: _check_int(n, v, 0, 1024),
    }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LayerDesc:
        return cls(**{**d, "hidden_size": tuple(d["hidden_size"])})
