"""IGDrivSim geometry and metrics on hand-built cases: touching, rotated and separated
boxes; a corner just past a road edge; ADE/FDE; kinematic infeasibility; progress."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from arenax.envs.igdrive import (
    LightState,
    RoadgraphPoints,
    RoadType,
    Route,
    TrafficLights,
    Trajectory,
)
from arenax.envs.igdrive.geometry import box_corners
from arenax.envs.igdrive.metrics import (
    ade_fde,
    headway_shortfall,
    kinematic_infeasibility,
    offroad,
    offroad_distance,
    overlap,
    red_light_crossing,
    route_progress,
)


def cars(poses, length=4.0, width=2.0, valid=None) -> Trajectory:
    """One timestep of cars at (x, y, yaw) poses: fields (N,)."""
    p = jnp.asarray(poses, jnp.float32)
    n = p.shape[0]
    return Trajectory(
        x=p[:, 0],
        y=p[:, 1],
        yaw=p[:, 2],
        vel_x=jnp.zeros(n),
        vel_y=jnp.zeros(n),
        length=jnp.full(n, length),
        width=jnp.full(n, width),
        valid=jnp.ones(n, bool) if valid is None else jnp.asarray(valid),
    )


def test_box_corners_of_a_rotated_box():
    corners = np.asarray(box_corners(*[jnp.array(v) for v in (1.0, 2.0, np.pi / 2, 4.0, 2.0)]))
    np.testing.assert_allclose(corners, [[0, 4], [0, 0], [2, 0], [2, 4]], atol=1e-6)


@pytest.mark.parametrize(
    "poses, expected",
    [
        ([(0, 0, 0), (3.9, 0, 0)], True),  # nose into tail by 0.1 m
        ([(0, 0, 0), (4.0, 0, 0)], False),  # touching: shared edge, no area
        ([(0, 0, 0), (4.1, 0, 0)], False),  # separated
        ([(0, 0, 0), (0, 2.0, 0)], False),  # side by side, touching
        ([(0, 0, 0), (0, 1.9, 0)], True),
        # Rotated 45 degrees: axis-aligned boxes would overlap, the rotated one misses.
        ([(0, 0, 0), (3.3, 2.8, np.pi / 4)], False),
        ([(0, 0, 0), (2.5, 1.2, np.pi / 4)], True),
        ([(0, 0, 0), (0, 0, np.pi / 2)], True),  # a cross
    ],
)
def test_overlap_cases(poses, expected):
    hits = np.asarray(overlap(cars(poses)))
    assert hits.tolist() == [expected, expected]


def test_overlap_ignores_invalid_objects():
    assert not np.any(overlap(cars([(0, 0, 0), (1, 0, 0)], valid=[True, False])))


def straight_road(half_width=5.0, step=0.5, length=40.0) -> RoadgraphPoints:
    """A road along +x between y = -half_width and y = +half_width: the right edge runs
    along +x, the left edge along -x (road on the left of both), plus a lane centre."""
    xs = np.arange(-length / 2, length / 2, step)
    n = len(xs)
    right = (xs, np.full(n, -half_width), np.ones(n), np.zeros(n))
    left = (xs[::-1], np.full(n, half_width), -np.ones(n), np.zeros(n))
    centre = (xs, np.zeros(n), np.ones(n), np.zeros(n))
    parts = [right, left, centre]
    types = [RoadType.ROAD_EDGE_BOUNDARY] * 2 + [RoadType.LANE_SURFACE_STREET]
    cat = lambda i: jnp.asarray(np.concatenate([p[i] for p in parts]), jnp.float32)
    return RoadgraphPoints(
        x=cat(0),
        y=cat(1),
        dir_x=cat(2),
        dir_y=cat(3),
        types=jnp.asarray(np.repeat([int(t) for t in types], n), jnp.int32),
        ids=jnp.asarray(np.repeat([0, 1, 2], n), jnp.int32),
        valid=jnp.ones(3 * n, bool),
    )


def moving(poses, speed: float, valid=None) -> Trajectory:
    """`cars(poses)` with car 0 driving at `speed` m/s along its heading."""
    state = cars(poses, valid=valid)
    yaw0 = state.yaw[0]
    return state.replace(
        vel_x=state.vel_x.at[0].set(speed * jnp.cos(yaw0)),
        vel_y=state.vel_y.at[0].set(speed * jnp.sin(yaw0)),
    )


@pytest.mark.parametrize(
    "poses, speed, expected",
    [
        # At 10 m/s the safe gap is 2 + 1.0 * 10 = 12 m; bumper gap = centres - 4 m.
        ([(0, 0, 0), (10, 0, 0)], 10.0, 0.5),  # 6 m gap: half short
        ([(0, 0, 0), (16, 0, 0)], 10.0, 0.0),  # exactly safe
        ([(0, 0, 0), (30, 0, 0)], 10.0, 0.0),  # far ahead
        ([(0, 0, 0), (-6, 0, 0)], 10.0, 0.0),  # behind does not count
        ([(0, 0, 0), (10, 2.6, 0)], 10.0, 0.0),  # next lane: 2.6 m across > 1 + 1 + 0.5
        ([(0, 0, 0), (10, 2.4, 0)], 10.0, 0.5),  # straddling the lane line
        ([(0, 0, 0), (4, 0, 0)], 0.0, 1.0),  # standing, bumpers touching: all of 2 m short
        ([(0, 0, np.pi / 2), (0, 10, 0)], 10.0, 0.5),  # the heading, not +x, decides "ahead"
        ([(0, 0, 0), (10, 0, 0), (7, 0, 0)], 10.0, 0.75),  # the nearest one counts
    ],
)
def test_headway_shortfall(poses, speed, expected):
    got = headway_shortfall(moving(poses, speed), 0, jnp.float32(1.0), jnp.float32(2.0))
    np.testing.assert_allclose(float(got), expected, atol=1e-5)


def test_headway_shortfall_ignores_invalid_cars():
    state = moving([(0, 0, 0), (10, 0, 0)], 10.0, valid=[True, False])
    assert float(headway_shortfall(state, 0, jnp.float32(1.0), jnp.float32(2.0))) == 0.0
    state = moving([(0, 0, 0), (10, 0, 0)], 10.0, valid=[False, True])
    assert float(headway_shortfall(state, 0, jnp.float32(1.0), jnp.float32(2.0))) == 0.0


def test_offroad_when_a_corner_is_just_past_an_edge():
    road = straight_road()
    inside = cars([(0, 3.95, 0), (0, -3.95, 0), (0, 0, 0.3)])  # corners 0.05 m inside
    past = cars([(0, 4.05, 0), (0, -4.05, 0)])  # one side 0.05 m past the edge
    assert not np.any(offroad(inside, road))
    assert np.all(offroad(past, road))
    np.testing.assert_allclose(offroad_distance(past, road), 0.05, atol=1e-4)
    np.testing.assert_allclose(offroad_distance(inside, road)[:2], -0.05, atol=1e-4)
    across = cars([(0, 0, np.pi / 2)], length=12.0)  # longer than the road is wide
    assert np.all(offroad(across, road))


def moving_log(speeds, yaw_rates=None, dt=0.1):
    """(1, T) trajectory of a car driving along +x with the given speeds."""
    speeds = np.asarray(speeds, np.float32)
    yaw = np.cumsum(np.zeros_like(speeds) if yaw_rates is None else np.asarray(yaw_rates) * dt)
    x = np.concatenate([[0.0], np.cumsum(speeds[:-1] * dt)])
    t = len(speeds)
    return Trajectory(
        x=jnp.asarray(x)[None],
        y=jnp.zeros((1, t)),
        yaw=jnp.asarray(yaw, jnp.float32)[None],
        vel_x=jnp.asarray(speeds * np.cos(yaw))[None],
        vel_y=jnp.asarray(speeds * np.sin(yaw))[None],
        length=jnp.full((1, t), 4.0),
        width=jnp.full((1, t), 2.0),
        valid=jnp.ones((1, t), bool),
    )


def test_ade_fde_over_valid_steps():
    log = moving_log([10.0] * 5)
    sim = log.replace(y=jnp.array([[0.0, 1.0, 2.0, 3.0, 4.0]]))
    ade, fde = ade_fde(sim, log)
    assert float(ade[0]) == pytest.approx(2.0) and float(fde[0]) == pytest.approx(4.0)
    sim = sim.replace(valid=jnp.array([[True, True, True, False, False]]))
    ade, fde = ade_fde(sim, log)
    assert float(ade[0]) == pytest.approx(1.0) and float(fde[0]) == pytest.approx(2.0)


def test_kinematic_infeasibility_flags_impossible_steps():
    smooth = moving_log([10.0, 10.2, 10.4, 10.6])  # 2 m/s^2
    assert not np.any(kinematic_infeasibility(smooth))
    jump = moving_log([10.0, 12.0, 12.0, 12.0])  # 20 m/s^2 in the first step
    assert np.asarray(kinematic_infeasibility(jump)).tolist() == [[True, False, False]]
    spin = moving_log([10.0] * 4, yaw_rates=[0.0, 0.0, 6.0, 0.0])  # curvature 0.6 > 0.3
    assert np.asarray(kinematic_infeasibility(spin)).tolist() == [[False, True, False]]


def test_route_progress_is_the_covered_fraction():
    xs = np.arange(0, 101, 1.0)
    route = Route(
        x=jnp.asarray(xs),
        y=jnp.zeros_like(jnp.asarray(xs)),
        arc_length=jnp.asarray(xs),
        valid=jnp.ones(len(xs), bool),
    )
    x = jnp.array([10.0, 20.0, 35.0])
    assert float(route_progress(x, jnp.zeros(3), route)) == pytest.approx(0.25)
    assert float(route_progress(x[::-1], jnp.zeros(3), route)) == pytest.approx(-0.25)


def lights_at(x: float, y: float, state: LightState) -> TrafficLights:
    """One light at (x, y) with `state` at both of 2 timesteps."""
    full = lambda v, dtype=jnp.float32: jnp.full((1, 2), v, dtype)
    return TrafficLights(
        x=full(x),
        y=full(y),
        state=full(int(state), jnp.int32),
        lane_ids=full(0, jnp.int32),
        valid=full(True, bool),
    )


@pytest.mark.parametrize(
    "state, light_y, end_x, crossed",
    [
        (LightState.STOP, 0.0, 12.0, True),  # front bumper passes the red light's stop point
        (LightState.STOP, 0.0, 7.5, False),  # stops before it
        (LightState.GO, 0.0, 12.0, False),  # green
        (LightState.STOP, 3.5, 12.0, False),  # the light controls the next lane
    ],
)
def test_red_light_crossing(state, light_y, end_x, crossed):
    before, after = cars([(0.0, 0.0, 0.0)]), cars([(end_x, 0.0, 0.0)])
    one = lambda c: jax.tree_util.tree_map(lambda a: a[0], c)
    result = red_light_crossing(one(before), one(after), lights_at(10.0, light_y, state), 1, 3.5)
    assert bool(result) is crossed
