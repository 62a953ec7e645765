"""A real ``tensorboard`` server for tests: started as a subprocess on a free port, read through its HTTP data API,
stopped by its pid.

The data API is the one TensorBoard's own frontend uses: ``/data/plugin/scalars/tags``,
``/data/plugin/scalars/scalars?run=..&tag=..`` and the hparams plugin's ``/data/plugin/hparams/experiment`` and
``/data/plugin/hparams/session_groups`` (POST, JSON body).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

START_TIMEOUT_S = 60.0


def free_port() -> int:
    """A port the OS just handed out on 127.0.0.1 (skips the test, with the reason, if none can be opened)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])
    except OSError as exc:
        pytest.skip(f"cannot open a TCP port on 127.0.0.1 for a TensorBoard server: {exc}")


class TensorBoard:
    """Client of one running server (``base`` = ``http://127.0.0.1:PORT``)."""

    def __init__(self, base: str) -> None:
        self.base = base

    def get(self, path: str, **query: str) -> object:
        url = f"{self.base}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.loads(response.read())

    def post(self, path: str, body: dict) -> object:
        request = urllib.request.Request(
            f"{self.base}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "X-TensorBoard-Feature-Flags": "{}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def scalar_tags(self) -> dict[str, list[str]]:
        """run -> sorted scalar tags."""
        tags = self.get("/data/plugin/scalars/tags")
        return {run: sorted(by_tag) for run, by_tag in tags.items()}

    def scalars(self, run: str, tag: str) -> list[tuple[int, float]]:
        """[(step, value)] of one series (wall time dropped)."""
        series = self.get("/data/plugin/scalars/scalars", run=run, tag=tag)
        return [(int(step), float(value)) for _, step, value in series]

    def wait_for_runs(self, runs: set[str], timeout: float = START_TIMEOUT_S) -> None:
        """Until the server has loaded every run in ``runs`` (it loads the logdir in a background thread)."""
        deadline = time.monotonic() + timeout
        while not runs <= set(self.scalar_tags()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"TensorBoard loaded {sorted(self.scalar_tags())}, not all of {sorted(runs)}")
            time.sleep(0.2)


@contextlib.contextmanager
def tensorboard_server(logdir: Path) -> Iterator[TensorBoard]:
    """``python -m tensorboard.main --logdir LOGDIR --host 127.0.0.1 --port PORT``, up until the block ends; the
    process is killed by its pid in any case."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tensorboard.main",
                "--logdir",
                str(logdir),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--reload_interval",
                "1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        try:
            server = TensorBoard(f"http://127.0.0.1:{port}")
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                try:
                    server.get("/data/runs")
                    break
                except (urllib.error.URLError, ConnectionError, OSError):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        output = log.read().decode(errors="replace")[-2000:]
                        raise RuntimeError(f"tensorboard did not start (exit {proc.poll()}):\n{output}") from None
                    time.sleep(0.2)
            yield server
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
