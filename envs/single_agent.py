"""Single-agent views: one role of a multi-agent game against a fixed opponent policy.

Learners see a gymnax-style single-agent environment whose observation is a
flat float32 vector::

    obs, state = view.reset(key, params)                       # obs (D,)
    obs, state, reward, done, info = view.step(key, state, action, params)

The opponent is any policy in the shared protocol (hand-written, trained or
generated); its memory lives in the view's state, so the view stays pure and
`jit`/`vmap`/`scan` compose.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from arenax.envs.environment import Environment, supports_observe
from arenax.envs.interfaces import Interface, flatten_observation, get_interface
from arenax.policy import Policy


@struct.dataclass
class SingleAgentState:
    """Attributes:
    env_state: the wrapped game's state.
    opponent_obs: the opponent's current observation, or None when the env recomputes
        it from `env_state` (`Environment.observe`). Carried in a vmapped scan, an
        observation's constant fields (speeds, dt, ...) become per-env arrays, and
        XLA's CPU code for a planning opponent (Car Tag's look-ahead strategies)
        then runs 2.5-4.4x slower than with the params' scalars
        (`benchmarks/train_cartag.py` measures both).
    opponent_memory: the opponent policy's memory pytree.
    """

    env_state: Any
    opponent_obs: Any
    opponent_memory: Any


class SingleAgentView:
    """Play `role` of `env` against `opponent`.

    Args:
        env: a two-player arenax environment.
        role: the learner's agent name (e.g. "pursuer").
        opponent: the fixed policy controlling the other agent.
        interface: how the learner's network reads observations and acts (an
            `arenax.envs.interfaces` name or `Interface`; default `flat`). One that
            maps actions through the observation needs an env with `observe`.
    """

    def __init__(
        self,
        env: Environment,
        role: str,
        opponent: Policy,
        interface: str | Interface = "flat",
    ):
        if role not in env.agents:
            raise ValueError(f"unknown role {role!r}; {env.name} has {', '.join(env.agents)}")
        others = [a for a in env.agents if a != role]
        if len(others) != 1:
            raise ValueError(
                f"SingleAgentView needs a two-player game, {env.name} has {env.agents}"
            )
        self.env = env
        self.role = role
        self.agents = (role,)
        self.opponent_role = others[0]
        self.opponent = opponent
        self.name = f"{env.name}:{role}"
        self.recomputes_opponent_obs = supports_observe(env)
        self.interface = get_interface(interface)
        self.interface.check_role(role)
        if self.interface.uses_observation_for_action and not self.recomputes_opponent_obs:
            raise ValueError(
                f"interface {self.interface.name!r} maps actions through the observation, "
                f"which needs {env.name} to implement observe(state, params)"
            )

    @property
    def default_params(self) -> Any:
        return self.env.default_params

    def action_space(self, params: Any) -> Any:
        return self.env.action_space(params)[self.role]

    def observation_size(self, params: Any) -> int:
        obs, _ = jax.eval_shape(self.reset, jax.random.PRNGKey(0), params)
        return int(obs.shape[-1])

    def reset(self, key: jax.Array, params: Any) -> tuple[jax.Array, SingleAgentState]:
        k_env, k_mem = jax.random.split(key)
        obs, env_state = self.env.reset(k_env, params)
        state = SingleAgentState(
            env_state=env_state,
            opponent_obs=None if self.recomputes_opponent_obs else obs[self.opponent_role],
            opponent_memory=self.opponent.init(k_mem),
        )
        return self.interface.features(obs[self.role]), state

    def step(
        self, key: jax.Array, state: SingleAgentState, action: jax.Array, params: Any
    ) -> tuple[jax.Array, SingleAgentState, jax.Array, jax.Array, dict[str, Any]]:
        k_opp, k_env = jax.random.split(key)
        spaces = self.env.action_space(params)
        observed = (
            self.env.observe(state.env_state, params) if self.recomputes_opponent_obs else None
        )
        opponent_obs = state.opponent_obs if observed is None else observed[self.opponent_role]
        opp_action, opp_memory = self.opponent.act(opponent_obs, state.opponent_memory, k_opp)
        if self.interface.uses_observation_for_action:  # `observed` exists: checked in __init__
            action = self.interface.to_env_action(action, observed[self.role])
        actions = {
            self.role: jnp.reshape(action, spaces[self.role].shape).astype(jnp.float32),
            self.opponent_role: jnp.reshape(opp_action, spaces[self.opponent_role].shape).astype(
                jnp.float32
            ),
        }
        obs, env_state, rewards, done, info = self.env.step(k_env, state.env_state, actions, params)
        next_state = SingleAgentState(
            env_state=env_state,
            opponent_obs=None if self.recomputes_opponent_obs else obs[self.opponent_role],
            opponent_memory=opp_memory,
        )
        features = self.interface.features(obs[self.role])
        return features, next_state, rewards[self.role], done, info

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self), self.role))


class SoloView:
    """The single-agent view of a one-agent arenax environment (e.g. the gap
    environments): observations, actions and rewards without the agent-name dicts."""

    def __init__(self, env: Environment):
        if len(env.agents) != 1:
            raise ValueError(f"SoloView needs a one-agent environment, {env.name} has {env.agents}")
        self.env = env
        self.agent = env.agents[0]
        self.agents = env.agents
        self.name = env.name

    @property
    def default_params(self) -> Any:
        return self.env.default_params

    def action_space(self, params: Any) -> Any:
        return self.env.action_space(params)[self.agent]

    def reset(self, key: jax.Array, params: Any) -> tuple[jax.Array, Any]:
        obs, state = self.env.reset(key, params)
        return flatten_observation(obs[self.agent]), state

    def step(self, key: jax.Array, state: Any, action: jax.Array, params: Any):
        obs, state, rewards, done, info = self.env.step(key, state, {self.agent: action}, params)
        return flatten_observation(obs[self.agent]), state, rewards[self.agent], done, info

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.env == other.env

    def __hash__(self) -> int:
        return hash((type(self), type(self.env)))
