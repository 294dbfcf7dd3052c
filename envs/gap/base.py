"""What the one-agent gap environments share: the finished-episode no-op and the
step's return value, with the expert's action at the new state in `info` (for DAgger)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from arenax.envs.environment import Environment


class GapEnvironment(Environment):
    """Subclasses define `observe(state, params)`, `expert_action(state, params)`,
    `optimal_action(obs, params)` and a state with a `done` flag."""

    agents = ("agent",)

    def finish_step(self, state: Any, stepped: Any, reward: jax.Array, params: Any):
        """`(obs, state, rewards, done, info)` for the step from `state` to `stepped`;
        stepping a finished episode changes nothing and pays nothing."""
        new_state = jax.tree_util.tree_map(
            lambda old, new: jnp.where(state.done, old, new), state, stepped
        )
        reward = jnp.where(state.done, 0.0, reward)
        info = {"expert_action": self.expert_action(new_state, params)}
        obs = {"agent": self.observe(new_state, params)}
        return obs, new_state, {"agent": reward}, new_state.done, info
