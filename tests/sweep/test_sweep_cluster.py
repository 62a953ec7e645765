"""Sweeps on a real Ray cluster, and the connection and clean-up rules around it.

``test_two_node_cluster_with_token_auth`` starts a head node and a second worker node on this machine with
``ray start`` (one CPU each, each with its own temp dir, token authentication on as Ray 2.59+ does when a token
exists), runs a 2-seed sweep on it by ``--address HOST:PORT`` from a driver that has only the token file (no
``RAY_AUTH_MODE``: the case that failed with "Authentication token is missing or incorrect"), checks that each
node ran one trial and that both trials equal plain runs byte for byte, and stops every process it started, by
pid. ``test_restore_after_sigkill_is_quiet_and_leaves_no_ray_process`` SIGKILLs a driver that runs its own
local Ray and restores the sweep. The other tests need no Ray: bad, dead and silent addresses, the
``--connect-timeout`` checks, the killed driver's leftovers (stand-in processes), Tune's deleted-checkpoint noise.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray Tune is an optional extra (pip install 'sphgym[ray]'); CI installs it")
# Every test that starts a Ray runs in the same xdist worker, one after the other: a local Ray takes both cores,
# and some of its default ports are one per machine (docs/testing.md, "Suite run time").
pytestmark = pytest.mark.xdist_group("ray")

from test_sweep_ray import assert_trial_equals_plain  # noqa: E402

from agents.cli.main import main  # noqa: E402
from agents.sweep import load_sweep  # noqa: E402
from agents.sweep.cluster import LOCAL_RAY_FILE, LocalRay, processes_using, read_local_ray, stop_orphans  # noqa: E402
from agents.sweep.ray_logs import TUNE_CONTROLLER_LOGGER, quiet_ray_logs  # noqa: E402

RAY_CLI = Path(sys.executable).with_name("ray")
AUTH_VARS = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_ADDRESS")
START_TIMEOUT_S = 240
STOP_TRIES = 10


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def sweep_cli(*args: str, seeds: str = "0-1") -> list[str]:
    return [sys.executable, "-m", "agents.cli.main", "sweep", "--agent", "random", "--seeds", seeds, *args]


# --------------------------------------------------------------------------------- a two-node cluster
def _children(pids: set[int]) -> set[int]:
    """``pids`` and all their descendants (Ray's workers make their own process groups)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found = set(pids)
    while True:
        more = {pid for pid, ppid in parents.items() if ppid in found} - found
        if not more:
            return found
        found |= more


def _group_members(pgids: set[int]) -> set[int]:
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) in pgids:
                    out.add(int(entry.name))
            except OSError:
                continue
    return out


class TwoNodeCluster:
    """``ray start --head`` and ``ray start --address`` in new sessions, so every process they spawn is found
    (by process group, descendant or open file under the node's temp dir) and stopped by pid."""

    def __init__(self, root: Path, home: Path) -> None:
        self.root, self.home = root, home
        self.groups: set[int] = set()
        self.temp_dirs: list[Path] = []
        self.ip = ray._private.services.get_node_ip_address()
        self.port = free_port()
        self.address = f"{self.ip}:{self.port}"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in AUTH_VARS}
        env.update(HOME=str(self.home), RAY_USAGE_STATS_ENABLED="0", **extra)
        return env

    def start_node(self, name: str, *args: str, **env: str) -> None:
        temp_dir = self.root / name
        self.temp_dirs.append(temp_dir)
        common = ["--num-cpus", "1", "--temp-dir", str(temp_dir), "--disable-usage-stats"]
        ports = ["--dashboard-agent-listen-port", str(free_port())]  # default 52365: one per machine
        proc = subprocess.Popen(
            [str(RAY_CLI), "start", *args, *common, *ports],
            env=self.env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its pid is the process group of everything it starts
        )
        self.groups.add(proc.pid)
        try:
            out, _ = proc.communicate(timeout=START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        if proc.returncode != 0:
            last = [line for line in out.splitlines() if line.strip()][-3:]
            pytest.skip(f"Ray cannot start a {name} node here (`ray start` exit {proc.returncode}): {' | '.join(last)}")

    def pids(self) -> set[int]:
        pids = _group_members(self.groups)
        for temp_dir in self.temp_dirs:
            pids |= set(processes_using(temp_dir))
        return _children(pids) - {os.getpid()}

    def stop(self) -> set[int]:
        """SIGKILL every process of the cluster (a test cluster needs no graceful stop), until none is left or
        ``STOP_TRIES`` rounds passed; returns the pids still alive."""
        for _ in range(STOP_TRIES):
            pids = self.pids()
            if not pids:
                return set()
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.5)
        return self.pids()

    def ran_trial(self, name: str) -> bool:
        """Did this node run a trial (a Tune trial actor's log says so)?"""
        for log in (self.root / name).glob("session_*/logs/worker-*.out"):
            if ":actor_name:sweep_trial" in log.read_text(errors="replace"):
                return True
        return False


@pytest.fixture
def cluster():
    root = Path(tempfile.mkdtemp(prefix="sgr-", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    home = root / "home"
    (home / ".ray").mkdir(parents=True)
    (home / ".ray" / "auth_token").write_text("sphgym-test-" + os.urandom(16).hex())
    nodes = TwoNodeCluster(root, home)
    try:
        yield nodes
    finally:
        left = nodes.stop()
        shutil.rmtree(root, ignore_errors=True)
        assert not left, f"Ray processes of the test cluster survived SIGKILL: {sorted(left)}"


@pytest.mark.slow
def test_two_node_cluster_with_token_auth(cluster, tmp_path):
    # the head enables token auth because ~/.ray/auth_token exists (as `ray start --head` does since 2.59);
    # a worker node needs RAY_AUTH_MODE=token too (Ray's rule, see the README)
    cluster.start_node(
        "head",
        "--head",
        "--port",
        str(cluster.port),
        "--include-dashboard=false",
        "--dashboard-port",
        str(free_port()),
        "--ray-client-server-port",
        str(free_port()),
    )
    # a wrong token: refused at once, in one line, before any sweep folder exists (runs while the worker starts)
    wrong = subprocess.Popen(
        sweep_cli("--episodes", "6", "--run-dir", str(tmp_path / "refused"), "--address", cluster.address),
        env=cluster.env(RAY_AUTH_TOKEN="not-the-token"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    cluster.start_node("worker", "--address", cluster.address, RAY_AUTH_MODE="token")
    _, wrong_err = wrong.communicate(timeout=120)
    assert wrong.returncode == 1, wrong_err
    lines = wrong_err.strip().splitlines()
    assert lines[-1].startswith(f"sphgym sweep: error: the Ray cluster at {cluster.address} rejected the token")
    assert "Traceback" not in wrong_err and len(lines) == 2, wrong_err  # the "sweep: ..." line + the error
    assert not (tmp_path / "refused").exists()

    # the driver has only the token file: no RAY_AUTH_MODE (Ray enables it by itself for address="auto" only)
    sweep_dir = tmp_path / "sweep"
    run = subprocess.run(
        sweep_cli("--episodes", "6", "--report-every", "3", "--run-dir", str(sweep_dir), "--address", cluster.address),
        env=cluster.env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "| base | 0/2 |" in run.stdout
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    assert not (sweep_dir / LOCAL_RAY_FILE).exists()  # not our Ray: nothing to clean up after
    spec = load_sweep(sweep_dir)
    for point, seed in spec.trials:
        assert_trial_equals_plain(spec, point, seed, tmp_path)
    assert cluster.ran_trial("head") and cluster.ran_trial("worker")  # one trial on each node


# ------------------------------------------------------------------------------------ no cluster needed
def test_dead_address_fails_fast_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # keep this process's Ray config as it is
    port = free_port()  # nothing listens there
    start = time.monotonic()
    code = main(
        ["sweep", "--agent", "random", "--seeds", "0", "--episodes", "3", "--run-dir", str(tmp_path / "s"),
         "--address", f"127.0.0.1:{port}", "--connect-timeout", "2"]
    )  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and time.monotonic() - start < 30
    assert err[-1].startswith("sphgym sweep: error: no Ray cluster answers at ") and f":{port} (" in err[-1]
    assert not (tmp_path / "s").exists()


def test_silent_address_times_out(tmp_path, monkeypatch, capsys):
    """A host that never answers (SYNs dropped: a full accept queue here) fails after --connect-timeout."""
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    with socket.socket() as server:
        server.bind(("", 0))
        server.listen(0)
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5):  # fills the queue: the next one hangs
            start = time.monotonic()
            code = main(
                ["sweep", "--agent", "random", "--seeds", "0", "--episodes", "3", "--run-dir", str(tmp_path / "s"),
                 "--address", f"127.0.0.1:{port}", "--connect-timeout", "1.5"]
            )  # fmt: skip
            took = time.monotonic() - start
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and 1.4 < took < 30, took
    assert err[-1].startswith("sphgym sweep: error: no Ray cluster answers at ") and "within 1.5 s" in err[-1]


@pytest.mark.parametrize("address", ["justhost", ":6379", "head:abc", "head:0", "head:99999", "http://head:6379"])
def test_malformed_address_is_one_line(address, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    code = main(["sweep", "--seeds", "0", "--run-dir", str(tmp_path / "s"), "--address", address])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err[-1] == (
        f"sphgym sweep: error: --address {address!r} is not HOST:PORT (e.g. 10.0.0.5:6379) or 'auto'"
    )
    assert "Traceback" not in "\n".join(err) and not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--connect-timeout", "5"], "--connect-timeout is how long to wait for an --address cluster"),
        (["--address", "auto", "--connect-timeout", "0"], "must be > 0"),
        (["--address", "auto", "--connect-timeout", "nan"], "must be > 0"),
        (["--address", "auto", "--connect-timeout", "soon"], "expected seconds"),
    ],
)
def test_connect_timeout_is_checked(argv, message, tmp_path, capsys):
    try:
        code = main(["sweep", "--seeds", "0", "--run-dir", str(tmp_path / "s"), *argv])
    except SystemExit as exc:  # argparse's type errors
        code = exc.code
    assert code == 1 and message in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_cli_default_connect_timeout_is_the_libraries():
    from agents.cli import sweep as sweep_cmd
    from agents.sweep import cluster

    assert sweep_cmd.DEFAULT_CONNECT_TIMEOUT_S == cluster.DEFAULT_CONNECT_TIMEOUT_S  # (the CLI must not import Ray)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _holder(path: Path, name: str = "ray::DashboardAgent") -> subprocess.Popen:
    """A process that keeps ``path`` open, as Ray's agents keep their session's logs open (``name`` on its
    command line: only Ray's processes are ever stopped)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    code = f"import time; f = open({str(path)!r}, 'a'); print('ready', flush=True); time.sleep(60)  # {name}"
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _write_record(sweep_dir: Path, pid: int, session_dir: Path) -> None:
    record = {"pid": pid, "host": socket.gethostname(), "session_dir": str(session_dir)}
    (sweep_dir / LOCAL_RAY_FILE).write_text(json.dumps(record))


def test_killed_drivers_leftovers_are_stopped_by_pid(tmp_path):
    driver = _dead_pid()
    session = tmp_path / f"session_2026-01-01_00-00-00_123456_{driver}"
    leftover = _holder(session / "logs" / "dashboard_agent.log")
    bystander = _holder(tmp_path / "elsewhere" / "x.log")  # not in the session: must survive
    reader = _holder(session / "logs" / "monitor.log", name="tail -f")  # not a Ray process: must survive
    try:
        _write_record(tmp_path, driver, session)
        assert processes_using(session) == [leftover.pid]
        assert stop_orphans(tmp_path) == (driver, [leftover.pid], [])
        assert leftover.wait(timeout=10) is not None and bystander.poll() is None and reader.poll() is None
        assert not (tmp_path / LOCAL_RAY_FILE).exists()
    finally:
        for proc in (leftover, bystander, reader):
            proc.kill()
            proc.wait()


def test_a_live_drivers_ray_and_crafted_records_are_left_alone(tmp_path):
    session = tmp_path / f"session_2026-01-01_00-00-00_123456_{os.getppid()}"
    holder = _holder(session / "logs" / "raylet.out")
    try:
        _write_record(tmp_path, os.getppid(), session)  # that driver is alive (it is our parent)
        assert stop_orphans(tmp_path) == (None, [], []) and holder.poll() is None
        driver = _dead_pid()
        for bad in ("/", str(tmp_path), str(session), f"{tmp_path}/session_2026-01-01_00-00-00_1_{driver}/../.."):
            _write_record(tmp_path, driver, Path(bad))  # a path that is not that driver's Ray session folder
            assert read_local_ray(tmp_path) is None
            assert stop_orphans(tmp_path) == (None, [], []) and holder.poll() is None
        (tmp_path / LOCAL_RAY_FILE).write_text('{"pid": true, "host": "x", "session_dir": "/"}')
        assert read_local_ray(tmp_path) is None
        os.remove(tmp_path / LOCAL_RAY_FILE)
        os.mkfifo(tmp_path / LOCAL_RAY_FILE)  # never blocks
        assert read_local_ray(tmp_path) is None
    finally:
        holder.kill()
        holder.wait()
    with pytest.raises(ValueError, match="session_dir"):
        LocalRay(5, "h", "/tmp/session_2026-01-01_00-00-00_1_6")


def test_tunes_already_deleted_checkpoint_error_is_dropped(caplog):
    log = logging.getLogger(TUNE_CONTROLLER_LOGGER)
    with caplog.at_level(logging.ERROR, logger=TUNE_CONTROLLER_LOGGER), quiet_ray_logs():
        for exc in (FileNotFoundError("Path not found: (fs, /s/tune/base__s0/checkpoint_000071)"), OSError("disk")):
            try:
                raise exc
            except OSError:
                log.exception("Trial %s: Error handling checkpoint %s", "base__s0", "c")
    assert [r.exc_info[1].args[0] for r in caplog.records] == ["disk"]  # only the real error is logged
    assert not log.filters  # and the filter is gone after the block


# ------------------------------------------------------------------------- SIGKILL of a local driver
def _wait_for(condition, timeout: float, what: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"the sweep driver exited ({proc.returncode}) before {what}: {proc.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} after {timeout:g} s")
        time.sleep(0.5)


def _sessions_of(pid: int) -> list[Path]:
    """The Ray session folders a driver with this pid started (Ray puts the pid at the end of the name)."""
    return list(Path(tempfile.gettempdir(), "ray").glob(f"session_*_{pid}"))


def _settled_processes(folder: Path, quiet_s: float = 3.0, limit_s: float = 30.0) -> list[int]:
    """Processes using ``folder`` once that set has not changed for ``quiet_s`` (or ``limit_s`` has passed)."""
    deadline = time.monotonic() + limit_s
    last, since = sorted(processes_using(folder)), time.monotonic()
    while time.monotonic() - since < quiet_s and time.monotonic() < deadline:
        time.sleep(0.5)
        now = sorted(processes_using(folder))
        if now != last:
            last, since = now, time.monotonic()
    return last


def _ray_left_by(pid: int, grace_s: float = 30.0) -> list[int]:
    """Processes still using that driver's Ray session folders once ``grace_s`` has passed (polled).

    ``ray.shutdown`` has stopped the raylet and its daemons when the driver returns, but a worker the raylet
    started can still be closing its session logs for a moment (seconds on a loaded machine, or with a second
    xdist worker busy beside it); a process that is *left* outlives the grace.
    """
    deadline = time.monotonic() + grace_s
    while True:
        left = [p for folder in _sessions_of(pid) for p in processes_using(folder)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


@pytest.mark.slow
def test_restore_after_sigkill_is_quiet_and_leaves_no_ray_process(tmp_path):
    sweep_dir = tmp_path / "sweep"
    local = ["--num-cpus", "1", "--quiet"]
    driver = subprocess.Popen(
        sweep_cli("--episodes", "40", "--report-every", "10", "--run-dir", str(sweep_dir), *local, seeds="0"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_for(lambda: any(sweep_dir.glob("tune/base__s0/checkpoint_*")), 300, "Tune checkpoint", driver)
        record = read_local_ray(sweep_dir)
        assert record is not None and record.pid == driver.pid
    finally:
        driver.kill()  # SIGKILL: the driver cannot stop its Ray
        driver.communicate()
    session = Path(record.session_dir)
    # Ray's workers notice the dead driver and exit by themselves, some only after seconds on a loaded machine: what
    # the restore must clean up (and report) is what is still there once that has settled.
    left_by_kill = _settled_processes(session)

    restore = subprocess.Popen(
        [sys.executable, "-m", "agents.cli.main", "sweep", "--restore", str(sweep_dir), *local],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = restore.communicate(timeout=600)
    assert restore.returncode == 0, err[-3000:]
    assert "| base | 0/1 |" in out
    assert "ERROR" not in err and "Traceback" not in err, err[-3000:]
    if left_by_kill:
        assert f"Ray process(es) left by the killed driver (pid {driver.pid})" in err, err[-3000:]
    assert processes_using(session) == []  # the killed driver's Ray: gone
    # the restoring driver's own Ray was shut down with it (its pid names its session folder)
    assert _ray_left_by(restore.pid) == []
    assert not (sweep_dir / LOCAL_RAY_FILE).exists()
    spec = load_sweep(sweep_dir)
    assert_trial_equals_plain(spec, spec.points[0], 0, tmp_path)
