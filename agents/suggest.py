""""Did you mean": the close matches of a mistyped name, for every error message that offers them.

Standard library only: the command line imports it while parsing arguments.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_matches(word: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Up to ``n`` candidates close to ``word``, closest first (``difflib``'s ratio >= 0.6)."""
    return difflib.get_close_matches(word, list(candidates), n=n, cutoff=0.6)


def did_you_mean(word: str, candidates: Iterable[str], n: int = 3) -> str:
    """`` (did you mean 'x'?)`` for the closest candidates, or ``""`` when nothing is close."""
    close = close_matches(word, candidates, n)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"
