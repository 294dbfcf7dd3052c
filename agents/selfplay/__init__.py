"""Self-play PPO for two-player games with a fictitious-self-play opponent pool.

    from arenax.agents.selfplay import SelfPlayConfig, make_selfplay
    trainer = make_selfplay(SelfPlayConfig(total_timesteps=2_000_000), env, game_params)
    state = trainer.init(jax.random.PRNGKey(0))
    state, metrics = trainer.train_chunk(state)       # metrics "pursuer/...", "evader/..."
    agents = trainer.export(state)                    # role -> ExportedAgent
    policy = to_policy(agents["pursuer"], role="pursuer")

Both roles learn with PPO; each trains against opponents drawn per episode from a
pool of the other role's past snapshots, so training does not chase a cycle.

Modules, one idea each: `pool` (`OpponentPool`, stacked snapshots), `view`
(`PoolView`, one role against pool snapshots), `config` (`SelfPlayConfig`), `train`
(the learner, export) and `exploitability` (best-response and hand-written-strategy
scores).
"""

from arenax.agents.selfplay.config import SelfPlayConfig
from arenax.agents.selfplay.exploitability import (
    BestResponseResult,
    StrategyScores,
    best_response_score,
    score_vs_strategies,
)
from arenax.agents.selfplay.pool import OpponentPool
from arenax.agents.selfplay.train import SelfPlayState, SelfPlayTrainer, make_selfplay
from arenax.agents.selfplay.view import PoolView, PoolViewParams, PoolViewState

__all__ = [
    "BestResponseResult",
    "OpponentPool",
    "PoolView",
    "PoolViewParams",
    "PoolViewState",
    "SelfPlayConfig",
    "SelfPlayState",
    "SelfPlayTrainer",
    "StrategyScores",
    "best_response_score",
    "make_selfplay",
    "score_vs_strategies",
]
