"""The command line: the demo on a tiny budget, subcommands, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from arenax.cli import app

runner = CliRunner()
TINY = ["--set", "horizon=20"]


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_demo_tiny_budget_writes_outputs(tmp_path):
    """The demo on cheap strategies; the full roster runs in the slow QDSP demo test."""
    out = tmp_path / "demo"
    roster = ["--pursuers", "pure_pursuit,intercept", "--evaders", "straight_flee,jink,swerve"]
    args = ["--episodes", "2", "--out", str(out), *TINY, *roster, "--fmsp-iterations", "0"]
    result = invoke("demo", *args)
    assert result.exit_code == 0, result.output
    scores = json.loads((out / "scores.json").read_text())
    assert scores["episodes"] == 2
    assert scores["rows"] == ["pure_pursuit", "intercept"]
    assert scores["cols"] == ["straight_flee", "jink", "swerve"]
    assert len(scores["pursuer_mean"]) == 2 and len(scores["pursuer_mean"][0]) == 3
    config = json.loads((out / "config.json").read_text())
    assert config["pursuers"] == scores["rows"] and config["evaders"] == scores["cols"]
    for name in ["scores.csv", "scores.png", "config.json"]:
        assert (out / name).stat().st_size > 0
    assert len(list(out.glob("*.gif"))) == 1
    assert "most interesting match" in result.output
    assert not (out / "fmsp").exists()


@pytest.mark.slow
def test_demo_with_its_short_qdsp_search(tmp_path):
    out = tmp_path / "demo"
    fmsp = ["--fmsp-iterations", "1", "--fmsp-candidates", "1", "--fmsp-episodes", "2"]
    result = invoke("demo", "--episodes", "2", "--out", str(out), *TINY, *fmsp)
    assert result.exit_code == 0, result.output
    scores = json.loads((out / "scores.json").read_text())
    assert len(scores["rows"]) >= 5 and len(scores["cols"]) >= 5  # every hand-written one
    search = out / "fmsp"
    rows = (search / "metrics.csv").read_text().splitlines()
    assert len(rows) == 3  # header, seeding, one iteration
    report = json.loads((search / "report.json").read_text())
    assert set(report["champions"]) == {"pursuer", "evader"}
    assert len(list(search.glob("*.gif"))) >= 1
    assert (search / "crossplay" / "scores.png").stat().st_size > 0
    assert "best discovered pursuer" in result.output


def test_tournament_subset(tmp_path):
    result = invoke(
        "cartag",
        "tournament",
        "--pursuers",
        "pure_pursuit",
        "--evaders",
        "straight_flee",
        "--episodes",
        "3",
        "--out",
        str(tmp_path),
        *TINY,
    )
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "scores.json").read_text())
    assert data["rows"] == ["pure_pursuit"] and data["cols"] == ["straight_flee"]


def test_render_png_only(tmp_path):
    result = invoke("cartag", "render", "--no-gif", "--out", str(tmp_path), *TINY)
    assert result.exit_code == 0, result.output
    assert [p.suffix for p in tmp_path.iterdir()] == [".png"]


def test_info_lists_params_and_strategies():
    result = invoke("cartag", "info")
    assert result.exit_code == 0
    for text in ["capture_radius", "m/s", "opp_pos", "pure_pursuit", "straight_flee"]:
        assert text in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cartag", "tournament", "--pursuers", "nope"], "unknown pursuer strategy 'nope'"),
        (["cartag", "render", "--evader", "ghost"], "unknown evader strategy 'ghost'"),
        (["demo", "--evaders", "jink,ghost"], "unknown evader strategy 'ghost'"),
        (["demo", "--pursuers", " , "], "no pursuer strategy given"),
        (["cartag", "info", "--set", "evader_speed=-0.5"], "evader_speed must be > 0"),
        (["cartag", "info", "--set", "horizon=0"], "horizon must be a whole number"),
        (["cartag", "info", "--set", "warp=9"], "unknown parameter(s) warp"),
        (["cartag", "info", "--set", "horizon"], "expected KEY=VALUE"),
        (["cartag", "info", "--set", "dt=fast"], "'fast' is not a number"),
    ],
)
def test_bad_input_is_one_line_error(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_entry_point_error_has_no_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "arenax", "cartag", "tournament", "--pursuers", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert lines == [lines[0]] and "unknown pursuer strategy 'nope'" in lines[0]
    assert "Traceback" not in proc.stderr


def test_negative_episodes_rejected_by_option_bounds():
    result = runner.invoke(app, ["demo", "--episodes", "0"])
    assert result.exit_code == 2
    assert "episodes" in result.output
