"""Random jink: flee from the pursuer (with wall awareness) but keep veering by a random angle that
changes at random moments, so the car cannot predict the evader's path.

Memory holds the current veer angle and the time until the next change.
Every 0.4-1.5 s a new veer of 40-100 degrees to a random side is drawn; the
flee direction is rotated by it. Close to the car the veer is doubled to a
near-perpendicular sidestep.
"""

import jax
import jax.numpy as jnp

from arenax.envs.car_tag import dynamics


def init(key):
    return {"veer": jnp.zeros(()), "timer": jnp.zeros(())}


def act(obs, memory, key):
    half = obs.arena_half_size
    away = obs.own_pos - obs.opp_pos
    dist = jnp.linalg.norm(away)
    away = away / (dist + 1e-6)
    margin = jnp.minimum(2.0, 0.4 * half)
    gap_low = jnp.maximum(obs.own_pos + half, 1e-2)
    gap_high = jnp.maximum(half - obs.own_pos, 1e-2)
    push = jnp.clip((margin / gap_low) ** 2 - 1.0, 0.0, 25.0) - jnp.clip(
        (margin / gap_high) ** 2 - 1.0, 0.0, 25.0
    )
    base = away + 0.5 * push - 0.3 * obs.own_pos / (jnp.linalg.norm(obs.own_pos) + half)

    renew = memory["timer"] <= 0.0
    u = jax.random.uniform(key, (3,))  # side, size of the veer, time to the next one
    new_veer = jnp.where(u[0] < 0.5, 1.0, -1.0) * (0.7 + 1.05 * u[1])
    veer = jnp.where(renew, new_veer, memory["veer"])
    timer = jnp.where(renew, 0.4 + 1.1 * u[2], memory["timer"]) - obs.dt

    close = dist < 2.0 * obs.min_turn_radius
    angle = jnp.where(close, jnp.clip(2.0 * veer, -1.6, 1.6), veer)
    c, s = dynamics.heading_vector(angle)
    direction = jnp.stack([c * base[0] - s * base[1], s * base[0] + c * base[1]])
    direction = direction / (jnp.linalg.norm(direction) + 1e-6)
    return obs.evader_speed * direction, {"veer": veer, "timer": timer}
