"""`arenax fmsp ...`: Foundation-Model Self-Play searches on Car Tag, and their reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from arenax.errors import friendly_errors
from arenax.overrides import parse_overrides, parse_typed_overrides

fmsp_app = typer.Typer(
    help="Foundation-Model Self-Play: an FM (or the offline generator) writes policy programs, "
    "arenax scores them in a sandbox and keeps diverse, strong archives.",
    invoke_without_command=True,
)


@fmsp_app.callback()
@friendly_errors
def fmsp(
    ctx: typer.Context,
    algo: Annotated[
        str, typer.Option(help="vfmsp, nssp, qdsp, or random (search baseline).")
    ] = "qdsp",
    fm: Annotated[
        str,
        typer.Option(
            help="Program proposer: offline (embedded generator, no network), "
            "openai:MODEL (OpenAI-compatible endpoint; OPENAI_BASE_URL / OPENAI_API_KEY), "
            "or replay:FILE (recorded answers)."
        ),
    ] = "offline",
    iterations: Annotated[int, typer.Option(min=1, help="Loop iterations after seeding.")] = 10,
    out: Annotated[Path | None, typer.Option(help="Run folder (default runs/<timestamp>).")] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue the run in --out (its own config is used).")
    ] = False,
    candidates: Annotated[int, typer.Option(min=1, help="Proposals per role per iteration.")] = 4,
    episodes: Annotated[int, typer.Option(min=1, help="Episodes per program pair.")] = 64,
    workers: Annotated[int, typer.Option(min=1, help="Sandbox worker processes.")] = 1,
    seed: Annotated[int, typer.Option(help="Master seed.")] = 0,
    config: Annotated[
        list[str] | None,
        typer.Option(
            "--config",
            "-c",
            help="Loop config KEY=VALUE, repeatable (LoopConfig fields, e.g. "
            "novelty_threshold=0.2, selection=uniform, max_opponents=16).",
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Car Tag parameter override KEY=VALUE, repeatable."),
    ] = None,
    report: Annotated[
        bool, typer.Option(help="Write plots, cross-play and GIFs at the end.")
    ] = True,
    quiet: Annotated[bool, typer.Option(help="No progress bar or tables.")] = False,
) -> None:
    """Run (or --resume) an FMSP search. `arenax fmsp report DIR` redraws a run's report."""
    if ctx.invoked_subcommand is not None:
        return
    from arenax.search.loop_config import LoopConfig
    from arenax.search.run_fmsp import run_fmsp

    fields = {
        "algo": algo,
        "iterations": iterations,
        "candidates_per_role": candidates,
        "num_episodes": episodes,
        "num_workers": workers,
        "seed": seed,
        "env_overrides": parse_overrides(set_),
    }
    fields.update(parse_typed_overrides(LoopConfig(), config, "FMSP loop config"))
    run_fmsp(LoopConfig(**fields), fm=fm, out=out, resume=resume, report=report, quiet=quiet)


@fmsp_app.command("report")
@friendly_errors
def report_command(
    run: Annotated[Path, typer.Argument(help="An `arenax fmsp` run folder.")],
    gifs: Annotated[bool, typer.Option(help="Also render the best match-ups.")] = True,
) -> None:
    """Regenerate a run's metrics CSV, plots, cross-play heatmap and GIFs."""
    from rich.console import Console

    from arenax.search.run_fmsp import report_run

    report_run(run, gifs=gifs, console=Console())
