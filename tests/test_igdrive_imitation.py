"""Imitation on IGDrivSim, small: demonstrations pair the agent's restricted view with
the expert's log actions; the expert scored by the shared evaluation has no events and
follows its log."""

from __future__ import annotations

import numpy as np
import pytest

from arenax.agents.imitation.igdrive_runs import ENV, driving_demos, evaluate_driver
from arenax.envs.igdrive.env import IGDriveParams
from arenax.envs.igdrive.generator import ScenarioConfig

PARAMS = IGDriveParams(
    scenario=ScenarioConfig(num_objects=4, num_timesteps=31),
    perception="cone:radius=20,angle=90",
    num_obs_points=16,
)


@pytest.mark.slow  # a second compile of the driving env; the expert test below covers the path
def test_demonstrations_hold_the_restricted_view_and_the_logs_actions():
    demos = driving_demos(PARAMS, 4)
    steps = PARAMS.scenario.num_timesteps - 1 - PARAMS.warmup_steps
    size = ENV.observation_space(PARAMS)["sdc"].shape[0]
    assert demos.obs.shape == (4, steps, size) and demos.actions.shape == (4, steps, 2)
    assert np.all(np.asarray(demos.mask))
    assert np.all(np.abs(np.asarray(demos.actions)) <= np.asarray(PARAMS.model.action_high))


def test_the_expert_scores_clean_under_the_shared_evaluation():
    metrics = evaluate_driver(PARAMS, lambda obs, state: ENV.expert_action(state, PARAMS), 4)
    for name in ("overlap", "offroad", "red_light", "infeasible"):
        assert metrics[name] == 0.0, name
    assert metrics["ade"] < 0.05 and metrics["progress"] > 0.0
