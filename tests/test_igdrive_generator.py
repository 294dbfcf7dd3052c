"""Procedural IGDrivSim scenes: the expert's logs are clean (no overlap, no off-road, no
red-light running, kinematically feasible) over many scenes of every kind (roads,
four-way junctions, merges); junction traffic crosses or waits, ramp traffic merges;
scenes vary; generation is
deterministic, batched without retracing; scenario files round-trip and bad files fail
with a clear error."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from arenax.envs.igdrive import LightState, RoadType
from arenax.envs.igdrive.generator import ScenarioConfig, generate, generate_with_layout
from arenax.envs.igdrive.layout import Path, SceneKind, lane_offset
from arenax.envs.igdrive.metrics import kinematic_infeasibility, offroad, overlap
from arenax.envs.igdrive.scenario_io import ScenarioFileError, load_scenarios, save_scenarios

CONFIG = ScenarioConfig(num_objects=6)
NUM_SCENES = 64


@pytest.fixture(scope="module")
def batch_generate():
    @jax.jit
    @chex.assert_max_traces(n=1)
    def run(keys):
        return jax.vmap(lambda k: generate_with_layout(k, CONFIG))(keys)

    return run


@pytest.fixture(scope="module")
def scenes(batch_generate):
    return batch_generate(jax.random.split(jax.random.PRNGKey(0), NUM_SCENES))


def per_timestep(trajectory):
    """Fields (B, N, T) -> (B, T, N): one batch of objects per timestep."""
    return jax.tree_util.tree_map(lambda a: jnp.moveaxis(a, -1, 1), trajectory)


def test_expert_logs_have_no_overlap_and_stay_on_the_road(scenes):
    state, _ = scenes
    steps = per_timestep(state.log_trajectory)
    hits = jax.vmap(jax.vmap(overlap))(steps)
    off = jax.vmap(lambda st, road: jax.vmap(lambda one: offroad(one, road))(st))(
        steps, state.roadgraph_points
    )
    assert not np.any(hits), f"{int(np.any(hits, (1, 2)).sum())} scenes with an overlap"
    assert not np.any(off), f"{int(np.any(off, (1, 2)).sum())} scenes with off-road driving"


def test_expert_logs_are_kinematically_feasible(scenes):
    state, _ = scenes
    assert not np.any(kinematic_infeasibility(state.log_trajectory))


def test_expert_never_runs_a_red_light_and_does_stop_for_them(scenes):
    state, layout = scenes
    front = np.asarray(layout.s) + 0.5 * np.asarray(state.log_trajectory.length)
    stop = np.asarray(layout.stop_s)[:, :, None]
    crossed = (front[..., :-1] < stop) & (front[..., 1:] >= stop)
    red = np.asarray(layout.light_state == int(LightState.STOP))[:, :, 1:]
    active = np.asarray(state.object_metadata.is_valid)[:, :, None]
    assert not np.any(crossed & red & active)
    assert np.any(crossed & active)  # some cars do drive through on green or yellow
    waiting = (front[..., -1] < stop[..., 0]) & (np.asarray(layout.v)[..., -1] < 0.5)
    ends_red = np.asarray(layout.light_state[:, :, -1] == int(LightState.STOP))
    assert np.sum(waiting & ends_red & active[..., 0]) > 3  # and queue at red ones


def test_scenes_vary(scenes):
    state, layout = scenes
    kinds = np.asarray(layout.roads.kind)
    assert set(kinds.tolist()) == {int(k) for k in SceneKind}
    curvatures = np.asarray(layout.line.curvatures)
    assert np.mean(np.any(curvatures != 0, axis=1)) > 0.5  # most roads bend
    assert set(np.asarray(layout.num_lanes).tolist()) == {2, 3}
    has_light = np.isfinite(np.asarray(layout.roads.main_stop_s))
    assert 0.4 < has_light.mean() < 0.95
    types = np.asarray(state.roadgraph_points.types)[has_light]
    assert np.all(np.any(types == int(RoadType.STOP_LINE), axis=1))
    active = np.asarray(state.object_metadata.is_valid).sum(1)
    assert active.min() >= 1 and active.max() > 3
    assert np.all(np.asarray(state.object_metadata.is_sdc)[:, 0])
    route = state.sdc_route
    start = np.stack([route.x[:, 0], route.y[:, 0]], -1)
    sdc_start = np.stack([state.log_trajectory.x[:, 0, 0], state.log_trajectory.y[:, 0, 0]], -1)
    np.testing.assert_allclose(start, sdc_start, atol=1e-3)


def test_junctions_have_cross_traffic_that_crosses_or_waits_for_its_light(scenes):
    state, layout = scenes
    junction = np.asarray(layout.roads.kind) == SceneKind.INTERSECTION
    cross = (np.asarray(layout.path) != Path.MAIN) & np.asarray(state.object_metadata.is_valid)
    assert not np.any(cross[~junction])
    front = np.asarray(layout.s) + 0.5 * np.asarray(state.log_trajectory.length)
    passed = front[..., -1] > np.asarray(layout.stop_s)
    assert np.any(cross & passed) and np.any(cross & ~passed)
    # A junction's two roads never have green at the same time.
    lights = np.asarray(state.log_traffic_light.state)[junction]
    main_go, cross_go = lights[:, 0] == int(LightState.GO), lights[:, -1] == int(LightState.GO)
    assert not np.any(main_go & cross_go)
    assert np.any(main_go) and np.any(cross_go)


def test_ramp_vehicles_merge_into_the_rightmost_lane(scenes):
    state, layout = scenes
    ramp = np.asarray(layout.ramp) & np.asarray(state.object_metadata.is_valid)
    assert np.any(ramp)
    assert np.all(np.asarray(layout.roads.kind)[np.any(ramp, axis=1)] == SceneKind.MERGE)
    roads = layout.roads
    s = np.asarray(layout.s)
    scene, car = np.nonzero(ramp)
    merge_s = np.asarray(roads.merge_s)[scene]
    lane_zero = lane_offset(0, np.asarray(roads.num_lanes)[scene], CONFIG.lane_width)

    def lateral_at(t):
        pose = jax.vmap(lambda line, si: line.pose_at(si))(
            jax.tree_util.tree_map(lambda a: a[scene], roads.main), s[scene, car, t]
        )
        dx = state.log_trajectory.x[scene, car, t] - pose["x"]
        dy = state.log_trajectory.y[scene, car, t] - pose["y"]
        return np.asarray(-np.sin(pose["heading"]) * dx + np.cos(pose["heading"]) * dy)

    np.testing.assert_allclose(lateral_at(0), lane_zero - CONFIG.lane_width, atol=1e-3)
    merged = s[scene, car, -1] >= merge_s
    assert np.any(merged)
    np.testing.assert_allclose(lateral_at(-1)[merged], lane_zero[merged], atol=1e-3)


def test_generation_is_deterministic_and_batched_without_retracing(batch_generate, scenes):
    state, _ = scenes
    again, _ = batch_generate(jax.random.split(jax.random.PRNGKey(0), NUM_SCENES))
    chex.assert_trees_all_equal(state, again)
    other, _ = batch_generate(jax.random.split(jax.random.PRNGKey(1), NUM_SCENES))
    assert not np.allclose(state.log_trajectory.x, other.log_trajectory.x)


def test_scenario_files_round_trip_and_bad_files_fail_clearly(scenes, tmp_path):
    state, _ = scenes
    subset = jax.tree_util.tree_map(lambda a: a[:5], state)
    path = save_scenarios(tmp_path / "split.npz", subset)
    template = jax.eval_shape(lambda k: generate(k, CONFIG), jax.random.PRNGKey(0))
    loaded = load_scenarios(path, template)
    chex.assert_trees_all_equal(jax.device_get(subset), loaded)
    other = jax.eval_shape(
        lambda k: generate(k, ScenarioConfig(num_objects=4)),
        jax.random.PRNGKey(0),
    )
    with pytest.raises(
        ScenarioFileError, match=r"_trajectory/x has shape \(6, 91\).*expects \(4, 91\)"
    ):
        load_scenarios(path, other)
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(ScenarioFileError, match="not a scenario file"):
        load_scenarios(tmp_path / "junk.npz", template)
