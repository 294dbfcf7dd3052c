"""MatchScorer: same returns as the tournament, opponents compiled once, behaviour descriptors."""

from __future__ import annotations

from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from arenax.agents.car_tag import EVADERS, PURSUERS
from arenax.envs import make
from arenax.policy import Policy
from arenax.search.behaviour import (
    BEHAVIOUR_FIELDS,
    BEHAVIOUR_MEANINGS,
    BEHAVIOUR_SIZE,
    STATISTICS_SIZE,
    descriptor,
)
from arenax.search.scoring import MatchScorer, OpponentCompileError
from arenax.tournament import tournament

EPISODES = 4
HORIZON = 30
SEED = 5
# A fast evader that starts close: running at the car, it is caught within 18 steps.
ENV_OVERRIDES = dict(
    horizon=HORIZON, evader_speed=2.0, min_start_distance=0.5, max_start_distance=2.0
)
TRACES: dict[str, int] = {}


def counted(name: str, act):
    """`act` that counts how often it is traced (Python runs only while tracing)."""

    def run(obs, memory, key):
        TRACES[name] = TRACES.get(name, 0) + 1
        return act(obs, memory, key)

    return run


def toward_act(obs, memory, key):
    """Run at the pursuer: caught within a few steps."""
    rel = obs.opp_pos - obs.own_pos
    return obs.evader_speed * rel / (jnp.linalg.norm(rel) + 1e-6), memory


def still_act(obs, memory, key):
    return jnp.zeros(2), memory


def circle_act(obs, memory, key):
    """Full left lock whatever happens."""
    return jnp.ones(1), memory


def counter_init(key):
    return jnp.zeros((), jnp.int32)


def flee_then_stop_act(obs, memory, key):
    """Flee for 8 steps, then stand still (memory-dependent)."""
    away = obs.own_pos - obs.opp_pos
    speed = jnp.where(memory < 8, obs.evader_speed, 0.0)
    return speed * away / (jnp.linalg.norm(away) + 1e-6), memory + 1


def evader(name: str, act, init=None) -> Policy:
    kwargs = {} if init is None else {"init": init}
    return Policy(name=name, act=counted(name, act), role="evader", **kwargs)


EVADER_OPPONENTS = [
    ("jink", EVADERS["jink"]),  # random keys and dict memory
    ("toward", evader("toward", toward_act)),  # its matches end early
    ("flee_then_stop", evader("flee_then_stop", flee_then_stop_act, counter_init)),
]
PURSUER_OPPONENTS = [
    ("pure_pursuit", PURSUERS["pure_pursuit"]),
    ("pn", PURSUERS["proportional_navigation"]),
]


@pytest.fixture(scope="module")
def game():
    return make("car_tag", **ENV_OVERRIDES)


@pytest.fixture(scope="module")
def scorer(game):
    env, params = game
    return MatchScorer(env, params, EPISODES, SEED, done_check_every=5)


@pytest.fixture(scope="module")
def pursuit_scores(scorer):
    return scorer.score(PURSUERS["pure_pursuit"], "pursuer", EVADER_OPPONENTS)


@pytest.fixture(scope="module")
def circle_scores(pursuit_scores, scorer):
    del pursuit_scores  # scored first, so the opponents are cached by now
    before = dict(TRACES)
    circler = Policy("circle", counted("circle", circle_act), role="pursuer")
    return scorer.score(circler, "pursuer", EVADER_OPPONENTS), before


def assert_same_as_tournament(game, scores, candidate, role, opponents):
    env, params = game
    other = "evader" if role == "pursuer" else "pursuer"
    reference = tournament(
        env,
        params,
        [candidate],
        [policy for _, policy in opponents],
        jax.random.PRNGKey(SEED),
        EPISODES,
        row_role=role,
        col_role=other,
    )
    np.testing.assert_allclose(scores.returns, reference.returns[0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(scores.opponent_returns, reference.col_returns[0], rtol=0, atol=1e-6)


def test_pursuer_scores_equal_tournament(game, pursuit_scores):
    assert pursuit_scores.returns.shape == (len(EVADER_OPPONENTS), EPISODES)
    assert pursuit_scores.opponent_ids == ("jink", "toward", "flee_then_stop")
    # The suicidal evader is caught in every episode: the pursuer scores, then nothing more.
    assert (pursuit_scores.returns[1] > 0.5).all()
    assert_same_as_tournament(
        game, pursuit_scores, PURSUERS["pure_pursuit"], "pursuer", EVADER_OPPONENTS
    )


def test_evader_scores_equal_tournament(game, scorer):
    candidate = EVADERS["jink"]
    scores = scorer.score(candidate, "evader", PURSUER_OPPONENTS)
    assert scores.returns.shape == (len(PURSUER_OPPONENTS), EPISODES)
    assert scores.behaviour.shape == (BEHAVIOUR_SIZE,)
    assert_same_as_tournament(game, scores, candidate, "evader", PURSUER_OPPONENTS)


def test_stops_early_once_every_match_has_ended(scorer, pursuit_scores):
    scores = scorer.score(PURSUERS["pure_pursuit"], "pursuer", [EVADER_OPPONENTS[1]])
    assert scores.steps_run < HORIZON
    # The same episodes played to the horizon (checked against the tournament above).
    np.testing.assert_array_equal(scores.returns[0], pursuit_scores.returns[1])
    np.testing.assert_array_equal(scores.opponent_returns[0], pursuit_scores.opponent_returns[1])


def test_cached_opponents_are_not_recompiled(circle_scores, scorer):
    scores, traces_before = circle_scores
    assert scores.timings["opponents_compiled"] == 0
    assert scores.timings["opponent_compile_s"] < 0.05
    for name in ("toward", "flee_then_stop"):
        assert TRACES[name] == traces_before[name]
    assert TRACES["circle"] == 1
    assert {"jink", "toward", "flee_then_stop"} <= set(scorer.cached_opponent_ids)
    assert set(scores.timings) >= {"compile_s", "run_s", "total_s"}


def test_same_keys_for_every_opponent_and_candidate(circle_scores, scorer):
    # Common random numbers: one program under two ids plays the same episodes, and
    # scoring a candidate again (recompiled as a new Policy) replays them too.
    circle, _ = circle_scores
    again = Policy("circle again", circle_act, role="pursuer")
    twice = [EVADER_OPPONENTS[0], ("jink, another id", EVADERS["jink"]), *EVADER_OPPONENTS[1:]]
    scores = scorer.score(again, "pursuer", twice)
    np.testing.assert_array_equal(scores.returns[0], scores.returns[1])
    np.testing.assert_array_equal(scores.returns[[0, 2, 3]], circle.returns)
    np.testing.assert_array_equal(scores.opponent_returns[[1, 2, 3]], circle.opponent_returns)


def test_behaviour_in_range(pursuit_scores):
    behaviour = pursuit_scores.behaviour
    assert len(BEHAVIOUR_FIELDS) == len(BEHAVIOUR_MEANINGS) == BEHAVIOUR_SIZE
    assert behaviour.shape == (BEHAVIOUR_SIZE,) and behaviour.dtype == np.float32
    assert np.isfinite(behaviour).all()
    assert (behaviour >= 0.0).all() and (behaviour <= 1.0).all()


def test_behaviour_tells_strategies_apart(pursuit_scores, circle_scores):
    circle, _ = circle_scores
    field = lambda scores, name: scores.behaviour[BEHAVIOUR_FIELDS.index(name)]
    # Full left lock: as much turning as the car can, all of it to the left.
    assert field(circle, "turn_rate") > 0.99
    assert field(circle, "turn_bias") > 0.99
    assert field(pursuit_scores, "turn_rate") < 0.9
    # Pure pursuit points the car at the evader.
    assert field(pursuit_scores, "facing") > field(circle, "facing") + 0.1
    assert field(pursuit_scores, "capture_rate") > field(circle, "capture_rate")
    assert np.linalg.norm(pursuit_scores.behaviour - circle.behaviour) > 0.2


def test_behaviour_of_a_still_evader(scorer):
    still = Policy("still", still_act, role="evader")
    scores = scorer.score(still, "evader", PURSUER_OPPONENTS)
    assert scores.behaviour[BEHAVIOUR_FIELDS.index("speed")] == 0.0
    assert scores.behaviour[BEHAVIOUR_FIELDS.index("turn_rate")] == 0.0
    assert scores.behaviour[BEHAVIOUR_FIELDS.index("turn_bias")] == 0.5


def test_descriptor_from_hand_made_sums():
    sums = np.zeros((2, STATISTICS_SIZE))
    sums[:, 0] = [2.0, 8.0]  # opp_distance: per-episode means 0.5 and 0.8
    sums[0, -2:] = [-1.0, 1.0]  # episode 0 only turned right
    counts = np.array([4, 10])
    out = descriptor(sums, counts, np.array([True, False]))
    fields = dict(zip(BEHAVIOUR_FIELDS, out, strict=True))
    assert fields["opp_distance"] == pytest.approx(0.65)
    assert fields["turn_bias"] == pytest.approx(0.25)  # 0 and the neutral 0.5
    assert fields["capture_rate"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="expected sums"):
        descriptor(sums[:, :3], counts, np.zeros(2, bool))
    with pytest.raises(ValueError, match="no episode"):
        descriptor(sums, np.zeros(2), np.zeros(2, bool))


def test_bad_arguments_are_named(scorer, game):
    pursuer = PURSUERS["pure_pursuit"]
    with pytest.raises(ValueError, match="unknown role"):
        scorer.score(pursuer, "referee", EVADER_OPPONENTS)
    with pytest.raises(ValueError, match="no opponents"):
        scorer.score(pursuer, "pursuer", [])
    with pytest.raises(ValueError, match="plays pursuer, not evader"):
        scorer.score(pursuer, "evader", PURSUER_OPPONENTS)
    with pytest.raises(ValueError, match="opponent 'pure_pursuit' plays pursuer"):
        scorer.score(pursuer, "pursuer", PURSUER_OPPONENTS)
    with pytest.raises(ValueError, match="num_episodes"):
        MatchScorer(game[0], game[1], 0, SEED)
    with pytest.raises(ValueError, match="car_tag"):
        MatchScorer(SimpleNamespace(name="gridworld"), game[1], 4, SEED)


def test_broken_opponent_is_named(scorer):
    def broken(obs, memory, key):
        raise TypeError("no such field")

    opponents = [("broken-1", Policy("broken", broken, role="evader"))]
    with pytest.raises(OpponentCompileError, match="opponent 'broken-1'") as caught:
        scorer.score(PURSUERS["pure_pursuit"], "pursuer", opponents)
    assert caught.value.opponent_id == "broken-1"
    assert "broken-1" not in scorer.cached_opponent_ids
