"""Driving metrics, the same definitions for every method (expert, BC, BC+RL, BIG).

Per-step metrics take one timestep of states (time axis of size 1 dropped, fields
(..., num_objects)); episode metrics take whole trajectories (..., num_objects, T).

- overlap: the object's box intersects another valid object's box;
- offroad: a corner of the box is on the outer side of the nearest road-edge point
  (road edges are directed with the road on their left);
- log divergence: distance to the logged position at the same timestep; ADE is its
  mean over valid steps, FDE its value at the last valid step;
- kinematic infeasibility: the bicycle action that explains a step is outside the
  model's bounds (acceleration or curvature);
- route progress: arc length along the route of the nearest route point, from the
  episode's first step to its last, as a fraction of the route's length.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from arenax.envs.igdrive.datatypes import ROAD_EDGE_TYPES, RoadgraphPoints, Route, Trajectory
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
