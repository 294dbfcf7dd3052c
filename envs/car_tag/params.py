"""Car Tag constants (`CarTagParams`) and mutable state (`CarTagState`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class CarTagParams:
    """The game's constants. Every field is a pytree leaf, so params can be vmapped.

    Attributes:
        pursuer_speed: constant forward speed of the pursuer car, m/s.
        evader_speed: maximum speed of the holonomic evader, m/s.
        min_turn_radius: the pursuer's tightest turning radius at full lock, m.
        capture_radius: capture happens when the two centres come this close, m.
            0.2 by default: a car driving straight at the evader misses a
            perfectly timed sidestep by about 0.235 m, so above that the
            evader has no escape and every hand-written pursuer catches
            every evader; at 0.2 the strategies' ranking spreads out.
        dt: simulation time step, s.
        arena_half_size: the arena is the square [-L, L]^2 with L this, m;
            positions are clamped at the walls.
        horizon: episode length, steps (horizon * dt seconds).
        min_start_distance: smallest initial pursuer-evader distance, m.
        max_start_distance: largest initial pursuer-evader distance, m.
    """

    pursuer_speed: jax.Array | float = 1.0
    evader_speed: jax.Array | float = 0.5
    min_turn_radius: jax.Array | float = 1.0
    capture_radius: jax.Array | float = 0.2
    dt: jax.Array | float = 0.1
    arena_half_size: jax.Array | float = 5.0
    horizon: jax.Array | int = 300
    min_start_distance: jax.Array | float = 3.0
    max_start_distance: jax.Array | float = 6.0

    @property
    def horizon_time(self) -> jax.Array:
        """Episode length in seconds."""
        return jnp.asarray(self.horizon, jnp.float32) * self.dt


@struct.dataclass
class CarTagState:
    """Everything that changes during a Car Tag episode.

    Attributes:
        pursuer_pos: (2,) pursuer centre, m.
        pursuer_heading: () pursuer heading, rad, wrapped to [-pi, pi).
        evader_pos: (2,) evader centre, m.
        evader_vel: (2,) evader velocity applied in the last step, m/s.
        evader_heading: () direction of the evader's last non-zero velocity, rad.
        t: () int32 steps taken.
        captured: () bool, the evader has been caught.
        capture_time: () time of capture, s (the horizon time if never caught).
        done: () bool, the episode is over (capture or horizon).
    """

    pursuer_pos: jax.Array
    pursuer_heading: jax.Array
    evader_pos: jax.Array
    evader_vel: jax.Array
    evader_heading: jax.Array
    t: jax.Array
    captured: jax.Array
    capture_time: jax.Array
    done: jax.Array


_POSITIVE = (
    "pursuer_speed",
    "evader_speed",
    "min_turn_radius",
    "capture_radius",
    "dt",
    "arena_half_size",
)


def validate_params(params: CarTagParams) -> CarTagParams:
    """Check concrete (non-traced, scalar) params; raise `ValueError` naming the bad field."""
    for name in _POSITIVE:
        value = float(getattr(params, name))
        if not value > 0.0:
            raise ValueError(f"car_tag: {name} must be > 0, got {value}")
    horizon = params.horizon
    if int(horizon) != float(horizon) or int(horizon) < 1:
        raise ValueError(f"car_tag: horizon must be a whole number of steps >= 1, got {horizon}")
    lo, hi = float(params.min_start_distance), float(params.max_start_distance)
    if not 0.0 <= lo <= hi:
        raise ValueError(
            f"car_tag: need 0 <= min_start_distance <= max_start_distance, got {lo} and {hi}"
        )
    if lo <= float(params.capture_radius):
        raise ValueError(
            f"car_tag: min_start_distance ({lo}) must exceed capture_radius "
            f"({float(params.capture_radius)}) so no episode starts captured"
        )
    if lo > 2.0 * 2**0.5 * float(params.arena_half_size):
        raise ValueError(f"car_tag: min_start_distance ({lo}) does not fit in the arena")
    return params
