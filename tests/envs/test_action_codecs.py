import dataclasses
import itertools
import json
import math

import numpy as np
import pytest
from gymnasium import spaces

from envs.action_codecs import ActionDecoderConfig, make_action_decoder
from envs.errors import UnsupportedSpaceError


def all_cis(dec):
    """Every valid column-index array of a small decoder (padding 0)."""
    z = dec.port_size[2]
    for combo in itertools.product(range(z), repeat=dec.num_dims):
        cis = np.zeros(dec.num_columns, dtype=np.int32)
        cis[: dec.num_dims] = combo
        yield cis


def test_config_validation_and_json_round_trip():
    cfg = ActionDecoderConfig(bins=5, low=[-1], high=[1])
    assert cfg.low == (-1.0,)
    assert ActionDecoderConfig(**json.loads(json.dumps(dataclasses.asdict(cfg)))) == cfg
    for kwargs, field in [
        ({"bins": 1}, "bins"),
        ({"bins": 2.5}, "bins"),
        ({"bins": True}, "bins"),
        ({"low": (0.0,), "high": ()}, "same length"),
        ({"low": (1.0,), "high": (0.0,)}, r"low\[0\]"),
        ({"low": (-math.inf,), "high": (0.0,)}, "finite"),
    ]:
        with pytest.raises(ValueError, match=field):
            ActionDecoderConfig(**kwargs)


def test_discrete_round_trip_and_validity():
    space = spaces.Discrete(3, start=1)
    dec = make_action_decoder(space)
    assert dec.port_size == (1, 1, 3)
    decoded = [dec.decode(c) for c in all_cis(dec)]
    assert decoded == [1, 2, 3] and all(space.contains(a) for a in decoded)
    for cis in all_cis(dec):
        assert dec.encode(dec.decode(cis)).tolist() == cis.tolist()
    for bad in (0, 4):
        with pytest.raises(ValueError, match="outside"):
            dec.encode(bad)


def test_multi_discrete_clips_cells_beyond_an_element():
    space = spaces.MultiDiscrete([2, 4, 3], start=[0, -1, 5])
    dec = make_action_decoder(space)
    assert dec.port_size == (2, 2, 4)
    for cis in all_cis(dec):
        action = dec.decode(cis)
        assert space.contains(action), (cis, action)
        if (cis[:3] < dec.nvec).all():
            assert dec.encode(action).tolist() == cis.tolist()
    assert dec.decode(np.array([3, 0, 3, 0])).tolist() == [1, -1, 7]  # 3 clips to 1 and to 2 (+start 5)
    with pytest.raises(ValueError, match=r"action\[2\]=8"):
        dec.encode(np.array([0, 0, 8]))


def test_multi_binary():
    space = spaces.MultiBinary(3)
    dec = make_action_decoder(space)
    assert dec.port_size == (2, 2, 2)
    for cis in all_cis(dec):
        action = dec.decode(cis)
        assert space.contains(action)
        assert dec.encode(action).tolist() == cis.tolist()


def test_box_bin_centres_pendulum():
    space = spaces.Box(-2.0, 2.0, (1,), dtype=np.float32)
    dec = make_action_decoder(space, ActionDecoderConfig(bins=5))
    assert dec.port_size == (1, 1, 5)
    actions = [dec.decode(np.array([i]))[0] for i in range(5)]
    assert np.allclose(actions, [-1.6, -0.8, 0.0, 0.8, 1.6])
    assert actions[2] == 0.0
    assert all(space.contains(dec.decode(np.array([i]))) for i in range(5))


def test_box_encode_bins_arbitrary_actions_and_clips():
    space = spaces.Box(np.array([-1.0, 0.0]), np.array([1.0, 10.0]), dtype=np.float64)
    dec = make_action_decoder(space, ActionDecoderConfig(bins=4))
    assert dec.port_size == (2, 1, 4)
    assert dec.encode(np.array([-1.0, 10.0])).tolist() == [0, 3]  # exactly at the bounds
    assert dec.encode(np.array([-5.0, 99.0])).tolist() == [0, 3]  # beyond: clipped
    assert dec.encode(np.array([-0.0, 5.0])).tolist() == [2, 2]
    assert dec.encode(np.array([0.0, 5.0])).tolist() == [2, 2]
    for cis in all_cis(dec):
        assert dec.encode(dec.decode(cis)).tolist() == cis.tolist()
    with pytest.raises(ValueError, match="NaN"):
        dec.encode(np.array([math.nan, 1.0]))
    with pytest.raises(ValueError, match="shape"):
        dec.encode(np.array([0.0]))


def test_box_decoded_actions_stay_inside_tiny_float32_range():
    space = spaces.Box(np.float32(1.0), np.float32(np.nextafter(np.float32(1.0), np.float32(2.0))), (1,))
    dec = make_action_decoder(space, ActionDecoderConfig(bins=9))
    for i in range(9):
        assert space.contains(dec.decode(np.array([i])))


def test_box_unbounded_needs_configured_range():
    space = spaces.Box(-np.inf, np.inf, (2,), dtype=np.float32)
    with pytest.raises(UnsupportedSpaceError, match=r"unbounded.*ActionDecoderConfig"):
        make_action_decoder(space)
    dec = make_action_decoder(space, ActionDecoderConfig(bins=3, low=(-1, -2), high=(1, 2)))
    assert dec.decode(np.array([0, 2])).tolist() == pytest.approx([-2 / 3, 4 / 3])


def test_box_configured_range_must_lie_inside_the_space():
    space = spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)
    with pytest.raises(ValueError, match="exceeds the space"):
        make_action_decoder(space, ActionDecoderConfig(low=(-2.0,), high=(1.0,)))
    with pytest.raises(ValueError, match="entries"):
        make_action_decoder(space, ActionDecoderConfig(low=(-1.0, -1.0), high=(1.0, 1.0)))


def test_range_for_non_box_space_is_rejected():
    with pytest.raises(ValueError, match="not a Box"):
        make_action_decoder(spaces.Discrete(2), ActionDecoderConfig(low=(0.0,), high=(1.0,)))


def test_decode_rejects_bad_cis():
    dec = make_action_decoder(spaces.Discrete(2))
    with pytest.raises(ValueError, match="outside"):
        dec.decode(np.array([2]))
    with pytest.raises(ValueError, match="outside"):
        dec.decode(np.array([-1]))
    with pytest.raises(ValueError, match="shape"):
        dec.decode(np.array([0, 1]))
    with pytest.raises(ValueError, match="integer"):
        dec.decode(np.array([0.0]))


@pytest.mark.parametrize(
    "space",
    [
        spaces.Box(0, 10, (1,), dtype=np.int64),
        spaces.Dict({"a": spaces.Discrete(2)}),
        spaces.Tuple((spaces.Discrete(2),)),
        spaces.Text(3),
    ],
    ids=["int-box", "dict", "tuple", "text"],
)
def test_unsupported_action_spaces(space):
    with pytest.raises(UnsupportedSpaceError, match="supported action spaces are Discrete"):
        make_action_decoder(space)
