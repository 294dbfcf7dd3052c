"""Imitation learners: demonstrations from privileged experts and behaviour cloning
(further learners of the imitation-gap issue build on these)."""

from arenax.agents.imitation.bc import BCConfig, BCResult, evaluate_policy, train_bc
from arenax.agents.imitation.demonstrations import (
    Demonstrations,
    collect_demonstrations,
    load_demonstrations,
    save_demonstrations,
)

__all__ = [
    "BCConfig",
    "BCResult",
    "Demonstrations",
    "collect_demonstrations",
    "evaluate_policy",
    "load_demonstrations",
    "save_demonstrations",
    "train_bc",
]
