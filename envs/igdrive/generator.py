"""Procedural IGDrivSim scenarios (the embedded default): `generate(key, config)`.

A scene is a multi-lane one-way road whose reference line chains straight and
curved segments, with an optional traffic light at a stop line across all lanes
(green, then yellow, then red). Vehicles start in random lanes with safe gaps;
every vehicle's log is driven by the privileged expert (`expert.py`: IDM car
following in its lane, stopping for the light), so logs are free of collisions,
off-road driving and red-light running. Vehicle 0 is the SDC; its route is its
lane's centreline from its start to the end of the road.

`generate` is a pure function of the key: `jax.jit(jax.vmap(generate, (0, None)))`
builds a batch of scenes in one call.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import struct

from arenax.envs.igdrive.datatypes import (
    DT,
    LightState,
    ObjectMetadata,
    ObjectType,
    RoadgraphPoints,
    RoadType,
    Route,
    SimulatorState,
    TrafficLights,
    Trajectory,
)
from arenax.envs.igdrive.expert import IDMParams, expert_step
from arenax.envs.igdrive.road import ReferenceLine

NUM_SEGMENTS = 3


@struct.dataclass
class ScenarioConfig:
    """Shapes and ranges of generated scenes (all static: they fix array shapes).

    Attributes:
        num_objects: vehicles per scene (padded; vehicle 0 is the SDC).
        num_timesteps: log length (91: 9 s at 10 Hz, as in the Waymo Open Motion Dataset).
        max_lanes: lanes at most (scenes draw 1 to max_lanes; 2 at least when max_lanes > 1).
        lane_width: m.
        segment_length: (min, max) length of each of the 3 road segments (m).
        max_curvature: largest |curvature| of a curved segment (1/m).
        point_spacing: distance between sampled map points (m).
        light_probability: chance that a scene has a traffic light.
        yellow_steps: duration of yellow (steps).
        desired_speed: (min, max) expert desired speeds (m/s).
        idm: the expert's car-following parameters.
    """

    num_objects: int = struct.field(pytree_node=False, default=8)
    num_timesteps: int = struct.field(pytree_node=False, default=91)
    max_lanes: int = struct.field(pytree_node=False, default=3)
    lane_width: float = struct.field(pytree_node=False, default=3.5)
    segment_length: tuple[float, float] = struct.field(pytree_node=False, default=(60.0, 110.0))
    max_curvature: float = struct.field(pytree_node=False, default=1.0 / 60.0)
    point_spacing: float = struct.field(pytree_node=False, default=2.0)
    light_probability: float = struct.field(pytree_node=False, default=0.7)
    yellow_steps: int = struct.field(pytree_node=False, default=40)
    desired_speed: tuple[float, float] = struct.field(pytree_node=False, default=(10.0, 16.0))
    idm: IDMParams = struct.field(pytree_node=False, default_factory=IDMParams)

    @property
    def points_per_line(self) -> int:
        return math.ceil(NUM_SEGMENTS * self.segment_length[1] / self.point_spacing) + 1

    @property
    def stop_line_points(self) -> int:
        return 2 * self.max_lanes + 1

    @property
    def num_roadgraph_points(self) -> int:
        return (self.max_lanes + 2) * self.points_per_line + self.stop_line_points


@struct.dataclass
class SceneLayout:
    """What the generator drew, in road coordinates (kept for the expert and tests).

    Attributes:
        line: the road's reference line.
        num_lanes: lanes in the scene (int32).
        lane: (N,) each vehicle's lane (0 is the rightmost).
        s, v: (N, T) arc length and its rate, as driven by the expert.
        stop_s: arc length of the stop line (inf: no light).
        light_state: (T,) a `LightState` per step (UNKNOWN without a light).
    """

    line: ReferenceLine
    num_lanes: jax.Array
    lane: jax.Array
    s: jax.Array
    v: jax.Array
    stop_s: jax.Array
    light_state: jax.Array


def lane_offset(lane: jax.Array, num_lanes: jax.Array, width: float) -> jax.Array:
    """Lateral offset (m, left positive) of a lane's centre from the reference line,
    which runs along the road's middle."""
    return (lane - 0.5 * (num_lanes - 1)) * width


def draw_road(key: jax.Array, config: ScenarioConfig) -> ReferenceLine:
    k_len, k_curved, k_curv, k_head = jax.random.split(key, 4)
    low, high = config.segment_length
    lengths = jax.random.uniform(k_len, (NUM_SEGMENTS,), minval=low, maxval=high)
    curved = jax.random.bernoulli(k_curved, 0.6, (NUM_SEGMENTS,)).at[0].set(False)
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


def draw_light(key: jax.Array, total_length: jax.Array, config: ScenarioConfig):
    """(stop_s, light_state (T,)): green for a while, yellow, then red; or no light."""
    k_has, k_where, k_green = jax.random.split(key, 3)
    has_light = jax.random.bernoulli(k_has, config.light_probability)
    stop_s = total_length * jax.random.uniform(k_where, (), minval=0.45, maxval=0.75)
    latest = max(11, config.num_timesteps - config.yellow_steps - 10)  # red for the last 1 s+
    green = jax.random.randint(k_green, (), 10, latest)
    t = jnp.arange(config.num_timesteps)
    state = jnp.where(
        t < green,
        int(LightState.GO),
        jnp.where(t < green + config.yellow_steps, int(LightState.CAUTION), int(LightState.STOP)),
    )
    return (
        jnp.where(has_light, stop_s, jnp.inf),
        jnp.where(has_light, state, int(LightState.UNKNOWN)).astype(jnp.int32),
    )


def draw_vehicles(key: jax.Array, num_lanes: jax.Array, config: ScenarioConfig):
    """Lanes, start positions with safe gaps, sizes, speeds and which slots are used."""
    n = config.num_objects
    k_active, k_lane, k_gap, k_len, k_wid, k_v, k_vd = jax.random.split(key, 7)
    active = jax.random.bernoulli(k_active, 0.8, (n,)).at[0].set(True)
    lane = jax.random.randint(k_lane, (n,), 0, num_lanes)
    gaps = jax.random.uniform(k_gap, (n,), minval=24.0, maxval=40.0)
    same_lane_before = (
        (lane[None, :] == lane[:, None])
        & active[None, :]
        & (jnp.arange(n)[None, :] < jnp.arange(n)[:, None])
    )
    s0 = 10.0 + jnp.sum(jnp.where(same_lane_before, gaps[None, :], 0.0), axis=1)
    length = jax.random.uniform(k_len, (n,), minval=4.0, maxval=5.2)
    width = jax.random.uniform(k_wid, (n,), minval=1.8, maxval=2.1)
    v0 = jax.random.uniform(k_v, (n,), minval=5.0, maxval=11.0)
    low, high = config.desired_speed
    v_desired = jax.random.uniform(k_vd, (n,), minval=low, maxval=high)
    return active, lane, s0, length, width, v0, v_desired


def drive_expert(
    s0, v0, lane, length, v_desired, active, stop_s, light_state, path_factor, config
) -> tuple[jax.Array, jax.Array]:
    """(s, v), each (N, T): the expert's log in road coordinates.

    `v` is each car's speed along its own lane; `path_factor(s)` (N,) is the lane's
    length per unit of reference arc length, so `s` advances by the distance driven
    divided by it (outer lanes of a bend are longer)."""
    red = light_state == int(LightState.STOP)
    yellow = light_state == int(LightState.CAUTION)

    def step(carry, t):
        s, v = carry
        new_s, new_v, _ = expert_step(
            s, v, lane, length, v_desired, active, stop_s, red[t], yellow[t], DT, config.idm
        )
        s = s + (new_s - s) / path_factor(s)
        return (s, new_v), (s, new_v)

    _, (s_rest, v_rest) = jax.lax.scan(step, (s0, v0), jnp.arange(config.num_timesteps - 1))
    s = jnp.concatenate([s0[None], s_rest], axis=0).T
    v = jnp.concatenate([v0[None], v_rest], axis=0).T
    return s, v


def roadgraph(line: ReferenceLine, num_lanes, stop_s, config: ScenarioConfig) -> RoadgraphPoints:
    """Lane centres, the two road edges (road on their left) and the stop line."""
    p = config.points_per_line
    s = jnp.arange(p) * config.point_spacing
    on_road = s <= line.total_length
    half = 0.5 * num_lanes * config.lane_width
    parts = []
    for lane in range(config.max_lanes):
        pose = line.pose_at(s, lane_offset(lane, num_lanes, config.lane_width))
        parts.append((pose, 1.0, RoadType.LANE_SURFACE_STREET, lane, on_road & (lane < num_lanes)))
    parts.append((line.pose_at(s, -half), 1.0, RoadType.ROAD_EDGE_BOUNDARY, 100, on_road))
    parts.append((line.pose_at(s, half), -1.0, RoadType.ROAD_EDGE_BOUNDARY, 101, on_road))
    fields = {name: [] for name in ("x", "y", "dir_x", "dir_y", "types", "ids", "valid")}
    for pose, sign, kind, ident, valid in parts:
        fields["x"].append(pose["x"])
        fields["y"].append(pose["y"])
        fields["dir_x"].append(sign * jnp.cos(pose["heading"]))
        fields["dir_y"].append(sign * jnp.sin(pose["heading"]))
        fields["types"].append(jnp.full((p,), int(kind), jnp.int32))
        fields["ids"].append(jnp.full((p,), ident, jnp.int32))
        fields["valid"].append(valid)
    k = config.stop_line_points
    across = jnp.linspace(-1.0, 1.0, k) * half
    stop = line.pose_at(jnp.full((k,), jnp.where(jnp.isfinite(stop_s), stop_s, 0.0)), across)
    fields["x"].append(stop["x"])
    fields["y"].append(stop["y"])
    fields["dir_x"].append(-jnp.sin(stop["heading"]))
    fields["dir_y"].append(jnp.cos(stop["heading"]))
    fields["types"].append(jnp.full((k,), int(RoadType.STOP_LINE), jnp.int32))
    fields["ids"].append(jnp.full((k,), 200, jnp.int32))
    fields["valid"].append(jnp.full((k,), jnp.isfinite(stop_s)))
    return RoadgraphPoints(**{name: jnp.concatenate(v) for name, v in fields.items()})


def generate_with_layout(
    key: jax.Array, config: ScenarioConfig | None = None
) -> tuple[SimulatorState, SceneLayout]:
    """One scene and the road-coordinate layout it was built from."""
    config = config or ScenarioConfig()
    k_road, k_lanes, k_light, k_cars = jax.random.split(key, 4)
    line = draw_road(k_road, config)
    min_lanes = min(2, config.max_lanes)
    num_lanes = jax.random.randint(k_lanes, (), min_lanes, config.max_lanes + 1)
    stop_s, light_state = draw_light(k_light, line.total_length, config)
    active, lane, s0, length, width, v0, v_desired = draw_vehicles(k_cars, num_lanes, config)
    offset = lane_offset(lane, num_lanes, config.lane_width)

    def path_factor(s: jax.Array) -> jax.Array:
        return line.pose_at(s, offset)["speed_factor"]

    s, v = drive_expert(
        s0, v0, lane, length, v_desired, active, stop_s, light_state, path_factor, config
    )
    offset = offset[:, None]
    pose = line.pose_at(s, offset)
    speed = v
    t = config.num_timesteps
    valid = active[:, None] & (s + 0.5 * length[:, None] <= line.total_length)
    log = Trajectory(
        x=pose["x"],
        y=pose["y"],
        yaw=pose["heading"],
        vel_x=speed * jnp.cos(pose["heading"]),
        vel_y=speed * jnp.sin(pose["heading"]),
        length=jnp.broadcast_to(length[:, None], (config.num_objects, t)),
        width=jnp.broadcast_to(width[:, None], (config.num_objects, t)),
        valid=valid,
    )
    n = config.num_objects
    is_sdc = jnp.arange(n) == 0
    metadata = ObjectMetadata(
        ids=jnp.arange(n, dtype=jnp.int32),
        object_types=jnp.full((n,), int(ObjectType.VEHICLE), jnp.int32),
        is_sdc=is_sdc,
        is_controlled=is_sdc,
        is_valid=active,
    )
    light_pose = line.pose_at(
        jnp.full((config.max_lanes,), jnp.where(jnp.isfinite(stop_s), stop_s, 0.0)),
        lane_offset(jnp.arange(config.max_lanes), num_lanes, config.lane_width),
    )
    has_light = jnp.isfinite(stop_s) & (jnp.arange(config.max_lanes) < num_lanes)
    lights = TrafficLights(
        x=jnp.broadcast_to(light_pose["x"][:, None], (config.max_lanes, t)),
        y=jnp.broadcast_to(light_pose["y"][:, None], (config.max_lanes, t)),
        state=jnp.broadcast_to(light_state[None, :], (config.max_lanes, t)),
        lane_ids=jnp.broadcast_to(
            jnp.arange(config.max_lanes, dtype=jnp.int32)[:, None], (config.max_lanes, t)
        ),
        valid=jnp.broadcast_to(has_light[:, None], (config.max_lanes, t)),
    )
    route_s = s[0, 0] + jnp.arange(config.points_per_line) * config.point_spacing
    route_pose = line.pose_at(route_s, offset[0, 0])
    steps = jnp.hypot(jnp.diff(route_pose["x"]), jnp.diff(route_pose["y"]))
    route = Route(
        x=route_pose["x"],
        y=route_pose["y"],
        arc_length=jnp.concatenate([jnp.zeros(1), jnp.cumsum(steps)]),
        valid=route_s <= line.total_length,
    )
    state = SimulatorState(
        sim_trajectory=log,
        log_trajectory=log,
        log_traffic_light=lights,
        object_metadata=metadata,
        roadgraph_points=roadgraph(line, num_lanes, stop_s, config),
        sdc_route=route,
        timestep=jnp.int32(0),
    )
    layout = SceneLayout(line, num_lanes, lane, s, v, stop_s, light_state)
    return state, layout


def generate(key: jax.Array, config: ScenarioConfig | None = None) -> SimulatorState:
    """One procedural scene (see the module docstring)."""
    return generate_with_layout(key, config)[0]
