"""Reaching a Ray cluster, and cleaning up after a local Ray whose driver was killed.

Connecting (``--address``): Ray's own ``ray.init(address=...)`` retries an unreachable address 20 times for
about 40 s each, and with token authentication (on by default for local clusters since Ray 2.59) it enables the
token only for ``address="auto"``: an explicit ``HOST:PORT`` is tried without it and fails after 20 retries
with "Authentication token is missing or incorrect". ``check_cluster`` runs first: it enables token
authentication when a token is available (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``,
in Ray's order) and ``RAY_AUTH_MODE`` is unset, then opens a TCP connection (bounded by ``--connect-timeout``)
and asks the cluster's GCS for its id, turning each failure into a one-line ``RayConnectError`` that says what
to set.

Cleaning up (local Ray): a driver killed with SIGKILL cannot stop the Ray it started; Ray's reaper stops the
GCS and the raylet, but the raylet's agents live on for about a minute. The driver writes ``LOCAL_RAY_FILE``
(its pid and Ray session folder) into the sweep folder while its Ray runs; the next driver on that sweep
(``--restore``) stops, by pid, every process still attached to a dead driver's session folder.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_CONNECT_TIMEOUT_S = 30.0
AUTH_MODE_ENV = "RAY_AUTH_MODE"
TOKEN_ENV = "RAY_AUTH_TOKEN"
TOKEN_PATH_ENV = "RAY_AUTH_TOKEN_PATH"
DEFAULT_TOKEN_FILE = "~/.ray/auth_token"
TOKEN_HELP = (
    f"put the cluster's token (`ray get-auth-token` on the head node prints it) in {DEFAULT_TOKEN_FILE}, or set "
    f"{TOKEN_PATH_ENV}=FILE or {TOKEN_ENV}=TOKEN"
)
LOCAL_RAY_FILE = ".local_ray.json"  # in the sweep folder while the driver's own Ray runs
MAX_RECORD_BYTES = 4096
# Ray names a session folder session_<date>_<time>_<microseconds>_<pid of the process that started it>
HOST_PORT = re.compile(r"(\[[0-9a-fA-F:.]+\]|[^\s:\[\]/]+):(\d{1,5})")
SESSION_NAME = re.compile(r"session_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_\d+_(\d+)")
TERM_GRACE_S = 3.0


class RayConnectError(RuntimeError):
    """``--address`` names no reachable Ray cluster, or the cluster refused this driver."""


# ------------------------------------------------------------------------------------------- connecting
def check_cluster(address: str, timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S) -> str:
    """Make sure ``ray.init(address=address)`` will connect, and fast; returns the cluster's ``HOST:PORT``.

    Args:
        address: ``"auto"`` or ``HOST:PORT`` (as for ``ray.init``).
        timeout_s: how long to wait for the address to accept a connection.

    Raises:
        RayConnectError: no cluster at the address, or it wants a token this driver does not have; the message
            says what to do.
    """
    enable_token_auth_if_available()
    target = _resolve(address)
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        reason = f"no answer within {timeout_s:g} s" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise RayConnectError(
            f"no Ray cluster answers at {target} ({reason.lower()}): start one with "
            "`ray start --head --port PORT`, pass the head node's HOST:PORT as `ray start` printed it, or give a "
            "slow network more time with --connect-timeout"
        ) from None
    _ask_gcs(target)
    return target


def enable_token_auth_if_available() -> bool:
    """``RAY_AUTH_MODE=token`` for this process when it is unset and a token is available; True if set here.

    Ray does this itself for ``address="auto"`` only; the sweep driver does it for the cluster the user named
    with ``--address`` too (a cluster without authentication ignores the token).

    Raises:
        RayConnectError: ``RAY_AUTH_TOKEN_PATH`` names a missing or empty file, or ``RAY_AUTH_MODE=token`` and
            there is no token (Ray's client would abort the process).
    """
    mode = os.environ.get(AUTH_MODE_ENV)
    if mode is not None and mode.lower() != "token":
        return False
    try:
        from ray._raylet import AuthenticationTokenLoader, Config
    except ImportError:  # a Ray without token authentication (< 2.52)
        return False
    has_token = _has_token(AuthenticationTokenLoader)
    if mode is not None:
        if not has_token:  # Ray's C++ client would abort the whole process
            raise RayConnectError(f"{AUTH_MODE_ENV}={mode} but no authentication token was found: {TOKEN_HELP}")
        return False
    if not has_token:
        return False
    os.environ[AUTH_MODE_ENV] = "token"
    Config.initialize("")  # Ray caches its config: make this process see the mode
    return True


def _has_token(loader: Any) -> bool:
    from ray.exceptions import AuthenticationError

    try:
        return bool(loader.instance().has_token(ignore_auth_mode=True))
    except AuthenticationError:
        raise RayConnectError(
            f"{TOKEN_PATH_ENV}={os.environ.get(TOKEN_PATH_ENV, '')!r} names a missing, unreadable or empty file: "
            f"point it at the file holding the cluster's token, or unset it and {TOKEN_HELP}"
        ) from None


def _resolve(address: str) -> str:
    """``auto`` -> the ``HOST:PORT`` of the cluster ``ray start`` started on this machine; ``HOST:PORT`` checked."""
    from ray._private import services

    match = HOST_PORT.fullmatch(address)
    if address != "auto" and (match is None or not 0 < int(match.group(2)) < 65536):
        raise RayConnectError(f"--address {address!r} is not HOST:PORT (e.g. 10.0.0.5:6379) or 'auto'")
    try:
        return services.canonicalize_bootstrap_address_or_die(address)
    except ConnectionError as exc:  # "auto" and no cluster running here
        raise RayConnectError(
            f"--address {address}: {exc} Start one with `ray start --head`, or drop --address for a local Ray"
        ) from None
    except ValueError:
        raise RayConnectError(f"--address {address!r} is not HOST:PORT (e.g. 10.0.0.5:6379) or 'auto'") from None
    except OSError as exc:  # the host name does not resolve
        raise RayConnectError(f"--address {address!r}: cannot resolve the host ({exc})") from None


def _ask_gcs(target: str) -> None:
    """One request to the cluster's GCS: a wrong or missing token fails here at once (Ray itself would retry it
    20 times, logging each, then report only "Failed to connect")."""
    from ray._raylet import GcsClient
    from ray.exceptions import AuthenticationError, RayError

    try:
        with _stderr_silenced():  # Ray's C++ client logs each failure on fd 2; the error below says it in one line
            GcsClient(address=target)
    except AuthenticationError:
        raise RayConnectError(_auth_message(target)) from None
    except RayError as exc:  # something listens there, but no Ray GCS answered within Ray's own timeout
        raise RayConnectError(
            f"{target} accepts connections but no Ray cluster answered ({' '.join(str(exc).split())[:200]}): "
            "pass the head node's GCS address (the HOST:PORT `ray start --head` printed, port 6379 by default)"
        ) from None


def _auth_message(target: str) -> str:
    mode = os.environ.get(AUTH_MODE_ENV)
    if mode is not None and mode.lower() != "token":
        return (
            f"the Ray cluster at {target} requires token authentication but {AUTH_MODE_ENV}={mode}: set "
            f"{AUTH_MODE_ENV}=token (or unset it) and {TOKEN_HELP}"
        )
    if os.environ.get(TOKEN_ENV):
        source = f"${TOKEN_ENV}"
    elif os.environ.get(TOKEN_PATH_ENV):
        source = f"the file ${TOKEN_PATH_ENV} names"
    else:
        source = DEFAULT_TOKEN_FILE
    from ray._raylet import AuthenticationTokenLoader

    if mode is None and not AuthenticationTokenLoader.instance().has_token(ignore_auth_mode=True):
        return f"the Ray cluster at {target} requires token authentication and no token was found: {TOKEN_HELP}"
    return f"the Ray cluster at {target} rejected the token from {source} (not this cluster's token): {TOKEN_HELP}"


@contextmanager
def _stderr_silenced() -> Iterator[None]:
    """File descriptor 2 to /dev/null while the block runs (C++ logging bypasses ``sys.stderr``)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


# ------------------------------------------------------------------------------- a killed driver's Ray
@dataclass(frozen=True)
class LocalRay:
    """The local Ray a sweep driver started: its pid and Ray's session folder (where every process of that
    Ray keeps its logs open)."""

    pid: int
    host: str
    session_dir: str

    def __post_init__(self) -> None:
        if not (isinstance(self.pid, int) and not isinstance(self.pid, bool) and self.pid > 0):
            raise ValueError(f"pid must be a positive int, got {self.pid!r}")
        if not isinstance(self.host, str) or not isinstance(self.session_dir, str):
            raise ValueError("host and session_dir must be strings")
        path = Path(self.session_dir)
        match = SESSION_NAME.fullmatch(path.name)
        # never trust a path that could widen the search (e.g. "/"): a Ray session folder of this very pid
        if not path.is_absolute() or ".." in path.parts or match is None or int(match.group(1)) != self.pid:
            raise ValueError(f"session_dir {self.session_dir!r} is not the Ray session folder of pid {self.pid}")


def record_local_ray(sweep_dir: Path) -> None:
    """Write ``LOCAL_RAY_FILE``: the Ray this process started (call after ``ray.init``)."""
    import ray

    session_dir = ray._private.worker.global_worker.node.get_session_dir_path()
    record = LocalRay(os.getpid(), socket.gethostname(), str(Path(session_dir).resolve()))
    from agents.runner.fsutil import atomic_write_bytes

    atomic_write_bytes(sweep_dir / LOCAL_RAY_FILE, json.dumps(record.__dict__).encode())


def forget_local_ray(sweep_dir: Path) -> None:
    """Remove ``LOCAL_RAY_FILE`` (the Ray it names was shut down)."""
    (sweep_dir / LOCAL_RAY_FILE).unlink(missing_ok=True)


def read_local_ray(sweep_dir: Path) -> LocalRay | None:
    """The record left in ``sweep_dir``, or None if there is none or it is not a valid record (a regular small
    file holding the three checked fields; never a link, FIFO or device)."""
    from agents.runner.errors import RunnerError
    from agents.runner.fsutil import read_regular_file

    try:
        data = json.loads(read_regular_file(sweep_dir / LOCAL_RAY_FILE, "local Ray record", MAX_RECORD_BYTES))
        return LocalRay(data["pid"], data["host"], data["session_dir"])
    except (OSError, RunnerError, ValueError, TypeError, KeyError):
        return None


def stop_orphans(sweep_dir: Path) -> tuple[int | None, list[int], list[int]]:
    """Stop the processes of a local Ray whose driver died without shutting it down (SIGKILL, OOM killer).

    Returns:
        (the dead driver's pid or None, pids stopped, pids that could not be stopped).
    """
    record = read_local_ray(sweep_dir)
    if record is None or record.host != socket.gethostname() or record.pid == os.getpid():
        return None, [], []
    if _alive(record.pid):
        return None, [], []  # the driver is still running (or its pid was reused): leave its Ray alone
    pids = processes_using(record.session_dir)
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + TERM_GRACE_S
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    for pid in pids:
        if _alive(pid):
            _signal(pid, signal.SIGKILL)
    time.sleep(0.1 if pids else 0)
    left = [p for p in pids if _alive(p)]
    forget_local_ray(sweep_dir)
    return record.pid, [p for p in pids if p not in left], left


def processes_using(folder: str | Path) -> list[int]:
    """Pids of this user's live Ray processes (not this one) that hold a file open under ``folder`` or name it
    on their command line: a Ray session's or temp folder's processes (Ray's agents rename themselves, so their
    command line alone is not enough). A process whose command line does not mention Ray (``ray::NAME``,
    ``.../ray/...``) is never listed, e.g. someone's ``tail -f`` of a log. Empty where there is no ``/proc``."""
    session_dir = str(folder).rstrip("/")
    prefix = session_dir + "/"
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    me, uid, found = os.getpid(), os.getuid(), []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if "ray" not in cmdline:
                continue
            hit = prefix in cmdline or session_dir + " " in cmdline
            if not hit:
                for fd in (entry / "fd").iterdir():
                    try:
                        if os.readlink(fd).startswith(prefix):
                            hit = True
                            break
                    except OSError:
                        continue
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if hit and not _zombie(entry):
            found.append(int(entry.name))
    return found


def _zombie(entry: Path) -> bool:
    try:
        stat = (entry / "stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def _alive(pid: int) -> bool:
    """The pid exists and is not a zombie (a dead child nobody reaped yet: nothing left to stop)."""
    from agents.runner.lock import _pid_alive

    return _pid_alive(pid) and not _zombie(Path("/proc") / str(pid))


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
