"""Driving metrics, the same definitions for every method (expert, BC, BC+RL, BIG).

Per-step metrics take one timestep of states (time axis of size 1 dropped, fields
(..., num_objects)); episode metrics take whole trajectories (..., num_objects, T).

- overlap: the object's box intersects another valid object's box;
- offroad: a corner of the box is on the outer side of the nearest road-edge point
  (road edges are directed with the road on their left);
- log divergence: distance to the logged position at the same timestep; ADE is its
  mean over valid steps, FDE its value at the last valid step;
- headway shortfall: how far the gap to the nearest vehicle ahead in the object's own
  path (bumper to bumper, within the boxes' half widths plus 0.5 m across) falls
  short of a safe gap `min_gap + time_gap * speed`, as a fraction of it in [0, 1]
  (0: no vehicle that close); a dense precursor of rear-end collisions;
- red-light violation: the front bumper crosses a red light's stop point in the
  object's lane (within half a lane width across) during a step;
- kinematic infeasibility: the bicycle action that explains a step is outside the
  model's bounds (acceleration or curvature);
- route progress: arc length along the route of the nearest route point, from the
  episode's first step to its last, as a fraction of the route's length.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from arenax.envs.igdrive.datatypes import (
    ROAD_EDGE_TYPES,
    RoadgraphPoints,
    Route,
    SimulatorState,
    TrafficLights,
    Trajectory,
)
from arenax.envs.igdrive.dynamics import InvertibleBicycle
from arenax.envs.igdrive.geometry import (
    box_corners,
    pairwise_overlap,
    signed_distance_to_polylines,
)


def overlap(states: Trajectory) -> jax.Array:
    """(..., N) whether each valid object's box intersects another valid object's box."""
    hits = pairwise_overlap(states.x, states.y, states.yaw, states.length, states.width)
    both = states.valid[..., :, None] & states.valid[..., None, :]
    return jnp.any(hits & both, axis=-1)


def headway_shortfall(
    states: Trajectory, index: jax.Array, time_gap: jax.Array, min_gap: jax.Array
) -> jax.Array:
    """() how far object `index`'s gap to the nearest valid vehicle ahead falls short of
    `min_gap + time_gap * speed`, as a fraction of that safe gap, in [0, 1].

    `states` holds one timestep, fields (N,). "Ahead": the other box's centre is in
    front of this one's (along its heading) and less than the two boxes' half widths
    plus 0.5 m to the side; the gap is bumper to bumper along the heading.
    """
    me = jax.tree_util.tree_map(lambda a: a[index], states)
    cos, sin = jnp.cos(me.yaw), jnp.sin(me.yaw)
    dx, dy = states.x - me.x, states.y - me.y
    along = cos * dx + sin * dy
    across = -sin * dx + cos * dy
    others = states.valid & (jnp.arange(states.x.shape[-1]) != index)
    ahead = others & (along > 0.0) & (jnp.abs(across) < 0.5 * (me.width + states.width) + 0.5)
    gap = along - 0.5 * (me.length + states.length)
    nearest = jnp.min(jnp.where(ahead, gap, jnp.inf))
    safe = jnp.maximum(min_gap + time_gap * jnp.hypot(me.vel_x, me.vel_y), 1e-6)
    shortfall = jnp.clip((safe - nearest) / safe, 0.0, 1.0)
    return jnp.where(me.valid & jnp.isfinite(nearest), shortfall, 0.0)


def road_edge_mask(roadgraph: RoadgraphPoints) -> jax.Array:
    """(..., M) valid road-edge points."""
    edge = jnp.zeros(roadgraph.types.shape, bool)
    for value in ROAD_EDGE_TYPES:
        edge = edge | (roadgraph.types == value)
    return edge & roadgraph.valid


def offroad_distance(states: Trajectory, roadgraph: RoadgraphPoints) -> jax.Array:
    """(..., N) the largest signed road-edge distance of the box's corners (> 0: off-road)."""
    corners = box_corners(states.x, states.y, states.yaw, states.length, states.width)
    lead = corners.shape[:-3]
    n = corners.shape[-3]
    flat = corners.reshape(*lead, n * 4, 2)
    line_dir = jnp.stack([roadgraph.dir_x, roadgraph.dir_y], axis=-1)
    signed = signed_distance_to_polylines(flat, roadgraph.xy, line_dir, road_edge_mask(roadgraph))
    return signed.reshape(*lead, n, 4).max(axis=-1)


def offroad(states: Trajectory, roadgraph: RoadgraphPoints) -> jax.Array:
    """(..., N) whether a valid object has a corner off the road."""
    return (offroad_distance(states, roadgraph) > 0.0) & states.valid


def log_divergence(sim: Trajectory, log: Trajectory) -> jax.Array:
    """(..., N, T) distance (m) between simulated and logged positions (0 where either
    is invalid)."""
    dist = jnp.hypot(sim.x - log.x, sim.y - log.y)
    return jnp.where(sim.valid & log.valid, dist, 0.0)


def ade_fde(sim: Trajectory, log: Trajectory) -> tuple[jax.Array, jax.Array]:
    """(..., N) average and final displacement errors over the steps both are valid."""
    both = sim.valid & log.valid
    dist = log_divergence(sim, log)
    count = jnp.sum(both, axis=-1)
    ade = jnp.sum(dist, axis=-1) / jnp.maximum(count, 1)
    last = jnp.max(jnp.where(both, jnp.arange(both.shape[-1]), -1), axis=-1)
    fde = jnp.take_along_axis(dist, jnp.maximum(last, 0)[..., None], axis=-1)[..., 0]
    return ade, jnp.where(count > 0, fde, 0.0)


def kinematic_infeasibility(
    trajectory: Trajectory, model: InvertibleBicycle | None = None, tolerance: float = 1e-3
) -> jax.Array:
    """(..., N, T - 1) whether each step needs an action outside the bicycle's bounds."""
    model = model or InvertibleBicycle()
    before = jax.tree_util.tree_map(lambda a: a[..., :-1], trajectory)
    after = jax.tree_util.tree_map(lambda a: a[..., 1:], trajectory)
    action = model.inverse(before, after, clip=False)
    outside = (action < model.action_low - tolerance) | (action > model.action_high + tolerance)
    return jnp.any(outside, axis=-1) & before.valid & after.valid


def route_arc_length(x: jax.Array, y: jax.Array, route: Route) -> jax.Array:
    """(...) arc length along `route` of its nearest valid point to (x, y)."""
    dist = jnp.hypot(route.x - x[..., None], route.y - y[..., None])
    nearest = jnp.argmin(jnp.where(route.valid, dist, jnp.inf), axis=-1)
    return jnp.take_along_axis(route.arc_length, nearest[..., None], axis=-1)[..., 0]


def route_progress(x: jax.Array, y: jax.Array, route: Route) -> jax.Array:
    """(...) fraction of the route covered between the first and the last of positions
    (..., T) (negative when the car ended behind where it started)."""
    start = route_arc_length(x[..., 0], y[..., 0], route)
    end = route_arc_length(x[..., -1], y[..., -1], route)
    total = jnp.max(jnp.where(route.valid, route.arc_length, 0.0), axis=-1)
    return (end - start) / jnp.maximum(total, 1e-6)


def red_light_crossing(
    before: Trajectory, after: Trajectory, lights: TrafficLights, t, lane_width: float
):
    """Whether each object's front bumper crossed the stop point of a red light in its
    lane between states `before` and `after` (fields (...,)), the light's state taken at
    timestep `t`. Returns (...,) bool."""
    x, y = lights.x[..., t], lights.y[..., t]  # (L,)
    red = lights.is_red[..., t] & lights.valid[..., t]

    def ahead(state):
        dx = x - state.x[..., None]
        dy = y - state.y[..., None]
        cos, sin = jnp.cos(state.yaw)[..., None], jnp.sin(state.yaw)[..., None]
        along = cos * dx + sin * dy - 0.5 * state.length[..., None]
        return along, -sin * dx + cos * dy

    along_0, across_0 = ahead(before)
    along_1, _ = ahead(after)
    crossed = (along_0 > 0) & (along_1 <= 0) & (jnp.abs(across_0) < 0.5 * lane_width)
    return jnp.any(crossed & red, axis=-1) & before.valid & after.valid


EPISODE_METRICS = ("overlap", "offroad", "red_light", "infeasible", "ade", "fde", "progress")


def sdc_episode_metrics(sim: SimulatorState, start: int, lane_width: float) -> dict[str, jax.Array]:
    """The SDC's metrics over one finished episode (one scene, no batch axis; vmap for
    batches), counted from timestep `start` (the end of the warm-up) to the last.

    Returns scalars: overlap, offroad, red_light, infeasible (whether the event
    happened at any step: averaged over episodes these are the episode rates), ade
    and fde (m, against the log), progress (fraction of the route).
    """
    sdc = jnp.argmax(sim.object_metadata.is_sdc)
    driven = jax.tree_util.tree_map(lambda a: a[..., start:], sim.sim_trajectory)
    logged = jax.tree_util.tree_map(lambda a: a[..., start:], sim.log_trajectory)
    per_step = jax.tree_util.tree_map(lambda a: a.T, driven)  # (T', N)
    own = jax.tree_util.tree_map(lambda a: a[sdc], driven)  # (T',)
    hits = jax.vmap(overlap)(per_step)[:, sdc]
    off = offroad(own, sim.roadgraph_points)
    before = jax.tree_util.tree_map(lambda a: a[:-1], own)
    after = jax.tree_util.tree_map(lambda a: a[1:], own)
    steps = jnp.arange(start + 1, sim.num_timesteps)
    red = jax.vmap(lambda b, a, t: red_light_crossing(b, a, sim.log_traffic_light, t, lane_width))(
        before, after, steps
    )
    ade, fde = ade_fde(own, jax.tree_util.tree_map(lambda a: a[sdc], logged))
    return {
        "overlap": jnp.any(hits),
        "offroad": jnp.any(off),
        "red_light": jnp.any(red),
        "infeasible": jnp.any(kinematic_infeasibility(own)),
        "ade": ade,
        "fde": fde,
        "progress": route_progress(own.x, own.y, sim.sdc_route),
    }
