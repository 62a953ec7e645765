"""Command-line pieces of config handling: ``--set KEY=VALUE`` and ``--agent.FIELD VALUE`` arguments.

Reading, checking, overriding and writing run configs is the library's (``agents.runner.config_schema``); this
module only turns argv words into the ``(KEY, TEXT)`` assignments the library applies.
"""

from __future__ import annotations

from agents.cli.common import CLIError


def split_assignment(text: str) -> tuple[str, str]:
    """``"agent.lr=0.01"`` -> ``("agent.lr", "0.01")``; anything without ``=`` is a ``CLIError``."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise CLIError(f"--set expects KEY=VALUE (e.g. --set seed=3 or --set agent.history_capacity=1024), got {text!r}")
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
