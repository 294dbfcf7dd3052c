"""Hand-written strategies: finite, in-bound actions for any observation; valid programs."""

from __future__ import annotations

import ast

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arenax.agents.car_tag import EVADERS, PURSUERS
from arenax.envs import make
from arenax.envs.car_tag import CarTagObs

BATCH = 64
ALL = [*PURSUERS.values(), *EVADERS.values()]
ALLOWED_IMPORTS = {"jax", "jax.numpy", "jax.lax", "math", "functools", "arenax.envs.car_tag"}


def random_observations(key: jax.Array, corner_cases: bool) -> CarTagObs:
    """A (BATCH,) batch of observations drawn from the observation space, with
    random game constants; optionally with coincident players pinned in a corner."""
    env, params = make("car_tag")
    space = env.observation_space(params)["pursuer"]
    keys = jax.random.split(key, BATCH + 1)
    fields = jax.vmap(space.sample)(keys[:BATCH])
    k1, k2, k3 = jax.random.split(keys[-1], 3)
    constants = {
        "pursuer_speed": jax.random.uniform(k1, (BATCH,), minval=0.5, maxval=2.0),
        "evader_speed": jax.random.uniform(k2, (BATCH,), minval=0.2, maxval=1.0),
        "min_turn_radius": jax.random.uniform(k3, (BATCH,), minval=0.3, maxval=3.0),
        "capture_radius": jnp.full((BATCH,), 0.5),
        "arena_half_size": jnp.full((BATCH,), 5.0),
        "dt": jnp.full((BATCH,), 0.1),
    }
    fields.update(constants)
    if corner_cases:
        corner = jnp.full((BATCH, 2), 5.0)
        fields.update(
            own_pos=corner,
            opp_pos=corner,
            own_vel=jnp.zeros((BATCH, 2)),
            opp_vel=jnp.zeros((BATCH, 2)),
            time_left=jnp.zeros(BATCH),
        )
    return CarTagObs(**fields)


@pytest.fixture(scope="module")
def batched_acts():
    """One compiled, vmapped `act` per strategy (compiled once for all examples)."""
    compiled = {}
    for policy in ALL:

        def run(obs, key, policy=policy):
            keys = jax.random.split(key, BATCH + 1)
            memory = jax.vmap(policy.init)(keys[:BATCH])
            action, _ = jax.vmap(policy.act)(obs, memory, keys[1:])
            return action

        compiled[policy.role, policy.name] = jax.jit(run)
    return compiled


def check_action(policy, action: np.ndarray, obs: CarTagObs) -> None:
    assert np.all(np.isfinite(action)), f"{policy.name} returned a non-finite action"
    if policy.role == "pursuer":
        assert action.reshape(BATCH, -1).shape[1] == 1
        assert np.all(np.abs(action) <= 1.0 + 1e-6), f"{policy.name} steering out of [-1, 1]"
    else:
        assert action.shape == (BATCH, 2)
        speed = np.linalg.norm(action, axis=-1)
        assert np.all(speed <= np.asarray(obs.evader_speed) * (1 + 1e-4) + 1e-6), (
            f"{policy.name} exceeds the evader speed"
        )


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**31 - 1), corner_cases=st.booleans())
def test_actions_finite_and_in_bounds(batched_acts, seed, corner_cases):
    key = jax.random.PRNGKey(seed)
    obs = random_observations(key, corner_cases)
    for policy in ALL:
        action = np.asarray(batched_acts[policy.role, policy.name](obs, key))
        check_action(policy, action, obs)


def test_at_least_four_per_role_with_descriptions():
    assert len(PURSUERS) >= 4 and len(EVADERS) >= 4
    for policy in ALL:
        assert policy.description, f"{policy.name} has no docstring idea"
        assert policy.source and "def act(" in policy.source


@pytest.mark.parametrize("policy", ALL, ids=lambda p: f"{p.role}-{p.name}")
def test_source_is_a_self_contained_program(policy):
    """Only the program allow-list is imported and no dunder names are touched, so the
    strategy can seed FMSP archives as an untrusted program."""
    tree = ast.parse(policy.source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert {a.name for a in node.names} <= ALLOWED_IMPORTS
        elif isinstance(node, ast.ImportFrom):
            assert node.module in ALLOWED_IMPORTS
        elif isinstance(node, ast.Attribute):
            assert not node.attr.startswith("__")
        elif isinstance(node, ast.Name):
            assert not node.id.startswith("__") and node.id not in {"eval", "exec", "open"}
