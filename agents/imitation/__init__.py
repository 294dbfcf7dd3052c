"""Imitation learners: demonstrations from privileged experts, behaviour cloning, DAgger
and BC+RL (PPO with a behaviour-cloning term)."""

from arenax.agents.imitation.bc import BCConfig, BCResult, evaluate_policy, train_bc
from arenax.agents.imitation.bc_rl import make_bc_rl
from arenax.agents.imitation.dagger import DAggerConfig, train_dagger
from arenax.agents.imitation.demonstrations import (
    Demonstrations,
    collect_demonstrations,
    load_demonstrations,
    save_demonstrations,
)

__all__ = [
    "BCConfig",
    "BCResult",
    "DAggerConfig",
    "Demonstrations",
    "collect_demonstrations",
    "evaluate_policy",
    "load_demonstrations",
    "make_bc_rl",
    "save_demonstrations",
    "train_bc",
    "train_dagger",
]
