"""Straight flee: run at full speed directly away from the pursuer.

The naive evader. In an open plane a slower runner fleeing straight is always
caught; against walls it pins itself in a corner.
"""

import jax.numpy as jnp


def act(obs, memory, key):
    away = obs.own_pos - obs.opp_pos
    direction = away / (jnp.linalg.norm(away) + 1e-6)
    return obs.evader_speed * direction, memory
