"""Many seeds and config sweeps on Ray Tune, each trial a normal, exactly resumable run folder.

``SweepSpec`` (points x seeds) → ``run_sweep`` (Tune; restarts dead trials from their last checkpoint) →
per-point table (``results.csv``/``results.md``) and TensorBoard HParams (``hparams/``); ``restore_sweep``
continues an interrupted sweep. Ray is an
optional extra (``pip install 'sphgym[ray]'``) and is imported only when a sweep runs, never by this package.
"""

from agents.sweep.driver import RayConnectError, RayMissingError, SweepOutcome, require_ray, restore_sweep, run_sweep
from agents.sweep.results import TrialSummary, summarize_sweep, write_tables
from agents.sweep.spec import (
    SweepPoint,
    SweepSpec,
    SweepSpecError,
    grid_points,
    load_sweep,
    parse_grid_option,
    parse_seeds,
    point_label,
)

__all__ = [
    "RayConnectError",
    "RayMissingError",
    "SweepOutcome",
    "SweepPoint",
    "SweepSpec",
    "SweepSpecError",
    "TrialSummary",
    "grid_points",
    "load_sweep",
    "parse_grid_option",
    "parse_seeds",
    "point_label",
    "require_ray",
    "restore_sweep",
    "run_sweep",
    "summarize_sweep",
    "write_tables",
]
