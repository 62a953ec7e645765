"""Where the columns of an input or action port sit on its 2-D grid.

A port of size ``(x, y, z)`` has ``x * y`` columns of ``z`` cells each. The hierarchy addresses column ``(ix,
iy)`` as ``iy + ix * y`` (x is the major index), so flat column ``i`` of a CSDR is simply entry ``i`` of the
column-index array. Codecs put dimension ``i`` of the flattened space in column ``i`` and fill the grid row by
row; columns past the last dimension are *padding* and always hold cell 0.
"""

from __future__ import annotations

import math

__all__ = ["grid_shape"]


def grid_shape(num_columns: int) -> tuple[int, int]:
    """Return the near-square grid ``(x, y)`` with ``x * y >= num_columns`` used for a port.

    ``x = ceil(sqrt(n))`` and ``y = ceil(n / x)``, so at most ``x - 1`` columns are padding.

    Args:
        num_columns: Number of meaningful columns (one per encoded dimension), at least 1.

    Returns:
        The grid size ``(x, y)``.

    Raises:
        ValueError: If ``num_columns`` is smaller than 1.

    Example:
        >>> grid_shape(4), grid_shape(2), grid_shape(5), grid_shape(1)
        ((2, 2), (2, 1), (3, 2), (1, 1))
    """
    if num_columns < 1:
        raise ValueError(f"num_columns must be >= 1, got {num_columns}; a port needs at least one column")
    x = math.isqrt(num_columns - 1) + 1  # ceil(sqrt(n)) without float rounding
    y = -(-num_columns // x)
    return x, y
