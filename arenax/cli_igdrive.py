"""`arenax igdrive ...`: procedural driving scenarios (generate, render, info)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from arenax.errors import friendly_errors

igdrive_app = typer.Typer(
    help="IGDrivSim: procedural driving scenes with a privileged expert and restricted "
    "perception (generate, render, info, train).",
    no_args_is_help=True,
)


def _config(num_objects: int, num_timesteps: int):
    from arenax.envs.igdrive.generator import ScenarioConfig

    if num_objects < 1 or num_timesteps < 2:
        raise ValueError(
            f"need at least 1 object and 2 timesteps, got {num_objects} and {num_timesteps}"
        )
    return ScenarioConfig(num_objects=num_objects, num_timesteps=num_timesteps)


ObjectsOption = Annotated[int, typer.Option(help="Vehicles per scene (padded; 0 is the SDC).")]
StepsOption = Annotated[int, typer.Option(help="Timesteps per log (10 Hz).")]


@igdrive_app.command("generate")
@friendly_errors
def generate_command(
    num: Annotated[int, typer.Option(min=1, help="Number of scenes.")] = 100,
    seed: Annotated[int, typer.Option(help="PRNG seed; same seed, same scenes.")] = 0,
    out: Annotated[Path, typer.Option(help="Output .npz file.")] = Path("scenarios.npz"),
    objects: ObjectsOption = 8,
    timesteps: StepsOption = 91,
) -> None:
    """Generate scenes (logs driven by the privileged expert) and save them as .npz."""
    import jax

    from arenax.envs.igdrive.generator import generate
    from arenax.envs.igdrive.scenario_io import save_scenarios

    if out.suffix != ".npz":
        raise ValueError(f"--out must end in .npz, got {out}")
    config = _config(objects, timesteps)
    keys = jax.random.split(jax.random.PRNGKey(seed), num)
    states = jax.jit(jax.vmap(lambda k: generate(k, config)))(keys)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_scenarios(out, states)
    typer.echo(f"wrote {num} scenes ({objects} objects x {timesteps} steps) to {out}")


@igdrive_app.command("render")
@friendly_errors
def render_command(
    file: Annotated[Path, typer.Argument(help="A .npz written by `arenax igdrive generate`.")],
    index: Annotated[int, typer.Option(min=0, help="Which scene of the file.")] = 0,
    perception: Annotated[
        str, typer.Option(help="Restrictions, e.g. 'cone:radius=20,angle=120 + occlusion'.")
    ] = "full",
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("igdrive_render"),
) -> None:
    """Draw one scene's logged episode: a PNG of its first step and a GIF."""
    import jax

    from arenax.envs.igdrive.generator import generate
    from arenax.envs.igdrive.perception import parse_restrictions
    from arenax.envs.igdrive.render import animate_scene, plot_scene
    from arenax.envs.igdrive.scenario_io import load_scenarios, scenario_file_shape

    parse_restrictions(perception)
    if not file.exists():
        raise ValueError(f"{file} does not exist")
    _, objects, timesteps = scenario_file_shape(file)
    config = _config(objects, timesteps)
    template = jax.eval_shape(lambda k: generate(k, config), jax.random.PRNGKey(0))
    states = load_scenarios(file, template)
    count = states.timestep.shape[0]
    if index >= count:
        raise ValueError(f"--index {index}: {file} holds {count} scenes (0 to {count - 1})")
    scene = jax.tree_util.tree_map(lambda a: a[index], states)
    png = plot_scene(scene, out / f"scene_{index}.png", perception=perception)
    gif = animate_scene(scene, out / f"scene_{index}.gif", perception=perception)
    typer.echo(f"wrote {png} and {gif}")


@igdrive_app.command("info")
def info_command() -> None:
    """The scene generator, dynamics, perception restrictions and metrics, in brief."""
    from arenax.envs.igdrive import perception

    typer.echo(
        "IGDrivSim: procedural scenes of three kinds - multi-lane roads with bends and an "
        "optional traffic light, four-way intersections with complementary lights and "
        "cross traffic, merges from an acceleration lane; every vehicle's log is driven "
        "by a privileged IDM expert that follows lanes and cars, obeys lights and yields "
        "at junctions (no collisions, no off-road, no red-light running). The SDC "
        "(object 0) is driven by the policy with the kinematic bicycle (acceleration "
        "m/s^2, curvature 1/m) or the local delta model (dx, dy, dyaw); other vehicles "
        "replay their logs (others=log) or follow their logged paths at IDM speeds, "
        "braking for the SDC and red lights (others=idm). 10 Hz, metres, radians."
    )
    typer.echo("\nPerception restrictions (join with '+'):")
    for line in perception.__doc__.split("\n"):
        if line.startswith(("- `", "  ")):
            typer.echo(line)


@igdrive_app.command("train")
@friendly_errors
def train_command(
    method: Annotated[str, typer.Option(help="bc, bc_rl or big.")] = "bc",
    setting: Annotated[
        str, typer.Option(help="Perception: full, range, cone, noise, drop or occlusion.")
    ] = "cone",
    seed: Annotated[int, typer.Option(help="Training seed.")] = 0,
    scale: Annotated[float, typer.Option(min=0.01, help="Budget multiplier.")] = 1.0,
    test: Annotated[int, typer.Option(min=1, help="Test episodes.")] = 128,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("runs/igdrive"),
    bc_coef: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            help="Weight of the BC term when bc_rl or big fine-tunes "
            "[default: igdrive_runs.BC_RL_BC_COEF].",
        ),
    ] = None,
) -> None:
    """Train a driver on the fixed training split, save it under OUT/driver, then write
    its test metrics (JSON and a Markdown table) and a GIF of one test episode."""
    from arenax.agents.imitation.igdrive_runs import SETTINGS, save_driver, train_driver

    tuning = {} if bc_coef is None else {"bc_coef": bc_coef}
    params, agent, details = train_driver(method, setting, seed, scale, **tuning)
    record = {"method": method, "setting": setting, "perception": SETTINGS[setting], "seed": seed}
    if agent is not None:
        typer.echo(f"saved the driver to {save_driver(out / 'driver', agent, record)}")
    _report(params, agent, test, out, {**record, **details})


@igdrive_app.command("evaluate")
@friendly_errors
def evaluate_command(
    checkpoint: Annotated[Path, typer.Argument(help="A driver folder (OUT/driver of train).")],
    mask: Annotated[
        str | None,
        typer.Option(
            help="Perception to evaluate under: a setting name (full, range, cone, noise, "
            "drop, occlusion) or a restriction string such as 'cone:radius=20,angle=120'. "
            "Default: the one it was trained under."
        ),
    ] = None,
    test: Annotated[int, typer.Option(min=1, help="Test episodes.")] = 128,
    out: Annotated[Path | None, typer.Option(help="Output folder (default: beside it).")] = None,
) -> None:
    """Evaluate a saved driver on the fixed test split: metrics (JSON and Markdown) and a
    GIF of one test episode."""
    from arenax.agents.imitation.igdrive_runs import (
        check_observation_size,
        driving_params,
        load_driver,
        perception_spec,
    )

    if not checkpoint.is_dir():
        raise ValueError(f"checkpoint {checkpoint} is not a folder")
    agent, meta = load_driver(checkpoint)
    perception = perception_spec(mask) if mask is not None else meta["perception"]
    params = driving_params(perception)
    check_observation_size(agent, params)
    out = checkpoint.parent / "evaluate" if out is None else out
    record = {**meta, "evaluated_perception": perception, "checkpoint": str(checkpoint)}
    _report(params, agent, test, out, record)


def _report(params, agent, test: int, out: Path, record: dict) -> None:
    """Evaluate `agent` (None: the expert) on the test split; write metrics.json,
    metrics.md and test_episode.gif into `out` and print the metrics."""
    import json

    from arenax.agents.imitation.igdrive_runs import (
        drive_test_scene,
        driver_actor,
        evaluate_driver,
    )
    from arenax.envs.igdrive.render import animate_scene

    act = driver_actor(agent, params)
    metrics = evaluate_driver(params, act, test)
    out.mkdir(parents=True, exist_ok=True)
    record = {k: v for k, v in record.items() if k != "format"}
    (out / "metrics.json").write_text(json.dumps({**record, **metrics}, indent=1) + "\n")
    rows = ["| metric | value |", "|---|---|"] + [f"| {k} | {v:.3f} |" for k, v in metrics.items()]
    (out / "metrics.md").write_text("\n".join(rows) + "\n")
    gif = animate_scene(
        drive_test_scene(params, act, 0, test),
        out / "test_episode.gif",
        perception=params.perception,
    )
    for key, value in metrics.items():
        typer.echo(f"{key:12s} {value:.3f}")
    typer.echo(f"wrote {out / 'metrics.json'}, {out / 'metrics.md'} and {gif}")
