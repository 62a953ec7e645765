"""Descriptors and params: validation, defaults, dict round trips."""

import dataclasses

import pytest

from hierarchy import ActorParams, EncoderParams, IODesc, IOType, LayerDesc, Params
from hierarchy.params import IOParams, LayerParams


def test_descs_normalise_and_round_trip():
    d = IODesc(size=[2, 2, 16], io_type="action", up_radius=2)
    assert d.size == (2, 2, 16) and d.io_type is IOType.ACTION
    assert IODesc.from_dict(d.to_dict()) == d
    ld = LayerDesc((5, 5, 64), recurrent_radius=-1)
    assert LayerDesc.from_dict(ld.to_dict()) == ld
    # Descriptors are mutable (PyAOgmaNeo style, issue 13): assignments are normalised and validated.
    d.size = [1, 1, 3]
    assert d.size == (1, 1, 3)
    with pytest.raises(ValueError, match=r"IODesc.size"):
        d.size = (1, 1)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"size": (2, 2)}, "IODesc.size"),
        ({"size": (2, 2, 1.5)}, "IODesc.size"),
        ({"num_dendrites_per_cell": 1}, "num_dendrites_per_cell"),
        ({"history_capacity": 1}, "history_capacity"),
        ({"up_radius": -1}, "up_radius"),
        ({"skip_radius": -2}, "skip_radius"),
        ({"skip_radius": 1025}, "skip_radius"),
        ({"io_type": "bogus"}, "io_type"),
    ],
)
def test_iodesc_rejects(kwargs, match):
    with pytest.raises(ValueError, match=match):
        IODesc(**kwargs)


def test_skip_radius_is_written_only_when_used():
    """The actor's direct view (sphgym extension) is off by default and then absent from the descriptor dict, so
    a hierarchy that does not use it writes the bytes it always wrote; when used, it round-trips."""
    plain = IODesc((1, 1, 2), IOType.ACTION)
    assert plain.skip_radius == -1 and "skip_radius" not in plain.to_dict()
    assert IODesc.from_dict(plain.to_dict()) == plain
    skip = IODesc((1, 1, 2), IOType.ACTION, skip_radius=3)
    assert skip.to_dict()["skip_radius"] == 3
    assert IODesc.from_dict(skip.to_dict()) == skip


def test_params_validate_on_assignment_and_round_trip():
    p = Params(layers=[LayerParams()], ios=[IOParams(), IOParams()])
    p.ios[1].actor.plr = 0.05
    p.layers[0].encoder.l_radius = 3
    assert Params.from_dict(dataclasses.asdict(p)) == p
    with pytest.raises(ValueError, match=r"EncoderParams.l_radius must be an int"):
        p.layers[0].encoder.l_radius = 1.5
    with pytest.raises(ValueError, match=r"ActorParams.vlr must be finite"):
        p.ios[0].actor.vlr = float("nan")
    with pytest.raises(ValueError, match=r"ActorParams.min_steps"):
        ActorParams(min_steps=0)
    with pytest.raises(ValueError, match=r"EncoderParams.vigilance"):
        EncoderParams(vigilance=2.0)
    with pytest.raises(ValueError, match=r"LayerParams.encoder must be a EncoderParams"):
        p.layers[0].encoder = ActorParams()  # type: ignore[assignment]
