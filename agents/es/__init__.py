"""Evolution strategies (evosax) on PPO's actor networks: whole population, one batched rollout.

    from arenax.agents.es import ESConfig, make_es
    trainer = make_es(ESConfig(strategy="open_es"), env, env_params)  # a single-agent env
    state, metrics = jax.jit(trainer.train)(jax.random.PRNGKey(0))
    save_agent("runs/x/pursuer", trainer.export_agent(state), name="es", role="pursuer")

Modules, one idea each: `config` (`ESConfig`), `genome` (which network
parameters evolve), `strategies` (names -> evosax algorithms), `evaluate`
(population x episodes in one rollout), `train` (the learner and export).
Exports are PPO `ExportedAgent`s, so `save_agent`/`load_policy`/tournaments work.
"""

from arenax.agents.es.config import STRATEGIES, ESConfig
from arenax.agents.es.evaluate import PopulationEval, evaluate_population
from arenax.agents.es.train import ESState, ESTrainer, make_es

__all__ = [
    "STRATEGIES",
    "ESConfig",
    "ESState",
    "ESTrainer",
    "PopulationEval",
    "evaluate_population",
    "make_es",
]
