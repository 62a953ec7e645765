"""``sphgym plot``: PNG learning curves of one run and of several seeds."""

from __future__ import annotations

from tests.cli.cli_helpers import sphgym

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _train_seeds(runs, episodes: int):
    """Random-agent CartPole runs of seeds 1 and 2 in ``runs/s1`` and ``runs/s2``; returns ``runs``."""
    for seed in ("1", "2"):
        result = sphgym("train", "--agent", "random", "--seed", seed, "--episodes", str(episodes),
                        "--run-dir", str(runs / f"s{seed}"), "--no-progress")
        assert result.returncode == 0, result.stderr
    return runs


def test_plot_one_run_writes_a_png(trained_run, tmp_path):
    out = tmp_path / "one.png"
    result = sphgym("plot", str(trained_run), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(PNG_MAGIC) and str(out) in result.stdout


def test_plot_several_seeds_from_a_folder_of_runs(trained_run, tmp_path):
    runs = _train_seeds(tmp_path / "runs", episodes=12)
    out = tmp_path / "seeds.png"
    # a folder of runs plus a run named directly: one group (random on CartPole-v1) of three seeds
    result = sphgym("plot", str(runs), str(trained_run), "--out", str(out), "--x", "step", "--window", "3")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(PNG_MAGIC) and "3 run(s)" in result.stdout


def test_plot_of_a_folder_without_runs_is_a_user_error(tmp_path):
    result = sphgym("plot", str(tmp_path))
    assert result.returncode == 1 and "episodes.csv" in result.stderr


def test_sweep_grid_points_are_grouped_apart(tmp_path, monkeypatch):
    import json

    from agents.cli import plot

    labels: list[str] = []
    for point in ("lr=0.1", "lr=0.2"):
        for seed in (0, 1):
            run = tmp_path / f"{point}__s{seed}"
            run.mkdir()
            (run / "config.json").write_text(json.dumps({"env_id": "CartPole-v1", "agent": "hierarchy", "seed": seed}))
            (run / "sweep_trial.json").write_text(json.dumps({"point": point, "seed": seed}))
            rows = "".join(f"{i},{10 * i},{float(i + seed)},10\n" for i in range(1, 6))
            (run / "episodes.csv").write_text("episode,global_step,return,length\n" + rows)
    curves = [plot._read_curve(run) for run in sorted(tmp_path.iterdir())]
    assert sorted({c.point for c in curves}) == ["lr=0.1", "lr=0.2"]

    import matplotlib.axes

    real_plot = matplotlib.axes.Axes.plot

    def spy(self, *args, **kwargs):
        if "label" in kwargs:
            labels.append(kwargs["label"])
        return real_plot(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "plot", spy)
    plot._draw(curves, tmp_path / "grid.png", window=2, x_axis="episode", title=None)
    assert (tmp_path / "grid.png").read_bytes().startswith(PNG_MAGIC)
    assert [label.split(":")[0] for label in labels] == ["hierarchy [lr=0.1]", "hierarchy [lr=0.2]"]


def test_plot_refuses_a_fifo_in_place_of_episodes_csv(tmp_path):
    import os

    runs = tmp_path / "runs"  # a folder of runs: its children are found by a glob, FIFOs included
    (runs / "a").mkdir(parents=True)
    os.mkfifo(runs / "a" / "episodes.csv")
    result = sphgym("plot", str(runs), "--out", str(tmp_path / "x.png"))
    assert result.returncode == 1
    assert "not a regular file" in result.stderr


def test_plot_tag_draws_a_tensorboard_series_over_seeds(tmp_path):
    runs = _train_seeds(tmp_path / "runs", episodes=8)
    out = tmp_path / "length.png"
    result = sphgym("plot", str(runs), "--tag", "charts/episodic_length", "--out", str(out), "--window", "2")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(PNG_MAGIC) and "2 run(s), 16 points of charts/episodic_length" in result.stdout

    missing = sphgym("plot", str(runs / "s1"), "--tag", "losses/nope")
    assert missing.returncode == 1 and "no TensorBoard scalar 'losses/nope'" in missing.stderr
    assert "charts/episodic_return" in missing.stderr and "Traceback" not in missing.stderr


def test_plot_tag_reads_the_series_the_run_logged(tmp_path):
    from agents.cli import plot

    run = tmp_path / "run"
    result = sphgym("train", "--agent", "random", "--seed", "3", "--episodes", "5", "--run-dir", str(run),
                    "--no-progress")
    assert result.returncode == 0, result.stderr
    curve = plot._read_tag_curve(run, "charts/episodic_length")
    rows = [line.split(",") for line in (run / "episodes.csv").read_text().splitlines()[1:]]
    assert curve.returns == [float(r[3]) for r in rows] and curve.steps == [int(r[1]) for r in rows]
