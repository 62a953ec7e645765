"""The kernels' SplitMix64 streams."""

import numpy as np
from numba import njit

from hierarchy.rng import mix64, mix64_py, next_uniform, stream, take_seed


@njit(cache=True)
def _draws(seed, index, n):
    s = stream(seed, index)
    out = np.empty(n)
    for i in range(n):
        s, out[i] = next_uniform(s)
    return out


def test_mix64_matches_python_and_streams_are_uniform_and_distinct():
    for z in (0, 1, 12345, (1 << 64) - 1):
        assert int(mix64(np.uint64(z))) == mix64_py(z)
    a = _draws(np.uint64(7), 0, 4000)
    b = _draws(np.uint64(7), 1, 4000)
    assert 0.0 <= a.min() and a.max() < 1.0
    assert abs(a.mean() - 0.5) < 0.02 and abs(np.corrcoef(a, b)[0, 1]) < 0.05
    np.testing.assert_array_equal(a, _draws(np.uint64(7), 0, 4000))


def test_take_seed_advances_state():
    rng = np.array([5], np.uint64)
    s1 = take_seed(rng)
    s2 = take_seed(rng)
    assert s1 != s2
    rng[0] = 5
    assert take_seed(rng) == s1
