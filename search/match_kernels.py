"""The jitted pieces of a host-driven match: one candidate against O opponents.

`arenax.tournament` compiles a candidate together with all its opponents
(a `lax.switch` over them inside one `lax.scan`), so every new candidate
recompiles every opponent and the game. Here the time loop runs in Python
instead, and each step is O + 2 calls of separately compiled functions:

- `policy_functions` of each opponent: its `init` and `act` vmapped over the
  N episodes of its match. They depend on the opponent alone, so they are
  compiled once and reused for every candidate;
- `policy_functions` of the candidate: the same, vmapped over all O * N
  episodes at once; the only code compiled per candidate;
- `match_hub`: the game itself. It applies everybody's actions, steps the
  environment, adds rewards and behaviour statistics, and hands out the next
  observations and keys. It depends on the candidate's role and O only, so it
  too is compiled once.

The episodes replay `arenax.rollout.play_episode` exactly: `episode_starts`
derives every key the way `tournament` does, so a match played here equals
the tournament cell of the same pair and keys.

Layout: candidate-side leaves are (O * N, ...), opponent-major (episode n
against opponent j is row j * N + n); every opponent sees the same N episode
keys. Observations pass between the functions as an `ObsCodec` encodes them:
the per-episode fields flattened to one (batch, F) array (one buffer per call
instead of one per field), the game's constants apart and unbatched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from arenax.envs.environment import Environment
from arenax.policy import Policy
from arenax.rollout import conform_action
from arenax.search.behaviour import STATISTICS_SIZE, step_statistics


class EpisodeStarts(NamedTuple):
    """Everything the N episodes need before their first step (the same for every match).

    Attributes:
        memory_keys: (N, A, 2) key for each agent's `init` (A = len(env.agents)).
        obs: agent -> observation pytree, leaves (N, ...), after reset.
        state: environment state, leaves (N, ...), after reset.
        act_keys: (T, N, A, 2) key for each agent's `act` at each step.
        env_keys: (T, N, 2) key for `env.step` at each step.
    """

    memory_keys: jax.Array
    obs: dict[str, Any]
    state: Any
    act_keys: jax.Array
    env_keys: jax.Array


class HubCarry(NamedTuple):
    """What the game carries from one step to the next; leaves (O * N, ...).

    Attributes:
        state: the environment state.
        returns: agent -> (O * N,) float32 return so far.
        statistics: (O * N, S) sums of behaviour `step_statistics` for the candidate's role.
        active_steps: (O * N,) int32 steps taken before the episode ended.
        t: () int32 index of the next step.
    """

    state: Any
    returns: dict[str, jax.Array]
    statistics: jax.Array
    active_steps: jax.Array
    t: jax.Array


class HubInputs(NamedTuple):
    """The inputs of the first step, made by the hub's `begin`.

    Attributes:
        carry: `HubCarry` at step 0.
        cand_obs: (O * N, F) the candidate's flattened observations.
        cand_keys: (O * N, 2) the candidate's `act` keys for step 0.
        cand_memory_keys: (O * N, 2) the candidate's `init` keys.
        opp_obs: (N, F) the opponents' flattened observations (the same for every opponent).
        opp_keys: (N, 2) the opponents' `act` keys for step 0.
        opp_memory_keys: (N, 2) the opponents' `init` keys.
    """

    carry: HubCarry
    cand_obs: jax.Array
    cand_keys: jax.Array
    cand_memory_keys: jax.Array
    opp_obs: jax.Array
    opp_keys: jax.Array
    opp_memory_keys: jax.Array


def episode_starts(env: Environment, num_steps: int) -> Callable[[jax.Array, Any], EpisodeStarts]:
    """A jitted `starts(keys (N, 2), params) -> EpisodeStarts`, keys split as in `tournament`."""
    num_agents = len(env.agents)

    def one(key: jax.Array, params: Any):
        k_mem, k_play = jax.random.split(key)
        memory_keys = jax.random.split(k_mem, num_agents)
        k_reset, k_loop = jax.random.split(k_play)
        obs, state = env.reset(k_reset, params)
        step_keys = jax.vmap(lambda k: jax.random.split(k, num_agents + 1))(
            jax.random.split(k_loop, num_steps)
        )
        return memory_keys, obs, state, step_keys[:, :num_agents], step_keys[:, num_agents]

    def starts(keys: jax.Array, params: Any) -> EpisodeStarts:
        memory_keys, obs, state, act_keys, env_keys = jax.vmap(one, in_axes=(0, None))(keys, params)
        return EpisodeStarts(
            memory_keys=memory_keys,
            obs=obs,
            state=state,
            act_keys=jnp.swapaxes(act_keys, 0, 1),
            env_keys=jnp.swapaxes(env_keys, 0, 1),
        )

    return jax.jit(starts)


class ObsCodec(NamedTuple):
    """Observations as arrays: the per-episode fields flattened, the shared ones apart.

    Fields that are the same in every episode and step (the game's constants)
    travel once, unbatched, so policies see them as scalars as they do in
    `rollout`; batched copies would make XLA compute with them per episode
    (about 5x slower for the look-ahead strategies).

    encode(obs) -> (F,) the per-episode fields of one observation;
    encode_shared(obs) -> (S,) the shared fields;
    decode(flat (F,), shared (S,)) -> the observation.
    """

    encode: Callable[[Any], jax.Array]
    encode_shared: Callable[[Any], jax.Array]
    decode: Callable[[jax.Array, jax.Array], Any]


def obs_codec(template: Any, shared_fields: tuple[str, ...]) -> ObsCodec:
    """The `ObsCodec` of observations shaped like `template` (one flax dataclass observation)."""
    names = tuple(template.__dataclass_fields__)
    missing = set(shared_fields) - set(names)
    if missing:
        raise ValueError(f"observation has no field(s) {', '.join(sorted(missing))}")
    own = tuple(n for n in names if n not in shared_fields)
    part = lambda obs, keep: {n: getattr(obs, n) for n in keep}
    _, unravel = ravel_pytree(part(template, own))
    _, unravel_shared = ravel_pytree(part(template, shared_fields))
    return ObsCodec(
        encode=lambda obs: ravel_pytree(part(obs, own))[0],
        encode_shared=lambda obs: ravel_pytree(part(obs, shared_fields))[0],
        decode=lambda flat, shared: type(template)(**unravel(flat), **unravel_shared(shared)),
    )


def policy_functions(
    policy: Policy, action_space: Any, decode: Callable
) -> tuple[Callable, Callable]:
    """`(init, act)` of a policy over a batch of B episodes, not yet jitted.

    init(memory_keys (B, 2)) -> memory (B, ...)
    act(obs_flat (B, F), shared (S,), memory, keys (B, 2))
        -> (action (B, *action_space.shape), memory)
    """

    def act_one(obs_flat, shared, memory, key):
        action, memory = policy.act(decode(obs_flat, shared), memory, key)
        return conform_action(action, action_space), memory

    return jax.vmap(policy.init), jax.vmap(act_one, in_axes=(0, None, 0, 0))


def match_hub(
    env: Environment, role: str, num_opponents: int, encode: Callable
) -> tuple[Callable, Callable]:
    """`(begin, step)`: the game for a candidate playing `role` against `num_opponents`.

    begin(starts, params) -> HubInputs (every match starts from the same N resets).
    step(carry, cand_action (O * N, ...), opp_actions: tuple of O (N, ...), starts, params)
        -> (carry, cand_obs (O * N, F), cand_keys (O * N, 2), opp_obs: tuple of O (N, F),
        opp_keys (N, 2), group_done (O,) bool: every episode against that opponent ended).
    Keys returned by `step` are for the next step (the last step's repeat the last keys).
    """
    agents = env.agents
    if role not in agents:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(agents)}")
    (opp_role,) = [a for a in agents if a != role]
    own, other = agents.index(role), agents.index(opp_role)
    tile = lambda x: jnp.tile(x, (num_opponents,) + (1,) * (x.ndim - 1))
    flat = jax.vmap(encode)

    def begin(starts: EpisodeStarts, params: Any) -> HubInputs:
        batch = num_opponents * starts.memory_keys.shape[0]
        carry = HubCarry(
            state=jax.tree_util.tree_map(tile, starts.state),
            returns={a: jnp.zeros(batch, jnp.float32) for a in agents},
            statistics=jnp.zeros((batch, STATISTICS_SIZE), jnp.float32),
            active_steps=jnp.zeros(batch, jnp.int32),
            t=jnp.zeros((), jnp.int32),
        )
        return HubInputs(
            carry=carry,
            cand_obs=tile(flat(starts.obs[role])),
            cand_keys=tile(starts.act_keys[0, :, own]),
            cand_memory_keys=tile(starts.memory_keys[:, own]),
            opp_obs=flat(starts.obs[opp_role]),
            opp_keys=starts.act_keys[0, :, other],
            opp_memory_keys=starts.memory_keys[:, other],
        )

    def step_one(key, state, actions, params):
        obs, next_state, rewards, _, _ = env.step(key, state, actions, params)
        return obs, next_state, rewards, step_statistics(state, next_state, params, role)

    def step(carry: HubCarry, cand_action, opp_actions: tuple, starts: EpisodeStarts, params):
        t = carry.t
        num_episodes = starts.env_keys.shape[1]
        actions = {role: cand_action, opp_role: jnp.concatenate(opp_actions)}
        obs, state, rewards, statistics = jax.vmap(step_one, in_axes=(0, 0, 0, None))(
            tile(starts.env_keys[t]), carry.state, actions, params
        )
        next_carry = HubCarry(
            state=state,
            returns={a: carry.returns[a] + rewards[a] for a in agents},
            statistics=carry.statistics + statistics,
            active_steps=carry.active_steps + (~carry.state.done).astype(jnp.int32),
            t=t + 1,
        )
        next_keys = starts.act_keys[jnp.minimum(t + 1, starts.act_keys.shape[0] - 1)]
        opp_obs = jnp.split(flat(obs[opp_role]), num_opponents)
        group_done = jnp.all(state.done.reshape(num_opponents, num_episodes), axis=1)
        return (
            next_carry,
            flat(obs[role]),
            tile(next_keys[:, own]),
            tuple(opp_obs),
            next_keys[:, other],
            group_done,
        )

    return begin, step
