"""The SDC's observation: SDC-frame features of what its (restricted) sensor sees.

`observe(state, restrictions, episode_key, step_key, num_objects, num_points)`:

- objects: the `num_objects` nearest other vehicles it sees, each
  (x, y, cos(rel yaw), sin(rel yaw), speed, length, width), with a valid flag;
- roadgraph: the `num_points` nearest map points inside its geometric field of
  view, each (x, y, dir_x, dir_y, one-hot of lane / road edge / stop line / other);
- lights: every signal it can see, (x, y, one-hot of red / yellow / green / unknown);
- the SDC's own speed and its goal (SDC frame).

Positions are in metres in the SDC frame (x forward, y left). The expert's view
is the same function with no restrictions.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from arenax.envs.igdrive.datatypes import (
    LANE_TYPES,
    ROAD_EDGE_TYPES,
    LightState,
    RoadType,
    SimulatorState,
)
from arenax.envs.igdrive.perception import (
    geometric_mask,
    object_visibility,
    perceived_positions,
)

OBJECT_FEATURES = 7
ROAD_FEATURES = 8
LIGHT_FEATURES = 6


@struct.dataclass
class DrivingObservation:
    """Fields (shapes for one scene; batch axes lead).

    Attributes:
        objects: (K, 7) x, y, cos and sin of relative yaw, speed, length, width.
        object_valid: (K,) a real, seen object in that slot.
        roadgraph: (M, 8) x, y, dir_x, dir_y, is lane, is road edge, is stop line, other.
        roadgraph_valid: (M,).
        lights: (L, 6) x, y, is red, is yellow, is green, is unknown.
        light_valid: (L,).
        sdc_speed: (1,) m/s.
        goal: (2,) the route's end in the SDC frame (m).
    """

    objects: jax.Array
    object_valid: jax.Array
    roadgraph: jax.Array
    roadgraph_valid: jax.Array
    lights: jax.Array
    light_valid: jax.Array
    sdc_speed: jax.Array
    goal: jax.Array

    def to_array(self) -> jax.Array:
        """(..., D) flat features for networks; invalid slots are zeros."""
        parts = [
            (self.objects * self.object_valid[..., None]).reshape(*self.sdc_speed.shape[:-1], -1),
            self.object_valid.astype(jnp.float32),
            (self.roadgraph * self.roadgraph_valid[..., None]).reshape(
                *self.sdc_speed.shape[:-1], -1
            ),
            self.roadgraph_valid.astype(jnp.float32),
            (self.lights * self.light_valid[..., None]).reshape(*self.sdc_speed.shape[:-1], -1),
            self.light_valid.astype(jnp.float32),
            self.sdc_speed,
            self.goal,
        ]
        return jnp.concatenate(parts, axis=-1)


def to_sdc_frame(x, y, origin_x, origin_y, origin_yaw) -> jax.Array:
    """(..., 2) positions (x, y) relative to the SDC pose, in its frame."""
    dx, dy = x - origin_x, y - origin_y
    cos, sin = jnp.cos(origin_yaw), jnp.sin(origin_yaw)
    return jnp.stack([cos * dx + sin * dy, -sin * dx + cos * dy], axis=-1)


def _nearest(dist: jax.Array, keep: jax.Array, count: int) -> tuple[jax.Array, jax.Array]:
    """Indices of the `count` nearest kept entries and whether each slot is filled."""
    score = jnp.where(keep, -dist, -jnp.inf)
    missing = count - score.shape[-1]
    if missing > 0:  # fewer candidates than slots: pad with empty ones
        score = jnp.concatenate([score, jnp.full((*score.shape[:-1], missing), -jnp.inf)], -1)
    top, index = jax.lax.top_k(score, count)
    size = dist.shape[-1]
    return jnp.minimum(index, size - 1), jnp.isfinite(top)


def _is_any(values: jax.Array, options) -> jax.Array:
    out = jnp.zeros(values.shape, bool)
    for option in options:
        out = out | (values == int(option))
    return out


def observe(
    state: SimulatorState,
    restrictions: tuple,
    episode_key: jax.Array,
    step_key: jax.Array,
    num_objects: int = 8,
    num_points: int = 128,
) -> DrivingObservation:
    """The SDC's observation of one scene at `state.timestep` (vmap for batches)."""
    now = jax.tree_util.tree_map(lambda a: a[..., 0], state.current_sim_trajectory)  # (N,)
    sdc = jnp.argmax(state.object_metadata.is_sdc)
    ox, oy, oyaw, speed = now.x[sdc], now.y[sdc], now.yaw[sdc], now.speed[sdc]
    k_drop, k_noise = jax.random.split(step_key)

    rel = to_sdc_frame(now.x, now.y, ox, oy, oyaw)
    others = now.valid & ~state.object_metadata.is_sdc
    rel_yaw = now.yaw - oyaw
    seen = object_visibility(
        rel, rel_yaw, now.length, now.width, others, speed, k_drop, restrictions
    )
    perceived = perceived_positions(rel, speed, episode_key, k_noise, restrictions)
    index, filled = _nearest(jnp.linalg.norm(rel, axis=-1), seen, num_objects)
    objects = jnp.stack(
        [
            perceived[index, 0],
            perceived[index, 1],
            jnp.cos(rel_yaw[index]),
            jnp.sin(rel_yaw[index]),
            now.speed[index],
            now.length[index],
            now.width[index],
        ],
        axis=-1,
    )

    road = state.roadgraph_points
    road_rel = to_sdc_frame(road.x, road.y, ox, oy, oyaw)
    road_keep = road.valid & geometric_mask(road_rel, speed, restrictions)
    road_index, road_filled = _nearest(jnp.linalg.norm(road_rel, axis=-1), road_keep, num_points)
    road_perceived = perceived_positions(  # only the kept points, not the whole map
        road_rel[road_index], speed, episode_key, k_noise, restrictions
    )
    cos, sin = jnp.cos(oyaw), jnp.sin(oyaw)
    dir_x = cos * road.dir_x + sin * road.dir_y
    dir_y = -sin * road.dir_x + cos * road.dir_y
    types = road.types[road_index]
    is_lane = _is_any(types, LANE_TYPES)
    is_edge = _is_any(types, ROAD_EDGE_TYPES)
    is_stop = types == int(RoadType.STOP_LINE)
    roadgraph = jnp.stack(
        [
            road_perceived[:, 0],
            road_perceived[:, 1],
            dir_x[road_index],
            dir_y[road_index],
            is_lane,
            is_edge,
            is_stop,
            ~(is_lane | is_edge | is_stop),
        ],
        axis=-1,
    ).astype(jnp.float32)

    lights = state.log_traffic_light
    t = state.timestep
    light_state = lights.state[..., t]
    light_rel = to_sdc_frame(lights.x[..., t], lights.y[..., t], ox, oy, oyaw)
    light_valid = lights.valid[..., t] & geometric_mask(light_rel, speed, restrictions)
    red = _is_any(light_state, (LightState.STOP, LightState.ARROW_STOP, LightState.FLASHING_STOP))
    yellow = _is_any(light_state, (LightState.CAUTION, LightState.ARROW_CAUTION))
    green = _is_any(light_state, (LightState.GO, LightState.ARROW_GO))
    light_features = jnp.concatenate(
        [
            perceived_positions(light_rel, speed, episode_key, k_noise, restrictions),
            jnp.stack([red, yellow, green, ~(red | yellow | green)], axis=-1).astype(jnp.float32),
        ],
        axis=-1,
    )
    goal = state.sdc_route.goal
    return DrivingObservation(
        objects=objects,
        object_valid=filled,
        roadgraph=roadgraph,
        roadgraph_valid=road_filled,
        lights=light_features,
        light_valid=light_valid,
        sdc_speed=speed[None],
        goal=to_sdc_frame(goal[0], goal[1], ox, oy, oyaw),
    )
