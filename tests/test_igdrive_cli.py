"""`arenax igdrive generate | render | info` on tiny scene sets, and their errors."""

from __future__ import annotations

from typer.testing import CliRunner

from arenax.cli import app

runner = CliRunner()


def test_generate_then_render_and_info(tmp_path):
    file = tmp_path / "split.npz"
    result = runner.invoke(app, ["igdrive", "generate", "--num", "3", "--out", str(file),
                                 "--objects", "4", "--timesteps", "12"])  # fmt: skip
    assert result.exit_code == 0, result.output
    out = tmp_path / "render"
    view = "cone:radius=20,angle=120 + occlusion"
    result = runner.invoke(app, ["igdrive", "render", str(file), "--index", "2", "--out", str(out),
                                 "--perception", view])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (out / "scene_2.png").stat().st_size > 0 and (out / "scene_2.gif").stat().st_size > 0
    result = runner.invoke(app, ["igdrive", "info"])
    assert result.exit_code == 0 and "occlusion" in result.output


def test_errors_name_the_problem(tmp_path):
    file = tmp_path / "split.npz"
    runner.invoke(app, ["igdrive", "generate", "--num", "2", "--out", str(file),
                        "--objects", "3", "--timesteps", "5"])  # fmt: skip
    cases = [
        (["igdrive", "render", str(file), "--index", "5"], "holds 2 scenes"),
        (["igdrive", "render", str(file), "--perception", "cone:radius=20"], "cone needs angle"),
        (["igdrive", "render", str(tmp_path / "missing.npz")], "does not exist"),
        (["igdrive", "generate", "--out", str(tmp_path / "x.txt")], "must end in .npz"),
    ]
    (tmp_path / "junk.npz").write_text("junk")
    cases.append((["igdrive", "render", str(tmp_path / "junk.npz")], "not a scenario file"))
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)


def test_train_refuses_unknown_methods_and_settings_clearly():
    result = runner.invoke(app, ["igdrive", "train", "--method", "gail"])
    assert result.exit_code == 2 and "unknown method 'gail'" in result.output
    result = runner.invoke(app, ["igdrive", "train", "--setting", "xray"])
    assert result.exit_code == 2 and "unknown perception setting 'xray'" in result.output


def test_train_refuses_a_negative_bc_weight():
    result = runner.invoke(app, ["igdrive", "train", "--method", "bc_rl", "--bc-coef", "-1"])
    assert result.exit_code == 2 and "Invalid value for '--bc-coef'" in result.output
