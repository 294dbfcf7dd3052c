"""Environment wrappers."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from arenax.envs.environment import Actions, Environment, Info, Obs, Rewards


class Wrapper(Environment):
    """Delegates everything to the wrapped env; subclasses override what they change.

    `observe` is not delegated (it stays `Environment`'s unimplemented one), since a
    wrapper may change what an observation is; one that does not can forward it.
    """

    def __init__(self, env: Environment):
        self.env = env
        self.name = env.name
        self.agents = getattr(env, "agents", ())

    def __getattr__(self, name: str) -> Any:
        # Anything else (observation_size, role, ...) comes from the wrapped env.
        if name == "env":
            raise AttributeError(name)
        return getattr(self.env, name)

    @property
    def default_params(self) -> Any:
        return self.env.default_params

    def reset(self, key: jax.Array, params: Any) -> tuple[Obs, Any]:
        return self.env.reset(key, params)

    def step(
        self, key: jax.Array, state: Any, actions: Actions, params: Any
    ) -> tuple[Obs, Any, Rewards, jax.Array, Info]:
        return self.env.step(key, state, actions, params)

    def observation_space(self, params: Any) -> dict[str, Any]:
        return self.env.observation_space(params)

    def action_space(self, params: Any) -> dict[str, Any]:
        return self.env.action_space(params)


class AutoReset(Wrapper):
    """Resets finished episodes inside `step`, for endless vectorised rollouts.

    Works for multi-agent environments and for single-agent views alike (any
    `reset(key, params)` / `step(key, state, action, params)` pair).

    On the step that ends an episode, `done` is True and the returned `obs` and
    state are those of a fresh episode; the finished episode's final
    observation is kept in `info["terminal_obs"]`.
    """

    def step(
        self, key: jax.Array, state: Any, actions: Actions, params: Any
    ) -> tuple[Obs, Any, Rewards, jax.Array, Info]:
        key_step, key_reset = jax.random.split(key)
        obs, next_state, rewards, done, info = self.env.step(key_step, state, actions, params)
        reset_obs, reset_state = self.env.reset(key_reset, params)
        pick = lambda fresh, old: jnp.where(done, fresh, old)
        info = dict(info, terminal_obs=obs)
        next_state = jax.tree_util.tree_map(pick, reset_state, next_state)
        obs = jax.tree_util.tree_map(pick, reset_obs, obs)
        return obs, next_state, rewards, done, info


class WithoutObserve(Wrapper):
    """`env` with `observe` hidden: single-agent views then carry the opponent's
    observation in their state (the reference path for benchmarks and tests)."""
