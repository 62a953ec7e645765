"""Turn a TOML file and command-line overrides into typed values for the run and agent config dataclasses.

Precedence, lowest first: dataclass defaults < ``--config FILE`` < named flags (``--episodes``, ...) <
``--set KEY=VALUE`` / ``--agent.FIELD VALUE``. Every value is checked against the dataclass field's type
annotation here, so a typo or a wrong type is reported with the key's full name, the expected type and a
"did you mean" before any run folder is created; the dataclasses' own ``__post_init__`` checks run after.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from pathlib import Path
from typing import Any

from agents.cli.common import CLIError, did_you_mean

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


# --------------------------------------------------------------------------------------------- reading files
def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file; unreadable or malformed files are a ``CLIError`` naming the file and line."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CLIError(f"config file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise CLIError(f"config file {str(path)!r} is a directory, not a TOML file") from None
    except OSError as exc:
        raise CLIError(f"cannot read config file {str(path)!r}: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise CLIError(f"config file {str(path)!r} is not UTF-8 text (is it a TOML file?)") from None
    except tomllib.TOMLDecodeError as exc:
        raise CLIError(f"config file {str(path)!r} is not valid TOML: {exc}") from None


# ------------------------------------------------------------------------------------------- type handling
def field_types(cls: type) -> dict[str, Any]:
    """Field name -> resolved type annotation of dataclass ``cls`` (string annotations resolved)."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # an unresolvable annotation: fall back to "anything", the dataclass still validates
        hints = {}
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls)}


_TYPE_WORDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def type_name(tp: Any) -> str:
    """Human name of a type annotation: ``an integer``, ``a list of integers``, ``a number or none``."""
    if tp is Any:
        return "any value"
    if tp is type(None):
        return "none"
    if tp in _TYPE_WORDS:
        return _TYPE_WORDS[tp]
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in args)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (tuple, list) or tp in (tuple, list):
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            item = type_name(args[0]) if args else "any value"
            return f"a list of {_plural(item)}"
        return f"a list of {len(args)} items [{', '.join(_bare(type_name(a)) for a in args)}]"
    if origin is dict or tp is dict or dataclasses.is_dataclass(tp):
        return "a table"
    return getattr(tp, "__name__", str(tp))


def _plural(phrase: str) -> str:
    words = {
        "an integer": "integers", "a number": "numbers", "a string": "strings", "true or false": "booleans"
    }
    if phrase.startswith("a list of"):
        return "lists of" + phrase[len("a list of"):]
    return words.get(phrase, phrase)


def _bare(phrase: str) -> str:
    """``an integer`` -> ``integer`` inside a bracketed item list."""
    for article in ("an ", "a "):
        if phrase.startswith(article):
            return phrase[len(article):]
    return phrase


def coerce(value: Any, tp: Any, key: str) -> Any:
    """Check a TOML-typed ``value`` against annotation ``tp``; return it in the field's Python type.

    Lists become tuples for tuple fields and ints become floats for float fields; anything else that does
    not fit raises a ``CLIError`` that names ``key``, the expected type and the value.
    """
    if tp is Any or tp is object:
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, key)
            except CLIError as exc:
                errors.append(exc)
        raise _type_error(key, tp, value)
    if origin is typing.Literal:
        if value in args:
            return value
        hint = did_you_mean(str(value), [str(a) for a in args]) if isinstance(value, str) else ""
        raise CLIError(f"{key} must be {type_name(tp)}, got {value!r}{hint}")
    if tp is type(None):
        if value is None:
            return None
        raise _type_error(key, tp, value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _type_error(key, tp, value)
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _type_error(key, tp, value)
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _type_error(key, tp, value)
    if tp is str:
        if isinstance(value, str):
            return value
        raise _type_error(key, tp, value)
    if origin in (tuple, list) or tp in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise _type_error(key, tp, value)
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                raise CLIError(f"{key} must be {type_name(tp)}, got {list(value)!r}")
            items = [coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True))]
        else:
            item_tp = args[0] if args else Any
            items = [coerce(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if (origin is tuple or tp is tuple) else items
    if origin is dict or tp is dict:
        if isinstance(value, dict):
            return dict(value)
        raise _type_error(key, tp, value)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise _type_error(key, tp, value)
        return check_table(value, tp, key)
    return value  # an annotation we do not model: the dataclass's own validation decides


def _type_error(key: str, tp: Any, value: Any) -> CLIError:
    shown = "true/false" if isinstance(value, bool) else repr(value)
    return CLIError(f"{key} must be {type_name(tp)}, got {shown} ({type(value).__name__})")


def check_table(table: dict[str, Any], cls: type, prefix: str) -> dict[str, Any]:
    """Check every key of ``table`` against dataclass ``cls``; unknown keys get a did-you-mean."""
    types_ = field_types(cls)
    out = {}
    for key, value in table.items():
        full = f"{prefix}.{key}" if prefix else key
        if key not in types_:
            raise unknown_key_error(full, key, types_, prefix)
        out[key] = coerce(value, types_[key], full)
    return out


def unknown_key_error(full: str, key: str, known: typing.Iterable[str], where: str) -> CLIError:
    known = sorted(known)
    place = f"in [{where}]" if where else "at the top level"
    return CLIError(
        f"unknown config key {full!r}{did_you_mean(key, known)}; valid keys {place}: {', '.join(known)}"
    )


# --------------------------------------------------------------------------------- command-line overrides
def parse_text(text: str, tp: Any, key: str) -> Any:
    """Parse a command-line string into the type of a field.

    Accepts TOML literals (``0.5``, ``true``, ``[64, 64]``, ``"text"``, ``{a = 1}``) plus shell-friendly
    forms: ``yes/no/on/off/1/0`` for booleans, ``none`` for optional fields, ``64,64`` for tuples and bare
    words for strings.
    """
    stripped = text.strip()
    base = _strip_optional(tp)
    if stripped.lower() in ("none", "null") and _allows_none(tp):
        return None
    if base is bool:
        low = stripped.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise CLIError(f"{key} must be true or false, got {text!r}")
    if base is str:
        literal = _toml_literal(stripped)
        return literal if isinstance(literal, str) else text
    literal = _toml_literal(stripped)
    if literal is _NOT_TOML:
        origin = typing.get_origin(base)
        if (origin in (tuple, list) or base in (tuple, list)) and stripped:
            parts = [p.strip() for p in stripped.strip("()[]").split(",") if p.strip()]
            literal = [_toml_literal(p) if _toml_literal(p) is not _NOT_TOML else p for p in parts]
        else:
            literal = text
    return coerce(literal, tp, key)


_NOT_TOML = object()


def _toml_literal(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return _NOT_TOML


def _allows_none(tp: Any) -> bool:
    return tp is Any or type(None) in typing.get_args(tp)


def _strip_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return tp


def split_assignment(text: str) -> tuple[str, str]:
    """``"agent.lr=0.01"`` -> ``("agent.lr", "0.01")``; anything without ``=`` is a ``CLIError``."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise CLIError(f"--set expects KEY=VALUE (e.g. --set agent.seed_offset=3), got {text!r}")
    return key, value


def extract_agent_field_options(argv: list[str]) -> tuple[list[str], list[str]]:
    """Pull ``--agent.FIELD VALUE`` / ``--agent.FIELD=VALUE`` out of ``argv`` as ``agent.FIELD=VALUE``.

    The agent's fields depend on ``--agent``, so they cannot be argparse options known in advance; they
    are turned into ``--set`` assignments and checked against the agent's config dataclass later.
    """
    rest: list[str] = []
    assignments: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            rest.extend(argv[i:])
            break
        if token.startswith("--agent.") and len(token) > len("--agent."):
            name = token[2:]
            if "=" in name:
                assignments.append(name)
            elif i + 1 < len(argv):
                assignments.append(f"{name}={argv[i + 1]}")
                i += 1
            else:
                raise CLIError(f"{token} needs a value (e.g. {token} 0.1)")
        else:
            rest.append(token)
        i += 1
    return rest, assignments


# ------------------------------------------------------------------------------------------ writing TOML
def toml_value(value: Any) -> str:
    """A plain value as a TOML literal (strings, numbers, booleans, arrays, inline tables)."""
    import json
    import math

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    if value is None:
        raise ValueError("TOML has no null")
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _toml_key(key: str) -> str:
    import json

    return key if key and all(c.isalnum() or c in "-_" for c in key) else json.dumps(key)
