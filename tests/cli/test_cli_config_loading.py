"""Typed parsing of config files and command-line overrides (in-process: pure functions, no training)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest

from agents.cli.common import CLIError
from agents.cli.config_loading import extract_agent_field_options, split_assignment
from agents.runner.config_schema import ConfigError, check_table, coerce, parse_text, toml_value, tomllib
from agents.runner.run_folder import default_run_dir, sanitize


@dataclass(frozen=True)
class Example:
    rate: float = 0.1
    count: int = 3
    flag: bool = True
    name: str = "x"
    sizes: tuple[int, ...] = (64, 64)
    pair: tuple[int, float] = (1, 2.0)
    limit: int | None = None
    mode: Literal["max", "min"] = "max"


@pytest.mark.parametrize(
    ("field", "text", "expected"),
    [
        ("rate", "1e-3", 0.001),
        ("rate", "2", 2.0),
        ("count", "7", 7),
        ("flag", "no", False),
        ("flag", "TRUE", True),
        ("name", "hello world", "hello world"),
        ("name", '"quoted"', "quoted"),
        ("name", "123", "123"),
        ("sizes", "32,16", (32, 16)),
        ("sizes", "[8, 8, 8]", (8, 8, 8)),
        ("pair", "[3, 0.5]", (3, 0.5)),
        ("limit", "none", None),
        ("limit", "12", 12),
        ("mode", "min", "min"),
    ],
)
def test_parse_text_uses_the_field_type(field, text, expected):
    from agents.runner.config_schema import field_types

    value = parse_text(text, field_types(Example)[field], field)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("field", "text", "message"),
    [
        ("count", "1.5", "count must be an integer"),
        ("flag", "maybe", "true or false"),
        ("sizes", "a,b", r"sizes\[0\] must be an integer"),
        ("pair", "[1, 2, 3]", r"pair must be a list of 2 items \[integer, number\]"),
        ("mode", "mni", "did you mean 'min'"),
        ("count", "none", "count must be an integer"),
    ],
)
def test_parse_text_rejects_wrong_types_naming_the_key(field, text, message):
    from agents.runner.config_schema import field_types

    with pytest.raises(ConfigError, match=message):
        parse_text(text, field_types(Example)[field], field)


def test_check_table_suggests_close_keys():
    with pytest.raises(ConfigError, match=r"'agent.raet' \(did you mean 'rate'\?\)"):
        check_table({"raet": 1.0}, Example, "agent")
    assert check_table({"rate": 1, "sizes": [1, 2]}, Example, "agent") == {"rate": 1.0, "sizes": (1, 2)}


def test_bool_is_not_an_integer():
    with pytest.raises(ConfigError):
        coerce(True, int, "count")


def test_toml_values_round_trip():
    values = {"a": 1, "b": 0.1, "c": True, "d": "q\"uote", "e": [1, 2], "f": {"x y": 1}, "g": float("inf")}
    text = "\n".join(f"{k} = {toml_value(v)}" for k, v in values.items())
    assert tomllib.loads(text) == values


def test_agent_field_options_become_assignments():
    rest, sets = extract_agent_field_options(
        ["train", "--agent.lr", "0.1", "--agent.sizes=[1,2]", "--seed", "3", "--", "--agent.x"]
    )
    assert rest == ["train", "--seed", "3", "--", "--agent.x"]
    assert sets == ["agent.lr=0.1", "agent.sizes=[1,2]"]
    with pytest.raises(CLIError, match="needs a value"):
        extract_agent_field_options(["train", "--agent.lr"])


def test_split_assignment():
    assert split_assignment("agent.lr=a=b") == ("agent.lr", "a=b")
    with pytest.raises(CLIError, match="KEY=VALUE"):
        split_assignment("novalue")


def test_run_dir_names_are_path_safe(tmp_path):
    assert sanitize("sphgym/CartPoleNoVelocity-v0") == "sphgym--CartPoleNoVelocity-v0"
    assert sanitize("ale_py:ALE/Pong-v5") == "ale_py_ALE--Pong-v5"

    @dataclass
    class Cfg:
        env_id: str = "sphgym/DelayedCue-v0"
        agent: str = "random"
        seed: int = 2

    first = default_run_dir(Cfg(), root=tmp_path)
    first.mkdir()
    second = default_run_dir(Cfg(), root=tmp_path)
    assert first.name.startswith("sphgym--DelayedCue-v0__random__s2__") and second != first
