"""`arenax gap train | info` on a tiny budget, and its errors."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from arenax.cli import app

runner = CliRunner()


def test_train_bc_writes_runs_and_info_lists_optima(tmp_path):
    out = tmp_path / "runs.json"
    result = runner.invoke(app, ["gap", "train", "--env", "tiger_door", "--method", "bc",
                                 "--no-gap", "--scale", "0.2", "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    (run,) = json.loads(out.read_text())
    assert run["method"] == "bc" and run["gap"] is False and run["optimal_return"] == 1.0
    assert "return" in result.output
    result = runner.invoke(app, ["gap", "info"])
    assert result.exit_code == 0 and "PoisonedDoors" in result.output


def test_errors_name_the_problem():
    result = runner.invoke(app, ["gap", "train", "--env", "maze"])
    assert result.exit_code == 2 and "--env 'maze'" in result.output
    result = runner.invoke(app, ["gap", "train", "--method", "gail"])
    assert result.exit_code == 2 and "--method 'gail'" in result.output
    result = runner.invoke(app, ["gap", "train", "--method", "bc_rl", "--bc-coef", "-1"])
    assert result.exit_code == 2 and "--bc-coef must be >= 0" in result.output
    result = runner.invoke(app, ["gap", "train", "--demo-noise", "1.5"])
    assert result.exit_code == 2 and "--demo-noise must be a probability" in result.output
