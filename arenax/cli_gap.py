"""`arenax gap ...`: imitation-gap methods on the gap environments (train, info)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from arenax.errors import friendly_errors

gap_app = typer.Typer(
    help="Gap environments (TigerDoor, PoisonedDoors): train BC, DAgger, BC+RL or BIG and "
    "score it against the known optimum.",
    no_args_is_help=True,
)


@gap_app.command("train")
@friendly_errors
def train_command(
    env: Annotated[str, typer.Option(help="tiger_door or poisoned_doors.")] = "poisoned_doors",
    method: Annotated[str, typer.Option(help="bc, dagger, bc_rl or big.")] = "big",
    gap: Annotated[bool, typer.Option("--gap/--no-gap", help="Hide the hidden state.")] = True,
    seeds: Annotated[int, typer.Option(min=1, help="Independent runs.")] = 1,
    scale: Annotated[float, typer.Option(min=0.01, help="Budget multiplier.")] = 1.0,
    bc_coef: Annotated[float, typer.Option(help="BC+RL's behaviour-cloning weight.")] = 0.1,
    demo_noise: Annotated[
        float,
        typer.Option(
            help="Noise-injected demonstrations: probability of a random executed action "
            "(labels stay the expert's). Not used by DAgger."
        ),
    ] = 0.3,
    out: Annotated[Path | None, typer.Option(help="Write the runs as JSON here.")] = None,
) -> None:
    """Train one method and print its true return beside the optimum."""
    from arenax.agents.imitation.gap_runs import GAP_ENVS, METHODS, run_method

    if env not in GAP_ENVS:
        raise ValueError(f"--env {env!r}: choose one of {', '.join(GAP_ENVS)}")
    if method not in METHODS:
        raise ValueError(f"--method {method!r}: choose one of {', '.join(METHODS)}")
    if bc_coef < 0:
        raise ValueError(f"--bc-coef must be >= 0, got {bc_coef}")
    if not 0.0 <= demo_noise <= 1.0:
        raise ValueError(f"--demo-noise must be a probability in [0, 1], got {demo_noise}")
    runs = []
    for seed in range(seeds):
        result = run_method(
            env, method, gap, seed, scale=scale, bc_coef=bc_coef, demo_noise=demo_noise
        )
        runs.append(result)
        typer.echo(
            f"{env} gap={gap} {method} seed {seed}: return {result['return']:.3f} "
            f"(optimum {result['optimal_return']:.2f}, {result['seconds']:.1f} s)"
        )
        if "posterior" in result:
            for name, moments in result["posterior"].items():
                typer.echo(f"  reward weight {name}: {moments['mean']:+.2f} ± {moments['std']:.2f}")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(runs, indent=1) + "\n")
        typer.echo(f"wrote {out}")


@gap_app.command("info")
def info_command() -> None:
    """The gap environments and their optimal returns."""
    from arenax.envs import gap

    typer.echo(gap.__doc__)
