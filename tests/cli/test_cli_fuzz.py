"""CLI fuzz (issue 15): hypothesis over argv — commands, flags, values, paths and config files (binary, huge,
FIFO, symlinked, a folder). Every run ends with exit 0/1/130/143, and a failure is one error line with no
traceback. In-process (``main(argv)``) to keep it to a few seconds."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.cli.main import main
from tests.reliability.reliability_stats import count

VALUES = st.sampled_from(["0", "1", "-1", "abc", "", "1e99", "nan", "[[1,1,1]]", "2", "x" * 300, "🙂", "0-3"])
FLAGS = st.sampled_from(["--episodes", "--steps", "--seed", "--keep", "--checkpoint-every", "--set", "--agent",
                         "--env", "--config", "--checkpoint", "--window", "--out", "--json", "--no-progress",
                         "--print-config", "--x", "--start"])  # fmt: skip
SETS = st.sampled_from(["episodes=0", "agent.gamma=nan", "env_kwargs.foo=1", "metric_window=x", "seed=-4",
                        "episode_step_limit=abc", "tensorboard=maybe", "nope=1"])  # fmt: skip


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz-files")
    (root / "binary.toml").write_bytes(bytes(range(256)) * 4)
    (root / "huge.toml").write_bytes(b"a = 1\n" * (200_000))
    os.mkfifo(root / "fifo.toml")
    (root / "zero.toml").symlink_to("/dev/zero")
    (root / "ok.toml").write_text('agent = "random"\nepisodes = 1\ntensorboard = false\n')
    (root / "folder").mkdir()
    return root


def _argv(draw, files) -> list[str]:
    command = draw(st.sampled_from(["train", "resume", "eval", "inspect", "verify", "plot", "sweep", "bogus"]))
    paths = [str(files / name) for name in ("binary.toml", "huge.toml", "fifo.toml", "zero.toml", "ok.toml",
                                             "folder", "missing")]  # fmt: skip
    argv = [command]
    if command in ("resume", "eval", "inspect", "verify", "plot"):
        argv.append(draw(st.sampled_from(paths)))
    for _ in range(draw(st.integers(0, 3))):
        flag = draw(FLAGS)
        argv.append(flag)
        if flag == "--set":
            argv.append(draw(SETS))
        elif flag in ("--config", "--out"):
            argv.append(draw(st.sampled_from(paths)))
        elif flag not in ("--json", "--no-progress", "--print-config"):
            argv.append(draw(VALUES))
    return argv


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_argv_ends_cleanly(files, tmp_path_factory, capsys, data):
    argv = _argv(data.draw, files)
    if argv[0] == "train":
        run_dir = tmp_path_factory.mktemp("fuzz-run") / "run"
        argv += ["--agent", "random", "--episodes", "1", "--no-progress", "--set", "tensorboard=false",
                 "--run-dir", str(run_dir)]  # fmt: skip  (later flags win: every train is a tiny run)
    if argv[0] == "sweep":
        argv += ["--help"]  # never start Ray here; its argv handling is still parsed
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own exits (errors: 1, --help: 0)
        code = exc.code
    out, err = capsys.readouterr()
    assert code in (0, 1, 130, 143), (argv, code, err)
    assert "Traceback" not in err, (argv, err)
    if code == 1:
        errors = [line for line in err.splitlines() if ": error: " in line]
        assert len(errors) == 1, (argv, err)
    count("CLI fuzz", f"exit {code}")
