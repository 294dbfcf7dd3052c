"""PPO (PureJaxRL style): config, networks, distributions, GAE, losses, training, export.

    from arenax.agents.ppo import PPOConfig, make_train, export_policy
    trainer = make_train(PPOConfig(), env, env_params)     # env: a single-agent env
    state, metrics = jax.jit(trainer.train)(jax.random.PRNGKey(0))
    policy = export_policy(trainer, state, name="ppo")       # plays in rollout/tournament

Modules, one idea each: `config` (static settings vs dynamic hyper-parameters),
`distributions`, `action_spec` (action space <-> distribution), `networks`,
`normalization`, `gae`, `losses`, `rollout` (collecting transitions), `update`
(epochs x minibatches), `train` (the learner), `checkpoint` (orbax), `export`
(Policy + save/load).
"""

from arenax.agents.ppo.action_spec import ActionSpec
from arenax.agents.ppo.checkpoint import (
    CheckpointManager,
    load_checkpoint_config,
    restore_checkpoint,
    save_checkpoint,
)
from arenax.agents.ppo.config import PPOConfig, PPOHyperparams
from arenax.agents.ppo.export import (
    ExportedAgent,
    export_agent,
    export_policy,
    load_agent,
    load_policy,
    save_agent,
    to_policy,
)
from arenax.agents.ppo.train import PPOTrainer, TrainState, make_train

__all__ = [
    "ActionSpec",
    "CheckpointManager",
    "ExportedAgent",
    "PPOConfig",
    "PPOHyperparams",
    "PPOTrainer",
    "TrainState",
    "export_agent",
    "export_policy",
    "load_agent",
    "load_checkpoint_config",
    "load_policy",
    "make_train",
    "restore_checkpoint",
    "save_agent",
    "save_checkpoint",
    "to_policy",
]
