"""The road layout of a procedural scene: its kind, its paths and where they meet.

Three kinds of scene (`SceneKind`), all with the same array shapes so that one
compiled generator draws any mix of them:

- ROAD: a multi-lane one-way road whose reference line chains straight and curved
  segments, with an optional traffic light at a stop line across all lanes.
- INTERSECTION: the same road crossed at right angles by a two-way, two-lane road
  (a four-way junction). Both approaches have lights with complementary phases
  (one road's green, yellow, then an all-red clearance, then the other's green);
  the junction box between the stop lines is where the paths conflict.
- MERGE: an acceleration lane to the right of lane 0 that tapers into it (a smooth
  cubic taper) at `merge_s`; vehicles starting on it merge into lane 0.

A vehicle drives along one of three *paths* (`Path`): the main road, or the cross
road in either direction. Positions are arc length `s` along the path plus a
lateral offset (left positive) that, for vehicles on the ramp, depends on `s`.
"""

from __future__ import annotations

from enum import IntEnum

import jax
import jax.numpy as jnp
from flax import struct

from arenax.envs.igdrive.road import ReferenceLine

NUM_SEGMENTS = 3
NO_MERGE = -1.0e6  # merge_s of scenes without a merge (far behind every vehicle)


class SceneKind(IntEnum):
    ROAD = 0
    INTERSECTION = 1
    MERGE = 2


class Path(IntEnum):
    """Which reference line a vehicle follows."""

    MAIN = 0
    CROSS_LEFTWARD = 1  # the cross road, driving towards the main road's left
    CROSS_RIGHTWARD = 2


def lane_offset(lane: jax.Array, num_lanes: jax.Array, width: float) -> jax.Array:
    """Lateral offset (m, left positive) of a main-road lane's centre from the reference
    line, which runs along the road's middle (lane 0 is the rightmost)."""
    return (lane - 0.5 * (num_lanes - 1)) * width


def taper(s: jax.Array, merge_s: jax.Array, taper_length: float, width: float):
    """(lateral shift, its derivative d shift / ds) of the acceleration lane to the right
    of lane 0 at arc length `s`: `width` well before the merge, falling smoothly (cubic)
    to 0 at `merge_s`; 0 after it and in scenes without a merge."""
    u = jnp.clip((merge_s - s) / taper_length, 0.0, 1.0)
    shift = width * u * u * (3.0 - 2.0 * u)
    inside = (u > 0.0) & (u < 1.0)
    slope = jnp.where(inside, -width * 6.0 * u * (1.0 - u) / taper_length, 0.0)
    return shift, slope


def straight_line(x0, y0, heading, length: float) -> ReferenceLine:
    third = jnp.full((NUM_SEGMENTS,), length / NUM_SEGMENTS, jnp.float32)
    return ReferenceLine(third, jnp.zeros(NUM_SEGMENTS), x0, y0, heading)


def stack_lines(lines: list[ReferenceLine]) -> ReferenceLine:
    return jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *lines)


def pose_on_paths(
    lines: ReferenceLine, path: jax.Array, s: jax.Array, d: jax.Array
) -> dict[str, jax.Array]:
    """Pose of each query on its own path: `path`, `s` and `d` broadcast to one shape S;
    `lines` is the stack of a scene's 3 paths. Returns `ReferenceLine.pose_at`'s fields,
    each of shape S."""
    path, s, d = jnp.broadcast_arrays(path, s, jnp.asarray(d, jnp.float32))
    poses = jax.vmap(lambda line: line.pose_at(s, d))(lines)
    return {k: jnp.take_along_axis(v, path[None], axis=0)[0] for k, v in poses.items()}


@struct.dataclass
class RoadLayout:
    """The roads of one scene (no vehicles yet).

    Attributes:
        kind: a `SceneKind` (int32).
        main: the main road's reference line.
        leftward, rightward: the cross road's reference line in each direction
            (placeholders in scenes without a junction).
        num_lanes: main-road lanes (int32).
        centre_s: main-road arc length of the junction's centre.
        merge_s: main-road arc length where the acceleration lane ends (`NO_MERGE`).
        main_stop_s: the main road's stop line (inf: no light).
    """

    kind: jax.Array
    main: ReferenceLine
    leftward: ReferenceLine
    rightward: ReferenceLine
    num_lanes: jax.Array
    centre_s: jax.Array
    merge_s: jax.Array
    main_stop_s: jax.Array

    def line(self, path: Path) -> ReferenceLine:
        return (self.main, self.leftward, self.rightward)[path]

    @property
    def lines(self) -> ReferenceLine:
        """The 3 paths' lines stacked in `Path` order (one scene: leaves (3, ...))."""
        return stack_lines([self.main, self.leftward, self.rightward])

    @property
    def has_junction(self) -> jax.Array:
        return self.kind == SceneKind.INTERSECTION

    def path_length(self, path: jax.Array, cross_length: float) -> jax.Array:
        return jnp.where(path == Path.MAIN, self.main.total_length, cross_length)


def draw_main_line(key: jax.Array, kind: jax.Array, config) -> ReferenceLine:
    """Three segments; the first (and, at junctions, the second) are straight so that
    the junction sits on a straight stretch."""
    k_len, k_curved, k_curv, k_head = jax.random.split(key, 4)
    low, high = config.segment_length
    lengths = jax.random.uniform(k_len, (NUM_SEGMENTS,), minval=low, maxval=high)
    curved = jax.random.bernoulli(k_curved, 0.6, (NUM_SEGMENTS,)).at[0].set(False)
    curved = curved.at[1].set(curved[1] & (kind != SceneKind.INTERSECTION))
    magnitude = jax.random.uniform(
        k_curv, (NUM_SEGMENTS,), minval=-config.max_curvature, maxval=config.max_curvature
    )
    heading0 = jax.random.uniform(k_head, (), minval=-jnp.pi, maxval=jnp.pi)
    return ReferenceLine(
        lengths=lengths,
        curvatures=jnp.where(curved, magnitude, 0.0),
        x0=jnp.float32(0.0),
        y0=jnp.float32(0.0),
        heading0=heading0,
    )


def draw_roads(key: jax.Array, config) -> RoadLayout:
    """Kind, main road, junction and merge positions of one scene."""
    k_kind, k_line, k_lanes, k_centre, k_merge, k_light = jax.random.split(key, 6)
    kind = jax.random.choice(k_kind, 3, p=jnp.asarray(config.kind_probabilities)).astype(jnp.int32)
    main = draw_main_line(k_line, kind, config)
    num_lanes = jax.random.randint(k_lanes, (), min(2, config.max_lanes), config.max_lanes + 1)
    w = config.lane_width
    straight_end = main.lengths[0] + main.lengths[1]
    # Junction, merge and light sit 45-125 m ahead of the start, where the SDC gets to
    # within the 9 s of a log.
    centre_s = jnp.minimum(
        jax.random.uniform(k_centre, (), minval=55.0, maxval=85.0),
        straight_end - w - config.corner_radius - 5.0,
    )
    centre = main.pose_at(centre_s)
    normal_x, normal_y = -jnp.sin(centre["heading"]), jnp.cos(centre["heading"])
    half = 0.5 * config.cross_length
    leftward = straight_line(
        centre["x"] - half * normal_x,
        centre["y"] - half * normal_y,
        centre["heading"] + 0.5 * jnp.pi,
        config.cross_length,
    )
    rightward = straight_line(
        centre["x"] + half * normal_x,
        centre["y"] + half * normal_y,
        centre["heading"] - 0.5 * jnp.pi,
        config.cross_length,
    )
    merge_s = jax.random.uniform(k_merge, (), minval=config.taper_length + 25.0, maxval=125.0)
    has_light = jax.random.bernoulli(k_light, config.light_probability)
    light_s = jax.random.uniform(jax.random.fold_in(k_light, 1), (), minval=45.0, maxval=100.0)
    light_s = jnp.where(kind == SceneKind.MERGE, jnp.maximum(light_s, merge_s + 15.0), light_s)
    junction = kind == SceneKind.INTERSECTION
    main_stop_s = jnp.where(junction, centre_s - w - 2.0, jnp.where(has_light, light_s, jnp.inf))
    return RoadLayout(
        kind=kind,
        main=main,
        leftward=leftward,
        rightward=rightward,
        num_lanes=num_lanes,
        centre_s=centre_s,
        merge_s=jnp.where(kind == SceneKind.MERGE, merge_s, NO_MERGE),
        main_stop_s=main_stop_s,
    )
