"""Tournament: shapes, zero-sum symmetry, and that every cell plays the right pair."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from arenax.agents.car_tag import EVADERS, PURSUERS
from arenax.envs import make
from arenax.policy import Policy
from arenax.rollout import rollout
from arenax.tournament import tournament

EPISODES = 6
HORIZON = 60


def _counting_evader() -> Policy:
    """An evader with integer memory: flees, then stops after 10 steps (memory-dependent)."""

    def init(key):
        return jnp.zeros((), jnp.int32)

    def act(obs, memory, key):
        away = obs.own_pos - obs.opp_pos
        speed = jnp.where(memory < 10, obs.evader_speed, 0.0)
        return speed * away / (jnp.linalg.norm(away) + 1e-6), memory + 1

    return Policy(name="flee_then_stop", act=act, init=init, role="evader")


def _dict_memory_evader() -> Policy:
    """An evader whose memory is a dict of arrays (a different pytree than above)."""

    def init(key):
        return {"direction": jnp.array([1.0, 0.0]), "steps": jnp.zeros(())}

    def act(obs, memory, key):
        return obs.evader_speed * memory["direction"], dict(memory, steps=memory["steps"] + 1)

    return Policy(name="drift_east", act=act, init=init, role="evader")


@pytest.fixture(scope="module")
def setup():
    env, params = make("car_tag", horizon=HORIZON)
    pursuers = [PURSUERS["pure_pursuit"]]
    evaders = [EVADERS["straight_flee"], _counting_evader(), _dict_memory_evader()]
    key = jax.random.PRNGKey(3)
    result = tournament(env, params, pursuers, evaders, key, EPISODES)
    return env, params, pursuers, evaders, key, result


def test_shapes_and_names(setup):
    _, _, pursuers, evaders, _, result = setup
    assert result.returns.shape == (len(pursuers), len(evaders), EPISODES)
    assert result.mean.shape == result.ci95.shape == (len(pursuers), len(evaders))
    assert result.row_names == ("pure_pursuit",)
    assert result.col_names == ("straight_flee", "flee_then_stop", "drift_east")
    assert np.all(result.ci95 >= 0)


def test_scores_are_zero_sum(setup):
    result = setup[-1]
    np.testing.assert_allclose(result.returns + result.col_returns, 1.0, atol=1e-5)
    assert np.all((result.returns >= 0) & (result.returns <= 1))


def test_every_cell_matches_a_direct_rollout(setup):
    env, params, pursuers, evaders, key, result = setup
    for j, evader in enumerate(evaders):
        direct = rollout(env, params, {"pursuer": pursuers[0], "evader": evader}, key, EPISODES)
        np.testing.assert_allclose(result.returns[0, j], direct.returns["pursuer"], atol=1e-6)


def test_cells_differ_between_evaders(setup):
    result = setup[-1]
    # Standing still after 1 s is easier to catch than fleeing for the whole episode.
    assert result.mean[0, 1] > result.mean[0, 0]


def test_rejects_empty_inputs(setup):
    env, params, pursuers, _, key, _ = setup
    with pytest.raises(ValueError, match="at least one policy"):
        tournament(env, params, pursuers, [], key, 2)
    with pytest.raises(ValueError, match="num_episodes"):
        tournament(env, params, pursuers, [EVADERS["straight_flee"]], key, 0)
