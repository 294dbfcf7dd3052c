"""The main job, `arenax demo`: a Car Tag tournament of every human-designed strategy,
then a short QDSP search seeded with them.

Writes into a run folder: the score matrix (JSON, CSV), a heatmap PNG, and a
trajectory PNG and GIF of the most interesting match (the strongest pursuer
against the strongest evader); then, in `fmsp/`, a QDSP run with the offline
program generator (archives, event log, metrics, plots, cross-play of the best
discovered programs against the hand-written ones, GIFs of the best match-ups).
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from arenax.agents.car_tag import EVADERS, PURSUERS
from arenax.envs import make
from arenax.policy import Policy
from arenax.reporting import score_table, strongest, write_tournament_outputs
from arenax.runs import new_run_dir, write_json
from arenax.showcase import render_match
from arenax.tournament import tournament


def run_demo(
    out: Path | None = None,
    episodes: int = 256,
    seed: int = 0,
    overrides: dict | None = None,
    console: Console | None = None,
    fmsp_iterations: int = 2,
    fmsp_candidates: int = 2,
    fmsp_episodes: int = 16,
    pursuers: list[Policy] | None = None,
    evaders: list[Policy] | None = None,
) -> Path:
    """Run the demo and return the run folder.

    Args:
        out: run folder (default `runs/<timestamp>`).
        episodes: episodes per match.
        seed: PRNG seed; the same seed gives the same tables.
        overrides: Car Tag parameter overrides (e.g. `{"horizon": 50}` for a quick run).
        fmsp_iterations: QDSP iterations after the tournament (0 skips the search).
        fmsp_candidates: programs proposed per role per iteration.
        fmsp_episodes: episodes per program pair in the search.
        pursuers, evaders: the tournament's strategies (default: every hand-written one).
    """
    console = console or Console()
    env, params = make("car_tag", **(overrides or {}))
    run_dir = new_run_dir(out)
    pursuers = list(PURSUERS.values()) if pursuers is None else pursuers
    evaders = list(EVADERS.values()) if evaders is None else evaders
    key_tournament, key_render = jax.random.split(jax.random.PRNGKey(seed))
    config = {
        "job": "demo",
        "env": "car_tag",
        "episodes": episodes,
        "seed": seed,
        "pursuers": [p.name for p in pursuers],
        "evaders": [e.name for e in evaders],
        "params": {k: float(v) for k, v in vars(params).items()},
    }
    write_json(run_dir / "config.json", config)

    console.print(
        f"[bold]arenax demo[/]: Car Tag tournament, {len(pursuers)} pursuers x {len(evaders)} "
        f"evaders x {episodes} episodes, horizon {int(params.horizon)} steps "
        f"({float(params.horizon_time):.0f} s)"
    )
    start = time.perf_counter()
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} pursuers"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("tournament", total=len(pursuers))
        result = tournament(
            env,
            params,
            pursuers,
            evaders,
            key_tournament,
            episodes,
            progress=lambda done, total: progress.update(task, completed=done),
        )
    elapsed = time.perf_counter() - start
    console.print(score_table(result))
    console.print(f"tournament: {elapsed:.1f} s (compile included)")

    paths = write_tournament_outputs(
        result, run_dir, title="Car Tag: pursuer score (1 - evader survival)"
    )
    best_row, best_col = strongest(result)
    console.print(
        f"most interesting match: strongest pursuer [bold]{pursuers[best_row].name}[/] vs "
        f"strongest evader [bold]{evaders[best_col].name}[/] "
        f"(pursuer score {result.mean[best_row, best_col]:.2f})"
    )
    paths += render_match(env, params, pursuers[best_row], evaders[best_col], key_render, run_dir)
    for path in paths:
        console.print(f"  wrote {path}")
    if fmsp_iterations > 0:
        run_short_qdsp(
            run_dir / "fmsp",
            fmsp_iterations,
            fmsp_candidates,
            fmsp_episodes,
            seed,
            overrides,
            console,
        )
    return run_dir


def run_short_qdsp(
    out: Path,
    iterations: int,
    candidates: int,
    episodes: int,
    seed: int,
    overrides: dict | None,
    console: Console,
) -> None:
    """QDSP with the offline generator, seeded with the hand-written strategies."""
    from arenax.search.loop_config import LoopConfig
    from arenax.search.run_fmsp import run_fmsp

    config = LoopConfig(
        algo="qdsp",
        iterations=iterations,
        candidates_per_role=candidates,
        num_episodes=episodes,
        max_opponents=16,
        num_workers=2,
        env_overrides=dict(overrides or {}),
        seed=seed,
    )
    console.print(
        f"\n[bold]QDSP[/] with the offline program generator: {iterations} iterations x "
        f"{candidates} programs per role, {episodes} episodes per pair, scored in sandbox "
        "workers (`arenax fmsp` runs longer searches, or with an FM)"
    )
    run_fmsp(config, fm="offline", out=out, console=console, report_limit=8)
