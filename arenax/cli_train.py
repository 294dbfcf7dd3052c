"""`arenax train ...`: PPO, self-play and evolution strategies on Car Tag, into run folders."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from arenax.errors import friendly_errors
from arenax.overrides import parse_overrides, parse_typed_overrides
from arenax.param_anneal import parse_anneal
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
ShapingGammaOption = Annotated[
    float,
    typer.Option(
        help="Discount of the shaping bonus: PPO's gamma (0.99) leaves the optimal policy "
        "unchanged; 1 also rewards the pursuer's closeness (the evader's distance) every step."
    ),
]
WallShapingOption = Annotated[
    float,
    typer.Option(
        min=0.0,
        help="Weight of the evader's wall-clearance shortfall (within 1.5 m of a wall) in the "
        "shaping potential; with --shaping, 2 keeps a trained evader off the walls.",
    ),
]
InterfaceOption = Annotated[
    str,
    typer.Option(
        help="Learner interface: flat (the flattened observation, world-frame actions), "
        "car_tag_evader_car_frame (evader only: extra features, actions in the car's heading "
        "frame, so a sidestep is one constant action) or car_tag_pursuer_car_frame (pursuer "
        "only: extra features in its own frame, the evader's bearing among them)."
    ),
]
AnnealOption = Annotated[
    list[str] | None,
    typer.Option(
        "--anneal",
        help="Curriculum NAME=START, repeatable: the Car Tag parameter starts at START and "
        "moves linearly to the game's value over --anneal-fraction of the steps "
        "(e.g. capture_radius=0.6 lets a pursuer's first captures come by chance).",
    ),
]
AnnealFractionOption = Annotated[
    float, typer.Option(help="Share of the steps over which --anneal runs, in (0, 1].")
]
EvalOption = Annotated[int, typer.Option(min=1, help="Episodes per evaluation match.")]
TensorboardOption = Annotated[bool, typer.Option(help="Also write TensorBoard event files.")]
GifOption = Annotated[bool, typer.Option(help="Render a GIF of the final policy.")]
EvaluateOption = Annotated[
    bool, typer.Option(help="Evaluate the trained policies against every hand-written strategy.")
]
QuietOption = Annotated[bool, typer.Option(help="No progress bar or tables.")]


ConfigOption = Annotated[
    list[str] | None,
    typer.Option(
        "--config",
        "-c",
        help="Learner config override KEY=VALUE, repeatable. PPO: PPOConfig fields "
        "(e.g. -c num_envs=128 -c hidden_sizes=128,128 -c recurrent=true). ES: ESConfig "
        "fields, network fields as network.KEY (e.g. -c strategy=snes -c network.hidden_sizes=32).",
    ),
]
CheckpointOption = Annotated[int, typer.Option(min=1, help="Chunks between checkpoints.")]


def _config_overrides(learner: str, items: list[str] | None) -> dict:
    from arenax.agents.es import ESConfig
    from arenax.agents.ppo import PPOConfig

    if learner == "ppo":
        return parse_typed_overrides(PPOConfig(), items, "PPOConfig")
    own = [i for i in items or [] if not i.strip().startswith("network.")]
    network = [
        i.strip()[len("network.") :] for i in items or [] if i.strip().startswith("network.")
    ]
    parsed = parse_typed_overrides(ESConfig(), own, "ESConfig")
    parsed.update(
        {
            f"network.{k}": v
            for k, v in parse_typed_overrides(PPOConfig(), network, "network").items()
        }
    )
    return parsed


def _launch(learner: str, resume: Path | None, out: Path | None, flags: dict, **fields) -> None:
    from arenax.train_run import TrainRun, train

    if resume is not None:
        run = TrainRun.read(resume)
        if run.learner != learner:
            raise ValueError(f"{resume} is a {run.learner} run; use `arenax train {run.learner}`")
        train(run, resume, resume=True, **flags)
        return
    run = TrainRun(learner=learner, **fields)
    # Validate the game, opponent, curriculum and learner config before creating a run folder.
    from arenax.car_tag_training import other_role, resolve_policy
    from arenax.envs import make

    run.curriculum().check(make(run.env, **run.game)[1])
    resolve_policy(other_role(run.role), run.opponent)
    if learner == "es":
        from arenax.learner_setup import es_config

        es_config(run.config)
    else:
        from arenax.agents.ppo import PPOConfig

        PPOConfig(**run.config)
    train(run, new_run_dir(out), **flags)


@train_app.command("ppo")
@friendly_errors
def ppo_command(
    env: EnvOption = "car_tag",
    role: RoleOption = "pursuer",
    opponent: OpponentOption = "straight_flee",
    steps: StepsOption = 1_000_000,
    seeds: SeedsOption = 1,
    seed: SeedOption = 0,
    config: ConfigOption = None,
    shaping: ShapingOption = 0.0,
    shaping_gamma: ShapingGammaOption = 1.0,
    wall_shaping: WallShapingOption = 0.0,
    interface: InterfaceOption = "flat",
    anneal: AnnealOption = None,
    anneal_fraction: AnnealFractionOption = 0.5,
    eval_episodes: EvalOption = 256,
    checkpoint_every: CheckpointOption = 10,
    out: OutOption = None,
    resume: ResumeOption = None,
    set_: SetOption = None,
    tensorboard: TensorboardOption = False,
    gif: GifOption = True,
    evaluate: EvaluateOption = True,
    quiet: QuietOption = False,
) -> None:
    """Train one role with PPO against a fixed opponent; K seeds in one vmapped program."""
    _launch(
        "ppo",
        resume,
        out,
        {"quiet": quiet, "tensorboard": tensorboard, "gif": gif, "evaluate": evaluate},
        role=role,
        opponent=opponent,
        steps=steps,
        seeds=seeds,
        seed=seed,
        game=parse_overrides(set_),
        config=_config_overrides("ppo", config),
        shaping=shaping,
        shaping_gamma=shaping_gamma,
        wall_shaping=wall_shaping,
        interface=interface,
        anneal=parse_anneal(anneal),
        anneal_fraction=anneal_fraction,
        eval_episodes=eval_episodes,
        checkpoint_every=checkpoint_every,
        env=env,
    )


@train_app.command("es")
@friendly_errors
def es_command(
    env: EnvOption = "car_tag",
    role: RoleOption = "pursuer",
    opponent: OpponentOption = "straight_flee",
    steps: StepsOption = 10_000_000,
    seeds: SeedsOption = 1,
    seed: SeedOption = 0,
    config: ConfigOption = None,
    shaping: ShapingOption = 0.0,
    shaping_gamma: ShapingGammaOption = 1.0,
    wall_shaping: WallShapingOption = 0.0,
    interface: InterfaceOption = "flat",
    eval_episodes: EvalOption = 256,
    checkpoint_every: CheckpointOption = 10,
    out: OutOption = None,
    resume: ResumeOption = None,
    set_: SetOption = None,
    tensorboard: TensorboardOption = False,
    gif: GifOption = True,
    evaluate: EvaluateOption = True,
    quiet: QuietOption = False,
) -> None:
    """Evolve one role's policy network with evosax (OpenAI-ES by default; -c strategy=snes,
    sep_cma_es or cma_es) against a fixed opponent; the population plays in one batched
    rollout per generation. Steps count every simulated step of the population."""
    _launch(
        "es",
        resume,
        out,
        {"quiet": quiet, "tensorboard": tensorboard, "gif": gif, "evaluate": evaluate},
        role=role,
        opponent=opponent,
        steps=steps,
        seeds=seeds,
        seed=seed,
        game=parse_overrides(set_),
        config=_config_overrides("es", config),
        shaping=shaping,
        shaping_gamma=shaping_gamma,
        wall_shaping=wall_shaping,
        interface=interface,
        eval_episodes=eval_episodes,
        checkpoint_every=checkpoint_every,
        env=env,
    )


@train_app.command("selfplay")
@friendly_errors
def selfplay_command(
    steps: Annotated[
        int, typer.Option(min=1, help="Env-step budget per seed, both roles counted.")
    ] = 4_000_000,
    seeds: SeedsOption = 1,
    seed: SeedOption = 0,
    config: Annotated[
        list[str] | None,
        typer.Option(
            "--config",
            "-c",
            help="PPOConfig override KEY=VALUE shared by both roles, repeatable.",
        ),
    ] = None,
    pool: Annotated[
        list[str] | None,
        typer.Option(
            "--pool",
            help="Self-play override KEY=VALUE, repeatable: pool_capacity, snapshot_every, "
            "latest_prob, updates_per_iteration, iterations_per_chunk.",
        ),
    ] = None,
    shaping: ShapingOption = 0.0,
    wall_shaping: WallShapingOption = 0.0,
    eval_episodes: EvalOption = 256,
    exploit_steps: Annotated[
        int,
        typer.Option(
            min=0,
            help="Env steps of the PPO best response trained against each final "
            "policy (0: skip the exploitability figures).",
        ),
    ] = 500_000,
    checkpoint_every: CheckpointOption = 10,
    out: OutOption = None,
    resume: ResumeOption = None,
    set_: SetOption = None,
    tensorboard: TensorboardOption = False,
    gif: GifOption = True,
    evaluate: EvaluateOption = True,
    quiet: QuietOption = False,
) -> None:
    """Both roles learn with PPO, each against a pool of the other's past snapshots
    (fictitious self-play); then scores vs every hand-written strategy and exploitability
    (the score a freshly trained PPO best response reaches against each final policy)."""
    from arenax.agents.ppo import PPOConfig
    from arenax.agents.selfplay import SelfPlayConfig
    from arenax.train_selfplay import SelfPlayRun, train_selfplay

    flags = {"quiet": quiet, "tensorboard": tensorboard, "gif": gif, "evaluate": evaluate}
    if resume is not None:
        train_selfplay(SelfPlayRun.read(resume), resume, resume=True, **flags)
        return
    allowed = (
        "pool_capacity",
        "snapshot_every",
        "latest_prob",
        "updates_per_iteration",
        "iterations_per_chunk",
    )
    pool_overrides = parse_typed_overrides(SelfPlayConfig(), pool, "self-play")
    for key in pool_overrides:
        if key not in allowed:
            raise ValueError(f"--pool {key} is not a pool setting; choose {', '.join(allowed)}")
    run = SelfPlayRun(
        steps=steps,
        seeds=seeds,
        seed=seed,
        game=parse_overrides(set_),
        ppo=parse_typed_overrides(PPOConfig(), config, "PPOConfig"),
        selfplay=pool_overrides,
        shaping=shaping,
        wall_shaping=wall_shaping,
        eval_episodes=eval_episodes,
        exploit_steps=exploit_steps,
        checkpoint_every=checkpoint_every,
    )
    run.config()  # validate before creating a run folder
    train_selfplay(run, new_run_dir(out), **flags)
