"""Wall-aware flee: run away from the pursuer, but let the walls push back so the evader slides
along them and out of corners instead of pinning itself.

A potential field: the unit vector away from the pursuer plus a repulsion
from each wall that grows as (margin / distance to the wall)^2 within a
margin of 2 m, plus a weak pull toward the arena centre. The sum is
normalised and run at full speed.
"""

import jax.numpy as jnp


def act(obs, memory, key):
    half = obs.arena_half_size
    away = obs.own_pos - obs.opp_pos
    away = away / (jnp.linalg.norm(away) + 1e-6)
    margin = jnp.minimum(2.0, 0.4 * half)
    gap_low = jnp.maximum(obs.own_pos + half, 1e-2)  # distance to the left / bottom walls
    gap_high = jnp.maximum(half - obs.own_pos, 1e-2)  # distance to the right / top walls
    push = jnp.clip((margin / gap_low) ** 2 - 1.0, 0.0, 25.0) - jnp.clip(
        (margin / gap_high) ** 2 - 1.0, 0.0, 25.0
    )
    centre = -obs.own_pos / (jnp.linalg.norm(obs.own_pos) + half)
    direction = away + 0.5 * push + 0.3 * centre
    direction = direction / (jnp.linalg.norm(direction) + 1e-6)
    return obs.evader_speed * direction, memory
