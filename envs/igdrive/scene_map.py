"""The map of a procedural scene as Waymax-style arrays: roadgraph points, traffic
lights and the SDC's route.

Road edges are directed with the road on their left and form continuous
boundaries, so that the off-road metric (signed distance to the nearest edge
point) is right everywhere: at a junction the main road's edges stop short of the
cross road, the cross road's edges stop short of the main road, and four curb
returns (quarter circles) join them; at a merge the right edge follows the
acceleration lane's taper. Polyline ids: main lanes 0..max_lanes-1, cross lanes
10 and 11, the ramp lane 50, edges 100-103, curb returns 110-113, stop lines 200-202.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from arenax.envs.igdrive.datatypes import RoadgraphPoints, RoadType, Route, TrafficLights
from arenax.envs.igdrive.layout import Path, RoadLayout, lane_offset, taper

ARC_POINTS = 9  # points on each of a junction's four curb returns
FIELDS = ("x", "y", "dir_x", "dir_y", "types", "ids", "valid")


def _polyline(x, y, heading, kind: RoadType, ident: int, valid, sign: float = 1.0) -> dict:
    """One polyline's fields; `sign` -1 reverses the direction (left road edges)."""
    return {
        "x": x,
        "y": y,
        "dir_x": sign * jnp.cos(heading),
        "dir_y": sign * jnp.sin(heading),
        "types": jnp.full(x.shape, int(kind), jnp.int32),
        "ids": jnp.full(x.shape, ident, jnp.int32),
        "valid": jnp.broadcast_to(valid, x.shape),
    }


def _main_road(roads: RoadLayout, config) -> list[dict]:
    """Lane centres, the ramp lane, and both edges of the main road."""
    line = roads.main
    w = config.lane_width
    s = jnp.arange(config.points_per_line) * config.point_spacing
    on_road = s <= line.total_length
    half = 0.5 * roads.num_lanes * w
    beside_junction = roads.has_junction & (jnp.abs(s - roads.centre_s) < w + config.corner_radius)
    shift, slope = taper(s, roads.merge_s, config.taper_length, w)
    parts = []
    for lane in range(config.max_lanes):
        pose = line.pose_at(s, lane_offset(lane, roads.num_lanes, w))
        valid = on_road & (lane < roads.num_lanes)
        parts.append(
            _polyline(
                pose["x"], pose["y"], pose["heading"], RoadType.LANE_SURFACE_STREET, lane, valid
            )
        )

    def tapered(offset, ident, kind, valid, sign=1.0):
        pose = line.pose_at(s, offset)
        heading = pose["heading"] - jnp.arctan2(slope, pose["speed_factor"])
        return _polyline(pose["x"], pose["y"], heading, kind, ident, valid, sign)

    ramp_valid = on_road & (s < roads.merge_s)
    parts.append(
        tapered(
            lane_offset(0, roads.num_lanes, w) - shift, 50, RoadType.LANE_SURFACE_STREET, ramp_valid
        )
    )
    edge_valid = on_road & ~beside_junction
    parts.append(tapered(-half - shift, 100, RoadType.ROAD_EDGE_BOUNDARY, edge_valid))
    pose = line.pose_at(s, half)
    parts.append(
        _polyline(
            pose["x"],
            pose["y"],
            pose["heading"],
            RoadType.ROAD_EDGE_BOUNDARY,
            101,
            edge_valid,
            -1.0,
        )
    )
    return parts


def _cross_road(roads: RoadLayout, config) -> list[dict]:
    """The cross road's two lanes (one per direction) and its edges."""
    w = config.lane_width
    s = jnp.arange(config.cross_points) * config.point_spacing
    on_road = roads.has_junction & (s <= config.cross_length)
    half_main = 0.5 * roads.num_lanes * w
    centre = 0.5 * config.cross_length
    beside_main = jnp.abs(s - centre) < half_main + config.corner_radius
    parts = []
    for path, ident in ((Path.CROSS_LEFTWARD, 10), (Path.CROSS_RIGHTWARD, 11)):
        pose = roads.line(path).pose_at(s, -0.5 * w)
        parts.append(
            _polyline(
                pose["x"], pose["y"], pose["heading"], RoadType.LANE_SURFACE_STREET, ident, on_road
            )
        )
    line = roads.leftward
    for offset, sign, ident in ((-w, 1.0, 102), (w, -1.0, 103)):
        pose = line.pose_at(s, offset)
        parts.append(
            _polyline(
                pose["x"],
                pose["y"],
                pose["heading"],
                RoadType.ROAD_EDGE_BOUNDARY,
                ident,
                on_road & ~beside_main,
                sign,
            )
        )
    return parts


def _curb_returns(roads: RoadLayout, config, num_points: int) -> list[dict]:
    """Four quarter circles joining the main road's edges to the cross road's, each
    directed with the road on its left. In the main road's frame (arc length `s`,
    lateral `d`) the corner of quadrant (sign_s, sign_d) has its circle's centre at
    (centre_s + sign_s (w + r), sign_d (half + r))."""
    w, r = config.lane_width, config.corner_radius
    half = 0.5 * roads.num_lanes * w
    parts = []
    for ident, (sign_s, sign_d) in zip(
        range(110, 114), ((-1, -1), (1, -1), (-1, 1), (1, 1)), strict=True
    ):
        towards_main = -sign_d * 0.5 * math.pi  # angle of the point on the main road's edge
        towards_cross = 0.0 if sign_s < 0 else math.pi
        # The boundary runs main edge -> cross edge when sign_s * sign_d > 0, else back.
        start, end = (
            (towards_main, towards_cross) if sign_s * sign_d > 0 else (towards_cross, towards_main)
        )
        turn = (end - start + math.pi) % (2 * math.pi) - math.pi
        angle = start + turn * jnp.linspace(0.0, 1.0, num_points)
        s = roads.centre_s + sign_s * (w + r) + r * jnp.cos(angle)
        d = sign_d * (half + r) + r * jnp.sin(angle)
        pose = roads.main.pose_at(s, d)
        tangent_s = -jnp.sin(angle) * math.copysign(1.0, turn)
        tangent_d = jnp.cos(angle) * math.copysign(1.0, turn)
        heading = pose["heading"] + jnp.arctan2(tangent_d, tangent_s)
        parts.append(
            _polyline(
                pose["x"],
                pose["y"],
                heading,
                RoadType.ROAD_EDGE_BOUNDARY,
                ident,
                roads.has_junction,
            )
        )
    return parts


def _stop_lines(roads: RoadLayout, config) -> list[dict]:
    """The main road's stop line across all its lanes; each cross lane's across its lane."""
    w = config.lane_width
    k = config.stop_line_points
    half = 0.5 * roads.num_lanes * w
    has_main = jnp.isfinite(roads.main_stop_s)
    main_s = jnp.full((k,), jnp.where(has_main, roads.main_stop_s, 0.0))
    parts = [
        _stop_line(roads.main.pose_at(main_s, jnp.linspace(-1.0, 1.0, k) * half), 200, has_main)
    ]
    cross_s = jnp.full((k,), 0.5 * config.cross_length - half - 2.0)
    for path, ident in ((Path.CROSS_LEFTWARD, 201), (Path.CROSS_RIGHTWARD, 202)):
        pose = roads.line(path).pose_at(cross_s, jnp.linspace(-w, 0.0, k))
        parts.append(_stop_line(pose, ident, roads.has_junction))
    return parts


def _stop_line(pose: dict, ident: int, valid) -> dict:
    across = pose["heading"] + 0.5 * math.pi
    return _polyline(pose["x"], pose["y"], across, RoadType.STOP_LINE, ident, valid)


def roadgraph(roads: RoadLayout, config) -> RoadgraphPoints:
    """All map points of a scene (`config.num_roadgraph_points` of them)."""
    parts = (
        _main_road(roads, config)
        + _cross_road(roads, config)
        + _curb_returns(roads, config, ARC_POINTS)
        + _stop_lines(roads, config)
    )
    return RoadgraphPoints(**{f: jnp.concatenate([p[f] for p in parts]) for f in FIELDS})


def traffic_lights(roads: RoadLayout, main_state, cross_state, config) -> TrafficLights:
    """One light per main lane at the main stop line and one per cross lane at its stop
    line; `main_state`, `cross_state`: (T,)."""
    w, t = config.lane_width, config.num_timesteps
    lanes = jnp.arange(config.max_lanes)
    main_s = jnp.where(jnp.isfinite(roads.main_stop_s), roads.main_stop_s, 0.0)
    main = roads.main.pose_at(
        jnp.full((config.max_lanes,), main_s), lane_offset(lanes, roads.num_lanes, w)
    )
    cross_s = 0.5 * config.cross_length - 0.5 * roads.num_lanes * w - 2.0
    cross = [
        roads.line(path).pose_at(cross_s, -0.5 * w)
        for path in (Path.CROSS_LEFTWARD, Path.CROSS_RIGHTWARD)
    ]
    x = jnp.concatenate([main["x"], jnp.stack([c["x"] for c in cross])])
    y = jnp.concatenate([main["y"], jnp.stack([c["y"] for c in cross])])
    state = jnp.concatenate(
        [jnp.broadcast_to(main_state, (config.max_lanes, t)), jnp.broadcast_to(cross_state, (2, t))]
    )
    valid = jnp.concatenate(
        [
            jnp.isfinite(roads.main_stop_s) & (lanes < roads.num_lanes),
            jnp.broadcast_to(roads.has_junction, (2,)),
        ]
    )
    lane_ids = jnp.concatenate([lanes, jnp.array([10, 11])]).astype(jnp.int32)
    n = config.num_lights
    return TrafficLights(
        x=jnp.broadcast_to(x[:, None], (n, t)),
        y=jnp.broadcast_to(y[:, None], (n, t)),
        state=state.astype(jnp.int32),
        lane_ids=jnp.broadcast_to(lane_ids[:, None], (n, t)),
        valid=jnp.broadcast_to(valid[:, None], (n, t)),
    )


def sdc_route(x: jax.Array, y: jax.Array, valid: jax.Array) -> Route:
    """The route through points (P,) with their cumulative arc length."""
    steps = jnp.hypot(jnp.diff(x), jnp.diff(y))
    return Route(
        x=x, y=y, arc_length=jnp.concatenate([jnp.zeros(1), jnp.cumsum(steps)]), valid=valid
    )
