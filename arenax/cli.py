"""The `arenax` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from arenax.cli_cartag import EvadersOption, PursuersOption, cartag_app, strategies_from_spec
from arenax.cli_fmsp import fmsp_app
from arenax.cli_gap import gap_app
from arenax.cli_igdrive import igdrive_app
from arenax.cli_train import train_app
from arenax.errors import friendly_errors
from arenax.overrides import parse_overrides

app = typer.Typer(
    help="arenax: JAX-accelerated simulation and RL toolkit (Car Tag, IGDrivSim, FM self-play).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(cartag_app, name="cartag")
app.add_typer(train_app, name="train")
app.add_typer(fmsp_app, name="fmsp")
app.add_typer(igdrive_app, name="igdrive")
app.add_typer(gap_app, name="gap")


@app.command()
@friendly_errors
def demo(
    episodes: Annotated[int, typer.Option(min=1, help="Episodes per match.")] = 256,
    seed: Annotated[int, typer.Option(help="PRNG seed; same seed, same results.")] = 0,
    out: Annotated[
        Path | None, typer.Option(help="Run folder (default: runs/<timestamp>).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Car Tag parameter override KEY=VALUE, repeatable "
            "(e.g. --set horizon=50 for a quick run); see `arenax cartag info`.",
        ),
    ] = None,
    fmsp_iterations: Annotated[
        int, typer.Option(min=0, help="QDSP iterations after the tournament (0: skip).")
    ] = 2,
    fmsp_candidates: Annotated[
        int, typer.Option(min=1, help="QDSP programs per role per iteration.")
    ] = 2,
    fmsp_episodes: Annotated[int, typer.Option(min=1, help="QDSP episodes per program pair.")] = 16,
    pursuers: PursuersOption = "all",
    evaders: EvadersOption = "all",
) -> None:
    """The main job: tournament of every human-designed Car Tag strategy, with a table,
    score matrix (JSON/CSV), heatmap PNG and a GIF of the most interesting match; then a
    short QDSP search (offline generator) and the table of the best discovered policies
    against the hand-written ones."""
    from arenax.demo import run_demo

    run_demo(
        out=out,
        episodes=episodes,
        seed=seed,
        overrides=parse_overrides(set_),
        fmsp_iterations=fmsp_iterations,
        fmsp_candidates=fmsp_candidates,
        fmsp_episodes=fmsp_episodes,
        pursuers=strategies_from_spec(pursuers, "pursuer"),
        evaders=strategies_from_spec(evaders, "evader"),
    )


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the `arenax` script."""
    return app(args=argv if argv is not None else sys.argv[1:], prog_name="arenax")


__all__ = ["app", "main"]
