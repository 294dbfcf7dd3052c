"""BIG: the variational reward posterior concentrates on what the demonstrations show
and stays wide where they are silent; the Bayes-adaptive sampler draws a new reward
per episode; a tiny BIG run on TigerDoor with the gap presses the button and beats BC."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from arenax.agents.imitation.bc import evaluate_policy
from arenax.agents.imitation.big import (
    BIGConfig,
    PosteriorRewardEnv,
    collect_state_actions,
    fit_reward_posterior,
    make_big_learner,
    prior,
)
from arenax.envs.gap import PoisonedDoors, PoisonedDoorsParams, TigerDoor, TigerDoorParams
from arenax.envs.gap.tabular import soft_q_values

CONFIG = BIGConfig(steps=300)


def posterior_for(env, params, episodes):
    demos = collect_state_actions(env, params, jax.random.PRNGKey(1), episodes)
    return fit_reward_posterior(env, params, demos, CONFIG, jax.random.PRNGKey(2))


@pytest.mark.parametrize(
    "env, params, weights",
    [
        (TigerDoor(), TigerDoorParams(), [1.0, -1.0, -0.1]),
        (PoisonedDoors(), PoisonedDoorsParams(), [2.0, -2.0, 1.0, 0.0]),
    ],
)
def test_tabular_soft_values_make_the_expert_optimal_under_the_true_reward(env, params, weights):
    q = soft_q_values(env.tabular(params), jnp.asarray(weights), 50.0)
    for seed in range(4):
        _, state = env.reset(jax.random.PRNGKey(seed), params)
        best = int(jnp.argmax(q[env.state_index(state, params)]))
        assert best == int(env.expert_action(state, params))


def test_posterior_concentrates_with_many_demonstrations():
    env, params = TigerDoor(), TigerDoorParams()
    few, many = posterior_for(env, params, 2), posterior_for(env, params, 256)
    margin = (many.mean[0] - many.mean[1]) / jnp.hypot(many.std[0], many.std[1])
    assert margin > 2.5  # treasure over tiger, confidently
    assert np.all(np.asarray(many.std[:2]) < np.asarray(few.std[:2]))


def test_posterior_stays_wide_where_the_demonstrations_are_silent():
    env, params = PoisonedDoors(), PoisonedDoorsParams()
    posterior = posterior_for(env, params, 256)
    start = prior(env, CONFIG)
    unlocked = env.FEATURES.index("unlocked_door_0")
    good, poisoned = env.FEATURES.index("opened_good"), env.FEATURES.index("opened_poisoned")
    assert posterior.std[good] < 0.5 * start.std[good]
    # The expert never tried door 0: only "not better than the good door" is known.
    assert posterior.std[unlocked] > 0.4 * start.std[unlocked]
    assert posterior.std[unlocked] > 1.5 * posterior.std[good]
    assert posterior.mean[good] - posterior.mean[poisoned] > 1.0


def test_the_bamdp_draws_a_new_reward_each_episode():
    env, params = TigerDoor(), TigerDoorParams()
    bamdp = PosteriorRewardEnv(env, prior(env, CONFIG))
    _, first = bamdp.reset(jax.random.PRNGKey(0), params)
    _, second = bamdp.reset(jax.random.PRNGKey(1), params)
    assert not np.allclose(np.asarray(first.weights), np.asarray(second.weights))
    _, _, reward, _, info = bamdp.step(jax.random.PRNGKey(2), first, {"agent": 2}, params)
    assert float(reward["agent"]) == pytest.approx(float(first.weights[2]))  # the button
    assert float(info["task_reward"]) == pytest.approx(-params.button_cost)


def test_tiny_big_run_beats_bc_on_tiger_door():
    env, params = TigerDoor(), TigerDoorParams(gap=True)
    posterior = posterior_for(env, params, 64)
    learner = make_big_learner(
        env, params, posterior, CONFIG, {"xla_backend_optimization_level": 0}
    )
    state, _ = learner.train(jax.random.PRNGKey(3))
    returns = evaluate_policy(
        env,
        params,
        learner.network,
        CONFIG.ppo,
        state.params,
        jax.random.PRNGKey(4),
        256,
        params.horizon,
        obs_norm=state.obs_norm,
    )
    assert float(jnp.mean(returns)) > 0.75  # optimum 0.9; BC earns about 0
