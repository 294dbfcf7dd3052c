"""arenax.envs: vectorised JAX environments (pure functions over pytrees)."""

from arenax.envs.environment import Environment
from arenax.envs.registry import make, register, registered
from arenax.envs.wrappers import AutoReset

__all__ = ["AutoReset", "Environment", "make", "register", "registered"]
