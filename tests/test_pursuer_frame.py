"""Car Tag's pursuer car-frame interface: features as documented, steering passed through."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_trees_close, make_state

from arenax.agents.car_tag import EVADERS
from arenax.envs.car_tag import observe
from arenax.envs.car_tag.pursuer_frame import FEATURE_SIZE, pursuer_frame_features
from arenax.envs.interfaces import get_interface
from arenax.envs.single_agent import SingleAgentView


@pytest.fixture(scope="module")
def pursuer_obs(env):
    state = make_state(pursuer_pos=(1.0, 1.0), pursuer_heading=0.3, evader_pos=(4.0, 5.0))
    return observe(state, env.default_params)["pursuer"]


def test_features_give_the_evaders_bearing_from_the_nose(pursuer_obs):
    features = pursuer_frame_features(pursuer_obs)
    assert features.shape == (FEATURE_SIZE,)
    np.testing.assert_array_equal(features[:21], pursuer_obs.to_array())
    rel = np.array([3.0, 4.0])  # evader - car, 5 m
    nose = np.array([math.cos(0.3), math.sin(0.3)])
    ahead, left = nose @ rel, -nose[1] * rel[0] + nose[0] * rel[1]
    assert float(features[21]) == pytest.approx(5.0 / 5.0, abs=1e-5)  # distance / L
    assert float(features[22]) == pytest.approx(1.0 / 5.2, abs=1e-5)
    assert float(features[23]) == pytest.approx(math.atan2(left, ahead) / math.pi, abs=1e-5)
    np.testing.assert_allclose(features[24:26], np.array([ahead, left]) / 5.0, atol=1e-5)
    np.testing.assert_allclose(features[26:28], np.array([ahead, left]) / 5.0, atol=1e-5)
    np.testing.assert_allclose(features[28:30], 0.0, atol=1e-6)  # the evader is at rest
    own = np.array([nose @ [1.0, 1.0], -nose[1] + nose[0]]) / 5.0
    np.testing.assert_allclose(features[30:32], own, atol=1e-5)


def test_a_view_through_it_steers_like_flat(env):
    params = env.default_params
    framed = SingleAgentView(env, "pursuer", EVADERS["straight_flee"], "car_tag_pursuer_car_frame")
    flat = SingleAgentView(env, "pursuer", EVADERS["straight_flee"])
    key = jax.random.key(4)
    obs, state = framed.reset(key, params)
    _, same = flat.reset(key, params)
    assert obs.shape == (FEATURE_SIZE,)
    action = jnp.array([0.4])
    _, by_frame, *_ = framed.step(jax.random.key(5), state, action, params)
    _, by_flat, *_ = flat.step(jax.random.key(5), same, action, params)
    assert_trees_close(by_frame, by_flat)


def test_it_is_registered_for_the_pursuer_only(env):
    assert not get_interface("car_tag_pursuer_car_frame").uses_observation_for_action
    with pytest.raises(ValueError, match="for the pursuer, not the evader"):
        SingleAgentView(env, "evader", EVADERS["straight_flee"], "car_tag_pursuer_car_frame")
