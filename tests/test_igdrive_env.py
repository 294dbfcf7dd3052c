"""The IGDrive environment: reset/step under jit and vmap, the expert's own actions
replay the log with no penalty, bad driving is penalised and can terminate, restricted
perception sees less than the expert, bad params fail clearly."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from arenax.envs import make
from arenax.envs.igdrive.dynamics import actions_from_log
from arenax.envs.igdrive.env import IGDrive, IGDriveParams
from arenax.envs.igdrive.generator import ScenarioConfig
from arenax.envs.igdrive.metrics import red_light_crossing, sdc_episode_metrics

SCENE = ScenarioConfig(num_objects=6, num_timesteps=31)
ENV = IGDrive()
BATCH = 6


def params(**changes) -> IGDriveParams:
    return IGDriveParams(scenario=SCENE, num_obs_points=64, **changes)


def run_episodes(p: IGDriveParams, policy, seed: int = 0):
    """Batched episodes; `policy(state) -> action` per scene. Returns per-step stacks."""
    return compiled_episodes(p, policy)(jax.random.split(jax.random.PRNGKey(seed), BATCH))


@functools.cache
def compiled_episodes(p: IGDriveParams, policy):
    """One compiled runner per (params, policy), shared by the tests."""

    def episode(k):
        obs, state = ENV.reset(k, p)

        def step(carry, step_key):
            obs, state = carry
            obs, state, reward, done, info = ENV.step(step_key, state, {"sdc": policy(state)}, p)
            return (obs, state), (reward["sdc"], done, info, obs["sdc"].object_valid.sum())

        keys = jax.random.split(k, SCENE.num_timesteps - 1 - p.warmup_steps)
        (_, final), out = jax.lax.scan(step, (obs, state), keys)
        return final, out

    return jax.jit(jax.vmap(episode))


def expert_policy(state):
    """The logged expert's own bicycle action at this step (inverse dynamics)."""
    log = state.sim.log_trajectory
    actions = actions_from_log(IGDriveParams().model, log)  # (N, T - 1, 2)
    sdc = jnp.argmax(state.sim.object_metadata.is_sdc)
    return actions[sdc, state.sim.timestep]


def test_expert_actions_replay_the_log_without_penalty():
    final, (reward, done, info, _) = run_episodes(params(), expert_policy)
    assert np.all(np.asarray(reward) == 0.0)
    assert np.asarray(info["log_divergence"]).max() < 0.05
    assert np.all(np.asarray(done)[:, -1]) and not np.any(np.asarray(done)[:, :-1])
    assert np.all(np.asarray(final.sim.timestep) == SCENE.num_timesteps - 1)


def test_swerving_off_the_road_is_penalised_and_can_end_the_episode():
    def swerve(state):
        return jnp.array([2.0, 0.3])  # accelerate into the tightest left turn

    _, (reward, done, info, _) = run_episodes(
        params(terminate_on=("offroad",), offroad_weight=5.0), swerve
    )
    offroad = np.asarray(info["offroad"])
    hit = offroad.any(1)
    assert hit.sum() >= 2
    first = np.argmax(offroad, axis=1)
    assert np.all(np.asarray(done)[hit, first[hit]])  # the episode ends there
    assert np.all(np.asarray(reward)[hit, first[hit]] <= -5.0)
    assert np.all(np.asarray(reward)[offroad.cumsum(1) > 1] == 0.0)  # nothing after the end


def test_tailgating_costs_the_headway_shortfall_times_its_weight():
    def floor_it(state):
        return jnp.array([3.0, 0.0])  # full throttle, straight on

    weights = dict(overlap_weight=0.0, offroad_weight=0.0, red_light_weight=0.0)
    _, (reward, _, info, _) = run_episodes(params(headway_weight=3.0, **weights), floor_it)
    shortfall = np.asarray(info["headway_shortfall"])
    assert shortfall.max() > 0.2 and shortfall.min() >= 0.0 and shortfall.max() <= 1.0
    np.testing.assert_allclose(np.asarray(reward), -3.0 * shortfall, atol=1e-6)
    # Off by default: the same drive costs nothing without the weight.
    _, (reward, _, _, _) = run_episodes(params(**weights), floor_it)
    assert np.all(np.asarray(reward) == 0.0)


def test_restricted_perception_sees_fewer_objects():
    _, (_, _, _, seen_full) = run_episodes(params(), expert_policy)
    _, (_, _, _, seen_cone) = run_episodes(
        params(perception="cone:radius=20,angle=90"), expert_policy
    )
    assert np.asarray(seen_cone).sum() < np.asarray(seen_full).sum()
    assert np.all(np.asarray(seen_cone) <= np.asarray(seen_full))


def test_observation_matches_its_space_and_is_finite():
    p = params(perception="cone:radius=30,angle=120 + occlusion + noise:std=0.5")
    obs, _ = jax.jit(ENV.reset, static_argnums=1)(jax.random.PRNGKey(3), p)
    flat = obs["sdc"].to_array()
    assert flat.shape == ENV.observation_space(p)["sdc"].shape
    assert np.all(np.isfinite(np.asarray(flat)))


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"perception": "cone:radius=20"}, "cone needs angle"),
        ({"dynamics": "unicycle"}, "dynamics must be"),
        ({"terminate_on": ("crash",)}, "not events"),
        ({"warmup_steps": 100}, "warmup_steps must be in"),
        ({"others": "replay"}, "others must be one of"),
    ],
)
def test_bad_params_name_the_problem(changes, message):
    with pytest.raises(ValueError, match=message):
        params(**changes)
    with pytest.raises(ValueError, match=message):
        make("igdrive", **changes)


def test_registered_under_make():
    env, p = make("igdrive", perception="range:radius=30", warmup_steps=5)
    assert isinstance(env, IGDrive) and p.warmup_steps == 5


# Single-lane roads, so that the SDC often has a follower.
LONG = ScenarioConfig(
    num_objects=6, num_timesteps=51, max_lanes=1, kind_probabilities=(1.0, 0.0, 0.0)
)


def brake(state):
    return jnp.array([-6.0, 0.0])  # stop dead in the lane


LONG_POLICIES = (brake, expert_policy)


def run_long(others: str, policy):
    p = IGDriveParams(scenario=LONG, num_obs_points=16, others=others)
    keys = jax.random.split(jax.random.PRNGKey(5), 32)
    return compiled_long_episodes(p)(keys, LONG_POLICIES.index(policy))


@functools.cache
def compiled_long_episodes(p: IGDriveParams):
    """One compiled runner per traffic mode; the policy is picked by a traced index."""

    def episode(k, which):
        _, state = ENV.reset(k, p)

        def step(state, step_key):
            action = jax.lax.switch(which, LONG_POLICIES, state)
            _, state, _, _, info = ENV.step(step_key, state, {"sdc": action}, p)
            return state, info["overlap"]

        keys = jax.random.split(k, LONG.num_timesteps - 1 - p.warmup_steps)
        final, overlaps = jax.lax.scan(step, state, keys)
        return final, overlaps, sdc_episode_metrics(final.sim, p.warmup_steps, LONG.lane_width)

    return jax.jit(jax.vmap(episode, (0, None)))


def test_reactive_traffic_brakes_for_a_stopped_sdc_where_log_replay_runs_into_it():
    _, hit_log, _ = run_long("log", brake)
    final, hit_idm, metrics = run_long("idm", brake)
    assert np.asarray(hit_log).any(1).sum() >= 2  # followers replaying the log rear-end it
    assert not np.asarray(hit_idm).any()
    assert np.all(np.asarray(metrics["overlap"]) == np.asarray(hit_idm).any(1))
    # Reactive vehicles also stop for red lights on their paths.
    traj = final.sim.sim_trajectory
    before = jax.tree_util.tree_map(lambda a: a[..., :-1], traj)
    after = jax.tree_util.tree_map(lambda a: a[..., 1:], traj)
    steps = jnp.arange(1, LONG.num_timesteps)
    crossed = jax.vmap(
        lambda b, a, lights: jax.vmap(
            lambda bt, at, t: red_light_crossing(bt, at, lights, t, LONG.lane_width),
            in_axes=(-1, -1, 0),
        )(b, a, steps)
    )(before, after, final.sim.log_traffic_light)
    assert not np.any(np.asarray(crossed))


def test_episode_metrics_of_the_expert_and_of_a_braking_sdc():
    _, _, expert = run_long("idm", expert_policy)
    _, _, stopped = run_long("idm", brake)
    for name in ("overlap", "offroad", "red_light", "infeasible"):
        assert not np.any(np.asarray(expert[name])), name
    assert np.asarray(expert["ade"]).max() < 0.05
    assert np.all(np.asarray(expert["progress"]) > np.asarray(stopped["progress"]))
    assert np.all(np.asarray(stopped["ade"]) > 1.0)
