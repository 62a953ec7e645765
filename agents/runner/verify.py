"""``verify_run``: a determinism audit. Re-run from one checkpoint to the next and compare digests.

The re-run happens in a temporary copy (config, ``episodes.csv``, the start checkpoint); the run folder is
never written to.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.runner.callbacks import StopAtStep
from agents.runner.checkpoint import (
    CONFIG_JSON,
    ENV_JSON,
    RNG_JSON,
    RUNNER_ARRAYS,
    RUNNER_JSON,
    json_bytes,
    list_checkpoints,
    loading,
    read_checkpoint,
)
from agents.runner.config import RunConfig
from agents.runner.errors import CheckpointError
from agents.runner.fsutil import sha256_bytes
from agents.runner.run_folder import CHECKPOINTS_DIR, CONFIG_FILE, EPISODES_CSV


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of ``verify_run``: ``ok`` is True only if every check matched."""

    ok: bool
    start: str | None
    end: str | None
    checks: tuple[tuple[str, str, str, bool], ...]
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "start": self.start,
            "end": self.end,
            "checks": [{"name": n, "recorded": r, "recomputed": c, "equal": e} for n, r, c, e in self.checks],
            "message": self.message,
        }


def _runner_json_without_status(data: bytes) -> str:
    info = json.loads(data)
    info.pop("status", None)
    return sha256_bytes(json_bytes(info))


def verify_run(run_dir: str | Path, *, start: str | None = None) -> VerifyReport:
    """Re-run ``run_dir`` from checkpoint ``start`` (default: the second newest valid one) to the next one.

    Compared: ``weights_sha256``, ``state_sha256``, counters/tracker/log digests (``runner.json`` except its
    ``status``), the observation, the global RNG states and the env snapshot.

    Raises:
        FileNotFoundError: ``run_dir`` has no checkpoints.
    """
    run_dir = Path(run_dir)
    paths = list_checkpoints(run_dir / CHECKPOINTS_DIR)
    if not paths:
        raise FileNotFoundError(f"{str(run_dir)!r} has no checkpoints to verify.")
    valid = []
    for path in paths:
        try:
            valid.append(read_checkpoint(path))
        except CheckpointError:
            continue
    if len(valid) < 2:
        return VerifyReport(
            False,
            None,
            None,
            (),
            f"Cannot verify: {str(run_dir)!r} has fewer than two valid "
            "checkpoints (train longer or keep more checkpoints).",
        )
    ids = [c.id for c in valid]
    if start is None:
        index = len(valid) - 2
    elif start in ids[:-1]:
        index = ids.index(start)
    else:
        return VerifyReport(
            False,
            start,
            None,
            (),
            f"Cannot verify from {start!r}: it is not a valid checkpoint "
            f"followed by another one (valid: {', '.join(ids)}).",
        )
    first, last = valid[index], valid[index + 1]
    with loading(last.path, "config and counters"):
        end_info = last.json(RUNNER_JSON)
        config = RunConfig.from_dict(last.json(CONFIG_JSON))
        end_step = int(end_info["global_step"])
    tmp = Path(tempfile.mkdtemp(prefix="sphgym-verify-"))
    try:
        (tmp / CHECKPOINTS_DIR).mkdir()
        (tmp / CONFIG_FILE).write_bytes(json_bytes(config.to_dict()))
        if (run_dir / EPISODES_CSV).exists():
            shutil.copyfile(run_dir / EPISODES_CSV, tmp / EPISODES_CSV)
        shutil.copytree(first.path, tmp / CHECKPOINTS_DIR / first.id)
        from agents.runner.runner import Runner  # the one thing verify needs from the runner: the loop itself

        runner = Runner(
            tmp,
            config.replace(keep=10**6),
            resume=True,
            log=None,
            handle_signals=False,
            callbacks=[StopAtStep(end_step)],
        )
        result = runner.train()
        again = read_checkpoint(result.checkpoint)
        checks = [
            ("checkpoint id", last.id, again.id, last.id == again.id),
            (
                "weights_sha256",
                last.weights_sha256,
                again.weights_sha256,
                last.weights_sha256 == again.weights_sha256,
            ),
            ("state_sha256", last.state_sha256, again.state_sha256, last.state_sha256 == again.state_sha256),
        ]
        recorded = _runner_json_without_status(last.files[RUNNER_JSON])
        recomputed = _runner_json_without_status(again.files[RUNNER_JSON])
        checks.append(("runner counters, tracker, episodes.csv digest", recorded, recomputed, recorded == recomputed))
        for name in (RUNNER_ARRAYS, RNG_JSON, ENV_JSON):
            if name in last.files:
                a = sha256_bytes(last.files[name])
                b = sha256_bytes(again.files.get(name, b""))
                checks.append((name, a, b, a == b))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ok = all(check[3] for check in checks)
    failed = [check[0] for check in checks if not check[3]]
    message = (
        f"OK: re-running {first.id} -> {last.id} reproduced every digest ({len(checks)} checks)."
        if ok
        else f"MISMATCH: re-running {first.id} -> {last.id} differs in: {', '.join(failed)}."
    )
    return VerifyReport(ok, first.id, last.id, tuple(checks), message)
