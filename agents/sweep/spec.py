"""What a sweep is: config points x seeds, their run folders, and ``sweep.json`` (the record ``--restore``
reads).

Plain data only, no Ray. A *point* is one combination of grid values: a label (``"learning_rate=0.01"``, or
``"base"`` without a grid) and the ``RunConfig`` every seed of that point shares (its ``seed`` is replaced per
trial). A *trial* is one point x one seed and trains into ``<sweep dir>/<point folder>__s<seed>/``, a normal
run folder, so ``sphgym inspect/eval/verify/resume/plot`` work on it directly.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.runner import RunConfig

SWEEP_FILE = "sweep.json"
TUNE_DIR = "tune"  # Tune's experiment folder inside the sweep folder (its checkpoints, results, state)
TRIAL_FILE = "sweep_trial.json"  # written into each trial's run folder: which sweep, point and seed it belongs to
FORMAT_VERSION = 1
BASE_LABEL = "base"


class SweepSpecError(ValueError):
    """A malformed seeds list, grid or sweep folder (a user mistake; the CLI prints it as one line)."""


# --------------------------------------------------------------------------------------------- parsing
# One sweep trains at most this many seeds (and trials): each is a run folder and a Ray trial; more is a typo
# (``0-100000000``) that would otherwise build a list of 10^8 ints before anything ran.
MAX_SEEDS = 10_000


def parse_seeds(text: str) -> list[int]:
    """``"0-9"`` -> 0..9; ``"0,3,5-7"`` -> [0, 3, 5, 6, 7]; order kept, duplicates refused, at most
    ``MAX_SEEDS`` seeds, each a whole number below 2**63."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        match = re.fullmatch(r"(\d{1,19})(?:\s*-\s*(\d{1,19}))?", part)
        if not match:
            raise SweepSpecError(
                f"--seeds expects whole numbers >= 0 (below 2**63) and ranges like 0-9 or 0,3,5-7, got {text!r}"
            )
        lo = int(match.group(1))
        hi = int(match.group(2)) if match.group(2) is not None else lo
        if hi < lo:
            raise SweepSpecError(f"--seeds range {part!r} is empty (write it low-high, e.g. {hi}-{lo})")
        if hi >= 2**63:
            raise SweepSpecError(f"--seeds: seed {hi} is too large (seeds are below 2**63)")
        if len(seeds) + (hi - lo + 1) > MAX_SEEDS:
            raise SweepSpecError(
                f"--seeds {text!r} names more than {MAX_SEEDS} seeds; a sweep trains at most {MAX_SEEDS} (each "
                "is a run folder and a Ray trial): give a smaller range"
            )
        seeds.extend(range(lo, hi + 1))
    counts = Counter(seeds)
    duplicates = sorted(s for s, n in counts.items() if n > 1)
    if duplicates:
        raise SweepSpecError(f"--seeds lists seed(s) {duplicates} more than once in {text!r}")
    return seeds


def split_values(text: str) -> list[str]:
    """Split ``v1,v2,...`` at top-level commas: ``[64,64],[128,128]`` -> ``["[64,64]", "[128,128]"]``."""
    values, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "[({":
            depth += 1
        elif char in "])}":
            depth -= 1
        elif char == "," and depth == 0:
            values.append(text[start:i].strip())
            start = i + 1
    values.append(text[start:].strip())
    return values


def parse_grid_option(text: str) -> tuple[str, list[str]]:
    """``"agent.learning_rate=0.01,0.1"`` -> ``("agent.learning_rate", ["0.01", "0.1"])`` (values still
    text)."""
    key, sep, rest = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise SweepSpecError(f"--grid expects KEY=V1,V2,... (e.g. --grid agent.learning_rate=0.01,0.1), got {text!r}")
    values = split_values(rest)
    if any(v == "" for v in values):
        raise SweepSpecError(f"--grid {key}: empty value in {rest!r} (values are separated by commas)")
    if len(set(values)) != len(values):
        raise SweepSpecError(f"--grid {key}: a value is listed twice in {rest!r}")
    return key, values


def grid_points(grid: list[tuple[str, list[str]]]) -> list[list[tuple[str, str]]]:
    """Cartesian product of the grid, first key varying slowest: a list of ``[(key, text), ...]`` per
    point."""
    size = math.prod(len(values) for _, values in grid)
    if size > MAX_SEEDS:
        raise SweepSpecError(
            f"--grid makes {size} config points; a sweep trains at most {MAX_SEEDS} trials: give fewer values"
        )
    keys = [key for key, _ in grid]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise SweepSpecError(f"--grid names {', '.join(duplicates)} more than once; give all its values in one --grid")
    points: list[list[tuple[str, str]]] = [[]]
    for key, values in grid:
        points = [[*point, (key, value)] for point in points for value in values]
    return points


def point_label(assignments: Iterable[tuple[str, str]]) -> str:
    """Human label of a point from the grid keys that vary (``agent.`` dropped): ``"learning_rate=0.01"``."""
    parts = [f"{key.removeprefix('agent.')}={value}" for key, value in assignments]
    return ",".join(parts) if parts else BASE_LABEL


def folder_name(assignments: Iterable[tuple[str, str]]) -> str:
    """Path-safe folder name of a point: ``[("agent.layers", "[[4, 4, 32]]")]`` -> ``"layers=4_4_32"``."""

    def safe(text: str) -> str:
        out = re.sub(r"[^A-Za-z0-9.\-]+", "_", text).strip("_.")
        return out or "_"

    parts = [f"{safe(key.removeprefix('agent.'))}={safe(value)}" for key, value in assignments]
    return "+".join(parts) if parts else BASE_LABEL


def trial_folder(point_folder: str, seed: int) -> str:
    return f"{point_folder}__s{seed}"


# ------------------------------------------------------------------------------------------------ the spec
@dataclass(frozen=True)
class SweepPoint:
    label: str
    folder: str
    grid: dict[str, str]  # the varying grid keys and their values as typed on the command line
    run_config: RunConfig  # shared by every seed of the point (seed field is replaced per trial)


@dataclass(frozen=True)
class SweepSpec:
    """A sweep: points x seeds, trained in chunks of ``report_every`` episodes (one Tune report + checkpoint
    each).

    Args:
        sweep_dir: Folder that receives one run folder per trial, ``sweep.json``, ``tune/`` and the result
        tables. points: The config points (at least one).
        seeds: Run seeds; every point is trained once per seed.
        report_every: Episodes per chunk; each chunk ends with a runner checkpoint handed to Tune and one
            ``tune.report``. Smaller = less lost work when a trial dies, more overhead.
        max_failures: How many times Tune restarts a dead trial (from its last reported checkpoint); -1 =
        forever. cpus_per_trial: CPUs Tune reserves per trial (the trial itself uses one thread).
    """

    sweep_dir: Path
    points: tuple[SweepPoint, ...]
    seeds: tuple[int, ...]
    report_every: int = 10
    max_failures: int = 3
    cpus_per_trial: float = 1.0
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    def __post_init__(self) -> None:
        if not self.points:
            raise SweepSpecError("a sweep needs at least one config point")
        if not self.seeds:
            raise SweepSpecError("a sweep needs at least one seed (--seeds 0-9)")
        if len(self.points) * len(self.seeds) > MAX_SEEDS:
            raise SweepSpecError(
                f"{len(self.points)} config points x {len(self.seeds)} seeds = "
                f"{len(self.points) * len(self.seeds)} trials; a sweep trains at most {MAX_SEEDS}: give fewer"
            )
        if not isinstance(self.report_every, int) or self.report_every < 1:
            raise SweepSpecError(f"report_every must be a whole number >= 1, got {self.report_every!r}")
        if not isinstance(self.max_failures, int) or self.max_failures < -1:
            raise SweepSpecError(f"max_failures must be -1 (forever) or a whole number >= 0, got {self.max_failures!r}")
        if not self.cpus_per_trial > 0:
            raise SweepSpecError(f"cpus_per_trial must be > 0, got {self.cpus_per_trial!r}")
        labels = [p.label for p in self.points]
        folders = [p.folder for p in self.points]
        if len(set(labels)) != len(labels) or len(set(folders)) != len(folders):
            raise SweepSpecError(f"two config points share a label or folder: {labels}")

    @property
    def trials(self) -> list[tuple[SweepPoint, int]]:
        return [(point, seed) for point in self.points for seed in self.seeds]

    def point(self, label: str) -> SweepPoint:
        for point in self.points:
            if point.label == label:
                return point
        raise KeyError(label)

    def trial_dir(self, point: SweepPoint, seed: int) -> Path:
        return self.sweep_dir / trial_folder(point.folder, seed)

    def trial_config(self, point: SweepPoint, seed: int) -> RunConfig:
        return point.run_config.replace(seed=seed)

    @property
    def grid_keys(self) -> list[str]:
        keys: list[str] = []
        for point in self.points:
            keys.extend(k for k in point.grid if k not in keys)
        return keys

    # ------------------------------------------------------------------ sweep.json
    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "created": self.created,
            "seeds": list(self.seeds),
            "report_every": self.report_every,
            "max_failures": self.max_failures,
            "cpus_per_trial": self.cpus_per_trial,
            "points": [
                {
                    "label": p.label,
                    "folder": p.folder,
                    "grid": dict(p.grid),
                    "run_config": p.run_config.to_dict(),
                }
                for p in self.points
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], sweep_dir: Path) -> SweepSpec:
        try:
            if data.get("format_version") != FORMAT_VERSION:
                raise SweepSpecError(
                    f"{sweep_dir / SWEEP_FILE} has format_version {data.get('format_version')!r}; "
                    f"this sphgym reads {FORMAT_VERSION}"
                )
            points = tuple(
                SweepPoint(p["label"], p["folder"], dict(p["grid"]), RunConfig.from_dict(p["run_config"]))
                for p in data["points"]
            )
            return cls(
                sweep_dir=Path(sweep_dir),
                points=points,
                seeds=tuple(int(s) for s in data["seeds"]),
                report_every=int(data["report_every"]),
                max_failures=int(data["max_failures"]),
                cpus_per_trial=float(data["cpus_per_trial"]),
                created=str(data.get("created", "")),
            )
        except (KeyError, TypeError) as exc:
            raise SweepSpecError(f"{sweep_dir / SWEEP_FILE} is not a valid sweep record ({exc!r})") from None

    def save(self) -> Path:
        from agents.runner.fsutil import atomic_write_bytes

        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        path = self.sweep_dir / SWEEP_FILE
        atomic_write_bytes(path, (json.dumps(self.to_dict(), indent=2) + "\n").encode())
        return path


def load_sweep(sweep_dir: str | Path) -> SweepSpec:
    """Read ``sweep_dir/sweep.json`` (``SweepSpecError`` if the folder holds no sweep)."""
    sweep_dir = Path(sweep_dir)
    path = sweep_dir / SWEEP_FILE
    if not path.is_file():
        what = "does not exist" if not sweep_dir.exists() else f"holds no {SWEEP_FILE}"
        raise SweepSpecError(f"sweep folder {str(sweep_dir)!r} {what}: nothing to restore")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SweepSpecError(f"cannot read {path}: {exc}") from None
    return SweepSpec.from_dict(data, sweep_dir)
