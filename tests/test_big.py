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
    train_big,
)
from arenax.agents.imitation.demonstrations import collect_demonstrations
from arenax.envs.gap import PoisonedDoors, PoisonedDoorsParams, TigerDoor, TigerDoorParams
from arenax.envs.gap.tabular import soft_q_values

CONFIG = BIGConfig(steps=300)


def posterior_for(env, params, episodes, noise=0.0, config=CONFIG):
    demos = collect_state_actions(env, params, jax.random.PRNGKey(1), episodes, noise)
    return fit_reward_posterior(env, params, demos, config, jax.random.PRNGKey(2))


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


@pytest.fixture(scope="module")
def noisy_posterior():
    """PoisonedDoors' posterior from noise-injected demonstrations (default fit)."""
    return posterior_for(PoisonedDoors(), PoisonedDoorsParams(), 256, 0.3, BIGConfig())


def test_noise_injected_demonstrations_price_the_undemonstrated_plan(noisy_posterior):
    """Queried inside door 0's combination, the expert works it to the end: the posterior
    learns that unlocking is worth the steps, and door 0 becomes the better bet for an
    agent that cannot see the good door (posterior means: combination beats a blind door).
    """
    env, params = PoisonedDoors(), PoisonedDoorsParams()
    weights = dict(zip(env.FEATURES, np.asarray(noisy_posterior.mean), strict=True))
    steps = len(params.combination) + 1
    door_zero = weights["unlocked_door_0"] + steps * weights["combination_step"]
    blind_door = (weights["opened_good"] + 2 * weights["opened_poisoned"]) / 3
    assert door_zero > blind_door + 0.2
    assert weights["opened_good"] > door_zero  # the expert, who sees, still prefers its door


def test_state_actions_and_demonstrations_hold_the_same_episodes():
    env, params = PoisonedDoors(), PoisonedDoorsParams()
    key = jax.random.PRNGKey(7)
    pairs = collect_state_actions(env, params, key, 32, noise=0.5)
    demos = collect_demonstrations(env, params, key, 32, params.horizon, noise=0.5)
    np.testing.assert_array_equal(np.asarray(pairs.action), np.asarray(demos.actions))
    np.testing.assert_array_equal(np.asarray(pairs.mask), np.asarray(demos.mask))


def test_value_shaping_moves_every_return_by_the_same_start_potential(noisy_posterior):
    """Undiscounted, an episode's shaped return is its unshaped return minus the start
    state's potential, whatever the actions: the Bayes-optimal policy is unchanged."""
    env, params = PoisonedDoors(), PoisonedDoorsParams()
    plain = PosteriorRewardEnv(env, noisy_posterior)
    shaped = PosteriorRewardEnv(env, noisy_posterior, shaping_discount=1.0, rationality=10.0)

    def episode_returns(bamdp, actions, keys):
        """(N,) returns and start potentials of action sequences (N, horizon); steps
        after the episode ends pay nothing."""

        def one(sequence, key):
            _, state = bamdp.reset(key, params)
            start = state.potential[env.state_index(state.inner, params)]

            def step(state, action):
                _, state, reward, _, _ = bamdp.step(key, state, {"agent": action}, params)
                return state, reward["agent"]

            _, rewards = jax.lax.scan(step, state, sequence)
            return rewards.sum(), start

        return jax.jit(jax.vmap(one))(actions, keys)

    combination = list(params.combination)
    sequences = [[0, *combination], [0, *combination[:4], 3 - combination[4]], [2], [0, 0]]
    padded = [seq + [0] * (params.horizon - len(seq)) for seq in sequences] * 3
    actions = jnp.asarray(padded, jnp.int32)
    keys = jax.random.split(jax.random.PRNGKey(0), len(padded))
    unshaped, zero = episode_returns(plain, actions, keys)
    total, start = episode_returns(shaped, actions, keys)
    np.testing.assert_array_equal(np.asarray(zero), 0.0)
    np.testing.assert_allclose(np.asarray(total), np.asarray(unshaped - start), atol=1e-4)
    assert float(jnp.std(start)) > 0.0  # the potentials differ between draws


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


@pytest.mark.slow
def test_big_finds_door_zero_on_poisoned_doors():
    """The full default budget (about 25 s): BIG reaches the Bayes-optimal +1 where BC
    earns about -2/3 (`benchmarks/gap_table.py` runs it over seeds)."""
    env, params = PoisonedDoors(), PoisonedDoorsParams()
    key = jax.random.PRNGKey(0)
    demos = collect_demonstrations(env, params, key, 256, params.horizon, noise=0.3)
    pairs = collect_state_actions(env, params, key, 256, noise=0.3)
    config = BIGConfig()
    learner, state, _ = train_big(env, params, demos, pairs, config, jax.random.PRNGKey(1))
    returns = evaluate_policy(
        env,
        params,
        learner.network,
        config.ppo,
        state.params,
        jax.random.PRNGKey(2),
        512,
        params.horizon,
        obs_norm=state.obs_norm,
    )
    assert float(jnp.mean(returns)) > 0.9
