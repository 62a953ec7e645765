import json
import math

import numpy as np
import pytest

from envs.exact_values import from_plain, to_plain

VALUES = [
    None,
    True,
    0,
    -(2**70),
    0.1,
    -0.0,
    math.inf,
    -math.inf,
    5e-324,
    "text",
    np.float64(0.1),
    np.float32(1 / 3),
    np.int64(-7),
    np.uint64(2**64 - 1),
    np.bool_(False),
    np.array([0.1, -0.0, math.inf, 1e-310]),
    np.array([[1 / 3, 2 / 3]], dtype=np.float32),
    np.array([], dtype=np.float64),
    np.array([1, 2, 3], dtype=np.int32),
    np.array([True, False]),
    (np.float64(-0.5), 0),
    [1.5, None, (np.float32(2.5),)],
]


def _same(a, b):
    assert type(a) is type(b)
    if isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b)
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    elif isinstance(a, float):
        assert a.hex() == b.hex()
    else:
        assert a == b


@pytest.mark.parametrize("value", VALUES, ids=[repr(v)[:30] for v in VALUES])
def test_round_trip_through_strict_json_is_exact(value):
    text = json.dumps(to_plain(value), allow_nan=False)
    _same(value, from_plain(json.loads(text)))


def test_nan_round_trips():
    back = from_plain(json.loads(json.dumps(to_plain(np.array([np.nan])), allow_nan=False)))
    assert np.isnan(back[0]) and back.dtype == np.float64


@pytest.mark.parametrize("value", [1j, np.array([1j]), object(), {"a": 1}, np.array(["s"])])
def test_unsupported_types_raise_type_error(value):
    with pytest.raises(TypeError, match="exactly"):
        to_plain(value)


@pytest.mark.parametrize(
    "plain", [{}, {"type": "mystery"}, {"type": "ndarray", "dtype": "float64"}, {"type": "float"}]
)
def test_bad_plain_data_raises_value_error(plain):
    with pytest.raises(ValueError, match="invalid plain-data"):
        from_plain(plain)
