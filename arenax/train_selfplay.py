"""`arenax train selfplay`: both Car Tag roles learn with PPO against opponent pools.

Run folder::

    run.json, metrics.jsonl ("iteration" rows; "pursuer/..." and "evader/..." metrics),
    checkpoints/<iteration>, tensorboard/ (optional)
    agents/seed_<k>/pursuer, agents/seed_<k>/evader      exported final policies
    evaluation.json        each role's policies vs every hand-written strategy
    exploitability.json    each final policy vs a PPO best response trained against it
    learning_curve_<role>.png, <pursuer>_vs_<evader>.png / .gif
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
from rich.console import Console
from rich.table import Table

from arenax.car_tag_training import evaluate_against, other_role, plot_score_curve
from arenax.metrics_log import MetricsLog
from arenax.runs import write_json
from arenax.training_loop import ChunkPlan, SeedBatch, run_chunks

RUN_FILE = "run.json"
ROLES = ("pursuer", "evader")


@dataclass(frozen=True)
class SelfPlayRun:
    """What `arenax train selfplay` was asked to do (stored as `run.json`).

    Attributes:
        steps: env-step budget per seed, both roles counted.
        seeds: K seeds side by side in one vmapped program.
        seed: master PRNG seed.
        game: Car Tag parameter overrides.
        ppo: `PPOConfig` overrides shared by both roles.
        selfplay: `SelfPlayConfig` overrides (pool_capacity, snapshot_every,
            latest_prob, updates_per_iteration, iterations_per_chunk).
        shaping: distance-shaping weight for both learners, and for the best
            responses of the exploitability figures.
        wall_shaping: weight of the evader's wall-clearance shortfall in its
            shaping potential (self-play and the evader best responses).
        eval_episodes: episodes per evaluation match.
        exploit_steps: env-step budget of each best response (0: skip exploitability).
        checkpoint_every: chunks between checkpoints.
    """

    steps: int = 4_000_000
    seeds: int = 1
    seed: int = 0
    game: dict[str, Any] = field(default_factory=dict)
    ppo: dict[str, Any] = field(default_factory=dict)
    selfplay: dict[str, Any] = field(default_factory=dict)
    shaping: float = 0.0
    wall_shaping: float = 0.0
    eval_episodes: int = 256
    exploit_steps: int = 500_000
    checkpoint_every: int = 10

    def __post_init__(self) -> None:
        for name in ("steps", "seeds", "eval_episodes", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1")
        if self.exploit_steps < 0:
            raise ValueError("--exploit-steps must be >= 0")

    def config(self) -> Any:
        from arenax.agents.ppo import PPOConfig
        from arenax.agents.selfplay import SelfPlayConfig

        return SelfPlayConfig(
            ppo=PPOConfig(**self.ppo),
            total_timesteps=int(self.steps),
            shaping=float(self.shaping),
            wall_shaping=float(self.wall_shaping),
            **self.selfplay,
        )

    @classmethod
    def read(cls, run_dir: Path) -> SelfPlayRun:
        path = Path(run_dir) / RUN_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{run_dir} is not a train run folder (no {RUN_FILE})")
        data = json.loads(path.read_text())
        if data.pop("learner", None) != "selfplay":
            raise ValueError(f"{run_dir} is not a self-play run")
        return cls(**data)


def train_selfplay(
    run: SelfPlayRun,
    out: Path,
    resume: bool = False,
    quiet: bool = False,
    tensorboard: bool = False,
    gif: bool = True,
    evaluate: bool = True,
    max_chunks: int | None = None,
    compiler_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train both roles, export, evaluate against the hand-written strategies, measure
    exploitability, draw. Returns `{"evaluation": ..., "exploitability": ...}`."""
    from arenax.agents.ppo import CheckpointManager, save_agent, to_policy
    from arenax.agents.selfplay import make_selfplay
    from arenax.envs import make

    console = Console(quiet=quiet)
    env, params = make("car_tag", **run.game)
    config = run.config()
    trainer = make_selfplay(config, env, params, compiler_options)
    learner = SeedBatch(trainer, run.seeds)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / RUN_FILE, {"learner": "selfplay", **dataclasses.asdict(run)})
    key = jax.random.PRNGKey(run.seed)
    metrics_file = out / "metrics.jsonl"
    log = MetricsLog(metrics_file, "iteration", out / "tensorboard" if tensorboard else None)
    with CheckpointManager(out / "checkpoints") as checkpoints:
        start = checkpoints.latest_step() if resume else None
        if start is None:
            metrics_file.unlink(missing_ok=True)
            state, start = learner.init(key), 0
        else:
            state = checkpoints.restore(learner.abstract_state(key))
            log.truncate(start)
            console.print(f"resuming {out} from iteration {start}")
        total = trainer.num_iterations
        end = (
            total
            if max_chunks is None
            else min(total, start + max_chunks * config.iterations_per_chunk)
        )
        plan = ChunkPlan(
            total=end,
            per_chunk=config.iterations_per_chunk,
            steps_per_iteration=trainer.steps_per_iteration,
            index_key="iteration",
            checkpoint_every=run.checkpoint_every,
            show={"capture": "pursuer/info/captured", "evader score": "evader/info/evader_score"},
        )
        state = run_chunks(learner, state, plan, log, checkpoints, start, run.seeds, quiet)
    log.close()
    if end < total:
        console.print(f"stopped at iteration {end} of {total}; --resume to go on")
        return {}

    policies: dict[str, list] = {role: [] for role in ROLES}
    for k in range(run.seeds):
        for role, agent in trainer.export(state, index=k).items():
            name = f"selfplay_{role}_seed{k}"
            save_agent(out / "agents" / f"seed_{k}" / role, agent, name=name, role=role)
            policies[role].append(to_policy(agent, name=name, role=role))
    if not evaluate:
        return {}
    return _report(env, params, run, policies, out, gif, console)


def _report(env, params, run, policies, out, gif, console) -> dict[str, Any]:
    from arenax.agents.ppo import PPOConfig
    from arenax.agents.selfplay import best_response_score
    from arenax.reporting import score_table
    from arenax.showcase import render_match

    key = jax.random.PRNGKey(run.seed + 1)
    evaluation = {}
    for role in ROLES:
        result = evaluate_against(env, params, role, policies[role], None, key, run.eval_episodes)
        evaluation[role] = result.to_dict()
        console.print(
            score_table(result, title=f"self-play {role}s vs hand-written {other_role(role)}s")
        )
        plot_score_curve(
            out / "metrics.jsonl",
            role,
            out / f"learning_curve_{role}.png",
            f"self-play {role} (training episodes vs the pool)",
            prefix=f"{role}/",
        )
    write_json(out / "evaluation.json", evaluation)
    exploitability = []
    if run.exploit_steps > 0:
        response_config = PPOConfig(**{**run.ppo, "total_timesteps": int(run.exploit_steps)})
        for role in ROLES:
            for k, policy in enumerate(policies[role]):
                found = best_response_score(
                    env,
                    params,
                    role,
                    policy,
                    response_config,
                    jax.random.fold_in(key, 7 + k),
                    run.eval_episodes,
                    shaping=run.shaping,
                    wall_shaping=run.wall_shaping,
                )
                exploitability.append({"seed": k, **found.to_dict()})
        write_json(out / "exploitability.json", exploitability)
        table = Table(title=f"exploitability: PPO best response ({run.exploit_steps:,} steps)")
        for column in ("target", "best response", "its score", "target's score"):
            table.add_column(column)
        for row in exploitability:
            table.add_row(
                f"{row['target_name']} ({row['target_role']})",
                row["role"],
                f"{row['score']:.2f} ±{row['ci95']:.2f}",
                f"{row['target_score']:.2f}",
            )
        console.print(table)
    if gif:
        render_match(env, params, policies["pursuer"][0], policies["evader"][0], key, out)
    console.print(f"run folder: {out}")
    return {"evaluation": evaluation, "exploitability": exploitability}
