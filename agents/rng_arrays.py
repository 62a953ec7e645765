"""numpy Generator state <-> uint8 array, so agents can keep their RNG in ``get_state()`` without pickle.

Shared by every agent that owns a numpy Generator (the random agent, the torch agents); torch's generators
have their own pair in ``agents/torch_agents/common.py`` (importing torch here would cost seconds).
"""

from __future__ import annotations

import json

import numpy as np


def generator_state_to_array(generator: np.random.Generator) -> np.ndarray:
    """Encode a Generator's full ``bit_generator.state`` (128-bit ints included) as JSON bytes."""
    return np.frombuffer(json.dumps(generator.bit_generator.state).encode(), dtype=np.uint8).copy()


def generator_state_from_array(generator: np.random.Generator, array: np.ndarray) -> None:
    """Inverse of ``generator_state_to_array``: restore the generator in place.

    Raises:
        ValueError: ``array`` does not hold a state of this generator's kind (the generator is unchanged).
    """
    try:
        generator.bit_generator.state = json.loads(np.asarray(array, dtype=np.uint8).tobytes().decode())
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        kind = type(generator.bit_generator).__name__
        raise ValueError(f"not a saved {kind} generator state ({type(exc).__name__}: {exc})") from None
