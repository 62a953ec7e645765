import dataclasses
import json
import math

import numpy as np
import pytest
from gymnasium import spaces

from envs.errors import NonFiniteObservationError, UnsupportedSpaceError
from envs.observation_codecs import (
    BoxEncoder,
    CompositeEncoder,
    ObservationEncoderConfig,
    make_observation_encoder,
)

INF = math.inf


def box(low, high, shape=None, dtype=np.float32):
    return spaces.Box(low, high, shape, dtype=dtype)


# ---- config-------------------------------------------------------------------------------------------------


def test_config_round_trips_through_json_and_coerces_lists():
    cfg = ObservationEncoderConfig(
        resolution=8, squash_scale=0.5, low=[-1, -INF], high=[1, INF], squash_scales=[1, 2]
    )
    assert cfg.low == (-1.0, -INF) and isinstance(cfg.low, tuple)
    again = ObservationEncoderConfig(**json.loads(json.dumps(dataclasses.asdict(cfg))))
    assert again == cfg


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"resolution": 1}, "resolution"),
        ({"resolution": 4.0}, "resolution"),
        ({"resolution": True}, "resolution"),
        ({"squash_scale": 0.0}, "squash_scale"),
        ({"squash_scale": math.nan}, "squash_scale"),
        ({"low": (0.0,), "high": ()}, "same length"),
        ({"low": (1.0,), "high": (1.0,)}, r"low\[0\] must be < high\[0\]"),
        ({"low": (math.nan,), "high": (1.0,)}, "NaN"),
        ({"low": (INF,), "high": (INF,)}, "empty range"),
        ({"squash_scales": (1.0, -1.0)}, r"squash_scales\[1\]"),
        ({"low": ("a",), "high": (1.0,)}, "sequence of numbers"),
    ],
)
def test_config_validation_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        ObservationEncoderConfig(**kwargs)


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        ObservationEncoderConfig().resolution = 3


# ---- Box----------------------------------------------------------------------------------------------------


def test_box_bounds_edges_and_clipping():
    enc = make_observation_encoder(box(-1.0, 1.0, (1,)), ObservationEncoderConfig(resolution=4))
    cases = [
        (-1.0, 0),
        (-0.5, 1),
        (-0.0, 2),
        (0.0, 2),
        (0.49, 2),
        (0.5, 3),
        (1.0, 3),
        (7.0, 3),
        (-7.0, 0),
        (np.nextafter(1.0, 0.0), 3),
    ]
    for value, expected in cases:
        assert enc.encode(np.array([value], dtype=np.float64))[0] == expected, value


def test_box_exact_bounds_with_awkward_float32_range():
    space = box(np.float32(-0.41887903), np.float32(0.41887903), (1,))
    enc = make_observation_encoder(space, ObservationEncoderConfig(resolution=16))
    assert enc.encode(space.low)[0] == 0
    assert enc.encode(space.high)[0] == 15


def test_box_squash_for_infinite_bounds_is_monotone_and_symmetric():
    enc = make_observation_encoder(
        box(-INF, INF, (1,)), ObservationEncoderConfig(resolution=8, squash_scale=1.0)
    )
    values = np.linspace(-10, 10, 2001)
    cis = np.array([enc.encode(np.array([v]))[0] for v in values])
    assert (np.diff(cis) >= 0).all()
    assert cis[0] == 0 and cis[-1] == 7
    assert set(cis.tolist()) == set(range(8))
    assert enc.encode(np.array([-0.0]))[0] == enc.encode(np.array([0.0]))[0] == 4
    assert enc.encode(np.array([1e308]))[0] == 7 and enc.encode(np.array([-1e308]))[0] == 0


def test_squash_scale_sets_the_spread():
    wide = make_observation_encoder(
        box(-INF, INF, (1,)), ObservationEncoderConfig(resolution=16, squash_scale=0.1)
    )
    narrow = make_observation_encoder(
        box(-INF, INF, (1,)), ObservationEncoderConfig(resolution=16, squash_scale=10.0)
    )
    v = np.array([0.3])
    assert wide.encode(v)[0] == 8  # barely off the centre
    assert narrow.encode(v)[0] == 15  # saturated


def test_float32_max_bounds_count_as_unbounded():
    big = np.finfo(np.float32).max
    enc = make_observation_encoder(box(-big, big, (1,)), ObservationEncoderConfig(resolution=16))
    assert not enc.ranged[0]
    assert enc.encode(np.array([1.0], dtype=np.float32))[0] == 11  # sigmoid(1) = 0.73 -> bin 11


def test_per_element_ranges_and_scales_cartpole_style():
    space = box(-INF, INF, (4,))
    cfg = ObservationEncoderConfig(
        resolution=10,
        low=(-2.4, -INF, -0.21, -INF),
        high=(2.4, INF, 0.21, INF),
        squash_scales=(1.0, 1.0, 1.0, 0.5),
    )
    enc = make_observation_encoder(space, cfg)
    assert enc.ranged.tolist() == [True, False, True, False]
    assert enc.port_size == (2, 2, 10)
    obs = np.array([2.4, 0.0, -0.21, 2.0], dtype=np.float64)
    ci = enc.encode(obs)
    assert ci[0] == 9 and ci[1] == 5 and ci[2] == 0
    assert ci[3] == int(10 / (1 + math.exp(-1.0)))  # scale 0.5 * 2.0 = 1.0


def test_config_ranges_override_finite_space_bounds():
    space = box(-4.8, 4.8, (1,))
    enc = make_observation_encoder(space, ObservationEncoderConfig(resolution=4, low=(-1.0,), high=(1.0,)))
    assert enc.encode(np.array([0.9], dtype=np.float32))[0] == 3  # with the space's bounds it would be bin 2


def test_multi_dimensional_box_and_padding():
    space = box(0.0, 1.0, (2, 3))
    enc = make_observation_encoder(space, ObservationEncoderConfig(resolution=5))
    assert enc.port_size == (3, 2, 5) and enc.num_dims == 6
    obs = np.array([[0.0, 0.25, 0.5], [0.75, 1.0, 0.1]], dtype=np.float32)
    assert enc.encode(obs).tolist() == [0, 1, 2, 3, 4, 0]
    enc5 = make_observation_encoder(box(0.0, 1.0, (5,)), ObservationEncoderConfig(resolution=5))
    out = enc5.encode(np.ones(5, dtype=np.float32))
    assert out.dtype == np.int32 and out.shape == (6,) and out[5] == 0  # the padding column holds 0


def test_integer_box():
    enc = make_observation_encoder(
        spaces.Box(0, 255, (2,), dtype=np.uint8), ObservationEncoderConfig(resolution=4)
    )
    assert enc.encode(np.array([0, 255], dtype=np.uint8)).tolist() == [0, 3]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_observation_names_env_and_dimension(bad):
    enc = make_observation_encoder(box(-INF, INF, (4,)), env_id="CartPole-v1")
    obs = np.zeros(4, dtype=np.float32)
    obs[2] = bad
    with pytest.raises(NonFiniteObservationError, match=r"obs\[2\].*'CartPole-v1'"):
        enc.encode(obs)


def test_non_finite_in_multi_dimensional_box_names_the_index():
    enc = make_observation_encoder(box(0.0, 1.0, (2, 3)))
    obs = np.zeros((2, 3))
    obs[1, 0] = math.nan
    with pytest.raises(NonFiniteObservationError, match=r"obs\[1, 0\]"):
        enc.encode(obs)


def test_wrong_shape_raises():
    enc = make_observation_encoder(box(-1.0, 1.0, (3,)))
    with pytest.raises(ValueError, match="shape"):
        enc.encode(np.zeros(4))


def test_decode_then_encode_is_identity_for_box():
    cfg = ObservationEncoderConfig(
        resolution=7, low=(-1.0, -INF, 0.0), high=(1.0, INF, 3.0), squash_scales=(1, 3, 1)
    )
    enc = make_observation_encoder(box(-INF, INF, (3,), dtype=np.float64), cfg)
    rng = np.random.default_rng(0)
    for _ in range(200):
        cis = np.zeros(enc.num_columns, dtype=np.int32)
        cis[:3] = rng.integers(0, 7, 3)
        obs = enc.decode(cis)
        assert obs.dtype == np.float64
        assert enc.encode(obs).tolist() == cis.tolist()


def test_decode_rejects_out_of_range_and_wrong_length():
    enc = make_observation_encoder(box(-1.0, 1.0, (2,)), ObservationEncoderConfig(resolution=4))
    with pytest.raises(ValueError, match=r"cis\[1\]=4"):
        enc.decode(np.array([0, 4]))
    with pytest.raises(ValueError, match="shape"):
        enc.decode(np.array([0, 1, 2]))


# ---- discrete spaces----------------------------------------------------------------------------------------


def test_discrete_with_start():
    enc = make_observation_encoder(spaces.Discrete(5, start=-2))
    assert enc.port_size == (1, 1, 5)
    assert [int(enc.encode(v)[0]) for v in (-2, 0, 2)] == [0, 2, 4]
    assert enc.encode(np.int64(1))[0] == 3
    assert enc.decode(np.array([4])) == 2
    for bad in (3, -3):
        with pytest.raises(ValueError, match="outside"):
            enc.encode(bad)
    with pytest.raises(ValueError, match="integer"):
        enc.encode(1.0)


def test_multi_discrete():
    space = spaces.MultiDiscrete([3, 5, 2], start=[0, 1, -1])
    enc = make_observation_encoder(space)
    assert enc.port_size == (2, 2, 5) and enc.cells_per_dim == (3, 5, 2)
    obs = np.array([2, 5, -1])
    cis = enc.encode(obs)
    assert cis.tolist() == [2, 4, 0, 0]
    assert enc.decode(cis).tolist() == obs.tolist() and enc.decode(cis).dtype == space.dtype
    with pytest.raises(ValueError, match=r"obs\[1\]=6"):
        enc.encode(np.array([0, 6, 0]))


def test_multi_binary():
    enc = make_observation_encoder(spaces.MultiBinary((2, 2)))
    assert enc.port_size == (2, 2, 2)
    assert enc.encode(np.array([[1, 0], [0, 1]], dtype=np.int8)).tolist() == [1, 0, 0, 1]
    assert enc.encode(np.array([[True, False], [False, True]])).tolist() == [1, 0, 0, 1]
    with pytest.raises(ValueError, match="0 or 1"):
        enc.encode(np.array([[2, 0], [0, 1]], dtype=np.int8))


# ---- composites---------------------------------------------------------------------------------------------


def test_dict_concatenates_children_in_key_order():
    # gymnasium.spaces.Dict sorts the keys of a plain dict: flags, mode, pos.
    space = spaces.Dict(
        {"pos": box(-1.0, 1.0, (2,)), "mode": spaces.Discrete(3), "flags": spaces.MultiBinary(2)}
    )
    enc = make_observation_encoder(space, ObservationEncoderConfig(resolution=4))
    assert isinstance(enc, CompositeEncoder)
    assert enc.num_dims == 5 and enc.port_size == (3, 2, 4)
    assert enc.cells_per_dim == (2, 2, 3, 4, 4)
    obs = {
        "pos": np.array([-1.0, 1.0], dtype=np.float32),
        "mode": 2,
        "flags": np.array([1, 0], dtype=np.int8),
    }
    cis = enc.encode(obs)
    assert cis.tolist() == [1, 0, 2, 0, 3, 0]
    assert enc.encode(enc.decode(cis)).tolist() == cis.tolist()
    with pytest.raises(ValueError, match="keys"):
        enc.encode({"pos": obs["pos"]})


def test_tuple_and_per_element_config_spans_boxes():
    space = spaces.Tuple((box(-INF, INF, (1,)), spaces.Discrete(2), box(-INF, INF, (1,))))
    cfg = ObservationEncoderConfig(resolution=4, low=(0.0, -INF), high=(1.0, INF))
    enc = make_observation_encoder(space, cfg, env_id="toy")
    assert isinstance(enc.children[0], BoxEncoder)
    assert enc.children[0].ranged.tolist() == [True] and enc.children[2].ranged.tolist() == [False]
    cis = enc.encode((np.array([0.99], dtype=np.float32), 1, np.array([0.0], dtype=np.float32)))
    assert cis.tolist() == [3, 1, 2, 0]
    with pytest.raises(NonFiniteObservationError, match=r"obs\[2\]\[0\].*'toy'"):
        enc.encode((np.array([0.5], dtype=np.float32), 1, np.array([math.nan], dtype=np.float32)))


def test_config_length_must_match_box_elements():
    with pytest.raises(ValueError, match=r"low has 3 entries.*2 Box"):
        make_observation_encoder(
            box(-1.0, 1.0, (2,)), ObservationEncoderConfig(low=(0, 0, 0), high=(1, 1, 1))
        )


@pytest.mark.parametrize(
    "space",
    [
        spaces.Text(5),
        spaces.Graph(node_space=spaces.Discrete(2), edge_space=None),
        spaces.Sequence(spaces.Discrete(2)),
        spaces.Dict({"ok": spaces.Discrete(2), "bad": spaces.Text(3)}),
        spaces.Box(0, 1, (0,)),
    ],
    ids=["text", "graph", "sequence", "dict-with-text", "empty-box"],
)
def test_unsupported_spaces_raise_naming_the_space(space):
    with pytest.raises(UnsupportedSpaceError) as info:
        make_observation_encoder(space, env_id="weird-v0")
    message = str(info.value)
    assert type(space).__name__ in message or "no elements" in message


def test_unsupported_message_lists_supported_spaces():
    with pytest.raises(UnsupportedSpaceError, match=r"'weird-v0'.*Box, Discrete, MultiDiscrete, MultiBinary"):
        make_observation_encoder(spaces.Text(5), env_id="weird-v0")


def test_column_sizes_matches_port_size():
    enc = make_observation_encoder(box(-1.0, 1.0, (4,)))
    assert enc.column_sizes == [enc.port_size] == [(2, 2, 16)]


def test_loop_and_vectorised_binning_agree():
    # Small boxes are binned in a Python loop, large ones with numpy: the two must give the same cells.
    rng = np.random.default_rng(1)
    n = 40
    low = np.where(rng.random(n) < 0.5, -INF, rng.uniform(-3, 0, n))
    high = np.where(np.isinf(low), INF, low + rng.uniform(0.1, 3, n))
    cfg = ObservationEncoderConfig(
        resolution=13, low=tuple(low), high=tuple(high), squash_scales=tuple(rng.uniform(0.1, 3, n))
    )
    enc = make_observation_encoder(box(-INF, INF, (n,), dtype=np.float64), cfg)
    assert not enc._use_loop
    for _ in range(300):
        v = rng.normal(0, 3, n)
        v[rng.random(n) < 0.1] = low[0] if np.isfinite(low[0]) else 0.0
        looped = enc._bin_loop(v.tolist(), "obs")
        assert enc.encode(v)[:n].tolist() == looped
    # A small box takes the loop: check it against the vectorised arithmetic too.
    small = make_observation_encoder(
        box(-INF, INF, (3,), dtype=np.float64), ObservationEncoderConfig(resolution=13)
    )
    assert small._use_loop
    for _ in range(300):
        v = rng.normal(0, 3, 3)
        assert small.encode(v).tolist()[:3] == small._bin_vectorised(v, "obs").tolist()


def test_accepts_lists_and_python_scalars():
    enc = make_observation_encoder(box(-1.0, 1.0, (2,)), ObservationEncoderConfig(resolution=4))
    assert enc.encode([-1.0, 1.0]).tolist() == [0, 3]
    assert enc.encode(np.array([-1, 1], dtype=np.int64)).tolist() == [0, 3]


def test_huge_finite_values_whose_sum_overflows_are_fine():
    enc = make_observation_encoder(
        box(-INF, INF, (3,), dtype=np.float64), ObservationEncoderConfig(resolution=4)
    )
    assert enc.encode(np.array([1e308, 1e308, -1e308])).tolist() == [3, 3, 0, 0]
