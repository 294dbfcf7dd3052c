"""Pure pursuit: always steer the nose at the evader's current position.

The classic baseline. It turns at full lock whenever the evader is off the
nose by more than a small dead band, so it never overshoots in heading, but
it chases where the evader is, not where it will be, and an evader that
sidesteps at close range sends it around its turning circle.
"""

import jax.numpy as jnp

from arenax.envs.car_tag import dynamics


def act(obs, memory, key):
    rel = obs.opp_pos - obs.own_pos
    nose = dynamics.heading_vector(obs.own_heading)
    # Bearing of the evader off the nose, from its position in the car's frame.
    bearing = jnp.arctan2(-rel[0] * nose[1] + rel[1] * nose[0], rel[0] * nose[0] + rel[1] * nose[1])
    # Proportional steering that saturates beyond ~0.2 rad off the nose.
    steering = jnp.clip(5.0 * bearing, -1.0, 1.0)
    return jnp.array([steering]), memory
