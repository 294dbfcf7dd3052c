"""Potential-based shaping: the bonus telescopes and the game's own score stays visible."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import make_state

from arenax.agents.car_tag import EVADERS, PURSUERS
from arenax.envs import make
from arenax.envs.shaping import PotentialShaping, car_tag_distance_potential
from arenax.envs.single_agent import SingleAgentState, SingleAgentView


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


def test_learner_views_discount_the_shaping_bonus_as_asked():
    from arenax.car_tag_training import learner_env

    env, _ = make("car_tag")
    assert learner_env(env, "evader", PURSUERS["pure_pursuit"], 1.0).gamma == 1.0
    shaped = learner_env(env, "evader", PURSUERS["pure_pursuit"], 1.0, gamma=0.95)
    assert shaped.gamma == 0.95


def test_a_discounted_bonus_telescopes_under_the_same_discount():
    """sum_t gamma^t (gamma phi(s_t+1) - phi(s_t)) = gamma^T phi(s_T) - phi(s_0)."""
    env, params = make("car_tag", horizon=30)
    view = SingleAgentView(env, "evader", PURSUERS["pure_pursuit"])
    potential = car_tag_distance_potential("evader")
    gamma = 0.9
    shaped = PotentialShaping(view, potential, coef=1.0, gamma=gamma)
    _, state = shaped.reset(jax.random.key(2), params)
    phi0 = float(potential(state, params))
    discounted = 0.0
    for t, k in enumerate(jax.random.split(jax.random.key(3), 10)):
        _, state, _, done, info = shaped.step(k, state, jnp.array([0.0, 0.0]), params)
        assert not bool(done)
        discounted += gamma**t * float(info["shaping"])
    expected = gamma**10 * float(potential(state, params)) - phi0
    np.testing.assert_allclose(discounted, expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    ("evader", "shortfall"),
    [((1.0, 0.0), 0.0), ((4.5, 0.0), 1.0), ((4.5, -4.9), 1.4), ((-3.5, 2.0), 0.0)],
)
def test_wall_term_counts_the_evaders_clearance_shortfall(evader, shortfall):
    """phi = sign * (distance - w * max(1.5 - clearance, 0)) / (2 L), L = 5 m."""
    _, params = make("car_tag")
    game = make_state(pursuer_pos=(0.0, 0.0), evader_pos=evader)
    state = SingleAgentState(env_state=game, opponent_obs=None, opponent_memory=())
    distance = float(np.hypot(*evader))
    for role, sign in (("evader", 1.0), ("pursuer", -1.0)):
        phi = float(car_tag_distance_potential(role, wall_weight=2.0)(state, params))
        plain = float(car_tag_distance_potential(role)(state, params))
        np.testing.assert_allclose(phi, sign * (distance - 2.0 * shortfall) / 10.0, atol=1e-6)
        np.testing.assert_allclose(plain, sign * distance / 10.0, atol=1e-6)


def test_a_negative_wall_weight_is_refused():
    with pytest.raises(ValueError, match="wall_weight and wall_margin must be >= 0"):
        car_tag_distance_potential("evader", wall_weight=-1.0)


def test_selfplay_shapes_the_wall_term_for_the_evader_only():
    from types import SimpleNamespace

    from arenax.agents.selfplay.train import _learner_env

    _, params = make("car_tag")
    game = make_state(pursuer_pos=(0.0, 0.0), evader_pos=(4.5, 0.0))  # clearance 0.5 m
    state = SingleAgentState(env_state=game, opponent_obs=None, opponent_memory=())
    view, pool_params = SimpleNamespace(name="pool", agents=()), SimpleNamespace(game=params)
    for role, sign, shortfall in (("evader", 1.0, 1.0), ("pursuer", -1.0, 0.0)):
        phi = _learner_env(view, role, 1.0, wall_shaping=2.0).potential(state, pool_params)
        np.testing.assert_allclose(phi, sign * (4.5 - 2.0 * shortfall) / 10.0, rtol=1e-5)
