"""Car Tag motion models: the pursuer's car, the evader's point mass, the walls.

These pure functions are the single source of truth for the physics. The
environment uses them, and so may policies that look ahead (model-predictive
strategies, generated programs), so predictions match the simulator exactly.
All functions work on single agents; `vmap` them for batches.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def wrap_angle(angle: jax.Array) -> jax.Array:
    """Wrap an angle (rad) to [-pi, pi)."""
    return (angle + jnp.pi) % (2.0 * jnp.pi) - jnp.pi


def heading_vector(heading: jax.Array) -> jax.Array:
    """Unit vector (..., 2) pointing along `heading` (rad)."""
    return jnp.stack([jnp.cos(heading), jnp.sin(heading)], axis=-1)


def clamp_to_arena(pos: jax.Array, arena_half_size: jax.Array | float) -> jax.Array:
    """Clamp positions (..., 2) into the square [-L, L]^2."""
    return jnp.clip(pos, -arena_half_size, arena_half_size)


def pursuer_turn_rate(steering: jax.Array, speed: jax.Array, min_turn_radius: jax.Array) -> jax.Array:
    """Turn rate (rad/s) of the car for steering in [-1, 1] (clipped): steering * v / R."""
    return jnp.clip(steering, -1.0, 1.0) * speed / min_turn_radius


def pursuer_step(
    pos: jax.Array,
    heading: jax.Array,
    steering: jax.Array,
    speed: jax.Array | float,
    min_turn_radius: jax.Array | float,
    dt: jax.Array | float,
    arena_half_size: jax.Array | float,
) -> tuple[jax.Array, jax.Array]:
    """Advance the car by `dt` along the exact circular arc for a constant steering.

    Args:
        pos: (2,) position, m.
        heading: () heading, rad.
        steering: () steering in [-1, 1] (clipped); +1 turns left (counter-clockwise).
        speed, min_turn_radius, dt, arena_half_size: see `CarTagParams`.

    Returns:
        `(new_pos, new_heading)`; the position is clamped to the arena and the
        heading wrapped to [-pi, pi).
    """
    omega = pursuer_turn_rate(steering, speed, min_turn_radius)
    dtheta = omega * dt
    # Chord of the arc: length v*dt*sinc(dtheta/2), direction heading + dtheta/2.
    chord = speed * dt * jnp.sinc(dtheta / (2.0 * jnp.pi))
    mid_heading = heading + 0.5 * dtheta
    new_pos = pos + chord * heading_vector(mid_heading)
    return clamp_to_arena(new_pos, arena_half_size), wrap_angle(heading + dtheta)


def clip_speed(velocity: jax.Array, max_speed: jax.Array | float) -> jax.Array:
    """Scale a velocity (..., 2) down so its norm is at most `max_speed`; NaN becomes 0."""
    velocity = jnp.nan_to_num(velocity, nan=0.0, posinf=0.0, neginf=0.0)
    norm = jnp.linalg.norm(velocity, axis=-1, keepdims=True)
    scale = jnp.minimum(1.0, max_speed / jnp.maximum(norm, 1e-9))
    return velocity * scale


def evader_step(
    pos: jax.Array,
    velocity: jax.Array,
    max_speed: jax.Array | float,
    dt: jax.Array | float,
    arena_half_size: jax.Array | float,
) -> tuple[jax.Array, jax.Array]:
    """Move the holonomic evader with a commanded velocity for `dt`.

    Args:
        pos: (2,) position, m.
        velocity: (2,) commanded velocity, m/s; its norm is clipped to `max_speed`.

    Returns:
        `(new_pos, applied_velocity)`, the position clamped to the arena.
    """
    applied = clip_speed(velocity, max_speed)
    return clamp_to_arena(pos + applied * dt, arena_half_size), applied
