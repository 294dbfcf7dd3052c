"""Procedural IGDrivSim scenes (the embedded default): `generate(key, config)`.

A scene is a road layout (`layout.py`: a curved multi-lane road, a four-way
intersection with traffic lights, or a merge from an acceleration lane) with
vehicles on its paths. Every vehicle's log is driven by the privileged expert
(`expert.py`: IDM car following in its queue, stopping for lights, yielding to
vehicles committed to the junction, zipping in at merges), so logs are free of
collisions, off-road driving and red-light running. Vehicle 0 is the SDC, on the
main road; its route is its lane's centreline from its start to the end of the road.

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
    SimulatorState,
    Trajectory,
)
from arenax.envs.igdrive.expert import IDMParams, Junction, expert_step
from arenax.envs.igdrive.layout import (
    NUM_SEGMENTS,
    Path,
    RoadLayout,
    SceneKind,
    draw_roads,
    lane_offset,
    pose_on_paths,
    taper,
)
from arenax.envs.igdrive.road import ReferenceLine
from arenax.envs.igdrive.scene_map import ARC_POINTS, roadgraph, sdc_route, traffic_lights


@struct.dataclass
class ScenarioConfig:
    """Shapes and ranges of generated scenes (all static: they fix array shapes).

    Attributes:
        num_objects: vehicles per scene (padded; vehicle 0 is the SDC).
        num_timesteps: log length (91: 9 s at 10 Hz, as in the Waymo Open Motion Dataset).
        max_lanes: main-road lanes at most (scenes draw 2 to max_lanes).
        lane_width: m.
        segment_length: (min, max) length of each of the 3 main-road segments (m).
        max_curvature: largest |curvature| of a curved segment (1/m).
        point_spacing: distance between sampled map points (m).
        kind_probabilities: chances of a ROAD, an INTERSECTION and a MERGE scene.
        light_probability: chance that a ROAD or MERGE scene has a traffic light
            (intersections always have them).
        yellow_steps: duration of yellow (steps).
        all_red_steps: clearance between one road's red and the other's green (steps).
        cross_length: length of the crossing road, centred on the junction (m).
        corner_radius: radius of the junction's curb returns (m).
        taper_length: length over which the acceleration lane narrows to nothing (m).
        cross_share: chance that a non-SDC vehicle of a junction scene uses the cross road.
        ramp_share: chance that a lane-0 vehicle of a merge scene starts on the ramp.
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
    kind_probabilities: tuple[float, float, float] = struct.field(
        pytree_node=False, default=(0.3, 0.4, 0.3)
    )
    light_probability: float = struct.field(pytree_node=False, default=0.7)
    yellow_steps: int = struct.field(pytree_node=False, default=40)
    all_red_steps: int = struct.field(pytree_node=False, default=20)
    cross_length: float = struct.field(pytree_node=False, default=120.0)
    corner_radius: float = struct.field(pytree_node=False, default=5.0)
    taper_length: float = struct.field(pytree_node=False, default=50.0)
    cross_share: float = struct.field(pytree_node=False, default=0.5)
    ramp_share: float = struct.field(pytree_node=False, default=0.5)
    desired_speed: tuple[float, float] = struct.field(pytree_node=False, default=(10.0, 16.0))
    idm: IDMParams = struct.field(pytree_node=False, default_factory=IDMParams)

    def __post_init__(self) -> None:
        probs = self.kind_probabilities
        if len(probs) != 3 or min(probs) < 0 or not math.isclose(sum(probs), 1.0, abs_tol=1e-6):
            raise ValueError(
                f"kind_probabilities must be 3 non-negative numbers summing to 1 "
                f"(road, intersection, merge), got {probs}"
            )

    @property
    def points_per_line(self) -> int:
        return math.ceil(NUM_SEGMENTS * self.segment_length[1] / self.point_spacing) + 1

    @property
    def cross_points(self) -> int:
        return math.ceil(self.cross_length / self.point_spacing) + 1

    @property
    def stop_line_points(self) -> int:
        return 2 * self.max_lanes + 1

    @property
    def num_lights(self) -> int:
        """One light per main-road lane, one per cross-road lane."""
        return self.max_lanes + 2

    @property
    def num_roadgraph_points(self) -> int:
        """Main lanes, the ramp lane and 2 edges; 2 cross lanes and 2 edges; 4 curb
        returns; 3 stop lines."""
        return (
            (self.max_lanes + 3) * self.points_per_line
            + 4 * self.cross_points
            + 4 * ARC_POINTS
            + 3 * self.stop_line_points
        )


@struct.dataclass
class SceneLayout:
    """What the generator drew, in path coordinates (kept for the expert and tests).

    Attributes:
        roads: the road layout (kind, paths, junction, merge).
        path: (N,) each vehicle's `Path`.
        lane: (N,) each vehicle's lane on its path (0 is the rightmost).
        ramp: (N,) whether the vehicle starts on the acceleration lane.
        s, v: (N, T) arc length along the path and its rate, as driven by the expert.
        stop_s: (N,) arc length of each vehicle's stop line (inf: none).
        light_state: (N, T) the `LightState` each vehicle faces (UNKNOWN: no light).
    """

    roads: RoadLayout
    path: jax.Array
    lane: jax.Array
    ramp: jax.Array
    s: jax.Array
    v: jax.Array
    stop_s: jax.Array
    light_state: jax.Array

    @property
    def line(self) -> ReferenceLine:
        return self.roads.main

    @property
    def num_lanes(self) -> jax.Array:
        return self.roads.num_lanes


def light_phases(key: jax.Array, roads: RoadLayout, config: ScenarioConfig):
    """(main, cross) light states, each (T,). A light is green, then yellow, then red;
    at a junction the other road is red until the all-red clearance after that, then
    green. Which road goes first is random."""
    k_green, k_first = jax.random.split(key)
    latest = max(11, config.num_timesteps - config.yellow_steps - 10)  # red for the last 1 s+
    green = jax.random.randint(k_green, (), 10, latest)
    t = jnp.arange(config.num_timesteps)
    cycle = jnp.where(
        t < green,
        int(LightState.GO),
        jnp.where(t < green + config.yellow_steps, int(LightState.CAUTION), int(LightState.STOP)),
    )
    waiting = jnp.where(
        t < green + config.yellow_steps + config.all_red_steps,
        int(LightState.STOP),
        int(LightState.GO),
    )
    main_first = jax.random.bernoulli(k_first)
    junction = roads.has_junction
    main = jnp.where(junction & ~main_first, waiting, cycle)
    main = jnp.where(jnp.isfinite(roads.main_stop_s), main, int(LightState.UNKNOWN))
    cross = jnp.where(main_first, waiting, cycle)
    cross = jnp.where(junction, cross, int(LightState.UNKNOWN))
    return main.astype(jnp.int32), cross.astype(jnp.int32)


@struct.dataclass
class Vehicles:
    """Per-vehicle draws, shapes (N,)."""

    active: jax.Array
    path: jax.Array
    lane: jax.Array
    ramp: jax.Array
    s0: jax.Array
    length: jax.Array
    width: jax.Array
    v0: jax.Array
    v_desired: jax.Array

    @property
    def queue(self) -> jax.Array:
        """Vehicles in one queue follow each other (ramp vehicles queue in lane 0)."""
        return self.path * 16 + self.lane


def junction_positions(roads: RoadLayout, path: jax.Array, config: ScenarioConfig):
    """(stop_s, box_out), each (N,), in each vehicle's own path coordinates."""
    w = config.lane_width
    half_main = 0.5 * roads.num_lanes * w
    on_main = path == Path.MAIN
    cross_centre = 0.5 * config.cross_length
    stop_s = jnp.where(on_main, roads.main_stop_s, cross_centre - half_main - 2.0)
    box_out = jnp.where(on_main, roads.centre_s + w, cross_centre + half_main)
    box_out = jnp.where(roads.has_junction, box_out, -jnp.inf)
    return stop_s, box_out


def draw_vehicles(key: jax.Array, roads: RoadLayout, config: ScenarioConfig) -> Vehicles:
    """Paths, lanes, start positions with safe gaps, sizes, speeds and used slots.

    The SDC (slot 0) is last in its lane, or, half the time, just ahead of vehicle 1.
    At a junction, vehicles that would start between 30 m before their stop line and
    the far side of the box are left out (slot unused), so nobody starts where it could
    not stop for a light that is already red."""
    n = config.num_objects
    keys = jax.random.split(key, 10)
    active = jax.random.bernoulli(keys[0], 0.8, (n,)).at[0].set(True)
    junction = roads.has_junction
    cross = junction & jax.random.bernoulli(keys[1], config.cross_share, (n,)).at[0].set(False)
    path = jnp.where(
        cross,
        jnp.where(
            jax.random.bernoulli(keys[2], 0.5, (n,)), Path.CROSS_LEFTWARD, Path.CROSS_RIGHTWARD
        ),
        Path.MAIN,
    ).astype(jnp.int32)
    lane = jnp.where(cross, 0, jax.random.randint(keys[3], (n,), 0, roads.num_lanes))
    gaps = jax.random.uniform(keys[4], (n,), minval=24.0, maxval=40.0)
    queue = path * 16 + lane
    start = jnp.where(path == Path.MAIN, 10.0, 5.0)
    stop_s, box_out = junction_positions(roads, path, config)

    def place(sdc_priority):
        """Start positions when vehicles queue in the order of their priority."""
        priority = jnp.arange(n, dtype=jnp.float32).at[0].set(sdc_priority)
        before = (
            (queue[None, :] == queue[:, None])
            & active[None, :]
            & (priority[None, :] < priority[:, None])
        )
        return start + jnp.sum(jnp.where(before, gaps[None, :], 0.0), axis=1)

    def in_danger(s0):
        return junction & (s0 > stop_s - 30.0) & (s0 < box_out + 3.0)

    # Half the time vehicle 1 starts behind the SDC (if it shares its lane), so that the
    # SDC sometimes has traffic behind it; never where it could not stop for a light.
    behind = place(1.5)
    sdc_behind = jax.random.bernoulli(jax.random.fold_in(keys[4], 1)) & ~in_danger(behind)[0]
    s0 = jnp.where(sdc_behind, behind, place(-1.0))
    length = jax.random.uniform(keys[5], (n,), minval=4.0, maxval=5.2)
    width = jax.random.uniform(keys[6], (n,), minval=1.8, maxval=2.1)
    v0 = jax.random.uniform(keys[7], (n,), minval=5.0, maxval=11.0)
    low, high = config.desired_speed
    v_desired = jax.random.uniform(keys[8], (n,), minval=low, maxval=high)
    active = active & ~in_danger(s0).at[0].set(False)
    ramp = (
        (roads.kind == SceneKind.MERGE)
        & (path == Path.MAIN)
        & (lane == 0)
        & jax.random.bernoulli(keys[9], config.ramp_share, (n,))
        & (s0 + 0.5 * length < roads.merge_s - config.taper_length)
    )
    return Vehicles(active, path, lane, ramp, s0, length, width, v0, v_desired)


def lateral(roads: RoadLayout, cars: Vehicles, s: jax.Array, config: ScenarioConfig):
    """(offset, d offset / ds) of each vehicle at arc length `s` ((N,) or (N, T))."""
    expand = (slice(None),) + (None,) * (s.ndim - 1)
    w = config.lane_width
    base = jnp.where(cars.path == Path.MAIN, lane_offset(cars.lane, roads.num_lanes, w), -0.5 * w)[
        expand
    ]
    shift, slope = taper(s, roads.merge_s, config.taper_length, w)
    ramp = cars.ramp[expand]
    return base - jnp.where(ramp, shift, 0.0), -jnp.where(ramp, slope, 0.0)


def path_poses(roads: RoadLayout, cars: Vehicles, s: jax.Array, config: ScenarioConfig):
    """Poses of every vehicle at arc lengths `s` ((N,) or (N, T)): x, y, heading and
    the length of its lane per unit of path arc length."""
    expand = (slice(None),) + (None,) * (s.ndim - 1)
    offset, slope = lateral(roads, cars, s, config)
    pose = pose_on_paths(roads.lines, cars.path[expand], s, offset)
    return {
        "x": pose["x"],
        "y": pose["y"],
        "heading": pose["heading"] + jnp.arctan2(slope, pose["speed_factor"]),
        "speed_factor": jnp.hypot(pose["speed_factor"], slope),
    }


def drive_expert(
    roads: RoadLayout,
    cars: Vehicles,
    stop_s: jax.Array,
    light_state: jax.Array,
    junction: Junction,
    config: ScenarioConfig,
) -> tuple[jax.Array, jax.Array]:
    """(s, v), each (N, T): the expert's log in path coordinates.

    `v` is each car's speed along its own lane; s advances by the distance driven
    divided by the lane's length per unit of path arc length (outer lanes of a bend
    and the tapering ramp are longer)."""
    red = light_state == int(LightState.STOP)
    yellow = light_state == int(LightState.CAUTION)

    def step(carry, t):
        s, v = carry
        new_s, new_v, _ = expert_step(
            s,
            v,
            cars.queue,
            cars.length,
            cars.v_desired,
            cars.active,
            stop_s,
            red[:, t],
            yellow[:, t],
            junction,
            DT,
            config.idm,
        )
        s = s + (new_s - s) / path_poses(roads, cars, s, config)["speed_factor"]
        return (s, new_v), (s, new_v)

    _, (s_rest, v_rest) = jax.lax.scan(
        step, (cars.s0, cars.v0), jnp.arange(config.num_timesteps - 1)
    )
    s = jnp.concatenate([cars.s0[None], s_rest], axis=0).T
    v = jnp.concatenate([cars.v0[None], v_rest], axis=0).T
    return s, v


def generate_with_layout(
    key: jax.Array, config: ScenarioConfig | None = None
) -> tuple[SimulatorState, SceneLayout]:
    """One scene and the path-coordinate layout it was built from."""
    config = config or ScenarioConfig()
    k_roads, k_lights, k_cars = jax.random.split(key, 3)
    roads = draw_roads(k_roads, config)
    main_light, cross_light = light_phases(k_lights, roads, config)
    cars = draw_vehicles(k_cars, roads, config)
    on_main = cars.path == Path.MAIN
    light_state = jnp.where(on_main[:, None], main_light[None, :], cross_light[None, :])
    stop_s, box_out = junction_positions(roads, cars.path, config)
    conflict = (
        roads.has_junction
        & (on_main[:, None] != on_main[None, :])
        & cars.active[:, None]
        & cars.active[None, :]
    )
    s, v = drive_expert(roads, cars, stop_s, light_state, Junction(box_out, conflict), config)

    pose = path_poses(roads, cars, s, config)
    n, t = config.num_objects, config.num_timesteps
    path_length = roads.path_length(cars.path, config.cross_length)
    valid = cars.active[:, None] & (s + 0.5 * cars.length[:, None] <= path_length[:, None])
    log = Trajectory(
        x=pose["x"],
        y=pose["y"],
        yaw=pose["heading"],
        vel_x=v * jnp.cos(pose["heading"]),
        vel_y=v * jnp.sin(pose["heading"]),
        length=jnp.broadcast_to(cars.length[:, None], (n, t)),
        width=jnp.broadcast_to(cars.width[:, None], (n, t)),
        valid=valid,
    )
    is_sdc = jnp.arange(n) == 0
    metadata = ObjectMetadata(
        ids=jnp.arange(n, dtype=jnp.int32),
        object_types=jnp.full((n,), int(ObjectType.VEHICLE), jnp.int32),
        is_sdc=is_sdc,
        is_controlled=is_sdc,
        is_valid=cars.active,
    )
    route_s = s[0, 0] + jnp.arange(config.points_per_line) * config.point_spacing
    sdc = jax.tree_util.tree_map(lambda a: a[:1], cars)
    route_pose = path_poses(roads, sdc, route_s[None, :], config)
    state = SimulatorState(
        sim_trajectory=log,
        log_trajectory=log,
        log_traffic_light=traffic_lights(roads, main_light, cross_light, config),
        object_metadata=metadata,
        roadgraph_points=roadgraph(roads, config),
        sdc_route=sdc_route(
            route_pose["x"][0], route_pose["y"][0], route_s <= roads.main.total_length
        ),
        timestep=jnp.int32(0),
    )
    layout = SceneLayout(roads, cars.path, cars.lane, cars.ramp, s, v, stop_s, light_state)
    return state, layout


def generate(key: jax.Array, config: ScenarioConfig | None = None) -> SimulatorState:
    """One procedural scene (see the module docstring)."""
    return generate_with_layout(key, config)[0]
