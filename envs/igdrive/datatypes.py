"""IGDrivSim's data model: one driving scenario, batched and padded, as pytrees.

Field names and meanings follow Waymax's (`Trajectory`, `ObjectMetadata`,
`RoadgraphPoints`, `TrafficLights`, `SimulatorState`), so that a later loader of
recorded scenarios (Waymo Open Motion Dataset) fills the same structures. Every
class is a `flax.struct` dataclass: leading batch axes are allowed everywhere
("..." below), so scenarios stack and `vmap` like any other pytree.

Units: metres, seconds, radians (yaw anticlockwise from +x), metres per second.
"""

from __future__ import annotations

from enum import IntEnum

import jax
import jax.numpy as jnp
from flax import struct

DT = 0.1  # seconds between timesteps, as in the Waymo Open Motion Dataset


class ObjectType(IntEnum):
    """`ObjectMetadata.object_types` values (the Waymo Open Motion Dataset's)."""

    UNSET = 0
    VEHICLE = 1
    PEDESTRIAN = 2
    CYCLIST = 3
    OTHER = 4


class RoadType(IntEnum):
    """`RoadgraphPoints.types` values: the Waymo Open Motion Dataset's map element ids,
    plus `STOP_LINE` (20), which the procedural scenes draw at signalised stops."""

    LANE_UNDEFINED = 0
    LANE_FREEWAY = 1
    LANE_SURFACE_STREET = 2
    LANE_BIKE_LANE = 3
    ROAD_LINE_BROKEN_SINGLE_WHITE = 6
    ROAD_LINE_SOLID_SINGLE_WHITE = 7
    ROAD_LINE_SOLID_DOUBLE_WHITE = 8
    ROAD_LINE_BROKEN_SINGLE_YELLOW = 9
    ROAD_LINE_BROKEN_DOUBLE_YELLOW = 10
    ROAD_LINE_SOLID_SINGLE_YELLOW = 11
    ROAD_LINE_SOLID_DOUBLE_YELLOW = 12
    ROAD_LINE_PASSING_DOUBLE_YELLOW = 13
    ROAD_EDGE_UNKNOWN = 14
    ROAD_EDGE_BOUNDARY = 15
    ROAD_EDGE_MEDIAN = 16
    STOP_SIGN = 17
    CROSSWALK = 18
    SPEED_BUMP = 19
    STOP_LINE = 20


LANE_TYPES = (RoadType.LANE_FREEWAY, RoadType.LANE_SURFACE_STREET, RoadType.LANE_BIKE_LANE)
ROAD_EDGE_TYPES = (
    RoadType.ROAD_EDGE_UNKNOWN,
    RoadType.ROAD_EDGE_BOUNDARY,
    RoadType.ROAD_EDGE_MEDIAN,
)


class LightState(IntEnum):
    """`TrafficLights.state` values (the Waymo Open Motion Dataset's)."""

    UNKNOWN = 0
    ARROW_STOP = 1
    ARROW_CAUTION = 2
    ARROW_GO = 3
    STOP = 4
    CAUTION = 5
    GO = 6
    FLASHING_STOP = 7
    FLASHING_CAUTION = 8


RED_STATES = (LightState.ARROW_STOP, LightState.STOP, LightState.FLASHING_STOP)


@struct.dataclass
class Trajectory:
    """Object states over time. Every field has shape (..., num_objects, num_timesteps).

    Attributes:
        x, y: centre of the object's box (m).
        yaw: heading (rad, anticlockwise from +x).
        vel_x, vel_y: velocity (m/s) in the global frame.
        length, width: box size (m), along and across the heading.
        valid: whether the object exists at that timestep (bool).
    """

    x: jax.Array
    y: jax.Array
    yaw: jax.Array
    vel_x: jax.Array
    vel_y: jax.Array
    length: jax.Array
    width: jax.Array
    valid: jax.Array

    @property
    def shape(self) -> tuple[int, ...]:
        """(..., num_objects, num_timesteps)."""
        return tuple(self.x.shape)

    @property
    def num_objects(self) -> int:
        return self.x.shape[-2]

    @property
    def num_timesteps(self) -> int:
        return self.x.shape[-1]

    @property
    def xy(self) -> jax.Array:
        """(..., num_objects, num_timesteps, 2) positions."""
        return jnp.stack([self.x, self.y], axis=-1)

    @property
    def speed(self) -> jax.Array:
        """(..., num_objects, num_timesteps) speed (m/s)."""
        return jnp.hypot(self.vel_x, self.vel_y)

    @classmethod
    def zeros(cls, shape: tuple[int, ...]) -> Trajectory:
        """An all-invalid trajectory of `shape` (..., num_objects, num_timesteps)."""
        zeros = jnp.zeros(shape, jnp.float32)
        return cls(
            x=zeros,
            y=zeros,
            yaw=zeros,
            vel_x=zeros,
            vel_y=zeros,
            length=zeros,
            width=zeros,
            valid=jnp.zeros(shape, bool),
        )

    def at(self, timestep: jax.Array | int) -> Trajectory:
        """The states at one timestep (may be traced), keeping a time axis of size 1."""
        return jax.tree_util.tree_map(
            lambda a: jax.lax.dynamic_slice_in_dim(a, timestep, 1, axis=-1), self
        )

    def with_timestep(self, timestep: jax.Array | int, states: Trajectory) -> Trajectory:
        """A copy with `states` (time axis of size 1) written at `timestep`."""
        return jax.tree_util.tree_map(
            lambda a, s: jax.lax.dynamic_update_slice_in_dim(a, s.astype(a.dtype), timestep, -1),
            self,
            states,
        )


@struct.dataclass
class ObjectMetadata:
    """Per-object facts that do not change over time. Fields (..., num_objects).

    Attributes:
        ids: object id (int32, unique within a scenario).
        object_types: an `ObjectType` (int32).
        is_sdc: the self-driving car, the one the policy drives (exactly one).
        is_controlled: objects the simulator moves by a policy or a model rather
            than by replaying the log.
        is_valid: the object exists in the scenario at all (False: padding).
    """

    ids: jax.Array
    object_types: jax.Array
    is_sdc: jax.Array
    is_controlled: jax.Array
    is_valid: jax.Array


@struct.dataclass
class RoadgraphPoints:
    """Sampled map polylines. Fields (..., num_points).

    Attributes:
        x, y: point position (m).
        dir_x, dir_y: unit direction to the next point of the same polyline (0 at its end).
        types: a `RoadType` (int32): lane centres, road edges, lines, stop lines.
        ids: id of the polyline the point belongs to (int32; lanes: the lane id).
        valid: False for padding.
    """

    x: jax.Array
    y: jax.Array
    dir_x: jax.Array
    dir_y: jax.Array
    types: jax.Array
    ids: jax.Array
    valid: jax.Array

    @property
    def xy(self) -> jax.Array:
        """(..., num_points, 2)."""
        return jnp.stack([self.x, self.y], axis=-1)

    @property
    def num_points(self) -> int:
        return self.x.shape[-1]


@struct.dataclass
class TrafficLights:
    """Signals over time. Fields (..., num_lights, num_timesteps).

    Attributes:
        x, y: position of the stop point the light controls (m).
        state: a `LightState` (int32) at each timestep.
        lane_ids: id of the lane the light controls (int32).
        valid: False for padding (or a light unknown at that timestep).
    """

    x: jax.Array
    y: jax.Array
    state: jax.Array
    lane_ids: jax.Array
    valid: jax.Array

    @property
    def is_red(self) -> jax.Array:
        """(..., num_lights, num_timesteps): a valid light showing a stop state."""
        red = jnp.zeros(self.state.shape, bool)
        for value in RED_STATES:
            red = red | (self.state == value)
        return red & self.valid


@struct.dataclass
class Route:
    """The SDC's route: the centreline it should follow, ending at its goal.
    Fields (..., num_route_points).

    Attributes:
        x, y: route points, in driving order (m).
        arc_length: distance along the route from its first point (m).
        valid: False for padding (padding comes after the last valid point).
    """

    x: jax.Array
    y: jax.Array
    arc_length: jax.Array
    valid: jax.Array

    @property
    def goal(self) -> jax.Array:
        """(..., 2) the last valid route point."""
        last = jnp.maximum(jnp.sum(self.valid, axis=-1) - 1, 0)
        gx = jnp.take_along_axis(self.x, last[..., None], axis=-1)[..., 0]
        gy = jnp.take_along_axis(self.y, last[..., None], axis=-1)[..., 0]
        return jnp.stack([gx, gy], axis=-1)


@struct.dataclass
class SimulatorState:
    """Everything the simulator needs at one moment of one scenario (or a batch).

    Attributes:
        sim_trajectory: simulated states (..., num_objects, num_timesteps); filled up
            to and including `timestep`, the logged states after it.
        log_trajectory: the logged (expert) states, same shape.
        log_traffic_light: signal states over the whole log.
        object_metadata: per-object facts.
        roadgraph_points: the map.
        sdc_route: the SDC's route and goal.
        timestep: the current timestep (int32, (...)).
    """

    sim_trajectory: Trajectory
    log_trajectory: Trajectory
    log_traffic_light: TrafficLights
    object_metadata: ObjectMetadata
    roadgraph_points: RoadgraphPoints
    sdc_route: Route
    timestep: jax.Array

    @property
    def num_timesteps(self) -> int:
        return self.log_trajectory.num_timesteps

    @property
    def remaining_timesteps(self) -> jax.Array:
        return self.num_timesteps - 1 - self.timestep

    @property
    def is_done(self) -> jax.Array:
        return self.remaining_timesteps <= 0

    @property
    def current_sim_trajectory(self) -> Trajectory:
        """Simulated states at `timestep` (time axis of size 1)."""
        return self.sim_trajectory.at(self.timestep)

    @property
    def current_log_trajectory(self) -> Trajectory:
        """Logged states at `timestep` (time axis of size 1)."""
        return self.log_trajectory.at(self.timestep)
