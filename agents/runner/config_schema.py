"""Run configs as files and overrides: read, check, override and write them (the schema's one owner).

The schema is ``RunConfig``'s fields at the top level, ``[env_kwargs]`` and an ``[agent]`` table holding
``name`` and the fields of that agent's config dataclass. ``config_to_toml`` writes exactly this schema
(``sphgym train --print-config``) and ``load_run_config`` reads it back; RunConfig's own shape (``agent =
"name"`` plus ``[agent_config]``, as in a run's ``config.json``) is accepted too.

Precedence, lowest first: dataclass defaults < config file < named values (the CLI's ``--env``, ``--seed``,
...) < ``KEY=VALUE`` overrides (``--set``, ``--agent.FIELD``). Every value is checked against the dataclass
field's type annotation, so a typo or a wrong type is reported with the key's full name, the expected type
and a "did you mean" before any run folder exists; the dataclasses' own ``__post_init__`` checks run after.
Every problem is a ``ConfigError`` (a ``ValueError``) whose message is one line a user can act on.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agents.runner.config import RunConfig
from agents.suggest import did_you_mean

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


class ConfigError(ValueError):
    """A config value, key or file the user can fix; the message names it."""


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


# --------------------------------------------------------------------------------------------- reading files
# A config file is a few kB; anything larger is not one (and --config /dev/zero must not fill the memory).
MAX_CONFIG_BYTES = 1 << 20


def read_config_bytes(path: str | Path) -> bytes:
    """A config file's bytes, read with a size cap and never blocking (a FIFO or terminal is refused).

    Raises:
        ConfigError: Missing, a directory, a FIFO/socket, larger than ``MAX_CONFIG_BYTES``, or unreadable.
    """
    import errno
    import os
    import stat

    name = str(path)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ConfigError(f"config file {name!r} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {name!r}: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise ConfigError(f"config file {name!r} is a directory, not a TOML file")
        if not (stat.S_ISREG(mode) or stat.S_ISCHR(mode)):
            raise ConfigError(
                f"config file {name!r} is not a regular file (a FIFO, socket or block device): write the config "
                "to a file and pass that"
            )
        chunks, size = [], 0
        while size <= MAX_CONFIG_BYTES:
            try:
                chunk = os.read(fd, min(1 << 16, MAX_CONFIG_BYTES + 1 - size))
            except BlockingIOError:
                raise ConfigError(f"config file {name!r} has no data to read now (a terminal or device?)") from None
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"config file {name!r} is larger than {MAX_CONFIG_BYTES // 1024} KiB: not a config file (a config "
                "is a few lines of TOML; `sphgym train --print-config` writes a complete one)"
            )
        return b"".join(chunks)
    except OSError as exc:
        if exc.errno == errno.EISDIR:
            raise ConfigError(f"config file {name!r} is a directory, not a TOML file") from None
        raise ConfigError(f"cannot read config file {name!r}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file; unreadable or malformed files are a ``ConfigError`` naming the file and line."""
    path = Path(path)
    data = read_config_bytes(path)
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"config file {str(path)!r} is not UTF-8 text (is it a TOML file?)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None


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
    not fit raises a ``ConfigError`` that names ``key``, the expected type and the value.
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
            except ConfigError as exc:
                errors.append(exc)
        raise _type_error(key, tp, value)
    if origin is typing.Literal:
        if value in args:
            return value
        hint = did_you_mean(str(value), [str(a) for a in args]) if isinstance(value, str) else ""
        raise ConfigError(f"{key} must be {type_name(tp)}, got {value!r}{hint}")
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
                raise ConfigError(f"{key} must be {type_name(tp)}, got {list(value)!r}")
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


def _type_error(key: str, tp: Any, value: Any) -> ConfigError:
    shown = "true/false" if isinstance(value, bool) else repr(value)
    return ConfigError(f"{key} must be {type_name(tp)}, got {shown} ({type(value).__name__})")


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


def unknown_key_error(full: str, key: str, known: typing.Iterable[str], where: str) -> ConfigError:
    known = sorted(known)
    place = f"in [{where}]" if where else "at the top level"
    return ConfigError(
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
        raise ConfigError(f"{key} must be true or false, got {text!r}")
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


# ------------------------------------------------------------------------------------------ writing TOML
def toml_value(value: Any) -> str:
    """A plain value as a TOML literal (strings, numbers, booleans, arrays, inline tables)."""
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
    return key if key and all(c.isalnum() or c in "-_" for c in key) else json.dumps(key)


# --------------------------------------------------------------------------------------------- run configs
RUN_ALIASES = {"env": "env_id", "agent_name": "agent"}
# Named values (the CLI's flags) that set a run field directly.
NAMED_FIELDS = ("env_id", "agent", "seed", "checkpoint_every", "keep", "n_envs")


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A TOML (or JSON, e.g. a run's own config.json) config file as RunConfig values, every key checked."""
    path = str(path)
    file_path = Path(path)
    if file_path.suffix.lower() == ".json":
        try:
            data = json.loads(read_config_bytes(file_path).decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ConfigError(f"cannot read config file {path!r}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"config file {path!r} is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"config file {path!r} must hold a JSON object of config fields")
    else:
        data = load_toml(file_path)
    try:
        return normalise_table(data)
    except ConfigError as exc:
        raise ConfigError(f"config file {path!r}: {exc}") from None


def normalise_table(data: dict[str, Any]) -> dict[str, Any]:
    """Accept both the documented schema (``[agent]`` table with ``name``) and RunConfig's own shape
    (``agent = "name"`` plus ``[agent_config]``); return RunConfig values with types checked."""
    run_types = field_types(RunConfig)
    values: dict[str, Any] = {}
    agent_fields: dict[str, Any] = {}
    for key, value in data.items():
        if key == "agent" and isinstance(value, dict):
            table = dict(value)
            if "name" in table:
                values["agent"] = coerce(table.pop("name"), str, "agent.name")
            agent_fields.update(table)
            continue
        if key == "agent_config":
            if not isinstance(value, dict):
                raise ConfigError(f"agent_config must be a table, got {value!r}")
            agent_fields.update(value)
            continue
        name = RUN_ALIASES.get(key, key)
        if name not in run_types:
            raise unknown_key_error(key, key, [*run_types, "[agent]"], "")
        values[name] = coerce(value, run_types[name], key)
    if agent_fields:
        values["agent_config"] = agent_fields
    return values


def build_run_values(
    named: dict[str, Any] | None = None,
    overrides: Sequence[tuple[str, str]] = (),
    *,
    config_file: str | Path | None = None,
    base: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """RunConfig values: ``base`` < ``config_file`` < ``named`` < ``overrides`` (lowest to highest precedence).

    Args:
        named: Values given by name (``env_id``, ``agent``, ``seed``, ``checkpoint_every``, ``keep``,
            ``n_envs``, ``episodes``, ``steps``); ``None`` means "not given".
        overrides: ``(KEY, TEXT)`` assignments, parsed by the type of the field they name.
        config_file: A TOML/JSON config file.
        base: Starting values (a resumed run's own config).

    Budgets: a named ``episodes`` or ``steps`` replaces the whole budget (the other one is cleared). Elsewhere,
    setting ``steps`` without ``episodes`` means "no episode cap" (RunConfig's default would otherwise stop the
    run at 1000 episodes); setting both means whichever is reached first.
    """
    named = named or {}
    values: dict[str, Any] = dict(base or {})
    if config_file:
        values.update(read_config_file(config_file))
    for dest in NAMED_FIELDS:
        if named.get(dest) is not None:
            values[dest] = named[dest]
    if named.get("episodes") is not None:
        values["episodes"], values["steps"] = named["episodes"], None
    if named.get("steps") is not None:
        values["episodes"], values["steps"] = None, named["steps"]
    apply_overrides(values, overrides)
    if values.get("steps") is not None and "episodes" not in values:
        values["episodes"] = None
    return values


def apply_overrides(values: dict[str, Any], overrides: Sequence[tuple[str, str]]) -> None:
    """Apply ``KEY=VALUE`` assignments (``--set``, ``--agent.FIELD``) in place, each parsed by its field's type.

    Keys: a run field by name, ``agent.FIELD`` (or ``agent_config.FIELD``), ``env_kwargs.NAME``.
    """
    run_types = field_types(RunConfig)
    agent_sets: list[tuple[str, str]] = []
    for key, text in overrides:
        head, _, rest = key.partition(".")
        if head in ("agent", "agent_config") and rest:
            agent_sets.append((rest, text))
        elif head == "env_kwargs" and rest:
            values["env_kwargs"] = dict(values.get("env_kwargs", {}), **{rest: parse_text(text, Any, key)})
        elif rest:
            raise ConfigError(
                f"unknown config key {key!r}: dotted keys start with agent. or env_kwargs. (e.g. agent.{rest})"
            )
        else:
            name = RUN_ALIASES.get(key, key)
            if name not in run_types:
                raise unknown_key_error(key, key, run_types, "")
            values[name] = parse_text(text, run_types[name], key)
    if agent_sets:
        agent_name = values.get("agent", RunConfig.agent)
        types_ = field_types(agent_config_class(agent_name))
        agent_values = dict(values.get("agent_config", {}))
        for name, text in agent_sets:
            if name not in types_:
                raise unknown_key_error(f"agent.{name}", name, types_, f"agent ({agent_name})")
            agent_values[name] = parse_text(text, types_[name], f"agent.{name}")
        values["agent_config"] = agent_values


def agent_config_class(name: str) -> type:
    """The config dataclass of agent ``name`` (``ConfigError`` with a "did you mean" for an unknown name)."""
    from agents.registry import get_agent_spec

    try:
        spec = get_agent_spec(name)
    except ValueError as exc:
        raise ConfigError(_lower_first(str(exc))) from None
    return spec.config_class()


def make_run_config(values: dict[str, Any], check_env: bool = True) -> RunConfig:
    """A validated, resolved ``RunConfig`` (every agent default filled in) from plain values.

    Checked in order: agent name, agent fields (types + did-you-mean), the agent dataclass's own checks, the env
    id (``check_env``: unknown ids fail here, before a run folder exists), then RunConfig's checks.

    Raises:
        ConfigError: Naming the key and what it should be.
    """
    values = dict(values)
    values.setdefault("episode_step_limit", RunConfig.episode_step_limit)  # a new run: the default limit
    agent_name = values.get("agent", RunConfig.agent)
    agent_values = check_table(dict(values.get("agent_config", {})), agent_config_class(agent_name), "agent")
    from agents.registry import make_agent_config

    try:
        agent_config = make_agent_config(agent_name, agent_values, env_id=values.get("env_id", RunConfig.env_id))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid {agent_name} agent config: {_lower_first(str(exc))}") from None
    values["agent_config"] = json.loads(json.dumps(dataclasses.asdict(agent_config)))
    if check_env:
        check_env_id(values.get("env_id", RunConfig.env_id))
    try:
        return RunConfig.from_dict(values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(_lower_first(str(exc))) from None


def load_run_config(path: str | Path) -> RunConfig:
    """Read a run config file: ``--print-config`` output, any ``--config`` file, or a run's ``config.json``.

    Returns the resolved config (agent defaults filled in), read exactly as ``sphgym train --config`` reads it
    (a file that sets ``steps`` but not ``episodes`` has no episode cap, which is how ``--print-config`` writes
    such a config). The env id is not looked up here (a config may name an env registered later); ``Runner``
    does that when it starts.

    Raises:
        ConfigError: The file is missing, unreadable, not TOML/JSON, or a key or value does not fit.
    """
    return make_run_config(build_run_values(config_file=path), check_env=False)


def check_env_id(env_id: str) -> None:
    """Unknown env ids fail here, before a run folder exists, with the close matches."""
    import gymnasium

    import envs

    if ":" not in env_id and env_id not in gymnasium.registry:
        try:
            envs.make_env(env_id)  # raises UnknownEnvironmentError listing close matches
        except ValueError as exc:
            raise ConfigError(str(exc)) from None


def config_to_toml(config: RunConfig) -> str:
    """The resolved config in the file schema (run fields, ``[env_kwargs]``, ``[agent]``); ``load_run_config``
    reads it back to an equal config."""
    data = config.to_dict()
    lines = [
        "# sphgym run config: pass to `sphgym train --config FILE`; flags and --set override it.",
    ]
    env_kwargs = data.pop("env_kwargs")
    agent_name = data.pop("agent")
    agent_config = data.pop("agent_config")
    for key, value in data.items():
        if value is None:
            lines.append(f"# {key} = (unset)")
        else:
            lines.append(f"{key} = {toml_value(value)}")
    lines.append("")
    lines.append("[env_kwargs]")
    lines.extend(f"{k} = {toml_value(v)}" for k, v in env_kwargs.items() if v is not None)
    lines.append("")
    lines.append("[agent]")
    lines.append(f"name = {toml_value(agent_name)}")
    for key, value in agent_config.items():
        if value is None:
            lines.append(f"# {key} = (unset)")
        else:
            lines.append(f"{key} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text
