"""The environment API: determinism, starts, no retracing, vmap over params, scan,
AutoReset, spaces and `make`'s validation."""

from __future__ import annotations

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import (
    ROLLOUT_EPISODES,
    ROLLOUT_HORIZON,
    ROLLOUT_POLICIES,
    TRACES,
    actions,
    as_arrays,
    car_tag_params,
    flee_act,
    pursue_act,
)

from arenax.envs import AutoReset, make, registered
from arenax.envs.car_tag import EVADER, OBS_FLAT_SIZE, PURSUER, CarTagObs, obs_from_dict
from arenax.envs.car_tag.params import CarTagParams
from arenax.envs.spaces import flat_size
from arenax.rollout import _compiled_rollout, rollout

NUM_RESETS = 2048
PLAY_STEPS = 20


@pytest.fixture(scope="module")
def batch_reset(env):
    """`(keys (N,), params) -> (obs, state)` with leaves (N, ...)."""
    return jax.jit(jax.vmap(env.reset, in_axes=(0, None)))


def _keys(seed: int, n: int = NUM_RESETS) -> jax.Array:
    return jax.random.split(jax.random.key(seed), n)


def _leaves_equal(a, b) -> bool:
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(la) == len(lb) and all(
        np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(la, lb, strict=True)
    )


# --------------------------------------------------------------------------- determinism


def test_same_key_same_rollout_different_key_different_rollout(env):
    params = car_tag_params(horizon=ROLLOUT_HORIZON)
    run = lambda seed: rollout(
        env, params, ROLLOUT_POLICIES, jax.random.key(seed), ROLLOUT_EPISODES
    )
    a, b, c = run(11), run(11), run(12)
    assert _leaves_equal(a, b)
    assert not np.array_equal(
        np.asarray(a.final_state.pursuer_pos), np.asarray(c.final_state.pursuer_pos)
    )


def test_reset_same_key_same_start_different_keys_different_starts(batch_reset):
    params = car_tag_params()
    _, s1 = batch_reset(_keys(0), params)
    _, s2 = batch_reset(_keys(0), params)
    _, s3 = batch_reset(_keys(1), params)
    assert _leaves_equal(s1, s2)
    starts = np.asarray(s1.pursuer_pos)
    assert len(np.unique(starts, axis=0)) == NUM_RESETS  # every key a different start
    assert len(np.unique(np.asarray(s1.evader_pos), axis=0)) == NUM_RESETS
    assert not np.any(np.all(starts == np.asarray(s3.pursuer_pos), axis=-1))
    # A fresh episode: nothing has happened yet.
    assert not np.asarray(s1.done).any() and not np.asarray(s1.captured).any()
    np.testing.assert_array_equal(np.asarray(s1.t), 0)
    np.testing.assert_allclose(np.asarray(s1.capture_time), params.horizon_time, rtol=1e-6)


def _start_distances(batch_reset, params, seed=2):
    _, state = batch_reset(_keys(seed), params)
    half = float(params.arena_half_size)
    for pos in (np.asarray(state.pursuer_pos), np.asarray(state.evader_pos)):
        assert np.all(np.abs(pos) <= half)
    pursuer = np.asarray(state.pursuer_pos, np.float64)
    dist = np.linalg.norm(np.asarray(state.evader_pos, np.float64) - pursuer, axis=-1)
    farthest_corner = np.linalg.norm(np.abs(pursuer) + half, axis=-1)
    return dist, farthest_corner


@pytest.mark.parametrize(
    "overrides",
    [
        {},  # defaults: band [3, 6] in a 10 x 10 arena
        {"min_start_distance": 5.0, "max_start_distance": 5.0},  # a single distance
        {"arena_half_size": 1.0, "min_start_distance": 0.6, "max_start_distance": 0.7},
    ],
)
def test_reset_start_distance_in_band(batch_reset, overrides):
    # In all these the band fits from every pursuer position, so it must always hold.
    params = car_tag_params(**overrides)
    lo, hi = float(params.min_start_distance), float(params.max_start_distance)
    dist, farthest_corner = _start_distances(batch_reset, params)
    assert np.all(farthest_corner >= lo)
    assert np.all((dist >= lo - 1e-4) & (dist <= hi + 1e-4)), (dist.min(), dist.max())


def test_reset_gets_as_close_to_an_unreachable_band_as_possible(batch_reset):
    # L = 1: the band [2.7, 2.8] fits only from pursuer positions near a corner.
    params = car_tag_params(
        arena_half_size=1.0, min_start_distance=2.7, max_start_distance=2.8, capture_radius=0.5
    )
    dist, farthest_corner = _start_distances(batch_reset, params)
    reachable = farthest_corner >= 2.7
    assert reachable.any() and not reachable.all()
    assert np.all((dist[reachable] >= 2.7 - 1e-4) & (dist[reachable] <= 2.8 + 1e-4))
    # Otherwise the evader is put in the farthest corner, the closest it can get.
    np.testing.assert_allclose(dist[~reachable], farthest_corner[~reachable], atol=1e-4)


# --------------------------------------------------------------------------- no retracing


def test_reset_and_step_do_not_retrace(jit_reset, jit_step):
    # Both are wrapped in chex.assert_max_traces(n=1) (see conftest): a retrace raises.
    keys = jax.random.split(jax.random.key(5), 4)
    for i, key in enumerate(keys):
        # New keys, new param values, new states.
        params = car_tag_params(capture_radius=0.3 + 0.1 * i, evader_speed=0.2 + 0.05 * i)
        _, state = jit_reset(key, params)
        for j in range(3):
            acts = actions(steering=0.3 * j - 0.5, velocity=(0.1 * i, -0.2 * j))
            _, state, _, _, _ = jit_step(jax.random.fold_in(key, j), state, acts, params)
    assert jit_reset._cache_size() == 1 and jit_step._cache_size() == 1


def test_rollout_does_not_recompile(env):
    params = car_tag_params(horizon=ROLLOUT_HORIZON)
    rollout(env, params, ROLLOUT_POLICIES, jax.random.key(0), ROLLOUT_EPISODES)
    traces = TRACES["flee"]
    assert traces >= 1
    for seed in range(1, 4):
        new_params = car_tag_params(horizon=ROLLOUT_HORIZON, capture_radius=0.3 + 0.1 * seed)
        rollout(env, new_params, ROLLOUT_POLICIES, jax.random.key(seed), ROLLOUT_EPISODES)
    assert TRACES["flee"] == traces  # the policy was not traced again
    ordered = tuple((agent, ROLLOUT_POLICIES[agent]) for agent in env.agents)
    fn = _compiled_rollout(env, ordered, ROLLOUT_HORIZON, False)
    assert fn is _compiled_rollout(env, ordered, ROLLOUT_HORIZON, False)
    assert fn._cache_size() == 1


# --------------------------------------------------------------------------- vmap / scan


def _play(env):
    """`play(key, params)`: reset, then PLAY_STEPS scanned steps of pursuit vs flight.

    Returns per step `(obs, state, rewards, done, checks)`, `checks[agent]` being
    `(obs in observation_space, obs.to_array())`.
    """

    def play(key, params):
        obs, state = env.reset(key, params)

        def body(carry, step_key):
            obs, state = carry
            acts = {
                PURSUER: pursue_act(obs[PURSUER], (), step_key)[0],
                EVADER: flee_act(obs[EVADER], (), step_key)[0],
            }
            obs, state, rewards, done, _ = env.step(step_key, state, acts, params)
            space = env.observation_space(params)
            checks = {
                agent: (space[agent].contains(dataclasses.asdict(o)), o.to_array())
                for agent, o in obs.items()
            }
            return (obs, state), (obs, state, rewards, done, checks)

        _, trajectory = jax.lax.scan(body, (obs, state), jax.random.split(key, PLAY_STEPS))
        return trajectory

    return play


def test_vmap_over_params_matches_a_loop_over_params(env, jit_reset, jit_step):
    play = _play(env)
    variants = [
        car_tag_params(capture_radius=0.3, evader_speed=0.2, pursuer_speed=1.0),
        car_tag_params(capture_radius=0.6, evader_speed=0.5, pursuer_speed=1.5),
        car_tag_params(capture_radius=1.0, evader_speed=0.9, pursuer_speed=2.0),
    ]
    stacked = jax.tree.map(lambda *xs: np.stack(xs), *variants)
    key = jax.random.key(7)
    batched = jax.jit(jax.vmap(play, in_axes=(None, 0)))(key, stacked)

    # Reference: one params at a time, a Python loop of single steps (no vmap, no scan).
    act = jax.jit(
        lambda obs: {
            PURSUER: pursue_act(obs[PURSUER], (), None)[0],
            EVADER: flee_act(obs[EVADER], (), None)[0],
        }
    )
    step_keys = jax.random.split(key, PLAY_STEPS)
    for i, params in enumerate(variants):
        obs, state = jit_reset(key, params)
        for t in range(PLAY_STEPS):
            obs, state, rewards, done, _ = jit_step(step_keys[t], state, act(obs), params)
            got = jax.tree.map(lambda x, i=i, t=t: x[i, t], batched[:4])
            chex.assert_trees_all_close(got, (obs, state, rewards, done), atol=1e-5, rtol=1e-5)
    # The variants really differ: different capture radii and speeds give different games.
    evader_pos = np.asarray(batched[1].evader_pos)
    assert not np.allclose(evader_pos[0], evader_pos[1])
    # Every observation along the way lies in its variant's observation space, and
    # flattens to OBS_FLAT_SIZE finite numbers.
    for agent in (PURSUER, EVADER):
        inside, flat = (np.asarray(x) for x in batched[4][agent])
        assert inside.shape == (3, PLAY_STEPS) and inside.all(), agent
        assert flat.shape == (3, PLAY_STEPS, OBS_FLAT_SIZE) and np.isfinite(flat).all()


def test_autoreset_resets_on_done_and_keeps_terminal_obs(env):
    wrapped = AutoReset(env)
    horizon = 5
    # Slow agents far apart: no capture, episodes end at the horizon only.
    params = car_tag_params(
        horizon=horizon, pursuer_speed=0.1, evader_speed=0.1, min_start_distance=4.0
    )
    acts = actions(steering=0.5, velocity=(0.05, 0.0))

    def run(key):
        _, state = wrapped.reset(key, params)

        def body(state, step_key):
            obs, nxt, rewards, done, info = wrapped.step(step_key, state, acts, params)
            inner_obs = env.step(step_key, state, acts, params)[0]  # the unwrapped result
            return nxt, (state, obs, nxt, done, info["terminal_obs"], inner_obs, rewards)

        return jax.lax.scan(body, state, jax.random.split(key, 12))[1]

    before, obs, after, done, terminal, inner, rewards = jax.jit(run)(jax.random.key(3))
    done = np.asarray(done)
    np.testing.assert_array_equal(np.flatnonzero(done), [4, 9])
    np.testing.assert_array_equal(np.asarray(before.t), [0, 1, 2, 3, 4] * 2 + [0, 1])
    # terminal_obs is the finished episode's last observation (what the env returned) ...
    assert _leaves_equal(terminal, inner)
    np.testing.assert_allclose(np.asarray(terminal[PURSUER].time_left)[done], 0.0, atol=1e-6)
    # ... while the returned obs and state are a fresh episode's.
    after_t, after_done = np.asarray(after.t), np.asarray(after.done)
    assert np.all(after_t[done] == 0) and not after_done.any()
    time_left = np.asarray(obs[EVADER].time_left)
    np.testing.assert_allclose(time_left[done], horizon * 0.1, rtol=1e-6)
    # A fresh start is a new start, not the previous episode's.
    pos_after = np.asarray(after.pursuer_pos)[done]
    pos_start = np.asarray(before.pursuer_pos)[[0, 5]]
    assert not np.any(np.all(np.isclose(pos_after, pos_start), axis=-1))
    # Off the done steps, obs passes through unchanged.
    for agent in (PURSUER, EVADER):
        for x, y in zip(jax.tree.leaves(obs[agent]), jax.tree.leaves(terminal[agent]), strict=True):
            np.testing.assert_array_equal(np.asarray(x)[~done], np.asarray(y)[~done])
    np.testing.assert_allclose(np.asarray(rewards[EVADER]), 1 / horizon, rtol=1e-6)


# --------------------------------------------------------------------------- spaces


def test_sampled_actions_are_contained_and_sampled_obs_flatten(env):
    params = car_tag_params(evader_speed=0.7)
    action_space = env.action_space(params)
    obs_space = env.observation_space(params)[EVADER]
    assert action_space[PURSUER].shape == (1,) and action_space[EVADER].shape == (2,)

    @jax.jit
    def sample_and_check(keys):
        inside = {
            agent: jax.vmap(lambda k, s=s: s.contains(s.sample(k)))(keys)
            for agent, s in action_space.items()
        }
        flat = jax.vmap(lambda k: obs_from_dict(obs_space.sample(k)).to_array())(keys)
        return inside, flat

    inside, flat = sample_and_check(_keys(9, 128))
    assert all(np.asarray(v).all() for v in inside.values())
    flat = np.asarray(flat)
    assert flat.shape == (128, OBS_FLAT_SIZE) and np.isfinite(flat).all()
    assert not bool(action_space[EVADER].contains(jnp.array([0.8, 0.0])))
    assert not bool(action_space[PURSUER].contains(jnp.array([-1.5])))
    assert not bool(action_space[PURSUER].contains(jnp.zeros(2)))  # wrong shape


def test_observation_space_matches_obs_fields(env, jit_reset):
    params = car_tag_params()
    spaces = env.observation_space(params)
    fields = [f.name for f in dataclasses.fields(CarTagObs)]
    obs, _ = jit_reset(jax.random.key(0), params)
    for agent in env.agents:
        assert list(spaces[agent].spaces) == fields
        for name in fields:
            assert np.shape(getattr(obs[agent], name)) == spaces[agent][name].shape, name
        assert bool(spaces[agent].contains(dataclasses.asdict(obs[agent])))
        flat = np.asarray(obs[agent].to_array())
        assert flat.shape == (OBS_FLAT_SIZE,) == (21,)
        assert flat.dtype == np.float32 and np.isfinite(flat).all()
    # The named fields hold 17 scalars; the flat view adds heading vectors and a local frame.
    assert flat_size(spaces[PURSUER]) == 17


# --------------------------------------------------------------------------- make


def test_make_applies_overrides():
    assert "car_tag" in registered()
    env, params = make("car_tag", capture_radius=0.25, horizon=42)
    assert env.agents == (PURSUER, EVADER)
    assert isinstance(params, CarTagParams)
    assert params.capture_radius == 0.25 and params.horizon == 42
    assert params.dt == CarTagParams().dt  # untouched fields keep their defaults
    assert as_arrays(params).horizon.dtype == np.int32


@pytest.mark.parametrize(
    "name, overrides, words",
    [
        ("car_tagg", {}, ["unknown environment", "car_tagg", "car_tag"]),
        ("car_tag", {"capture_radiuss": 0.5}, ["unknown parameter", "capture_radiuss"]),
        ("car_tag", {"pursuer_speed": -1.0}, ["pursuer_speed", "> 0", "-1.0"]),
        ("car_tag", {"evader_speed": -0.5}, ["evader_speed", "> 0"]),
        ("car_tag", {"dt": 0.0}, ["dt", "> 0"]),
        ("car_tag", {"horizon": 0}, ["horizon", ">= 1"]),
        ("car_tag", {"horizon": 2.5}, ["horizon", "whole number", "2.5"]),
        ("car_tag", {"min_start_distance": 0.2}, ["min_start_distance", "capture_radius"]),
        ("car_tag", {"min_start_distance": 4.0, "max_start_distance": 3.0}, ["max_start_distance"]),
    ],
)
def test_make_rejects_bad_input_naming_the_problem(name, overrides, words):
    with pytest.raises(ValueError) as excinfo:
        make(name, **overrides)
    message = str(excinfo.value)
    for word in words:
        assert word in message, (word, message)
