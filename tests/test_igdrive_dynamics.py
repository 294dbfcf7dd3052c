"""IGDrivSim dynamics: inverse(forward(a)) == a, forward(inverse(log)) reproduces the log,
bounds, stops without reversing, batching and no retracing."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from arenax.envs.igdrive import (
    DeltaLocal,
    InvertibleBicycle,
    SimulatorState,
    Trajectory,
    actions_from_log,
    rollout,
)
from arenax.envs.igdrive.datatypes import LightState, TrafficLights

NUM_OBJECTS, STEPS = 6, 40
BICYCLE, DELTA = InvertibleBicycle(), DeltaLocal()


def moving_states(key: jax.Array, shape=(NUM_OBJECTS, 1)) -> Trajectory:
    """Cars at random poses, 3-15 m/s along their heading."""
    kx, ky, kyaw, kv = jax.random.split(key, 4)
    yaw = jax.random.uniform(kyaw, shape, minval=-np.pi, maxval=np.pi)
    speed = jax.random.uniform(kv, shape, minval=3.0, maxval=15.0)
    return Trajectory(
        x=jax.random.uniform(kx, shape, minval=-50, maxval=50),
        y=jax.random.uniform(ky, shape, minval=-50, maxval=50),
        yaw=yaw,
        vel_x=speed * jnp.cos(yaw),
        vel_y=speed * jnp.sin(yaw),
        length=jnp.full(shape, 4.5),
        width=jnp.full(shape, 2.0),
        valid=jnp.ones(shape, bool),
    )


def bicycle_actions(key: jax.Array, steps: int = STEPS) -> jax.Array:
    """Gentle accelerations (speeds stay positive over the episode) and curvatures."""
    ka, kk = jax.random.split(key)
    accel = jax.random.uniform(ka, (NUM_OBJECTS, steps), minval=-1.0, maxval=1.0)
    curvature = jax.random.uniform(kk, (NUM_OBJECTS, steps), minval=-0.25, maxval=0.25)
    return jnp.stack([accel, curvature], axis=-1)


@pytest.fixture(scope="module")
def bicycle_log():
    start = moving_states(jax.random.PRNGKey(0))
    actions = bicycle_actions(jax.random.PRNGKey(1))
    return start, actions, jax.jit(rollout, static_argnums=0)(BICYCLE, start, actions)


def test_bicycle_inverse_of_forward_is_the_action():
    states = moving_states(jax.random.PRNGKey(2))
    action = bicycle_actions(jax.random.PRNGKey(3), steps=1)
    recovered = BICYCLE.inverse(states, BICYCLE.forward(states, action))
    np.testing.assert_allclose(recovered, action, atol=2e-4)


def test_bicycle_log_actions_reproduce_the_log(bicycle_log):
    start, actions, log = bicycle_log
    assert log.x.shape == (NUM_OBJECTS, STEPS + 1)
    recovered = actions_from_log(BICYCLE, log)
    np.testing.assert_allclose(recovered, actions, atol=1e-3)
    replayed = rollout(BICYCLE, start, recovered)
    for name in ("x", "y", "vel_x", "vel_y"):
        np.testing.assert_allclose(getattr(replayed, name), getattr(log, name), atol=2e-2)
    yaw_error = (replayed.yaw - log.yaw + np.pi) % (2 * np.pi) - np.pi
    assert np.abs(yaw_error).max() < 1e-3


def test_bicycle_turns_on_the_arc_of_its_curvature():
    """Constant speed and curvature k: after travelling pi / k the car has turned half
    a circle and sits 2 / k to the side of where it started."""
    states = moving_states(jax.random.PRNGKey(4), shape=(1, 1))
    states = states.replace(x=states.x * 0, y=states.y * 0, yaw=states.yaw * 0)
    k, steps = 0.2, 16
    speed = np.pi / k / (steps * BICYCLE.dt)  # half a circle in exactly `steps` steps
    states = states.replace(vel_x=jnp.full((1, 1), speed), vel_y=jnp.zeros((1, 1)))
    actions = jnp.tile(jnp.array([0.0, k]), (1, steps, 1))
    end = jax.tree_util.tree_map(lambda a: a[..., -1], rollout(BICYCLE, states, actions))
    assert float(end.x[0]) == pytest.approx(0.0, abs=0.05)
    assert float(end.y[0]) == pytest.approx(2 / k, abs=0.05)
    assert abs(abs(float(end.yaw[0])) - np.pi) < 0.02


def test_bicycle_clips_actions_and_never_reverses():
    states = moving_states(jax.random.PRNGKey(5))
    wild = jnp.tile(jnp.array([-100.0, 5.0]), (NUM_OBJECTS, 1, 1))
    after = BICYCLE.forward(states, wild)
    assert np.all(np.asarray(after.speed) >= 0.0)
    recovered = np.asarray(BICYCLE.inverse(states, after))
    assert np.all(recovered >= np.asarray(BICYCLE.action_low) - 1e-6)
    assert np.all(recovered <= np.asarray(BICYCLE.action_high) + 1e-6)
    # A hard brake from at most 15 m/s at 6 m/s^2 does not stop a car in 0.1 s.
    np.testing.assert_allclose(recovered[..., 0], -BICYCLE.max_accel, atol=1e-3)
    stopped = states.replace(vel_x=states.vel_x * 0, vel_y=states.vel_y * 0)
    still = BICYCLE.forward(stopped, wild)
    np.testing.assert_allclose(still.x, stopped.x)
    np.testing.assert_allclose(still.speed, 0.0)


def test_delta_local_is_exact_both_ways_for_any_log_within_its_bounds():
    key = jax.random.PRNGKey(6)
    shape = (NUM_OBJECTS, STEPS + 1)
    kx, ky, kyaw = jax.random.split(key, 3)
    log = moving_states(key, shape).replace(  # a wiggly log that no bicycle would drive
        x=jnp.cumsum(jax.random.uniform(kx, shape, minval=0, maxval=2), -1),
        y=jnp.cumsum(jax.random.normal(ky, shape) * 0.3, -1),
        yaw=jnp.cumsum(jax.random.uniform(kyaw, shape, minval=-1.0, maxval=1.0), -1),
    )
    actions = actions_from_log(DELTA, log)
    replayed = rollout(DELTA, jax.tree_util.tree_map(lambda a: a[..., :1], log), actions)
    np.testing.assert_allclose(replayed.x, log.x, atol=1e-3)
    np.testing.assert_allclose(replayed.y, log.y, atol=1e-3)
    yaw_error = (replayed.yaw - log.yaw + np.pi) % (2 * np.pi) - np.pi
    assert np.abs(yaw_error).max() < 1e-4
    states = jax.tree_util.tree_map(lambda a: a[..., :1], log)
    action = jnp.tile(jnp.array([1.2, -0.3, 0.1]), (NUM_OBJECTS, 1, 1))
    np.testing.assert_allclose(
        DELTA.inverse(states, DELTA.forward(states, action)), action, atol=1e-5
    )


def test_invalid_steps_get_zero_actions(bicycle_log):
    _, _, log = bicycle_log
    valid = log.valid.at[0, 10].set(False)
    actions = actions_from_log(BICYCLE, log.replace(valid=valid))
    assert np.all(np.asarray(actions[0, 9:11]) == 0.0)
    assert np.any(np.asarray(actions[0, 8]) != 0.0)


def test_batched_scenarios_vmap_and_do_not_retrace():
    starts = jax.vmap(moving_states)(jax.random.split(jax.random.PRNGKey(7), 3))
    actions = jax.vmap(bicycle_actions)(jax.random.split(jax.random.PRNGKey(8), 3))

    @jax.jit
    @chex.assert_max_traces(n=1)
    def batched(starts, actions):
        return jax.vmap(lambda s, a: rollout(BICYCLE, s, a))(starts, actions)

    first = batched(starts, actions)
    second = batched(starts, actions * 0.5)
    assert first.x.shape == (3, NUM_OBJECTS, STEPS + 1)
    assert not np.allclose(first.x, second.x)
    one = rollout(BICYCLE, jax.tree_util.tree_map(lambda a: a[1], starts), actions[1])
    np.testing.assert_allclose(first.x[1], one.x, atol=1e-4)


def test_simulator_state_indexes_the_current_timestep(bicycle_log):
    _, _, log = bicycle_log
    lights = TrafficLights(
        x=jnp.zeros((2, STEPS + 1)),
        y=jnp.zeros((2, STEPS + 1)),
        state=jnp.array([[LightState.STOP] * (STEPS + 1), [LightState.GO] * (STEPS + 1)]),
        lane_ids=jnp.zeros((2, STEPS + 1), jnp.int32),
        valid=jnp.ones((2, STEPS + 1), bool),
    )
    assert lights.is_red[:, 0].tolist() == [True, False]
    state = SimulatorState(
        sim_trajectory=log,
        log_trajectory=log,
        log_traffic_light=lights,
        object_metadata=None,
        roadgraph_points=None,
        sdc_route=None,
        timestep=jnp.int32(5),
    )
    np.testing.assert_allclose(state.current_log_trajectory.x[:, 0], log.x[:, 5])
    assert int(state.remaining_timesteps) == STEPS - 5 and not bool(state.is_done)
    moved = log.with_timestep(5, state.current_sim_trajectory.replace(x=log.x[:, 5:6] + 1))
    np.testing.assert_allclose(moved.x[:, 5], log.x[:, 5] + 1)
    np.testing.assert_allclose(moved.x[:, 6], log.x[:, 6])
