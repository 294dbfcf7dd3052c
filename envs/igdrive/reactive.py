"""Reactive traffic: other vehicles follow their logged paths at speeds set by IDM.

As in Waymax's IDM route policy, each non-SDC vehicle keeps to the path it drove in
the log (the polyline of its logged positions, extended straight ahead past the
log's end) but chooses its speed with the Intelligent Driver Model, so it brakes
for whatever is in its path now, the policy-driven SDC included, and for red lights
on its path. Works on any log (procedural or recorded): nothing here needs the
generator's road coordinates.

A vehicle counts as "in the path" of another when its centre lies within half the
two widths (plus a margin) of the nearest path point ahead; the gap is measured
along the path, bumper to bumper.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from arenax.envs.igdrive.datatypes import DT, LightState, TrafficLights, Trajectory
from arenax.envs.igdrive.expert import IDMParams, idm_accel

EXTENSION_POINTS = 10  # straight points appended past each log's last valid position
EXTENSION_SPACING = 5.0  # m between them
LATERAL_MARGIN = 0.5  # m added to half the widths when deciding who is in a path
LIGHT_HALF_WIDTH = 1.75  # m: a light controls a path passing within this of it


@struct.dataclass
class LogPaths:
    """Each object's logged path: fields (N, P) with P = T + EXTENSION_POINTS."""

    x: jax.Array
    y: jax.Array
    yaw: jax.Array
    arc: jax.Array  # cumulative arc length (m), non-decreasing


def log_paths(log: Trajectory) -> LogPaths:
    """Paths through every object's valid logged positions (invalid steps repeat the
    last valid position), extended straight along the last valid heading."""
    t = log.num_timesteps
    index = jnp.where(log.valid, jnp.arange(t), -1)
    last_valid = jax.lax.cummax(index, axis=log.x.ndim - 1)
    first = jnp.argmax(log.valid, axis=-1)[..., None]
    hold = jnp.where(last_valid < 0, first, last_valid)
    x = jnp.take_along_axis(log.x, hold, axis=-1)
    y = jnp.take_along_axis(log.y, hold, axis=-1)
    yaw = jnp.take_along_axis(log.yaw, hold, axis=-1)
    ahead = EXTENSION_SPACING * jnp.arange(1, EXTENSION_POINTS + 1)
    x = jnp.concatenate([x, x[..., -1:] + ahead * jnp.cos(yaw[..., -1:])], axis=-1)
    y = jnp.concatenate([y, y[..., -1:] + ahead * jnp.sin(yaw[..., -1:])], axis=-1)
    yaw = jnp.concatenate(
        [yaw, jnp.broadcast_to(yaw[..., -1:], x.shape[:-1] + ahead.shape)], axis=-1
    )
    step = jnp.hypot(jnp.diff(x, axis=-1), jnp.diff(y, axis=-1))
    arc = jnp.concatenate([jnp.zeros_like(x[..., :1]), jnp.cumsum(step, axis=-1)], axis=-1)
    return LogPaths(x, y, yaw, arc)


def pose_along(paths: LogPaths, s: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(x, y, yaw), each (N,), at arc length `s` (N,) along each object's path."""
    last = paths.arc.shape[-1] - 1
    upper = jax.vmap(lambda arc, q: jnp.searchsorted(arc, q, side="right"))(paths.arc, s)
    upper = jnp.clip(upper, 1, last)
    lower = upper - 1

    def at(field, index):
        return jnp.take_along_axis(field, index[:, None], axis=-1)[:, 0]

    span = at(paths.arc, upper) - at(paths.arc, lower)
    frac = jnp.clip((s - at(paths.arc, lower)) / jnp.maximum(span, 1e-6), 0.0, 1.0)
    x = at(paths.x, lower) + frac * (at(paths.x, upper) - at(paths.x, lower))
    y = at(paths.y, lower) + frac * (at(paths.y, upper) - at(paths.y, lower))
    yaw = jnp.where(frac < 0.5, at(paths.yaw, lower), at(paths.yaw, upper))
    return x, y, yaw


def project_onto_paths(paths: LogPaths, x: jax.Array, y: jax.Array):
    """Arc length on path i of the path point nearest to query j, and the distance to it:
    two (N, Q) arrays for queries (Q,)."""
    dist = jnp.hypot(paths.x[:, None, :] - x[None, :, None], paths.y[:, None, :] - y[None, :, None])
    nearest = jnp.argmin(dist, axis=-1)
    arc = jnp.take_along_axis(paths.arc[:, None, :], nearest[..., None], axis=-1)[..., 0]
    return arc, jnp.min(dist, axis=-1)


@struct.dataclass
class ReactiveState:
    """Where each object is along its logged path and how fast it goes, (N,), with the
    per-episode constants computed once at the start: the paths and the IDM desired
    speeds (the fastest logged speed, at least 5 m/s)."""

    s: jax.Array
    speed: jax.Array
    paths: LogPaths
    desired_speed: jax.Array


def start_reactive(log: Trajectory, t: jax.Array) -> ReactiveState:
    """Objects at their logged positions and speeds of timestep `t`."""
    paths = log_paths(log)
    now = jax.tree_util.tree_map(lambda a: a[:, t], log)
    logged_speed = jnp.hypot(log.vel_x, log.vel_y)
    desired = jnp.maximum(jnp.max(jnp.where(log.valid, logged_speed, 0.0), axis=-1), 5.0)
    return ReactiveState(paths.arc[:, t], jnp.hypot(now.vel_x, now.vel_y), paths, desired)


def reactive_step(
    state: ReactiveState,
    log: Trajectory,
    current: Trajectory,
    lights: TrafficLights,
    t: jax.Array,
    idm: IDMParams,
) -> tuple[ReactiveState, Trajectory]:
    """Advance every object one step by IDM along its logged path.

    Args:
        state: positions along paths and speeds, (N,).
        log: the logged trajectories (N, T).
        current: every object's simulated state now (fields (N,)), SDC included.
        lights: the scene's traffic lights; their state at `t` is used.
        t: the current timestep.

    Returns the new reactive state and the objects' new states (fields (N,); validity
    follows the log at t + 1).
    """
    paths = state.paths
    arc, lateral = project_onto_paths(paths, current.x, current.y)  # (N, N)
    in_path = lateral < 0.5 * (current.width[:, None] + current.width[None, :]) + LATERAL_MARGIN
    ahead = arc > state.s[:, None]
    others = current.valid[None, :] & ~jnp.eye(arc.shape[0], dtype=bool)
    gap = arc - state.s[:, None] - 0.5 * (current.length[:, None] + current.length[None, :])
    gap = jnp.where(in_path & ahead & others, gap, jnp.inf)
    leader = jnp.argmin(gap, axis=1)
    heading_x, heading_y = jnp.cos(current.yaw), jnp.sin(current.yaw)
    leader_speed = current.vel_x[leader] * heading_x + current.vel_y[leader] * heading_y
    gap = jnp.min(gap, axis=1)

    light_arc, light_lateral = project_onto_paths(paths, lights.x[:, t], lights.y[:, t])  # (N, L)
    to_light = light_arc - state.s[:, None] - 0.5 * current.length[:, None]
    state_now = lights.state[:, t]
    red = lights.is_red[:, t]
    yellow = state_now == int(LightState.CAUTION)
    comfortable = to_light >= state.speed[:, None] ** 2 / (2.0 * idm.comfort_brake)
    stopping = (red[None, :] | (yellow[None, :] & comfortable)) & lights.valid[:, t][None, :]
    stopping = stopping & (light_lateral < LIGHT_HALF_WIDTH) & (to_light > -0.5)
    light_gap = jnp.min(jnp.where(stopping, jnp.maximum(to_light, 0.0), jnp.inf), axis=1)
    use_light = light_gap < gap
    gap = jnp.minimum(gap, light_gap)
    leader_speed = jnp.where(use_light, 0.0, jnp.maximum(leader_speed, 0.0))

    accel = idm_accel(state.speed, state.desired_speed, gap, leader_speed, idm)
    accel = jnp.maximum(accel, -state.speed / DT)
    speed = state.speed + accel * DT
    s = state.s + 0.5 * (state.speed + speed) * DT
    x, y, yaw = pose_along(paths, s)
    moved = current.replace(
        x=x,
        y=y,
        yaw=yaw,
        vel_x=speed * jnp.cos(yaw),
        vel_y=speed * jnp.sin(yaw),
        valid=log.valid[:, t + 1],
    )
    return state.replace(s=s, speed=speed), moved
