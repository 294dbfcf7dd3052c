"""Proportional navigation: turn at a rate proportional to how fast the line of sight to the evader
rotates, the missile-guidance law, with a pure-pursuit bias.

Turn rate = N * (line-of-sight rate) + K * (bearing to the evader), N = 4.
Holding the line of sight still puts the car on a collision course with a
target that keeps its velocity; the small pursuit term brings the evader
onto the nose from any start. When the evader is behind the car it turns at
full lock toward it, and when the evader sits inside the turning circle on
its side (unreachable by turning that way) it steers the other way to open
room.
"""

import jax.numpy as jnp

from arenax.envs.car_tag import dynamics


def act(obs, memory, key):
    rel = obs.opp_pos - obs.own_pos
    rel_vel = obs.opp_vel - obs.own_vel
    dist2 = jnp.maximum(jnp.dot(rel, rel), 1e-6)
    los_rate = (rel[0] * rel_vel[1] - rel[1] * rel_vel[0]) / dist2
    nose = dynamics.heading_vector(obs.own_heading)
    fwd = rel[0] * nose[0] + rel[1] * nose[1]  # evader in the car's frame
    left = -rel[0] * nose[1] + rel[1] * nose[0]
    bearing = jnp.arctan2(left, fwd)
    turn_rate = 4.0 * los_rate + 1.0 * bearing
    max_rate = obs.pursuer_speed / jnp.maximum(obs.min_turn_radius, 1e-6)
    steering = jnp.clip(turn_rate / jnp.maximum(max_rate, 1e-6), -1.0, 1.0)
    # Evader well behind: turn toward it at full lock.
    side = jnp.where(bearing >= 0.0, 1.0, -1.0)
    steering = jnp.where(jnp.abs(bearing) > 0.5 * jnp.pi, side, steering)
    # Evader inside the turning circle on its side: turn away to make room.
    to_centre = jnp.sqrt(fwd * fwd + (jnp.abs(left) - obs.min_turn_radius) ** 2)
    trapped = to_centre < 0.9 * obs.min_turn_radius
    steering = jnp.where(trapped, -side, steering)
    return jnp.reshape(jnp.nan_to_num(steering), (1,)), memory
