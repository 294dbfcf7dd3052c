"""Build a PPO or ES learner from CLI-style overrides, with what the host loop needs to know."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LearnerSetup:
    """A learner ready for `arenax.training_loop.run_chunks`.

    Attributes:
        trainer: the PPO or ES trainer (`init_pure`, `run_updates`, `compiler_options`).
        total: iterations of the whole run (PPO updates or ES generations).
        per_chunk: iterations per jitted chunk.
        steps_per_iteration: env steps one iteration consumes (ES: including steps
            masked after an episode ended, i.e. the compute spent).
        index_key: the metrics' iteration counter ("update" or "generation").
        show: progress-bar fields, label -> metric.
        export: `export(state, k)` -> the `ExportedAgent` of seed k.
    """

    trainer: Any
    total: int
    per_chunk: int
    steps_per_iteration: int
    index_key: str
    show: dict[str, str]
    export: Callable[[Any, int], Any]


def setup_learner(
    learner: str,
    overrides: dict[str, Any],
    steps: int,
    env: Any,
    params: Any,
    compiler_options: dict[str, Any] | None = None,
) -> LearnerSetup:
    """`learner` ("ppo" or "es") on single-agent `env`, with `steps` env steps per seed.

    Raises:
        ValueError: unknown learner or invalid config overrides (named).
    """
    if learner == "ppo":
        from arenax.agents.ppo import PPOConfig, make_train
        from arenax.agents.ppo.export import export_agent

        config = PPOConfig(**{**overrides, "total_timesteps": int(steps)})
        trainer = make_train(config, env, params, compiler_options)
        return LearnerSetup(
            trainer=trainer,
            total=config.num_updates,
            per_chunk=config.updates_per_chunk,
            steps_per_iteration=config.batch_size,
            index_key="update",
            show={"return": "episode_return", "capture": "info/captured"},
            export=lambda state, k: export_agent(trainer, state, index=k),
        )
    if learner == "es":
        from arenax.agents.es import make_es

        config = es_config(overrides)
        horizon = int(config.num_steps or params.horizon)
        per_generation = config.population_size * config.episodes_per_member * horizon
        config = config.replace(num_generations=max(1, int(steps) // per_generation))
        trainer = make_es(config, env, params, compiler_options)
        return LearnerSetup(
            trainer=trainer,
            total=config.num_generations,
            per_chunk=config.generations_per_chunk,
            steps_per_iteration=per_generation,
            index_key="generation",
            show={"fitness": "fitness_mean", "centre capture": "center/info/captured"},
            export=lambda state, k: trainer.export_agent(state, "center", index=k),
        )
    raise ValueError(f"unknown learner {learner!r}; choose ppo or es")


def es_config(overrides: dict[str, Any]) -> Any:
    """`ESConfig` from flat overrides; `network.<field>` keys set the policy network's
    `PPOConfig` fields (e.g. `network.hidden_sizes`)."""
    from arenax.agents.es import ESConfig
    from arenax.agents.ppo import PPOConfig

    network = {k.split(".", 1)[1]: v for k, v in overrides.items() if k.startswith("network.")}
    own = {k: v for k, v in overrides.items() if not k.startswith("network.")}
    return ESConfig(**own, network=PPOConfig(**network))
