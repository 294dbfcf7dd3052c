"""Potential-based reward shaping for single-agent views (Ng, Harada & Russell, 1999).

`PotentialShaping(env, potential, coef, gamma)` adds

    F(s, s') = coef * (gamma * phi(s') - phi(s)),     with phi(terminal) = 0,

to every reward. Over an episode the bonus telescopes to `-coef * phi(s_0)`
plus discounting terms, so the optimal policy of the shaped task is the optimal
policy of the original one; only the learning signal gets denser. The env's
`info` is untouched, so true scores (e.g. Car Tag's `evader_score`) stay
visible in training metrics, and `info["shaping"]` carries the bonus.

`car_tag_distance_potential(role, wall_weight)` is the natural potential for
Car Tag: minus (pursuer) or plus (evader) the separation in arena widths, and,
with `wall_weight` > 0, the evader's shortfall of clearance from the nearest
wall counted against it (for the pursuer).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

Potential = Callable[[Any, Any], jax.Array]


class PotentialShaping:
    """A single-agent env whose reward gains `coef * (gamma * phi(s') - phi(s))`.

    Args:
        env: a single-agent env (`reset(key, params)`, `step(key, state, action, params)`).
        potential: `phi(state, params) -> ()` on the wrapped env's state.
        coef: scale of the bonus (0 disables shaping).
        gamma: the learner's discount factor (shaping preserves optimal policies
            when it matches the learner's gamma).
    """

    def __init__(
        self,
        env: Any,
        potential: Potential,
        coef: float = 1.0,
        gamma: float = 1.0,
        zero_terminal: bool = False,
    ):
        self.env = env
        self.potential = potential
        self.coef = float(coef)
        self.gamma = float(gamma)
        self.zero_terminal = bool(zero_terminal)
        self.name = f"{env.name}+shaping"
        self.agents = getattr(env, "agents", ())

    def __getattr__(self, name: str) -> Any:
        if name == "env":
            raise AttributeError(name)
        return getattr(self.env, name)

    @property
    def default_params(self) -> Any:
        return self.env.default_params

    def action_space(self, params: Any) -> Any:
        return self.env.action_space(params)

    def reset(self, key: jax.Array, params: Any) -> tuple[jax.Array, Any]:
        return self.env.reset(key, params)

    def step(
        self, key: jax.Array, state: Any, action: jax.Array, params: Any
    ) -> tuple[jax.Array, Any, jax.Array, jax.Array, dict[str, Any]]:
        obs, next_state, reward, done, info = self.env.step(key, state, action, params)
        phi_next = self.potential(next_state, params)
        if self.zero_terminal:
            phi_next = jnp.where(done, 0.0, phi_next)
        bonus = self.coef * (self.gamma * phi_next - self.potential(state, params))
        info = dict(info, shaping=bonus)
        return obs, next_state, reward + bonus, done, info

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self), self.coef, self.gamma))


def car_tag_distance_potential(
    role: str, wall_weight: float = 0.0, wall_margin: float = 1.5
) -> Potential:
    """phi for a Car Tag single-agent view (the game state is `state.env_state`):

        phi = sign * (distance - wall_weight * max(wall_margin - clearance, 0)) / (2 L),

    sign -1 for the pursuer and +1 for the evader, distance the pursuer-evader
    separation, clearance the evader's distance to the nearest wall, L the arena
    half-size (all m). The wall term says "a cornered evader is closer to capture":
    distance shaping alone teaches the evader to flee to a wall, where its sidestep
    is blocked (`benchmarks/train_cartag.py` measures both).
    """
    if wall_weight < 0.0 or wall_margin < 0.0:
        raise ValueError(
            f"wall_weight and wall_margin must be >= 0, got {wall_weight} and {wall_margin}"
        )
    sign = -1.0 if role == "pursuer" else 1.0

    def potential(state: Any, params: Any) -> jax.Array:
        game = state.env_state
        gap = game.evader_pos - game.pursuer_pos
        distance = jnp.sqrt(jnp.sum(gap * gap))
        clearance = jnp.min(params.arena_half_size - jnp.abs(game.evader_pos))
        cornered = wall_weight * jnp.maximum(wall_margin - clearance, 0.0)
        return sign * (distance - cornered) / (2.0 * params.arena_half_size)

    return potential
