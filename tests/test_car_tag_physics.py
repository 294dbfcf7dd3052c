"""Car Tag physics: the car's arcs, the evader's speed limit, walls, capture, rewards, ends."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import (
    ROLLOUT_EPISODES,
    ROLLOUT_HORIZON,
    ROLLOUT_POLICIES,
    SCAN_STEPS,
    actions,
    car_tag_params,
    make_state,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

from arenax.envs.car_tag import EVADER, PURSUER
from arenax.envs.car_tag.capture import first_contact_fraction
from arenax.envs.car_tag.dynamics import clip_speed
from arenax.rollout import rollout

HYPOTHESIS = settings(max_examples=50, deadline=None)

# Compiled once for all hypothesis examples (fixed shapes and dtypes).
_contact = jax.jit(first_contact_fraction)
_clip_speed = jax.jit(clip_speed)


# --------------------------------------------------------------------------- the car


@pytest.mark.parametrize("steering, centre_y", [(1.0, 1.0), (-1.0, -1.0)])
def test_full_lock_drives_a_circle_and_closes_after_one_period(scan_steps, steering, centre_y):
    # R = v = 1 and dt = 2*pi/100: one lap is exactly SCAN_STEPS = 100 steps; walls far away.
    assert SCAN_STEPS == 100
    params = car_tag_params(
        pursuer_speed=1.0,
        min_turn_radius=1.0,
        dt=2 * math.pi / 100,
        arena_half_size=100.0,
        capture_radius=0.1,
        horizon=1000,
        min_start_distance=1.0,
        max_start_distance=2.0,
    )
    state = make_state(pursuer_pos=(0.0, 0.0), pursuer_heading=0.0, evader_pos=(50.0, 50.0))
    states, _, dones = scan_steps(state, actions(steering=steering), params)
    pos = np.asarray(states.pursuer_pos, np.float64)
    heading = np.asarray(states.pursuer_heading, np.float64)

    assert not np.any(np.asarray(dones))
    # +1 turns left (centre on the left of the heading), -1 turns right.
    centre = np.array([0.0, centre_y])
    np.testing.assert_allclose(np.linalg.norm(pos - centre, axis=-1), 1.0, atol=1e-4)
    # Every step covers the same chord 2 R sin(v dt / 2R) of the circle.
    step_len = np.linalg.norm(np.diff(pos, axis=0), axis=-1)
    np.testing.assert_allclose(step_len, 2 * math.sin(math.pi / 100), rtol=1e-4)
    # A quarter lap in: at (R, +-R) heading +-pi/2.
    np.testing.assert_allclose(pos[25], [1.0, centre_y], atol=1e-4)
    np.testing.assert_allclose(heading[25], steering * math.pi / 2, atol=1e-4)
    # One full lap: back to the start, heading 0 again.
    np.testing.assert_allclose(pos[-1], [0.0, 0.0], atol=1e-4)
    assert abs(math.remainder(heading[-1], 2 * math.pi)) < 1e-4
    assert np.all((heading >= -math.pi) & (heading < math.pi))


@pytest.mark.parametrize("steering", [-1.0, -0.3, 0.0, 0.5, 1.0, 7.0, -7.0, float("nan")])
def test_pursuer_moves_along_the_exact_arc(jit_step, steering):
    v, radius, dt, h0 = 2.0, 0.5, 0.3, 0.7
    params = car_tag_params(
        pursuer_speed=v, min_turn_radius=radius, dt=dt, arena_half_size=100.0, horizon=50
    )
    start = np.array([1.0, -2.0])
    state = make_state(pursuer_pos=start, pursuer_heading=h0, evader_pos=(50.0, 50.0))
    _, nxt, _, _, _ = jit_step(jax.random.key(0), state, actions(steering=steering), params)

    s = 0.0 if math.isnan(steering) else max(-1.0, min(1.0, steering))  # NaN = straight
    dtheta = s * v * dt / radius
    chord = v * dt if s == 0 else 2 * (v / (s * v / radius)) * math.sin(dtheta / 2)
    chord = abs(chord)
    expected = start + chord * np.array([math.cos(h0 + dtheta / 2), math.sin(h0 + dtheta / 2)])
    pos = np.asarray(nxt.pursuer_pos, np.float64)
    np.testing.assert_allclose(pos, expected, atol=1e-5)
    assert np.linalg.norm(pos - start) <= v * dt + 1e-6
    np.testing.assert_allclose(float(nxt.pursuer_heading), h0 + dtheta, atol=1e-5)


# --------------------------------------------------------------------------- the evader


@pytest.mark.parametrize(
    "command, expected_velocity",
    [
        ((0.1, 0.2), (0.1, 0.2)),  # under the limit: unchanged
        ((3.0, 4.0), (0.3, 0.4)),  # over: scaled to norm 0.5, same direction
        ((1e3, -1e3), (0.5 / math.sqrt(2), -0.5 / math.sqrt(2))),
        ((1e30, 1e30), (0.5 / math.sqrt(2), 0.5 / math.sqrt(2))),
        ((-3e38, 0.0), (-0.5, 0.0)),
        ((float("nan"), float("nan")), (0.0, 0.0)),
    ],
)
def test_evader_speed_is_clipped(jit_step, command, expected_velocity):
    speed, dt = 0.5, 0.2
    params = car_tag_params(evader_speed=speed, dt=dt, arena_half_size=100.0)
    start = np.array([3.0, -4.0])
    state = make_state(pursuer_pos=(-50.0, -50.0), evader_pos=start).replace(
        evader_heading=jnp.float32(1.0)
    )
    _, nxt, _, _, _ = jit_step(jax.random.key(0), state, actions(velocity=command), params)
    moved = np.asarray(nxt.evader_pos, np.float64) - start
    assert np.all(np.isfinite(moved))
    assert np.linalg.norm(moved) <= speed * dt * (1 + 1e-5)
    np.testing.assert_allclose(moved, np.asarray(expected_velocity) * dt, atol=1e-6)
    np.testing.assert_allclose(np.asarray(nxt.evader_vel), expected_velocity, atol=1e-6)
    if expected_velocity == (0.0, 0.0):
        assert float(nxt.evader_heading) == pytest.approx(1.0)  # not moving: heading kept
    else:
        want = math.atan2(expected_velocity[1], expected_velocity[0])
        assert abs(math.remainder(float(nxt.evader_heading) - want, 2 * math.pi)) < 1e-5


_finite_or_nan = st.floats(width=32, allow_infinity=False, allow_nan=True)


@HYPOTHESIS
@example(vx=1.8446744e19, vy=0.0, max_speed=np.float32(1.0))  # vx**2 overflows float32
@example(vx=-3e38, vy=3e38, max_speed=np.float32(0.5))
@example(vx=float("nan"), vy=-2.0, max_speed=np.float32(0.5))  # NaN component -> 0
@example(vx=1e-30, vy=0.0, max_speed=np.float32(0.5))
@given(
    vx=_finite_or_nan,
    vy=_finite_or_nan,
    max_speed=st.floats(0.01, 10.0).map(np.float32),
)
def test_clip_speed_never_exceeds_max_and_keeps_direction(vx, vy, max_speed):
    out = np.asarray(_clip_speed(np.array([vx, vy], np.float32), max_speed), np.float64)
    max_speed = float(max_speed)
    assert np.all(np.isfinite(out))
    v = np.nan_to_num(np.array([vx, vy], np.float64), nan=0.0)
    out_norm = np.linalg.norm(out)
    assert out_norm <= max_speed * (1 + 1e-5)
    scale = np.abs(v).max()
    if scale == 0.0:
        np.testing.assert_array_equal(out, 0.0)
        return
    norm = scale * np.linalg.norm(v / scale)
    if norm <= max_speed:
        np.testing.assert_allclose(out, v, rtol=1e-5, atol=1e-30)
    else:
        np.testing.assert_allclose(out_norm, max_speed, rtol=1e-5)
        np.testing.assert_allclose(out / max_speed, v / norm, atol=1e-5)


# --------------------------------------------------------------------------- the walls


def test_walls_clamp_both_agents(jit_step, scan_steps):
    params = car_tag_params(
        pursuer_speed=2.0,
        evader_speed=2.0,
        min_turn_radius=1.0,
        dt=0.25,
        arena_half_size=2.0,
        capture_radius=0.1,
        horizon=1000,
        min_start_distance=0.5,
        max_start_distance=2.0,
    )
    # One step that would leave the arena: clamped onto the wall.
    state = make_state(pursuer_pos=(1.9, 0.5), pursuer_heading=0.0, evader_pos=(-1.95, -1.95))
    _, nxt, _, _, _ = jit_step(
        jax.random.key(0), state, actions(steering=0.0, velocity=(-2.0, -2.0)), params
    )
    np.testing.assert_allclose(np.asarray(nxt.pursuer_pos), [2.0, 0.5], atol=1e-6)
    np.testing.assert_allclose(np.asarray(nxt.evader_pos), [-2.0, -2.0], atol=1e-6)

    # A long run pushing into the walls: always inside [-L, L], and the walls do bind.
    state = make_state(pursuer_pos=(0.0, 0.0), evader_pos=(1.0, 1.0))
    states, _, _ = scan_steps(state, actions(steering=0.3, velocity=(-5.0, 3.0)), params)
    for pos in (np.asarray(states.pursuer_pos), np.asarray(states.evader_pos)):
        assert np.all(np.abs(pos) <= 2.0)
        assert np.any(np.isclose(np.abs(pos), 2.0))
    np.testing.assert_allclose(np.asarray(states.evader_pos[-1]), [-2.0, 2.0])


# --------------------------------------------------------------------------- capture


def _crossing_params(capture_radius: float):
    """Fast agents and dt = 1 s: they can pass through each other within one step."""
    return car_tag_params(
        pursuer_speed=10.0,
        evader_speed=2.0,
        min_turn_radius=1.0,
        dt=1.0,
        arena_half_size=20.0,
        capture_radius=capture_radius,
        horizon=20,
        min_start_distance=2.0,
        max_start_distance=3.0,
    )


def test_capture_on_a_fast_crossing(jit_step):
    # Pursuer (0,0) -> (10,0); evader (5,-2) -> (5,0). Relative position
    # r(s) = (5 - 10 s, -2 + 2 s); |r(s)|^2 = 104 s^2 - 108 s + 29 = 1 at s = 0.5 (first root).
    params = _crossing_params(capture_radius=1.0)
    state = make_state(pursuer_pos=(0.0, 0.0), evader_pos=(5.0, -2.0), t=7, horizon_time=20.0)
    acts = actions(steering=0.0, velocity=(0.0, 2.0))
    obs, nxt, rewards, done, info = jit_step(jax.random.key(0), state, acts, params)

    np.testing.assert_allclose(np.asarray(nxt.pursuer_pos), [10.0, 0.0], atol=1e-5)
    np.testing.assert_allclose(np.asarray(nxt.evader_pos), [5.0, 0.0], atol=1e-5)
    end_distance = np.linalg.norm(np.asarray(nxt.evader_pos - nxt.pursuer_pos))
    assert end_distance > 1.0  # an end-of-step check would miss it
    assert bool(nxt.captured) and bool(done) and bool(nxt.done) and bool(info["captured"])
    assert int(nxt.t) == 8
    np.testing.assert_allclose(float(nxt.capture_time), 7.5, atol=1e-5)  # (t + 0.5) * dt
    np.testing.assert_allclose(float(info["capture_time"]), 7.5, atol=1e-5)
    np.testing.assert_allclose(float(info["evader_score"]), 7.5 / 20, atol=1e-6)
    np.testing.assert_allclose(float(rewards[EVADER]), 0.5 / 20, atol=1e-6)
    np.testing.assert_allclose(float(rewards[PURSUER]), 1 - 7.5 / 20, atol=1e-6)

    # After the end, stepping is a no-op with zero reward, whatever the actions.
    obs2, nxt2, rewards2, done2, _ = jit_step(
        jax.random.key(1), nxt, actions(steering=1.0, velocity=(2.0, 2.0)), params
    )
    assert bool(done2)
    assert float(rewards2[PURSUER]) == 0.0 and float(rewards2[EVADER]) == 0.0
    for old, new in zip(jax.tree.leaves((obs, nxt)), jax.tree.leaves((obs2, nxt2)), strict=True):
        np.testing.assert_array_equal(np.asarray(old), np.asarray(new))


def test_no_capture_when_passing_just_outside_the_radius(jit_step):
    # Same crossing; the closest approach is sqrt(29 - 108^2 / 416) = 0.9806 m.
    params = _crossing_params(capture_radius=0.95)
    state = make_state(pursuer_pos=(0.0, 0.0), evader_pos=(5.0, -2.0), t=7, horizon_time=20.0)
    acts = actions(steering=0.0, velocity=(0.0, 2.0))
    _, nxt, rewards, done, info = jit_step(jax.random.key(0), state, acts, params)
    assert not bool(nxt.captured) and not bool(done) and not bool(info["captured"])
    np.testing.assert_allclose(float(nxt.capture_time), 20.0)
    np.testing.assert_allclose(float(rewards[EVADER]), 1 / 20, atol=1e-7)
    assert float(rewards[PURSUER]) == 0.0


@pytest.mark.parametrize(
    "capture_radius, captured, fraction", [(0.5, True, 0.46), (0.29, False, None)]
)
def test_capture_of_a_stationary_evader_jumped_over(jit_step, capture_radius, captured, fraction):
    # Pursuer (0,0) -> (10,0) passes the evader at (5, 0.3): |5 - 10 s| = 0.4 at s = 0.46.
    params = _crossing_params(capture_radius=capture_radius)
    state = make_state(pursuer_pos=(0.0, 0.0), evader_pos=(5.0, 0.3), t=0, horizon_time=20.0)
    _, nxt, rewards, _, _ = jit_step(jax.random.key(0), state, actions(), params)
    assert bool(nxt.captured) == captured
    if captured:
        np.testing.assert_allclose(float(nxt.capture_time), fraction, atol=1e-5)
        np.testing.assert_allclose(float(rewards[PURSUER]), 1 - fraction / 20, atol=1e-6)
        np.testing.assert_allclose(float(rewards[EVADER]), fraction / 20, atol=1e-6)


def test_already_inside_the_disc_is_caught_at_the_start_of_the_step():
    hit, fraction = _contact(
        np.array([0.1, 0.2], np.float32), np.array([5.0, 5.0], np.float32), np.float32(0.5)
    )
    assert bool(hit) and float(fraction) == 0.0
    hit, fraction = _contact(
        np.array([2.0, 0.0], np.float32), np.array([2.0, 0.0], np.float32), np.float32(0.5)
    )
    assert not bool(hit) and float(fraction) == 1.0


_coord = st.floats(-3.0, 3.0, width=32)


@HYPOTHESIS
@given(sx=_coord, sy=_coord, ex=_coord, ey=_coord, radius=st.floats(0.05, 2.0).map(np.float32))
def test_first_contact_fraction_matches_dense_sampling(sx, sy, ex, ey, radius):
    start = np.array([sx, sy], np.float32)
    end = np.array([ex, ey], np.float32)
    hit, fraction = _contact(start, end, np.float32(radius))
    hit, fraction = bool(hit), float(fraction)

    s = np.linspace(0.0, 1.0, 20001)
    path = start.astype(np.float64) + s[:, None] * (end.astype(np.float64) - start)
    dist = np.linalg.norm(path, axis=-1)
    tol = 2e-3
    if dist.min() < radius - tol:
        assert hit
    if dist.min() > radius + tol:
        assert not hit
    if hit:
        assert 0.0 <= fraction <= 1.0
        at_contact = start + fraction * (end.astype(np.float64) - start)
        assert np.linalg.norm(at_contact) <= radius + tol
        assert np.all(dist[s < fraction - 1e-3] >= radius - tol)  # no earlier contact
    else:
        assert fraction == 1.0


# --------------------------------------------------------------------------- rewards and ends


def test_done_at_horizon_then_absorbing(scan_steps):
    params = car_tag_params(horizon=10, dt=0.1, arena_half_size=100.0, capture_radius=0.1)
    state = make_state(pursuer_pos=(0.0, 0.0), evader_pos=(50.0, 50.0), horizon_time=1.0)
    states, rewards, dones = scan_steps(state, actions(steering=0.5, velocity=(1.0, 0.0)), params)
    dones = np.asarray(dones)
    assert not dones[:9].any() and dones[9:].all()
    np.testing.assert_array_equal(np.asarray(states.t)[10:], 10)
    assert not np.asarray(states.captured).any()
    np.testing.assert_allclose(np.asarray(states.capture_time), 1.0)  # horizon_time
    # Frozen after the end, zero rewards.
    for leaf in jax.tree.leaves(states):
        leaf = np.asarray(leaf)
        np.testing.assert_array_equal(leaf[10:], np.broadcast_to(leaf[10], leaf[10:].shape))
    ev, pu = np.asarray(rewards[EVADER]), np.asarray(rewards[PURSUER])
    np.testing.assert_allclose(ev[:10], 0.1, rtol=1e-6)
    assert not ev[10:].any() and not pu.any()
    np.testing.assert_allclose(ev.sum(), 1.0, rtol=1e-6)


def test_returns_match_capture_time_and_add_to_one(env):
    params = car_tag_params(horizon=ROLLOUT_HORIZON)
    result = rollout(env, params, ROLLOUT_POLICIES, jax.random.key(3), ROLLOUT_EPISODES)
    final = result.final_state
    captured = np.asarray(final.captured)
    assert captured.any() and not captured.all()  # both outcomes are covered
    horizon_time = ROLLOUT_HORIZON * 0.1
    evader_score = np.asarray(final.capture_time) / horizon_time
    np.testing.assert_allclose(np.asarray(result.returns[EVADER]), evader_score, atol=1e-5)
    np.testing.assert_allclose(np.asarray(result.returns[PURSUER]), 1 - evader_score, atol=1e-5)
    total = np.asarray(result.returns[EVADER]) + np.asarray(result.returns[PURSUER])
    np.testing.assert_allclose(total, 1.0, atol=1e-5)
    np.testing.assert_allclose(np.asarray(final.capture_time)[~captured], horizon_time, rtol=1e-6)
    assert np.all(np.asarray(final.capture_time)[captured] < horizon_time)
    assert np.all(np.asarray(final.done))
