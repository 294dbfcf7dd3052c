"""Target reaching: a tiny single-agent environment with a known optimum, for learner tests.

A point at `x` in [-1, 1] must reach a target `t` (both uniform at reset). Each
step it moves by `speed * v`, clamped to [-1, 1], and earns `-|x' - t|`.
Episodes last `horizon` steps. The observation is `[x, t_seen, time_left]`,
where `t_seen` is the target during the first `target_visible_steps` steps and
0 afterwards (set it to 1 for a memory task only a recurrent agent can solve).

- `TargetReach()`: continuous action, `Box(-1, 1, (1,))` velocity.
- `TargetReach(discrete=True)`: `Discrete(3)`: 0 left, 1 stay, 2 right.

`oracle_action` moves greedily towards the target, which is optimal here for
both variants: the return of `oracle_action` is the best achievable.

Same interface as `SingleAgentView`::

    obs, state = env.reset(key, params)                          # obs (3,)
    obs, state, reward, done, info = env.step(key, state, action, params)
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from arenax.envs import spaces


@struct.dataclass
class ToyParams:
    """Attributes:
    horizon: episode length, steps.
    speed: distance moved per step at full velocity.
    target_visible_steps: the target is observed while `step < target_visible_steps`.
    """

    horizon: int = struct.field(pytree_node=False, default=20)
    speed: float = 0.25
    target_visible_steps: int = struct.field(pytree_node=False, default=1_000_000)


@struct.dataclass
class ToyState:
    """Attributes:
    x: () position.
    target: () target position.
    t: () int32 steps taken.
    done: () bool, the episode is over.
    """

    x: jax.Array
    target: jax.Array
    t: jax.Array
    done: jax.Array


class TargetReach:
    """Reach a random target on a line; see the module docstring."""

    def __init__(self, discrete: bool = False):
        self.discrete = discrete
        self.name = "target_reach_discrete" if discrete else "target_reach"

    @property
    def default_params(self) -> ToyParams:
        return ToyParams()

    def observation_size(self, params: ToyParams) -> int:
        return 3

    def action_space(self, params: ToyParams) -> spaces.Box | spaces.Discrete:
        if self.discrete:
            return spaces.Discrete(3)
        return spaces.Box(-1.0, 1.0, (1,))

    def _obs(self, state: ToyState, params: ToyParams) -> jax.Array:
        visible = state.t < params.target_visible_steps
        time_left = 1.0 - state.t.astype(jnp.float32) / params.horizon
        return jnp.stack([state.x, jnp.where(visible, state.target, 0.0), time_left]).astype(
            jnp.float32
        )

    def reset(self, key: jax.Array, params: ToyParams) -> tuple[jax.Array, ToyState]:
        k_x, k_t = jax.random.split(key)
        state = ToyState(
            x=jax.random.uniform(k_x, (), jnp.float32, -1.0, 1.0),
            target=jax.random.uniform(k_t, (), jnp.float32, -1.0, 1.0),
            t=jnp.zeros((), jnp.int32),
            done=jnp.zeros((), bool),
        )
        return self._obs(state, params), state

    def velocity(self, action: jax.Array) -> jax.Array:
        """The action as a velocity in [-1, 1]."""
        if self.discrete:
            return jnp.asarray(action, jnp.float32).reshape(()) - 1.0
        return jnp.clip(jnp.asarray(action, jnp.float32).reshape(()), -1.0, 1.0)

    def step(
        self, key: jax.Array, state: ToyState, action: jax.Array, params: ToyParams
    ) -> tuple[jax.Array, ToyState, jax.Array, jax.Array, dict[str, Any]]:
        del key
        active = ~state.done
        x = jnp.clip(state.x + params.speed * self.velocity(action), -1.0, 1.0)
        distance = jnp.abs(x - state.target)
        t = state.t + active.astype(jnp.int32)
        next_state = ToyState(
            x=jnp.where(active, x, state.x),
            target=state.target,
            t=t,
            done=state.done | (t >= params.horizon),
        )
        reward = jnp.where(active, -distance, 0.0)
        info = {"distance": jnp.abs(next_state.x - state.target)}
        return self._obs(next_state, params), next_state, reward, next_state.done, info

    def oracle_action(self, state: ToyState, params: ToyParams) -> jax.Array:
        """The optimal action in `state` (greedy towards the target)."""
        gap = state.target - state.x
        if self.discrete:
            candidates = jnp.abs(
                state.x + params.speed * jnp.array([-1.0, 0.0, 1.0]) - state.target
            )
            return jnp.argmin(candidates).astype(jnp.int32)
        return jnp.clip(gap / params.speed, -1.0, 1.0)[None]

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self), self.discrete))

    def __repr__(self) -> str:
        return f"TargetReach(discrete={self.discrete})"


def oracle_return(
    env: TargetReach, params: ToyParams, key: jax.Array, num_episodes: int
) -> jax.Array:
    """(num_episodes,) returns of `env.oracle_action` from `reset(split(key))` (the optimum)."""

    def episode(k: jax.Array) -> jax.Array:
        _, state = env.reset(k, params)

        def body(s: ToyState, _: None) -> tuple[ToyState, jax.Array]:
            _, s, r, _, _ = env.step(k, s, env.oracle_action(s, params), params)
            return s, r

        _, rewards = jax.lax.scan(body, state, None, length=params.horizon)
        return rewards.sum()

    return jax.vmap(episode)(jax.random.split(key, num_episodes))
