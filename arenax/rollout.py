"""Batched rollouts: any policies, N episodes, one `jit`, `vmap` over episodes.

Episodes run for a fixed number of steps with `lax.scan`; environments make a
finished state absorbing (zero reward), so early endings need no masking.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from arenax.envs.environment import Environment
from arenax.policy import Policy


@struct.dataclass
class RolloutResult:
    """Per-episode outcomes of a batched rollout.

    Attributes:
        returns: agent -> (N,) sum of that agent's rewards over the episode.
        final_state: the environment state at the end, leaves batched (N, ...).
        states: when recorded, the state before every step and after the last,
            leaves (N, T + 1, ...); otherwise None.
    """

    returns: dict[str, jax.Array]
    final_state: Any
    states: Any = None


def conform_action(action: jax.Array, space: Any) -> jax.Array:
    """Reshape/cast an action to its space (policies may return a scalar for a (1,) box)."""
    return jnp.reshape(jnp.asarray(action), space.shape).astype(space.dtype)


def play_episode(
    env: Environment,
    params: Any,
    acts: Mapping[str, Callable],
    memories: Mapping[str, Any],
    key: jax.Array,
    num_steps: int,
    record: bool,
) -> tuple[dict[str, jax.Array], Any, Any]:
    """One episode of `num_steps` steps with `acts[agent](obs, memory, key)`.

    Returns `(returns, final_state, states)` with `states` (T + 1, ...) or None.
    """
    agents = env.agents
    action_space = env.action_space(params)
    k_reset, k_loop = jax.random.split(key)
    obs, state = env.reset(k_reset, params)
    returns = {a: jnp.zeros((), jnp.float32) for a in agents}

    def body(carry, step_key):
        obs, state, memories, returns = carry
        keys = jax.random.split(step_key, len(agents) + 1)
        actions, next_memories = {}, {}
        for agent, agent_key in zip(agents, keys[:-1], strict=True):
            action, next_memories[agent] = acts[agent](obs[agent], memories[agent], agent_key)
            actions[agent] = conform_action(action, action_space[agent])
        obs, next_state, rewards, _, _ = env.step(keys[-1], state, actions, params)
        returns = {a: returns[a] + rewards[a] for a in agents}
        return (obs, next_state, next_memories, returns), (state if record else None)

    carry = (obs, state, dict(memories), returns)
    (_, final_state, _, returns), states = jax.lax.scan(
        body, carry, jax.random.split(k_loop, num_steps)
    )
    if record:
        states = jax.tree_util.tree_map(
            lambda seq, last: jnp.concatenate([seq, last[None]], 0), states, final_state
        )
    return returns, final_state, states


def init_memories(policies: Mapping[str, Policy], key: jax.Array) -> dict[str, Any]:
    """Each policy's `init` with its own key."""
    keys = jax.random.split(key, len(policies))
    return {agent: p.init(k) for (agent, p), k in zip(policies.items(), keys, strict=True)}


@lru_cache(maxsize=256)
def _compiled_rollout(
    env: Environment, policies: tuple[tuple[str, Policy], ...], num_steps: int, record: bool
) -> Callable:
    policy_map = dict(policies)
    acts = {agent: p.act for agent, p in policies}

    def episode(key: jax.Array, params: Any):
        k_mem, k_play = jax.random.split(key)
        memories = init_memories(policy_map, k_mem)
        return play_episode(env, params, acts, memories, k_play, num_steps, record)

    def batch(keys: jax.Array, params: Any) -> RolloutResult:
        returns, final_state, states = jax.vmap(episode, in_axes=(0, None))(keys, params)
        return RolloutResult(returns=returns, final_state=final_state, states=states)

    return jax.jit(batch)


def rollout(
    env: Environment,
    params: Any,
    policies: Mapping[str, Policy],
    key: jax.Array,
    num_episodes: int,
    num_steps: int | None = None,
    record: bool = False,
) -> RolloutResult:
    """Play `num_episodes` episodes of `policies` (agent name -> Policy) in one jit.

    Args:
        num_steps: scan length; defaults to `params.horizon`.
        record: also return every state (memory grows with N * T).

    The compiled function is cached per (env, policies, num_steps, record), so
    repeated calls with new keys or params of the same shapes do not recompile.
    """
    missing = set(env.agents) - set(policies)
    if missing:
        raise ValueError(f"rollout: no policy for agent(s) {', '.join(sorted(missing))}")
    if num_episodes < 1:
        raise ValueError(f"rollout: num_episodes must be >= 1, got {num_episodes}")
    steps = int(params.horizon) if num_steps is None else int(num_steps)
    ordered = tuple((agent, policies[agent]) for agent in env.agents)
    fn = _compiled_rollout(env, ordered, steps, record)
    return fn(jax.random.split(key, num_episodes), params)
