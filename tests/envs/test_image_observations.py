"""Image observation codec: which spaces are images, exact downscaling, float pixels, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

from envs import NonFiniteObservationError
from envs.image_observations import ImageObservationCodec, ImageObservationConfig, is_image_space


@pytest.mark.parametrize(
    ("space", "expected"),
    [
        (spaces.Box(0, 255, (8, 8), np.uint8), True),
        (spaces.Box(0, 255, (40, 60, 3), np.uint8), True),
        (spaces.Box(0.0, 1.0, (16, 16, 1), np.float32), True),
        (spaces.Box(0, 255, (8,), np.uint8), False),  # 1-D: a vector, per-element codec
        (spaces.Box(0, 255, (2, 8, 8, 3), np.uint8), False),  # 4-D: not an image
        (spaces.Box(-1.0, 1.0, (8, 8), np.float32), False),  # float outside [0, 1]: features, not pixels
        (spaces.Box(0.0, np.inf, (8, 8), np.float32), False),
        (spaces.Box(0, 255, (8, 8), np.int64), False),
        (spaces.Discrete(4), False),
    ],
)
def test_is_image_space(space, expected):
    assert is_image_space(space) is expected


def test_downscale_is_the_rounded_mean_of_each_area():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (12, 18, 3), dtype=np.uint8)
    codec = ImageObservationCodec(spaces.Box(0, 255, (12, 18, 3), np.uint8), ImageObservationConfig(scale=1 / 3))
    assert codec.image_size == (4, 6, 3)
    blocks = img.reshape(4, 3, 6, 3, 3).astype(np.float64).mean(axis=(1, 3))
    want = np.floor(blocks + 0.5).astype(np.uint8)
    got = codec.encode(img)
    assert got.dtype == np.uint8 and got.tobytes() == want.tobytes()


def test_uneven_areas_cover_every_pixel():
    codec = ImageObservationCodec(spaces.Box(0, 255, (7, 5), np.uint8), ImageObservationConfig(scale=0.5))
    assert codec.image_size == (4, 2, 1)  # round(3.5) = 4, round(2.5) = 2
    assert codec.encode(np.full((7, 5), 200, np.uint8)).tolist() == [200] * 8
    img = np.zeros((7, 5), np.uint8)
    img[6, 4] = 255  # the last pixel lands in the last output pixel (rows 5-6 x columns 2-4: 255 / 6)
    assert codec.encode(img).tolist() == [0] * 7 + [43]


def test_max_size_caps_big_renders_and_identity_is_a_copy():
    codec = ImageObservationCodec(spaces.Box(0, 255, (400, 600, 3), np.uint8), ImageObservationConfig(max_size=60))
    assert codec.image_size == (40, 60, 3)
    same = ImageObservationCodec(spaces.Box(0, 255, (8, 8), np.uint8))
    img = np.arange(64, dtype=np.uint8).reshape(8, 8)
    out = same.encode(img)
    assert same.image_size == (8, 8, 1) and out.tolist() == list(range(64))
    out[0] = 99
    assert img[0, 0] == 0


def test_float_pixels_are_scaled_rounded_and_clipped():
    codec = ImageObservationCodec(spaces.Box(0.0, 1.0, (1, 4), np.float32))
    assert codec.encode(np.array([[0.0, 0.5, 1.0, 1.5]], np.float32)).tolist() == [0, 128, 255, 255]


def test_errors_name_the_problem():
    codec = ImageObservationCodec(spaces.Box(0.0, 1.0, (2, 2), np.float32), env_id="Pix-v0")
    with pytest.raises(NonFiniteObservationError, match=r"image observation\[1, 0\] from env 'Pix-v0' is nan"):
        codec.encode(np.array([[0.0, 0.0], [np.nan, 0.0]], np.float32))
    with pytest.raises(ValueError, match=r"shape \(3, 2\), expected numbers of shape \(2, 2\)"):
        codec.encode(np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match="not an image space"):
        ImageObservationCodec(spaces.Box(-1.0, 1.0, (4, 4), np.float32))
    with pytest.raises(ValueError, match=r"image scale must be a number in \(0, 1\]"):
        ImageObservationConfig(scale=2.0)
    with pytest.raises(ValueError, match="image max_size must be an int >= 1"):
        ImageObservationConfig(max_size=0)
