"""``sphgym plot``: PNG learning curves of one run and of several seeds."""

from __future__ import annotations

from cli_helpers import sphgym

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_plot_one_run_writes_a_png(trained_run, tmp_path):
    out = tmp_path / "one.png"
    result = sphgym("plot", str(trained_run), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(PNG_MAGIC) and str(out) in result.stdout


def test_plot_several_seeds_from_a_folder_of_runs(trained_run, tmp_path):
    runs = tmp_path / "runs"
    for seed in ("1", "2"):
        result = sphgym("train", "--agent", "random", "--seed", seed, "--episodes", "12",
                        "--run-dir", str(runs / f"s{seed}"), "--no-progress")
        assert result.returncode == 0, result.stderr
    out = tmp_path / "seeds.png"
    # a folder of runs plus a run named directly: one group (random on CartPole-v1) of three seeds
    result = sphgym("plot", str(runs), str(trained_run), "--out", str(out), "--x", "step", "--window", "3")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(PNG_MAGIC) and "3 run(s)" in result.stdout


def test_plot_of_a_folder_without_runs_is_a_user_error(tmp_path):
    result = sphgym("plot", str(tmp_path))
    assert result.returncode == 1 and "episodes.csv" in result.stderr
