"""Learner interfaces: Car Tag's evader car frame maps actions and features as documented,
a view trains through it, and an exported agent plays through it after a save/load."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_trees_close, make_state

from arenax.agents.car_tag import PURSUERS
from arenax.agents.ppo import PPOConfig, load_agent, make_train, save_agent, to_policy
from arenax.agents.ppo.export import export_agent
from arenax.envs.car_tag import observe
from arenax.envs.car_tag.evader_frame import FEATURE_SIZE, car_frame_features, car_frame_to_world
from arenax.envs.interfaces import get_interface
from arenax.envs.single_agent import SingleAgentView


@pytest.fixture(scope="module")
def evader_obs(env):
    state = make_state(pursuer_pos=(1.0, 1.0), pursuer_heading=0.3, evader_pos=(4.0, 5.0))
    return observe(state, env.default_params)["evader"]


def test_car_frame_actions_run_along_and_across_the_cars_heading(evader_obs):
    nose = np.array([np.cos(0.3), np.sin(0.3)])
    left = np.array([-nose[1], nose[0]])
    np.testing.assert_allclose(
        car_frame_to_world(jnp.array([1.0, 0.0]), evader_obs), nose, atol=1e-6
    )
    np.testing.assert_allclose(
        car_frame_to_world(jnp.array([0.0, 1.0]), evader_obs), left, atol=1e-6
    )
    mixed = car_frame_to_world(jnp.array([0.3, -0.4]), evader_obs)
    assert float(jnp.linalg.norm(mixed)) == pytest.approx(0.5, abs=1e-6)


def test_car_frame_features_extend_the_flat_observation(evader_obs):
    features = car_frame_features(evader_obs)
    assert features.shape == (FEATURE_SIZE,)
    np.testing.assert_array_equal(features[:21], evader_obs.to_array())
    assert float(features[21]) == pytest.approx(5.0 / 5.0, abs=1e-5)  # distance / L
    nose = np.array([np.cos(0.3), np.sin(0.3)])
    rel = np.array([3.0, 4.0])  # evader - car
    bearing = np.array([nose @ rel, -nose[1] * rel[0] + nose[0] * rel[1]]) / 5.0
    np.testing.assert_allclose(features[23:25], bearing, atol=1e-5)
    np.testing.assert_allclose(features[25:27], bearing * 5.0 / 5.0, atol=1e-5)


def test_view_plays_car_frame_actions_as_world_velocities(env):
    params = env.default_params
    line = SingleAgentView(env, "evader", PURSUERS["pure_pursuit"], "car_tag_evader_car_frame")
    world = SingleAgentView(env, "evader", PURSUERS["pure_pursuit"])
    key = jax.random.key(4)
    obs, state = line.reset(key, params)
    _, same_state = world.reset(key, params)
    assert obs.shape == (FEATURE_SIZE,)
    action = jnp.array([0.2, 0.9])
    velocity = car_frame_to_world(action, env.observe(state.env_state, params)["evader"])
    assert not np.allclose(velocity, action)
    step_key = jax.random.key(5)
    _, by_line, *_ = line.step(step_key, state, action, params)
    _, by_world, *_ = world.step(step_key, same_state, velocity, params)
    assert_trees_close(by_line, by_world)


def test_interfaces_reject_unknown_names_and_the_wrong_role(env):
    with pytest.raises(ValueError, match="unknown learner interface 'polar'"):
        get_interface("polar")
    with pytest.raises(ValueError, match="for the evader, not the pursuer"):
        SingleAgentView(env, "pursuer", PURSUERS["pure_pursuit"], "car_tag_evader_car_frame")


def test_exported_agent_keeps_its_interface_through_save_and_load(env, evader_obs, tmp_path):
    view = SingleAgentView(env, "evader", PURSUERS["pure_pursuit"], "car_tag_evader_car_frame")
    config = PPOConfig(num_envs=2, num_steps=4, total_timesteps=8, hidden_sizes=(8,))
    trainer = make_train(config, view, env.default_params)
    agent = export_agent(trainer, trainer.init(jax.random.key(0)))
    assert agent.interface == "car_tag_evader_car_frame" and agent.obs_size == FEATURE_SIZE
    loaded, meta = load_agent(save_agent(tmp_path / "evader", agent, role="evader"))
    assert loaded.interface == meta["interface"] == "car_tag_evader_car_frame"
    action, _ = to_policy(loaded).act(evader_obs, (), jax.random.key(1))
    as_flat = type(loaded)(
        loaded.config, loaded.spec, loaded.obs_size, loaded.params, loaded.obs_norm, "flat"
    )

    class Features:
        def to_array(self):
            return car_frame_features(evader_obs)

    network_action, _ = to_policy(as_flat).act(Features(), (), jax.random.key(1))
    np.testing.assert_allclose(action, car_frame_to_world(network_action, evader_obs), atol=1e-6)
