"""Shared Car Tag fixtures: jitted functions compiled once per session, small shapes.

Params are passed to the jitted functions as float32/int32 arrays (`as_arrays`), so
calls with different values share one trace.

Tests compile many small programs and run each briefly, so XLA's backend optimisation
is turned down for the whole run (compiles take about a third less time); a value of
`xla_backend_optimization_level` already in XLA_FLAGS is kept.
"""

from __future__ import annotations

import os

if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0"
    ).strip()

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from arenax.envs import make
from arenax.envs.car_tag import EVADER, PURSUER, CarTagParams, CarTagState
from arenax.envs.car_tag.dynamics import wrap_angle
from arenax.policy import Policy

SCAN_STEPS = 100  # every `scan_steps` call uses this many steps, so it compiles once


def as_arrays(params: CarTagParams) -> CarTagParams:
    """Params with float32 leaves and an int32 horizon (one trace for every value)."""

    def cast(x):
        integer = np.issubdtype(np.asarray(x).dtype, np.integer)
        return np.asarray(x, np.int32 if integer else np.float32)

    return jax.tree_util.tree_map(cast, params)


def car_tag_params(**overrides) -> CarTagParams:
    """Validated Car Tag params (through `make`) as arrays."""
    return as_arrays(make("car_tag", **overrides)[1])


def make_state(
    pursuer_pos=(0.0, 0.0),
    pursuer_heading=0.0,
    evader_pos=(50.0, 50.0),
    t=0,
    horizon_time=1e9,
) -> CarTagState:
    """A hand-built state (evader at rest, nothing captured)."""
    f32 = jnp.float32
    return CarTagState(
        pursuer_pos=jnp.asarray(pursuer_pos, f32),
        pursuer_heading=jnp.asarray(pursuer_heading, f32),
        evader_pos=jnp.asarray(evader_pos, f32),
        evader_vel=jnp.zeros(2, f32),
        evader_heading=jnp.zeros((), f32),
        t=jnp.asarray(t, jnp.int32),
        captured=jnp.zeros((), bool),
        capture_time=jnp.asarray(horizon_time, f32),
        done=jnp.zeros((), bool),
    )


def actions(steering=0.0, velocity=(0.0, 0.0)) -> dict[str, jax.Array]:
    return {
        PURSUER: jnp.asarray([steering], jnp.float32),
        EVADER: jnp.asarray(velocity, jnp.float32),
    }


def pursue_act(obs, memory, key):
    """Pure pursuit: steer towards the opponent."""
    rel = obs.opp_pos - obs.own_pos
    error = wrap_angle(jnp.arctan2(rel[1], rel[0]) - obs.own_heading)
    return jnp.clip(3.0 * error, -1.0, 1.0)[None], memory


def flee_act(obs, memory, key):
    """Run straight away from the opponent at full speed."""
    away = obs.own_pos - obs.opp_pos
    return obs.evader_speed * away / (jnp.linalg.norm(away) + 1e-6), memory


# Python-side count of how often the rollout policies were traced (a retrace adds one).
TRACES = {"flee": 0}


def _counted_flee(obs, memory, key):
    TRACES["flee"] += 1
    return flee_act(obs, memory, key)


PURSUE = Policy("pursue", pursue_act, role=PURSUER)
FLEE = Policy("flee", _counted_flee, role=EVADER)
# Rollouts in the tests share these, so `rollout` compiles once for all of them.
ROLLOUT_POLICIES = {PURSUER: PURSUE, EVADER: FLEE}
ROLLOUT_HORIZON = 80
ROLLOUT_EPISODES = 32


@pytest.fixture(scope="session")
def env():
    return make("car_tag")[0]


# Shared jitted reset/step. `assert_max_traces(n=1)` makes any retrace anywhere in the
# suite (a new key, state or param value must not cause one) fail loudly.
@pytest.fixture(scope="session")
def jit_reset(env):
    return jax.jit(chex.assert_max_traces(env.reset, n=1))


@pytest.fixture(scope="session")
def jit_step(env):
    return jax.jit(chex.assert_max_traces(env.step, n=1))


@pytest.fixture(scope="session")
def scan_steps(env):
    """`scan_steps(state, actions, params)`: `SCAN_STEPS` steps with fixed actions.

    Returns `(states, rewards, dones)`, states with the initial one first
    (leaves (SCAN_STEPS + 1, ...)), rewards/dones (SCAN_STEPS,).
    """

    def run(state, acts, params):
        def body(s, key):
            _, s_next, rewards, done, _ = env.step(key, s, acts, params)
            return s_next, (s_next, rewards, done)

        keys = jax.random.split(jax.random.key(0), SCAN_STEPS)
        _, (states, rewards, dones) = jax.lax.scan(body, state, keys)
        states = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), state, states)
        return states, rewards, dones

    return jax.jit(run)


def assert_trees_close(a, b, atol: float = 1e-6) -> None:
    """Two pytrees have the same structure and leaves equal within `atol`."""
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(x, y, atol=atol)
