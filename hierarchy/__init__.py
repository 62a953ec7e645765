"""Sparse Predictive Hierarchy (SPH) core: numpy + numba, no Gymnasium.

Public API (PyAOgmaNeo names)::

    from hierarchy import Hierarchy, IODesc, LayerDesc, IOType

    h = Hierarchy([IODesc((2, 2, 16), IOType.NONE), IODesc((1, 1, 2), IOType.ACTION)],
                  [LayerDesc((5, 5, 64))], seed=0)
    h.step([obs_cis, action_cis], learn_enabled=True, reward=1.0, terminated=False, truncated=False)
    action = h.get_prediction_cis(1)
"""

from .descs import IODesc, IOType, LayerDesc
from .hierarchy import Hierarchy
from .image_encoder import ImageEncoder, ImageEncoderParams, ImageVisibleLayerDesc
from .params import ActorParams, DecoderParams, EncoderParams, IOParams, LayerParams, Params
from .serialization import FORMAT_VERSION

NONE = IOType.NONE
PREDICTION = IOType.PREDICTION
ACTION = IOType.ACTION

__all__ = [
    "ACTION",
    "FORMAT_VERSION",
    "NONE",
    "PREDICTION",
    "ActorParams",
    "DecoderParams",
    "EncoderParams",
    "Hierarchy",
    "IODesc",
    "IOParams",
    "IOType",
    "ImageEncoder",
    "ImageEncoderParams",
    "ImageVisibleLayerDesc",
    "LayerDesc",
    "LayerParams",
    "Params",
]
