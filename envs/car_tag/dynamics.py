"""Car Tag motion models: the pursuer's car, the evader's point mass, the walls.

These pure functions are the single source of truth for the physics. The
environment uses them, and so may policies that look ahead (model-predictive
strategies, generated programs), so predictions match the simulator exactly.
All functions work on single agents; `vmap` them for batches.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

# Angles: XLA:CPU compiles `jnp.sin`, `jnp.cos`, `jnp.arctan2` and float `%` to
# one scalar libm call per element (atan2 alone ~25 ns), which made them most of
# the cost of a batched env step. The helpers below use only arithmetic,
# `floor`, `round` and `where`, which vectorise on CPU and GPU alike; they agree
# with float64 maths to about one float32 ulp (tests/test_car_tag_angles.py).

_TWO_PI = 2.0 * math.pi
# pi/2 split into three parts; the first two have short mantissas, so
# `q * part` is exact for the small quadrant counts `q` met here.
_HALF_PI_HI, _HALF_PI_MID, _HALF_PI_LO = 1.5703125, 4.838705062866211e-4, -4.371138828673793e-8
_TAN_PI_8 = math.tan(math.pi / 8.0)


def wrap_angle(angle: jax.Array) -> jax.Array:
    """Wrap an angle (rad) to [-pi, pi); `(angle + pi) % (2 pi) - pi` up to rounding."""
    turns = jnp.floor((angle + math.pi) * (1.0 / _TWO_PI))
    wrapped = angle - turns * (4.0 * _HALF_PI_HI) - turns * (4.0 * (_HALF_PI_MID + _HALF_PI_LO))
    # Rounding can leave it an ulp outside the interval: fold it back in.
    wrapped = jnp.where(wrapped >= math.pi, wrapped - _TWO_PI, wrapped)
    return jnp.where(wrapped < -math.pi, wrapped + _TWO_PI, wrapped)


def sin_cos(angle: jax.Array) -> tuple[jax.Array, jax.Array]:
    """`(sin(angle), cos(angle))`, sharing one reduction to [-pi/4, pi/4].

    Accurate to about one float32 ulp (checked for |angle| up to 1e5 rad).
    """
    quadrant = jnp.round(angle * (2.0 / math.pi))
    r = angle - quadrant * _HALF_PI_HI - quadrant * _HALF_PI_MID - quadrant * _HALF_PI_LO
    r2 = r * r
    # Taylor series to r^9 and r^10: the truncation error is < 2e-9 for |r| <= pi/4.
    sin_r = r + r * r2 * (-1 / 6 + r2 * (1 / 120 + r2 * (-1 / 5040 + r2 * (1 / 362880))))
    cos_r = 1.0 + r2 * (-1 / 2 + r2 * (1 / 24 + r2 * (-1 / 720 + r2 * (1 / 40320 - r2 / 3628800))))
    q = quadrant.astype(jnp.int32) & 3  # angle = r + q * pi/2 (mod 2 pi)
    sin = jnp.where(q == 0, sin_r, jnp.where(q == 1, cos_r, jnp.where(q == 2, -sin_r, -cos_r)))
    cos = jnp.where(q == 0, cos_r, jnp.where(q == 1, -sin_r, jnp.where(q == 2, -cos_r, sin_r)))
    return sin, cos


def vector_heading(vector: jax.Array) -> jax.Array:
    """Direction (rad, in [-pi, pi]) of vectors (..., 2): `atan2(y, x)` for finite input."""
    x, y = vector[..., 0], vector[..., 1]
    ax, ay = jnp.abs(x), jnp.abs(y)
    small, large = jnp.minimum(ax, ay), jnp.maximum(ax, ay)
    z = small / jnp.where(large > 0.0, large, 1.0)  # tan of an angle in [0, pi/4]
    # atan(z) = pi/4 + atan((z - 1) / (z + 1)) brings z to |z| <= tan(pi/8),
    # where the odd Taylor series to z^17 is within 3e-9.
    upper = z > _TAN_PI_8
    z = jnp.where(upper, (z - 1.0) / (z + 1.0), z)
    z2 = z * z
    series = 1.0 / 17.0
    for n in (15, 13, 11, 9, 7, 5, 3, 1):
        series = 1.0 / n - z2 * series
    angle = jnp.where(upper, math.pi / 4.0, 0.0) + z * series
    angle = jnp.where(ay > ax, math.pi / 2.0 - angle, angle)
    angle = jnp.where(jnp.signbit(x), math.pi - angle, angle)
    return jnp.where(jnp.signbit(y), -angle, angle)


def dot2(u: jax.Array, v: jax.Array) -> jax.Array:
    """Dot product over the last axis of (..., 2) vectors.

    Written out component-wise rather than as `jnp.dot`/`jnp.sum`: after `vmap`
    a reduction over a size-2 axis is a separate kernel on XLA:CPU, while this
    fuses with the surrounding elementwise maths.
    """
    return u[..., 0] * v[..., 0] + u[..., 1] * v[..., 1]


def heading_vector(heading: jax.Array) -> jax.Array:
    """Unit vector (..., 2) pointing along `heading` (rad)."""
    sin, cos = sin_cos(heading)
    return jnp.stack([cos, sin], axis=-1)


def clamp_to_arena(pos: jax.Array, arena_half_size: jax.Array | float) -> jax.Array:
    """Clamp positions (..., 2) into the square [-L, L]^2."""
    return jnp.clip(pos, -arena_half_size, arena_half_size)


def pursuer_turn_rate(
    steering: jax.Array, speed: jax.Array, min_turn_radius: jax.Array
) -> jax.Array:
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
    # Chord of the arc: length v*dt*sin(dtheta/2)/(dtheta/2), direction heading + dtheta/2.
    half_turn = 0.5 * dtheta
    straight = half_turn == 0.0
    safe_half_turn = jnp.where(straight, 1.0, half_turn)
    sinc = jnp.where(straight, 1.0, sin_cos(safe_half_turn)[0] / safe_half_turn)
    new_pos = pos + speed * dt * sinc * heading_vector(heading + half_turn)
    return clamp_to_arena(new_pos, arena_half_size), wrap_angle(heading + dtheta)


def clip_speed(velocity: jax.Array, max_speed: jax.Array | float) -> jax.Array:
    """Scale a velocity (..., 2) down so its norm is at most `max_speed`; NaN becomes 0."""
    velocity = jnp.nan_to_num(velocity, nan=0.0, posinf=0.0, neginf=0.0)
    # Scale huge commands down (exactly, by a power of two) before squaring: a
    # component above ~1.8e19 would overflow |v|^2 in float32 and stop the evader.
    big = jnp.maximum(jnp.abs(velocity[..., 0]), jnp.abs(velocity[..., 1]))[..., None]
    shrink = jnp.where(big > 2.0**60, 2.0**-70, 1.0)
    scaled = velocity * shrink
    norm = jnp.sqrt(dot2(scaled, scaled))[..., None]  # |velocity| * shrink
    too_fast = norm > max_speed * shrink
    return jnp.where(too_fast, scaled * (max_speed / jnp.where(too_fast, norm, 1.0)), velocity)


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
