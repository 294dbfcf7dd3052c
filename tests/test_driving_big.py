"""BIG on IGDrivSim, small: the candidate manoeuvres' successor features, the
likelihood against hand-computed values, a posterior that concentrates where the
expert's choices speak and keeps its prior elsewhere, and the Bayes-adaptive view's
per-episode reward (paid as drawn, nothing once the episode is over, a new draw
after each reset)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from arenax.agents.imitation.driving_big import (
    FEATURES,
    DrivingBIGConfig,
    DrivingPosteriorReward,
    PlanFeatures,
    collect_plan_features,
    driving_prior,
    fit_driving_posterior,
    plan_log_likelihood,
    step_features,
)
from arenax.envs.igdrive.env import IGDrive, IGDriveParams
from arenax.envs.igdrive.generator import ScenarioConfig
from arenax.envs.single_agent import SoloView
from arenax.envs.wrappers import AutoReset

ENV = IGDrive()
PARAMS = IGDriveParams(
    scenario=ScenarioConfig(num_objects=4, num_timesteps=31),
    num_obs_points=16,
    others="idm",
)
CONFIG = DrivingBIGConfig(hold=5, horizon=8, stride=10)
SPEEDING, SLOWING = FEATURES.index("speeding"), FEATURES.index("slowing")


@pytest.fixture(scope="module")
def plans() -> PlanFeatures:
    steps = PARAMS.scenario.num_timesteps - 1 - PARAMS.warmup_steps
    return collect_plan_features(ENV, PARAMS, jax.random.PRNGKey(0), 3, steps, CONFIG)


def test_manoeuvres_show_up_in_their_features(plans):
    psi, alive = np.asarray(plans.psi), np.asarray(plans.alive)
    k = len(CONFIG.offsets) + 1
    assert psi.shape == (3, 2, k, len(FEATURES)) and alive.shape == (3, 2)
    assert np.all(alive[:, 0])
    live = psi[alive]
    # The expert's own continuation keeps to its log: no events, its logged speed.
    assert np.all(live[:, 0, :3] == 0.0)
    assert np.all(live[:, 0, SPEEDING:] < 0.05)
    # Accelerating (offset 0) speeds past the log; braking (offset 1) falls behind it
    # (a car standing at a red light cannot).
    assert np.all(live[:, 1, SPEEDING] >= live[:, 0, SPEEDING])
    assert np.all(live[:, 2, SLOWING] >= live[:, 0, SLOWING])
    assert np.median(live[:, 1, SPEEDING]) > 1.0 and np.median(live[:, 2, SLOWING]) > 1.0


def test_likelihood_matches_a_hand_computed_softmax():
    psi = jnp.zeros((1, 2, 3, len(FEATURES))).at[0, :, 1, SPEEDING].set(2.0)
    psi = psi.at[0, :, 2, SLOWING].set(1.0)
    plans = PlanFeatures(psi, jnp.array([[True, False]]))
    w = jnp.zeros(len(FEATURES)).at[SPEEDING].set(-1.0).at[SLOWING].set(0.5)
    logits = 2.0 * np.array([0.0, -2.0, 0.5])
    expected = logits[0] - np.log(np.sum(np.exp(logits)))  # one live state
    assert float(plan_log_likelihood(w, plans, 2.0)) == pytest.approx(expected, rel=1e-5)


def test_posterior_concentrates_where_the_expert_chose_and_keeps_the_prior_elsewhere():
    # 400 states: the expert never speeds when it could; overlap never varies.
    psi = jnp.zeros((400, 1, 2, len(FEATURES))).at[:, 0, 1, SPEEDING].set(1.0)
    plans = PlanFeatures(psi, jnp.ones((400, 1), bool))
    posterior = fit_driving_posterior(plans, CONFIG, jax.random.PRNGKey(0))
    prior = driving_prior(CONFIG)
    mean, std = np.asarray(posterior.mean), np.asarray(posterior.std)
    assert mean[SPEEDING] < -1.0 and std[SPEEDING] < 0.5 * float(prior.std[SPEEDING])
    overlap = FEATURES.index("overlap")
    assert abs(mean[overlap]) < 0.2 and std[overlap] == pytest.approx(1.0, abs=0.15)
    assert mean[SLOWING] == pytest.approx(-CONFIG.fit.exploration_cost, abs=0.05)


def test_the_bayes_adaptive_view_pays_each_episodes_draw():
    prior = driving_prior(CONFIG)
    env = DrivingPosteriorReward(ENV, prior)
    view = AutoReset(SoloView(env))  # as PPO runs it
    steps = PARAMS.scenario.num_timesteps - 1 - PARAMS.warmup_steps

    def run(key):
        _, state = view.reset(key, PARAMS)

        def step(state, k):
            action = ENV.expert_action(state.inner, PARAMS) + jnp.array([3.0, 0.0])
            _, new, reward, done, info = view.step(k, state, action, PARAMS)
            finished = state.replace(inner=state.inner.replace(done=True))
            after_end = env.step(k, finished, {"sdc": action}, PARAMS)[2]["sdc"]
            return new, (reward, step_features(info) @ state.weights, done, state.weights,
                         after_end)  # fmt: skip

        return jax.lax.scan(step, state, jax.random.split(key, steps + 2))[1]

    reward, paid, done, weights, after_end = map(np.asarray, jax.jit(run)(jax.random.PRNGKey(1)))
    np.testing.assert_allclose(reward, paid, rtol=1e-6)
    assert np.any(reward != 0.0) and np.all(after_end == 0.0)
    end = int(np.argmax(done))
    assert done[end] and end < steps + 1
    # One draw per episode: constant within it, a new one after the reset.
    assert np.all(weights[: end + 1] == weights[0])
    assert not np.allclose(weights[end + 1], weights[0])
    assert env == DrivingPosteriorReward(ENV, prior) and env != DrivingPosteriorReward(
        ENV, prior.replace(mean=prior.mean + 1.0)
    )


@pytest.mark.slow
def test_big_trains_a_driver_end_to_end(tmp_path):
    import json

    from typer.testing import CliRunner

    from arenax.cli import app

    result = CliRunner().invoke(app, ["igdrive", "train", "--method", "big", "--scale", "0.02",
                                      "--test", "2", "--out", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["method"] == "big" and set(record["posterior"]) == set(FEATURES)
    assert (tmp_path / "driver" / "driver.json").is_file()
