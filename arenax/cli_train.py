"""`arenax train ...`: PPO, self-play and evolution strategies on Car Tag, into run folders."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from arenax.errors import friendly_errors
from arenax.overrides import parse_overrides, parse_typed_overrides
from arenax.runs import new_run_dir

train_app = typer.Typer(
    help="Train Car Tag policies (PPO, self-play, evolution strategies).", no_args_is_help=True
)

EnvOption = Annotated[str, typer.Option(help="Environment (car_tag).")]
RoleOption = Annotated[str, typer.Option(help="The learner's role: pursuer or evader.")]
OpponentOption = Annotated[
    str,
    typer.Option(help="Fixed opponent: a hand-written strategy name or a saved agent folder."),
]
StepsOption = Annotated[int, typer.Option(min=1, help="Env-step budget per seed.")]
SeedsOption = Annotated[int, typer.Option(min=1, help="Seeds trained side by side (vmapped).")]
SeedOption = Annotated[int, typer.Option(help="Master PRNG seed.")]
OutOption = Annotated[Path | None, typer.Option(help="Run folder (default: runs/<timestamp>).")]
ResumeOption = Annotated[
    Path | None,
    typer.Option(
        help="Continue this run folder from its latest checkpoint (other options ignored)."
    ),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Car Tag parameter override KEY=VALUE, repeatable."),
]
ShapingOption = Annotated[
    float,
    typer.Option(
        min=0.0,
        help="Weight of the distance-shaping reward (0: the game's score only); "
        "the game score is what is reported.",
    ),
]
EvalOption = Annotated[int, typer.Option(min=1, help="Episodes per evaluation match.")]
TensorboardOption = Annotated[bool, typer.Option(help="Also write TensorBoard event files.")]
GifOption = Annotated[bool, typer.Option(help="Render a GIF of the final policy.")]
EvaluateOption = Annotated[
    bool, typer.Option(help="Evaluate the trained policies against every hand-written strategy.")
]
QuietOption = Annotated[bool, typer.Option(help="No progress bar or tables.")]


@train_app.command("ppo")
@friendly_errors
def ppo_command(
    env: EnvOption = "car_tag",
    role: RoleOption = "pursuer",
    opponent: OpponentOption = "straight_flee",
    steps: StepsOption = 1_000_000,
    seeds: SeedsOption = 1,
    seed: SeedOption = 0,
    ppo: Annotated[
        list[str] | None,
        typer.Option(
            "--ppo",
            help="PPOConfig override KEY=VALUE, repeatable (e.g. --ppo num_envs=128 "
            "--ppo hidden_sizes=128,128 --ppo recurrent=true).",
        ),
    ] = None,
    shaping: ShapingOption = 0.0,
    eval_episodes: EvalOption = 256,
    checkpoint_every: Annotated[int, typer.Option(min=1, help="Chunks between checkpoints.")] = 10,
    out: OutOption = None,
    resume: ResumeOption = None,
    set_: SetOption = None,
    tensorboard: TensorboardOption = False,
    gif: GifOption = True,
    evaluate: EvaluateOption = True,
    quiet: QuietOption = False,
) -> None:
    """Train one role with PPO against a fixed opponent; K seeds in one vmapped program."""
    from arenax.agents.ppo import PPOConfig
    from arenax.train_ppo import PPORun, train_ppo

    if resume is not None:
        run = PPORun.read(resume)
        train_ppo(
            run,
            resume,
            resume=True,
            quiet=quiet,
            tensorboard=tensorboard,
            gif=gif,
            evaluate=evaluate,
        )
        return
    run = PPORun(
        role=role,
        opponent=opponent,
        steps=steps,
        seeds=seeds,
        seed=seed,
        game=parse_overrides(set_),
        ppo=parse_typed_overrides(PPOConfig(), ppo, "PPOConfig"),
        shaping=shaping,
        eval_episodes=eval_episodes,
        checkpoint_every=checkpoint_every,
        env=env,
    )
    run.config()  # validate the PPO settings before creating a folder
    train_ppo(
        run, new_run_dir(out), quiet=quiet, tensorboard=tensorboard, gif=gif, evaluate=evaluate
    )
