"""Entry point of the ``sphgym`` console script (placeholder until the runner lands)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("sphgym: training is not available yet (the episode runner is still being built).", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
