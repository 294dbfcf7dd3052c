"""Gap environments: the hand-written Bayes-optimal policies earn the documented
optimal returns with and without the gap, the privileged expert earns its own, copying
the expert's door choices blindly earns the documented imitation returns, finished
episodes are no-ops, bad params fail clearly."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from arenax.envs import make
from arenax.envs.gap import PoisonedDoors, PoisonedDoorsParams, TigerDoor, TigerDoorParams

EPISODES = 512


@functools.cache
def compiled_returns(env, params, policy):
    """Mean return over EPISODES episodes of `policy(key, obs, state) -> action`."""

    def episode(key):
        obs, state = env.reset(key, params)

        def step(carry, k):
            obs, state, total = carry
            action = policy(k, obs["agent"], state, env, params)
            obs, state, reward, _, _ = env.step(k, state, {"agent": action}, params)
            return (obs, state, total + reward["agent"]), state.done

        horizon = params.horizon + 2  # two extra steps: stepping a finished episode
        (_, _, total), done = jax.lax.scan(step, (obs, state, 0.0), jax.random.split(key, horizon))
        return total, done

    return jax.jit(jax.vmap(episode))


def mean_return(env, params, policy, seed=0):
    totals, done = compiled_returns(env, params, policy)(
        jax.random.split(jax.random.PRNGKey(seed), EPISODES)
    )
    assert np.all(np.asarray(done)[:, -1])
    return float(np.mean(np.asarray(totals)))


def optimal(key, obs, state, env, params):
    return env.optimal_action(obs, params)


def expert(key, obs, state, env, params):
    return env.expert_action(state, params)


def blind_copy_of_expert(key, obs, state, env, params):
    """What BC learns from the expert when the hidden state is invisible: the expert's
    first-step action distribution (uniform over the doors it opens)."""
    if isinstance(env, TigerDoor):
        return jax.random.randint(key, (), 0, 2)
    return jax.random.randint(key, (), 1, 4)


@pytest.mark.parametrize("gap", [True, False])
def test_tiger_door_optimum_and_expert(gap):
    env, params = TigerDoor(), TigerDoorParams(gap=gap)
    assert mean_return(env, params, optimal) == pytest.approx(params.optimal_return, abs=1e-6)
    assert params.optimal_return == (0.9 if gap else 1.0)
    assert mean_return(env, params, expert) == pytest.approx(1.0)


def test_tiger_door_blind_imitation_earns_nothing():
    value = mean_return(TigerDoor(), TigerDoorParams(gap=True), blind_copy_of_expert)
    assert abs(value) < 0.1  # expectation 0; 512 episodes of +-1


@pytest.mark.parametrize("gap", [True, False])
def test_poisoned_doors_optimum_and_expert(gap):
    env, params = PoisonedDoors(), PoisonedDoorsParams(gap=gap)
    assert mean_return(env, params, optimal) == pytest.approx(params.optimal_return, abs=1e-6)
    assert params.optimal_return == (1.0 if gap else 2.0)
    assert mean_return(env, params, expert) == pytest.approx(2.0)


def test_poisoned_doors_blind_imitation_earns_minus_two_thirds():
    params = PoisonedDoorsParams(gap=True)
    assert params.imitation_return == pytest.approx(-2 / 3)
    value = mean_return(PoisonedDoors(), params, blind_copy_of_expert)
    assert value == pytest.approx(-2 / 3, abs=0.2)  # sd of the mean ~0.08


def test_a_wrong_digit_ends_the_episode_with_nothing():
    env, params = PoisonedDoors(), PoisonedDoorsParams()
    _, state = env.reset(jax.random.PRNGKey(0), params)
    _, state, reward, done, _ = env.step(None, state, {"agent": 0}, params)
    assert float(reward["agent"]) == 0.0 and not bool(done)
    wrong = (params.combination[0] + 1) % 4
    _, state, reward, done, _ = env.step(None, state, {"agent": wrong}, params)
    assert float(reward["agent"]) == 0.0 and bool(done)
    _, _, reward, done, _ = env.step(None, state, {"agent": params.combination[0]}, params)
    assert float(reward["agent"]) == 0.0 and bool(done)  # finished: a no-op


@pytest.mark.parametrize(
    "env, params, hidden",
    [(TigerDoor(), TigerDoorParams(), 2), (PoisonedDoors(), PoisonedDoorsParams(), 3)],
)
def test_the_gap_hides_the_hidden_state_from_the_agent_only(env, params, hidden):
    obs, state = env.reset(jax.random.PRNGKey(1), params)
    assert float(jnp.sum(obs["agent"][:hidden])) == 0.0
    assert float(jnp.sum(env.observe(state, params, privileged=True)[:hidden])) == 1.0
    assert float(jnp.sum(env.observe(state, params.replace(gap=False))[:hidden])) == 1.0
    assert obs["agent"].shape == env.observation_space(params)["agent"].shape


@pytest.mark.parametrize(
    "name, changes, message",
    [
        ("tiger_door", {"horizon": 1}, "horizon must be at least 2"),
        ("poisoned_doors", {"combination": (1, 7)}, "digits 0-3"),
        ("poisoned_doors", {"doors": 5}, "unknown parameter"),
    ],
)
def test_bad_params_name_the_problem(name, changes, message):
    with pytest.raises(ValueError, match=message):
        make(name, **changes)
