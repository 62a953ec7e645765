"""Exact, JSON-able encoding of the small values an env keeps as episode state.

``to_plain(value)`` returns a tagged dict of JSON types only; ``from_plain(to_plain(v))`` rebuilds a value of
the same Python/numpy type, dtype and shape with identical bits (NaN payloads aside). Floats are stored as
``float.hex`` strings: exact, and valid strict JSON even for ``inf``/``nan`` (which ``json`` would write as
the non-standard ``Infinity``/``NaN``). float32/float16 values are widened to Python floats first, which is
exact.

Supported: ``None``, ``bool``, ``int``, ``float``, ``str``, numpy bool/integer/floating scalars and arrays,
and tuples/lists of these. Anything else raises ``TypeError``.

Example:
    >>> import numpy as np
    >>> plain = to_plain(np.array([0.1, -0.0]))
    >>> plain["data"]
    ['0x1.999999999999ap-4', '-0x0.0p+0']
    >>> back = from_plain(plain)
    >>> back.dtype, back.tobytes() == np.array([0.1, -0.0]).tobytes()
    (dtype('float64'), True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["from_plain", "to_plain"]


def _scalar_to_plain(kind: str, x: Any) -> Any:
    if kind == "f":
        return float(x).hex()
    if kind == "b":
        return bool(x)
    return int(x)


def _scalar_from_plain(kind: str, x: Any) -> Any:
    return float.fromhex(x) if kind == "f" else x


def _check_dtype(dtype: np.dtype) -> None:
    if dtype.kind not in "biuf":
        raise TypeError(
            f"cannot store numpy dtype {dtype} exactly as plain data (supported: bool, int, float)"
        )


def to_plain(value: Any) -> dict[str, Any]:
    """Encode ``value`` exactly as a tagged dict of JSON types.

    Args:
        value: None, bool, int, float, str, a numpy bool/int/float scalar or array, or a tuple/list of these.

    Returns:
        A dict with a ``"type"`` tag and the data.

    Raises:
        TypeError: For any other type (e.g. complex, objects).
    """
    if value is None:
        return {"type": "none"}
    # bool before int (bool is an int subclass); Python scalars before numpy (np.float64 is a float subclass).
    if type(value) is bool:
        return {"type": "bool", "value": value}
    if type(value) is int:
        return {"type": "int", "value": value}
    if type(value) is float:
        return {"type": "float", "value": value.hex()}
    if type(value) is str:
        return {"type": "str", "value": value}
    if isinstance(value, np.ndarray):
        _check_dtype(value.dtype)
        return {
            "type": "ndarray",
            "dtype": value.dtype.name,
            "shape": list(value.shape),
            "data": [_scalar_to_plain(value.dtype.kind, x) for x in value.reshape(-1).tolist()],
        }
    if isinstance(value, np.generic):
        _check_dtype(value.dtype)
        return {
            "type": "numpy_scalar",
            "dtype": value.dtype.name,
            "value": _scalar_to_plain(value.dtype.kind, value),
        }
    if type(value) in (tuple, list):
        return {"type": type(value).__name__, "items": [to_plain(v) for v in value]}
    raise TypeError(f"cannot store {type(value).__name__} {value!r} exactly as plain data")


def from_plain(plain: dict[str, Any]) -> Any:
    """Rebuild the value encoded by :func:`to_plain`.

    Args:
        plain: A dict produced by :func:`to_plain` (possibly after a JSON round trip).

    Returns:
        A new value of the original type, dtype and shape.

    Raises:
        ValueError: If ``plain`` is not a valid encoding.
    """
    try:
        tag = plain["type"]
        if tag == "none":
            return None
        if tag in ("bool", "int", "str"):
            return {"bool": bool, "int": int, "str": str}[tag](plain["value"])
        if tag == "float":
            return float.fromhex(plain["value"])
        if tag == "ndarray":
            dtype = np.dtype(plain["dtype"])
            _check_dtype(dtype)
            data = [_scalar_from_plain(dtype.kind, x) for x in plain["data"]]
            return np.array(data, dtype=dtype).reshape(tuple(plain["shape"]))
        if tag == "numpy_scalar":
            dtype = np.dtype(plain["dtype"])
            _check_dtype(dtype)
            return dtype.type(_scalar_from_plain(dtype.kind, plain["value"]))
        if tag in ("tuple", "list"):
            items = [from_plain(p) for p in plain["items"]]
            return tuple(items) if tag == "tuple" else items
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"invalid plain-data value {plain!r}: {e}") from e
    raise ValueError(f"invalid plain-data value {plain!r}: unknown type tag {tag!r}")
