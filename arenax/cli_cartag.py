"""`arenax cartag ...`: Car Tag tournaments, renders and facts."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Annotated

import jax
import typer
from rich.console import Console
from rich.table import Table

from arenax.errors import friendly_errors
from arenax.overrides import parse_overrides

cartag_app = typer.Typer(
    help="Car Tag: a pursuer-evader game (tournaments, renders, rules).", no_args_is_help=True
)

SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Game parameter override KEY=VALUE, repeatable (e.g. --set capture_radius=0.4); "
        "`arenax cartag info` lists the keys with units.",
    ),
]
SeedOption = Annotated[int, typer.Option(help="PRNG seed; same seed, same results.")]
OutOption = Annotated[Path | None, typer.Option(help="Output folder (default: runs/<timestamp>).")]
PursuersOption = Annotated[str, typer.Option(help="Comma-separated pursuer strategies, or 'all'.")]
EvadersOption = Annotated[str, typer.Option(help="Comma-separated evader strategies, or 'all'.")]


def strategies_from_spec(spec: str, role: str) -> list:
    """The hand-written strategies of `role` named in `spec` ("all" or "a,b,c")."""
    from arenax.agents.car_tag import EVADERS, PURSUERS, get_strategy

    table = PURSUERS if role == "pursuer" else EVADERS
    if spec.strip() == "all":
        return list(table.values())
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise ValueError(f"no {role} strategy given; use 'all' or a comma-separated list")
    return [get_strategy(role, n) for n in names]


@cartag_app.command("tournament")
@friendly_errors
def tournament_command(
    pursuers: PursuersOption = "all",
    evaders: EvadersOption = "all",
    episodes: Annotated[int, typer.Option(min=1, help="Episodes per match.")] = 256,
    seed: SeedOption = 0,
    out: OutOption = None,
    set_: SetOption = None,
) -> None:
    """Play every pursuer against every evader; print the score table and write
    scores.json, scores.csv and a heatmap scores.png."""
    from arenax.envs import make
    from arenax.reporting import score_table, write_tournament_outputs
    from arenax.runs import new_run_dir
    from arenax.tournament import tournament

    rows, cols = strategies_from_spec(pursuers, "pursuer"), strategies_from_spec(evaders, "evader")
    env, params = make("car_tag", **parse_overrides(set_))
    result = tournament(env, params, rows, cols, jax.random.PRNGKey(seed), episodes)
    console = Console()
    console.print(score_table(result))
    run_dir = new_run_dir(out)
    paths = write_tournament_outputs(result, run_dir, title="Car Tag: pursuer score")
    for path in paths:
        console.print(f"wrote {path}")


@cartag_app.command("render")
@friendly_errors
def render_command(
    pursuer: Annotated[str, typer.Option(help="Pursuer strategy name.")] = "pure_pursuit",
    evader: Annotated[str, typer.Option(help="Evader strategy name.")] = "straight_flee",
    seed: SeedOption = 0,
    out: OutOption = None,
    gif: Annotated[bool, typer.Option(help="Also write an animated GIF.")] = True,
    set_: SetOption = None,
) -> None:
    """Play a few episodes of one match and draw a representative one
    (trajectory PNG, and GIF unless --no-gif)."""
    from arenax.envs import make
    from arenax.runs import new_run_dir
    from arenax.showcase import render_match

    p, e = strategies_from_spec(pursuer, "pursuer")[0], strategies_from_spec(evader, "evader")[0]
    env, params = make("car_tag", **parse_overrides(set_))
    paths = render_match(env, params, p, e, jax.random.PRNGKey(seed), new_run_dir(out), gif=gif)
    for path in paths:
        typer.echo(f"wrote {path}")


def _field_docs(cls: type) -> dict[str, str]:
    """`name: text` entries of the Attributes section of a class docstring."""
    doc = inspect.getdoc(cls) or ""
    section = doc.split("Attributes:", 1)[-1]
    docs: dict[str, str] = {}
    current = None
    for line in section.splitlines():
        match = re.match(r"^\s{4}([\w, ]+):\s*(.*)$", line)
        if match:
            current = [n.strip() for n in match.group(1).split(",")]
            for name in current:
                docs[name] = match.group(2)
        elif current and line.strip():
            for name in current:
                docs[name] += " " + line.strip()
    return docs


@cartag_app.command("info")
@friendly_errors
def info_command(set_: SetOption = None) -> None:
    """Print the rules: parameters with units and values, observation fields,
    actions, and the hand-written strategies."""
    from arenax.agents.car_tag import EVADERS, PURSUERS
    from arenax.envs import make
    from arenax.envs.car_tag import CarTagObs, CarTagParams

    env, params = make("car_tag", **parse_overrides(set_))
    console = Console()
    console.print(f"[bold]Car Tag[/]: {inspect.getdoc(type(env)).splitlines()[0]}")
    table = Table(title="Parameters (override with --set KEY=VALUE)")
    table.add_column("key", style="bold")
    table.add_column("value", justify="right")
    table.add_column("meaning")
    docs = _field_docs(CarTagParams)
    for name, value in vars(params).items():
        table.add_row(name, f"{float(value):g}", docs.get(name, ""))
    console.print(table)
    obs = Table(title="Observation fields (CarTagObs; obs.to_array() gives a flat (21,) view)")
    obs.add_column("field", style="bold")
    obs.add_column("meaning")
    for name, text in _field_docs(CarTagObs).items():
        obs.add_row(name, text)
    console.print(obs)
    console.print(
        "Actions: pursuer (1,) steering in [-1, 1] (turn rate = steering * speed / "
        "min_turn_radius); evader (2,) velocity in m/s, clipped to evader_speed."
    )
    strategies = Table(title="Hand-written strategies")
    strategies.add_column("role")
    strategies.add_column("name", style="bold")
    strategies.add_column("idea")
    for policy in [*PURSUERS.values(), *EVADERS.values()]:
        strategies.add_row(policy.role, policy.name, policy.description)
    console.print(strategies)
