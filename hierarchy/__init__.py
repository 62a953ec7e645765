"""Sparse Predictive Hierarchy (SPH) core: numpy + numba, no Gymnasium. The algorithm: docs/algorithm.md.

Public API (PyAOgmaNeo names; ``import hierarchy as neo`` runs PyAOgmaNeo-style scripts)::

    from hierarchy import Hierarchy, IODesc, IOType, LayerDesc

    h = Hierarchy([IODesc((2, 2, 16), IOType.NONE), IODesc((1, 1, 2), IOType.ACTION)],
                  [LayerDesc((5, 5, 64))], seed=0)
    h.step([obs_cis, action_cis], learn_enabled=True, reward=1.0, terminated=False, truncated=False)
    action = h.get_prediction_cis(1)

Module level, as in PyAOgmaNeo: `set_num_threads` / `get_num_threads` (kernel threads; results do not depend
on them), `set_global_state` / `get_global_state` (the default RNG state that seeds hierarchies built without
``seed=``), and the type names in both cases (``NONE`` / ``none``, ...).
"""

from .descs import IODesc, IOType, LayerDesc
from .hierarchy import Hierarchy
from .image_encoder import ImageEncoder, ImageEncoderParams, ImageVisibleLayerDesc
from .merge import MergeMode
from .params import ActorParams, DecoderParams, EncoderParams, IOParams, LayerParams, Params
from .serialization import FORMAT_VERSION
from .settings import get_global_state, get_num_threads, set_global_state, set_num_threads

NONE = none = IOType.NONE
PREDICTION = prediction = IOType.PREDICTION
ACTION = action = IOType.ACTION
MERGE_AVERAGE = merge_average = MergeMode.AVERAGE
MERGE_RANDOM = merge_random = MergeMode.RANDOM

__all__ = [
    "ACTION",
    "FORMAT_VERSION",
    "MERGE_AVERAGE",
    "MERGE_RANDOM",
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
    "MergeMode",
    "Params",
    "action",
    "get_global_state",
    "get_num_threads",
    "merge_average",
    "merge_random",
    "none",
    "prediction",
    "set_global_state",
    "set_num_threads",
]
