"""Potential-based shaping: the bonus telescopes and the game's own score stays visible."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from arenax.agents.car_tag import EVADERS
from arenax.envs import make
from arenax.envs.shaping import PotentialShaping, car_tag_distance_potential
from arenax.envs.single_agent import SingleAgentView


def test_distance_shaping_telescopes_to_the_change_in_distance():
    env, params = make("car_tag", horizon=40)
    view = SingleAgentView(env, "pursuer", EVADERS["straight_flee"])
    potential = car_tag_distance_potential("pursuer")
    shaped = PotentialShaping(view, potential, coef=2.0)

    def episode(key):
        _, state = shaped.reset(key, params)
        phi0 = potential(state, params)

        def step(carry, k):
            state, total, raw = carry
            action = jnp.array([0.3])
            _, state, reward, _, info = shaped.step(k, state, action, params)
            return (state, total + reward, raw + reward - info["shaping"]), None

        keys = jax.random.split(key, 40)
        (state, total, raw), _ = jax.lax.scan(step, (state, 0.0, 0.0), keys)
        return total - raw, 2.0 * (potential(state, params) - phi0), raw

    bonus, expected, raw = jax.jit(episode)(jax.random.PRNGKey(3))
    np.testing.assert_allclose(bonus, expected, atol=1e-5)
    assert abs(float(bonus)) > 1e-3  # the cars moved, so the shaping did something
    assert 0.0 <= float(raw) <= 1.0  # the game's pursuer score is untouched
