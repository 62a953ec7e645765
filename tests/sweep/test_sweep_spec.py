"""Sweep specification: seeds, grid parsing and typing, sweep.json, the CLI's checks before Ray starts (no
Ray)."""

from __future__ import annotations

import argparse
import sys

import pytest

from agents.cli.common import CLIError
from agents.cli.main import build_parser, main
from agents.cli.sweep import build_spec
from agents.runner import RunConfig
from agents.sweep.spec import (
    SweepSpecError,
    folder_name,
    grid_points,
    load_sweep,
    parse_grid_option,
    parse_seeds,
    point_label,
    split_values,
)


def test_parse_seeds_ranges_and_lists():
    assert parse_seeds("0-9") == list(range(10))
    assert parse_seeds("0,3,5-7") == [0, 3, 5, 6, 7]
    assert parse_seeds(" 4 ") == [4]
    for bad in ("", "a", "-1", "3-1", "1,,2", "0-2,2"):
        with pytest.raises(SweepSpecError):
            parse_seeds(bad)


def test_grid_values_split_at_top_level_commas_only():
    assert split_values("0.01,0.1") == ["0.01", "0.1"]
    assert split_values("[64,64],[128, 128]") == ["[64,64]", "[128, 128]"]
    assert split_values('"a,b",c') == ['"a,b"', "c"]
    assert parse_grid_option("agent.layers=[[5,5,64]],[[4,4,32]]") == (
        "agent.layers",
        ["[[5,5,64]]", "[[4,4,32]]"],
    )
    for bad in ("novalue", "=1,2", "k=1,,2", "k=1,1"):
        with pytest.raises(SweepSpecError):
            parse_grid_option(bad)


def test_grid_points_are_the_cartesian_product_first_key_slowest():
    points = grid_points([("a", ["1", "2"]), ("b", ["x", "y", "z"])])
    assert len(points) == 6
    assert points[0] == [("a", "1"), ("b", "x")] and points[3] == [("a", "2"), ("b", "x")]
    assert grid_points([]) == [[]]
    with pytest.raises(SweepSpecError, match="more than once"):
        grid_points([("a", ["1"]), ("a", ["2"])])
    assert point_label([("agent.history_capacity", "256"), ("metric_window", "5")]) == (
        "history_capacity=256,metric_window=5"
    )
    assert point_label([]) == "base"
    assert folder_name([("agent.layers", "[[4, 4, 32]]"), ("metric_window", "5")]) == "layers=4_4_32+metric_window=5"
    assert folder_name([("env_kwargs.id", "sphgym/X-v0")]) == "env_kwargs.id=sphgym_X-v0"
    assert folder_name([]) == "base"


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["sweep", *argv])


def test_build_spec_types_grid_values_from_the_dataclasses(tmp_path):
    spec = build_spec(
        _args(
            "--agent",
            "hierarchy",
            "--seeds",
            "0-2",
            "--episodes",
            "40",
            "--run-dir",
            str(tmp_path / "sw"),
            "--grid",
            "history_capacity=256,1024",
            "--grid",
            "metric_window=5,10",
            "--grid",
            "keep=2",
            "--set",
            "agent.action_importance=0.5",
        )
    )
    assert spec.seeds == (0, 1, 2)
    assert [p.label for p in spec.points] == [
        "history_capacity=256,metric_window=5",
        "history_capacity=256,metric_window=10",
        "history_capacity=1024,metric_window=5",
        "history_capacity=1024,metric_window=10",
    ]
    first = spec.points[0].run_config
    assert first.agent_config["history_capacity"] == 256 and isinstance(first.agent_config["history_capacity"], int)
    assert first.agent_config["action_importance"] == 0.5
    assert first.metric_window == 5 and first.keep == 2 and first.episodes == 40
    assert spec.points[0].grid == {"agent.history_capacity": "256", "metric_window": "5"}
    assert spec.report_every == first.checkpoint_every == 10
    assert len(spec.trials) == 12
    assert spec.trial_dir(spec.points[1], 2).name == "history_capacity=256+metric_window=10__s2"
    assert spec.trial_config(spec.points[1], 2).seed == 2
    # sweep.json round trip (what --restore reads)
    spec.save()
    again = load_sweep(spec.sweep_dir)
    assert again.to_dict() == spec.to_dict()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--grid", "agent.history_capacty=1,2"], "did you mean 'history_capacity'"),
        (["--grid", "agent.history_capacity=1.5,2"], "agent.history_capacity must be an integer"),
        (["--grid", "metric_windw=1,2"], "did you mean 'metric_window'"),
        (["--grid", "seed=1,2"], "--seeds"),
        (["--set", "seed=3"], "--seeds"),
        (["--grid", "checkpoint_every=0,5"], "checkpoint_every"),
        (["--seeds", "3-1"], "--seeds range"),
        (["--max-failures", "-2"], "--max-failures"),
    ],
)
def test_build_spec_errors_name_the_key(tmp_path, argv, message):
    with pytest.raises((CLIError, SweepSpecError), match=message.replace("[", r"\[").replace("(", r"\(")):
        build_spec(_args("--agent", "hierarchy", "--run-dir", str(tmp_path / "sw"), *argv))


def test_build_spec_refuses_used_folders(tmp_path):
    spec = build_spec(_args("--agent", "random", "--run-dir", str(tmp_path / "sw")))
    spec.save()
    with pytest.raises(CLIError, match=r"already holds a sweep.*--restore"):
        build_spec(_args("--agent", "random", "--run-dir", str(tmp_path / "sw")))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x").write_text("x")
    with pytest.raises(CLIError, match="not empty"):
        build_spec(_args("--agent", "random", "--run-dir", str(tmp_path / "other")))


def test_grid_over_agents_types_fields_per_point(tmp_path):
    spec = build_spec(_args("--run-dir", str(tmp_path / "sw"), "--grid", "agent=random,hierarchy", "--seeds", "0"))
    assert [p.run_config.agent for p in spec.points] == ["random", "hierarchy"]
    assert spec.points[0].label == "agent=random"
    assert RunConfig.from_dict(spec.points[1].run_config.to_dict()).agent_config  # hierarchy defaults resolved


def test_without_ray_the_command_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError
    code = main(["sweep", "--agent", "random", "--seeds", "0-1", "--run-dir", str(tmp_path / "sw")])
    assert code == 1
    err = capsys.readouterr().err
    assert "pip install 'sphgym[ray]'" in err and "Traceback" not in err
    assert not (tmp_path / "sw").exists()  # nothing written before Ray is known to be there
    code = main(["sweep", "--restore", str(tmp_path / "nothing")])
    assert code == 1
    assert "nothing to restore" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--address", "ray://head:10001"], "Ray Client"),
        (["--address", "auto", "--num-cpus", "2"], "--num-cpus"),
        (["--restore", "x", "--episodes", "5"], "cannot be combined with --restore"),
    ],
)
def test_address_and_restore_misuse_are_user_errors(tmp_path, capsys, argv, message):
    assert main(["sweep", "--run-dir", str(tmp_path / "sw"), *argv]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "sw").exists()


def test_sphgym_start_up_does_not_import_ray():
    import subprocess

    code = (
        "import sys; from agents.cli.main import build_parser; build_parser(); "
        "print('ray' in sys.modules, 'agents.sweep' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_ray_workers_do_not_print_on_the_drivers_terminal(monkeypatch):
    """Worker output (Ray's teardown tracebacks among it) never reaches the user's terminal: log_to_driver off."""
    ray = pytest.importorskip("ray")
    from agents.sweep import driver

    seen = {}
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kwargs: seen.update(kwargs))
    assert driver._init_ray(None, 1) is True
    assert seen["log_to_driver"] is False and seen["address"] == "local"
