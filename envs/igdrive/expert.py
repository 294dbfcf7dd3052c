"""The privileged expert driver: IDM car following along lanes, obeying traffic lights and
yielding at junctions.

The expert sees the full state: every vehicle's path, lane, position along it and
speed, and the lights. Each vehicle keeps its lane (its *queue*: vehicles merging
from a ramp share the queue of the lane they merge into, so they zip in at IDM
gaps) and accelerates by the Intelligent Driver Model (Treiber, Hennecke &
Helbing 2000) towards its desired speed, behind the nearest vehicle ahead in its
queue. A red light, a yellow one it can still stop for comfortably, or a
conflicting vehicle committed to the junction (past its own stop line, not yet
clear of the junction box) is a stopped leader at the vehicle's stop line; a
vehicle that cannot stop comfortably when its light turns yellow drives on and
clears the junction before the cross traffic gets green (yellow plus all-red
last long enough at these speeds).

Everything is in path coordinates: `s` is arc length along the vehicle's path
(m), `v` its rate (m/s). The generator turns them into poses.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class IDMParams:
    """Intelligent Driver Model parameters (shared by all vehicles).

    Attributes:
        max_accel: a (m/s^2).
        comfort_brake: b (m/s^2), also the yellow-light stopping criterion.
        max_brake: hard limit on deceleration (m/s^2; the bicycle model's bound).
        min_gap: s0, jam distance (m).
        headway: T, desired time headway (s).
        exponent: delta, free-road acceleration exponent.
    """

    max_accel: float = 1.5
    comfort_brake: float = 3.0
    max_brake: float = 6.0
    min_gap: float = 3.0
    headway: float = 1.5
    exponent: float = 4.0


def idm_accel(
    v: jax.Array, v_desired: jax.Array, gap: jax.Array, v_leader: jax.Array, p: IDMParams
) -> jax.Array:
    """IDM acceleration (clipped to [-max_brake, max_accel]) for gaps to the leader."""
    dv = v - v_leader
    s_star = p.min_gap + jnp.maximum(
        v * p.headway + v * dv / (2.0 * jnp.sqrt(p.max_accel * p.comfort_brake)), 0.0
    )
    free = 1.0 - (v / jnp.maximum(v_desired, 0.1)) ** p.exponent
    accel = p.max_accel * (free - (s_star / jnp.maximum(gap, 0.1)) ** 2)
    return jnp.clip(accel, -p.max_brake, p.max_accel)


def leader_gaps(
    s: jax.Array, v: jax.Array, queue: jax.Array, length: jax.Array, active: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """(N,) bumper-to-bumper gap to the nearest active vehicle ahead in the same queue
    (inf if none) and that leader's speed."""
    ahead = (s[None, :] > s[:, None]) & (queue[None, :] == queue[:, None]) & active[None, :]
    gap = s[None, :] - s[:, None] - 0.5 * (length[None, :] + length[:, None])
    gap = jnp.where(ahead, gap, jnp.inf)
    leader = jnp.argmin(gap, axis=1)
    return jnp.min(gap, axis=1), v[leader]


@struct.dataclass
class Junction:
    """Where each vehicle's path crosses another's, in its own path coordinates.

    Attributes:
        box_out: (N,) arc length at which the vehicle has cleared the junction box
            (-inf: its path has no junction).
        conflict: (N, N) whether vehicle j's path crosses vehicle i's in the box.
    """

    box_out: jax.Array
    conflict: jax.Array

    @classmethod
    def none(cls, n: int) -> Junction:
        return cls(jnp.full((n,), -jnp.inf), jnp.zeros((n, n), bool))


def expert_step(
    s: jax.Array,
    v: jax.Array,
    queue: jax.Array,
    length: jax.Array,
    v_desired: jax.Array,
    active: jax.Array,
    stop_s: jax.Array,
    light_red: jax.Array,
    light_yellow: jax.Array,
    junction: Junction,
    dt: float,
    p: IDMParams,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """One step of every vehicle: (new s, new v, acceleration), shapes (N,).

    Args:
        s, v, queue, length, v_desired, active: per-vehicle state (N,).
        stop_s: (N,) arc length of each vehicle's stop line (inf: none on its path).
        light_red, light_yellow: (N,) the state of each vehicle's light now.
        junction: where paths cross (`Junction.none` for scenes without one).
    """
    gap, v_lead = leader_gaps(s, v, queue, length, active)
    front = s + 0.5 * length
    to_line = stop_s - front
    committed = active & (to_line < 0.0) & (s - 0.5 * length < junction.box_out)
    must_yield = jnp.any(junction.conflict & committed[None, :], axis=1)
    comfortable = to_line >= v**2 / (2.0 * p.comfort_brake)
    must_stop = light_red | (light_yellow & comfortable) | must_yield
    stop_for_line = (to_line > -0.5) & must_stop
    line_gap = jnp.where(stop_for_line, jnp.maximum(to_line, 0.0), jnp.inf)
    use_line = line_gap < gap
    gap = jnp.minimum(gap, line_gap)
    v_lead = jnp.where(use_line, 0.0, v_lead)
    accel = idm_accel(v, v_desired, gap, v_lead, p)
    accel = jnp.maximum(accel, -v / dt)  # stop, do not reverse
    new_v = v + accel * dt
    new_s = s + 0.5 * (v + new_v) * dt
    return jnp.where(active, new_s, s), jnp.where(active, new_v, v), jnp.where(active, accel, 0.0)
