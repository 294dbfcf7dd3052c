"""Single-agent views: an env that can recompute observations (`Environment.observe`) has
its opponent's observation recomputed, not carried, and plays exactly as if carried."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import car_tag_params

from arenax.agents.car_tag import EVADERS
from arenax.envs import AutoReset
from arenax.envs.environment import supports_observe
from arenax.envs.single_agent import SingleAgentView
from arenax.envs.wrappers import WithoutObserve

NUM_ENVS = 4
STEPS = 24


def _play(view: SingleAgentView, params) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Observations, rewards and dones (T, N, ...) of `view` under a fixed steering."""
    env = AutoReset(view)

    @jax.jit
    def run(keys, params):
        _, state = jax.vmap(env.reset, in_axes=(0, None))(keys, params)

        def body(state, key):
            obs, state, reward, done, _ = jax.vmap(env.step, in_axes=(0, 0, None, None))(
                jax.random.split(key, NUM_ENVS), state, jnp.full((1,), 0.4), params
            )
            return state, (obs, reward, done)

        return jax.lax.scan(body, state, jax.random.split(keys[0], STEPS))[1]

    return run(jax.random.split(jax.random.key(0), NUM_ENVS), params)


@pytest.fixture(scope="module")
def short_params():
    return car_tag_params(horizon=8)


def test_car_tag_recomputes_and_the_wrapper_without_observe_carries(env):
    assert supports_observe(env)
    assert not supports_observe(WithoutObserve(env))
    view = SingleAgentView(env, "pursuer", EVADERS["jink"])
    _, state = view.reset(jax.random.key(1), env.default_params)
    assert state.opponent_obs is None
    carried = SingleAgentView(WithoutObserve(env), "pursuer", EVADERS["jink"])
    _, state = carried.reset(jax.random.key(1), env.default_params)
    assert state.opponent_obs is not None


def test_recomputed_and_carried_opponent_observations_play_the_same(env, short_params):
    recomputed = _play(SingleAgentView(env, "pursuer", EVADERS["jink"]), short_params)
    carried = _play(SingleAgentView(WithoutObserve(env), "pursuer", EVADERS["jink"]), short_params)
    assert np.asarray(recomputed[2]).any(), "no episode ended: AutoReset was not exercised"
    for a, b in zip(recomputed, carried, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)


def test_observe_returns_what_reset_and_step_return(env, short_params):
    obs, state = env.reset(jax.random.key(2), short_params)
    for agent in env.agents:
        np.testing.assert_array_equal(
            np.asarray(env.observe(state, short_params)[agent].to_array()),
            np.asarray(obs[agent].to_array()),
        )
    actions = {"pursuer": jnp.ones((1,)), "evader": jnp.array([0.3, -0.2])}
    obs, state, *_ = env.step(jax.random.key(3), state, actions, short_params)
    for agent in env.agents:
        np.testing.assert_array_equal(
            np.asarray(env.observe(state, short_params)[agent].to_array()),
            np.asarray(obs[agent].to_array()),
        )
