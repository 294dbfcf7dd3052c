"""Swerve: flee with wall awareness while the car is far; when it closes to within 1.2 m, sidestep
perpendicular to the car's heading, toward the side of its nose the evader is already on, so the
car overshoots and must go round its turning circle.

This is the homicidal chauffeur's classic escape: the car cannot turn
tighter than its minimum radius, so a last-moment step sideways makes it
miss. The sidestep is at 90 degrees to the car's heading and opens to 65
degrees (slightly away from the car) inside 0.5 m, the profile that
maximises the miss distance against a car steering straight at the evader.
Once the car is past (the evader is behind its nose), it flees again. The
flee keeps off the walls with a potential field so the sidestep has room.
"""

import math

import jax.numpy as jnp

from arenax.envs.car_tag import dynamics


def flee_direction(obs):
    """Away from the car, pushed back from walls closer than 2 m, with a weak pull to the centre."""
    half = obs.arena_half_size
    away = obs.own_pos - obs.opp_pos
    away = away / (jnp.linalg.norm(away) + 1e-6)
    margin = jnp.minimum(2.0, 0.4 * half)
    gap_low = jnp.maximum(obs.own_pos + half, 1e-2)
    gap_high = jnp.maximum(half - obs.own_pos, 1e-2)
    push = jnp.clip((margin / gap_low) ** 2 - 1.0, 0.0, 25.0) - jnp.clip(
        (margin / gap_high) ** 2 - 1.0, 0.0, 25.0
    )
    centre = -obs.own_pos / (jnp.linalg.norm(obs.own_pos) + half)
    direction = away + 0.5 * push + 0.3 * centre
    return direction / (jnp.linalg.norm(direction) + 1e-6)


def act(obs, memory, key):
    rel = obs.own_pos - obs.opp_pos  # evader relative to the car
    dist = jnp.linalg.norm(rel)
    heading = dynamics.heading_vector(obs.opp_heading)
    normal = jnp.stack([-heading[1], heading[0]])  # the car's left
    ahead = jnp.dot(rel, heading)
    side = jnp.where(jnp.dot(rel, normal) >= 0.0, 1.0, -1.0)
    # 90 degrees off the car's heading, opening to 65 degrees (away from the car) inside 0.5 m.
    cos_a = jnp.where(dist < 0.5, math.cos(math.radians(65.0)), 0.0)
    sin_a = jnp.where(dist < 0.5, math.sin(math.radians(65.0)), 1.0)
    sidestep = cos_a * heading + side * sin_a * normal
    closing = (dist < 1.2) & (ahead > -0.3)
    direction = jnp.where(closing, sidestep, flee_direction(obs))
    return obs.evader_speed * direction, memory
