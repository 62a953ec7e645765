import pytest

from envs.port_layout import grid_shape


def test_grid_is_near_square_and_large_enough():
    for n in range(1, 2000):
        x, y = grid_shape(n)
        assert x * y >= n, n
        assert x - 1 <= y <= x, n  # near square, x the larger side
        assert x * y - n < x, n  # fewer than one row of padding


def test_small_grids():
    assert [grid_shape(n) for n in (1, 2, 3, 4, 5, 9, 10)] == [
        (1, 1),
        (2, 1),
        (2, 2),
        (2, 2),
        (3, 2),
        (3, 3),
        (4, 3),
    ]


def test_zero_columns_rejected():
    with pytest.raises(ValueError, match="num_columns"):
        grid_shape(0)
