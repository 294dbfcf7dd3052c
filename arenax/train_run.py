"""`arenax train ppo|es`: one Car Tag role against a fixed opponent, K seeds, into a run folder.

Run folder::

    run.json              what was asked (replayed by --resume)
    metrics.jsonl         one row per PPO update (ES generation) and seed
    checkpoints/<n>       orbax checkpoints of the whole (seed-batched) train state
    agents/seed_<k>/      exported policies (load with `arenax.agents.ppo.load_policy`,
                          or pass the folder as another run's --opponent)
    evaluation.json       scores vs the opponent and every hand-written strategy
    learning_curve.png    the true game score during training, per seed
    <policy>_vs_<opponent>.png / .gif   a representative match of the best seed
    tensorboard/          with --tensorboard
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import numpy as np
from rich.console import Console

from arenax.car_tag_training import (
    evaluate_against,
    learner_env,
    other_role,
    plot_score_curve,
    resolve_policy,
)
from arenax.envs.interfaces import get_interface
from arenax.metrics_log import MetricsLog
from arenax.param_anneal import ParamAnneal
from arenax.runs import write_json
from arenax.training_loop import ChunkPlan, SeedBatch, run_chunks

RUN_FILE = "run.json"


LEARNERS = ("ppo", "es")


@dataclass(frozen=True)
class TrainRun:
    """What `arenax train ppo|es` was asked to do (stored as `run.json`).

    Attributes:
        learner: "ppo" or "es".
        role: the learner's role, "pursuer" or "evader".
        opponent: a hand-written strategy name or a saved agent folder.
        steps: env-step budget per seed (ES: generations = steps / steps per generation).
        seeds: K seeds trained side by side in one vmapped program.
        seed: master PRNG seed.
        game: Car Tag parameter overrides.
        config: `PPOConfig` (ppo) or `ESConfig` (es) field overrides.
        shaping: weight of the distance shaping reward (0: the game's reward only).
        shaping_gamma: discount of the shaping bonus (see `learner_env`): PPO's gamma
            for the policy-invariant form, 1 for a bonus that also rewards the
            pursuer's closeness (the evader's distance) every step.
        wall_shaping: weight of the evader's wall-clearance shortfall in the shaping
            potential (`car_tag_distance_potential`'s `wall_weight`; 0: distance only).
        anneal: a curriculum (PPO only): game parameter -> its value at the start of
            training, moving linearly to the game's value (`game` or the default)
            over the first `anneal_fraction` of the steps (`arenax.param_anneal`).
        anneal_fraction: share of the steps over which `anneal` runs.
        eval_episodes: episodes per evaluation match.
        checkpoint_every: chunks between checkpoints.
        env: the environment ("car_tag").
        interface: the learner interface (`arenax.envs.interfaces`): "flat", or
            "car_tag_evader_car_frame" for the evader.
    """

    learner: str = "ppo"
    role: str = "pursuer"
    opponent: str = "straight_flee"
    steps: int = 1_000_000
    seeds: int = 1
    seed: int = 0
    game: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    shaping: float = 0.0
    shaping_gamma: float = 1.0
    wall_shaping: float = 0.0
    anneal: dict[str, float] = field(default_factory=dict)
    anneal_fraction: float = 0.5
    eval_episodes: int = 256
    checkpoint_every: int = 10
    env: str = "car_tag"
    interface: str = "flat"

    def __post_init__(self) -> None:
        if self.learner not in LEARNERS:
            raise ValueError(f"unknown learner {self.learner!r}; choose {', '.join(LEARNERS)}")
        if self.env != "car_tag":
            raise ValueError(f"train {self.learner} supports --env car_tag only (got {self.env!r})")
        other_role(self.role)
        get_interface(self.interface).check_role(self.role)
        if not 0.0 < self.shaping_gamma <= 1.0:
            raise ValueError(f"--shaping-gamma must be in (0, 1], got {self.shaping_gamma}")
        if self.wall_shaping < 0.0:
            raise ValueError(f"--wall-shaping must be >= 0, got {self.wall_shaping}")
        if self.anneal and self.learner != "ppo":
            raise ValueError("--anneal needs a learner that keeps its env params in its state: ppo")
        self.curriculum()
        for name in ("steps", "seeds", "eval_episodes", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1")

    def curriculum(self) -> ParamAnneal:
        return ParamAnneal(self.anneal, self.anneal_fraction)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def read(cls, run_dir: Path) -> TrainRun:
        path = Path(run_dir) / RUN_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{run_dir} is not a train run folder (no {RUN_FILE})")
        data = json.loads(path.read_text())
        if data.get("learner") not in LEARNERS:
            raise ValueError(f"{run_dir} is not a PPO or ES run")
        return cls(**data)


def train(
    run: TrainRun,
    out: Path,
    resume: bool = False,
    quiet: bool = False,
    tensorboard: bool = False,
    gif: bool = True,
    evaluate: bool = True,
    max_chunks: int | None = None,
    compiler_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train, export, evaluate and draw; returns the evaluation dict.

    `resume` continues `out` from its latest checkpoint (bit-identical to an
    uninterrupted run). `evaluate=False` skips the evaluation tournament, the plots
    and the render (the agents are still exported). `max_chunks` stops after that
    many chunks (the run can then be resumed): a time box for long jobs.
    """
    from arenax.agents.ppo import CheckpointManager, save_agent, to_policy
    from arenax.envs import make
    from arenax.learner_setup import setup_learner

    console = Console(quiet=quiet)
    env, params = make(run.env, **run.game)
    anneal = run.curriculum()
    anneal.check(params)
    opponent = resolve_policy(other_role(run.role), run.opponent)
    view = learner_env(
        env, run.role, opponent, run.shaping, run.interface, run.shaping_gamma, run.wall_shaping
    )
    setup = setup_learner(run.learner, run.config, run.steps, view, params, compiler_options)
    learner = SeedBatch(setup.trainer, run.seeds)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / RUN_FILE, run.to_dict())
    key = jax.random.PRNGKey(run.seed)
    metrics_file = out / "metrics.jsonl"
    log = MetricsLog(metrics_file, setup.index_key, out / "tensorboard" if tensorboard else None)
    with CheckpointManager(out / "checkpoints") as checkpoints:
        start = checkpoints.latest_step() if resume else None
        if start is None:
            metrics_file.unlink(missing_ok=True)
            state, start = learner.init(key), 0
        else:
            state = checkpoints.restore(learner.abstract_state(key))
            log.truncate(start)
            console.print(f"resuming {out} from {setup.index_key} {start}")
        plan = ChunkPlan(
            total=setup.total,
            per_chunk=setup.per_chunk,
            steps_per_iteration=setup.steps_per_iteration,
            index_key=setup.index_key,
            checkpoint_every=run.checkpoint_every,
            show=setup.show,
        )
        end = (
            setup.total
            if max_chunks is None
            else min(setup.total, start + max_chunks * setup.per_chunk)
        )
        state = run_chunks(
            learner,
            state,
            dataclasses.replace(plan, total=end),
            log,
            checkpoints,
            start,
            run.seeds,
            quiet,
            before_chunk=(
                (lambda state, done: anneal.apply(state, params, done / setup.total))
                if anneal
                else None
            ),
        )
    log.close()
    if end < setup.total:
        console.print(f"stopped at {setup.index_key} {end} of {setup.total}; --resume to go on")
        return {}

    policies = []
    for k in range(run.seeds):
        name = f"{run.learner}_seed{k}"
        agent = setup.export(state, k)
        save_agent(out / "agents" / f"seed_{k}", agent, name=name, role=run.role)
        policies.append(to_policy(agent, name=name, role=run.role))
    if not evaluate:
        return {}
    return finish_run(env, params, run.role, policies, opponent, out, run, gif, console)


def finish_run(
    env: Any,
    params: Any,
    role: str,
    policies: list,
    opponent: Any,
    out: Path,
    run: Any,
    gif: bool,
    console: Console,
    prefix: str = "",
) -> dict[str, Any]:
    """Evaluation, learning curve and a match render for trained `policies` of `role`."""
    from arenax.reporting import score_table
    from arenax.showcase import render_match

    key = jax.random.PRNGKey(run.seed + 1)
    result = evaluate_against(env, params, role, policies, opponent, key, run.eval_episodes)
    evaluation = result.to_dict()
    write_json(out / "evaluation.json", evaluation)
    title = f"{role} vs {run.opponent}"
    plot_score_curve(out / "metrics.jsonl", role, out / "learning_curve.png", title, prefix)
    if gif and opponent is not None:
        column = list(result.col_names).index(opponent.name)
        best = policies[int(np.argmax(result.mean[:, column]))]
        pursuer, evader = (best, opponent) if role == "pursuer" else (opponent, best)
        render_match(env, params, pursuer, evader, key, out)
    console.print(score_table(result, title=f"trained {role}s (rows): {role} score ±95% CI"))
    console.print(f"run folder: {out}")
    return evaluation
