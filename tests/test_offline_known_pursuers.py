"""The hand-written pursuers as genomes (`offline_known.KNOWN_PURSUERS`): in range, and
rendered, they steer as the hand-written programs do on the same observations."""

from __future__ import annotations

import copy
import dataclasses

import jax
import numpy as np
import pytest

from arenax.agents.car_tag import PURSUERS
from arenax.envs import make
from arenax.search.offline import OfflineGenerator, render
from arenax.search.offline_genome import constrain, validate
from arenax.search.offline_known import KNOWN_PURSUERS, known_genome
from arenax.search.program import Program, load_policy
from arenax.search.proposal import ProgramSummary, ProposalRequest


@pytest.fixture(scope="module")
def pursuer_observations():
    """64 pursuer observations, 6 steps into episodes of random play (varied headings,
    distances and evader velocities)."""
    env, params = make("car_tag", horizon=60)
    batch = 64
    obs, state = jax.vmap(lambda k: env.reset(k, params))(
        jax.random.split(jax.random.PRNGKey(0), batch)
    )

    def play(carry, key):
        _, state = carry
        k_p, k_e, k_step = jax.random.split(key, 3)
        actions = {
            "pursuer": jax.random.uniform(k_p, (batch, 1), minval=-1.0, maxval=1.0),
            "evader": jax.random.normal(k_e, (batch, 2)),
        }
        step = jax.vmap(lambda k, s, a: env.step(k, s, a, params)[:2])
        return step(jax.random.split(k_step, batch), state, actions), None

    (obs, _), _ = jax.lax.scan(play, (obs, state), jax.random.split(jax.random.PRNGKey(1), 6))
    return obs["pursuer"]


def steerings(policy, observations) -> np.ndarray:
    def one(obs):
        return policy.act(obs, policy.init(jax.random.PRNGKey(0)), jax.random.PRNGKey(0))[0]

    return np.asarray(jax.vmap(one)(observations))


@pytest.mark.parametrize("name", sorted(KNOWN_PURSUERS))
def test_known_pursuer_genome_steers_like_the_hand_written_program(name, pursuer_observations):
    genome = known_genome(PURSUERS[name].source, "pursuer")
    assert genome is not None and genome["blocks"] == KNOWN_PURSUERS[name]
    validate(genome)
    assert constrain(copy.deepcopy(genome), np.random.default_rng(0)) == genome  # in budget
    rendered = load_policy(Program(f"known_{name}", "pursuer", render(genome)))
    hand = steerings(PURSUERS[name], pursuer_observations)
    ours = steerings(rendered, pursuer_observations)
    np.testing.assert_allclose(ours, hand, atol=1e-4)


def test_an_improved_hand_written_pursuer_starts_from_its_own_settings():
    hand = PURSUERS["lookahead"]
    parent = ProgramSummary("h", hand.name, "pursuer", hand.source, hand.description)
    proposal = OfflineGenerator().propose(
        ProposalRequest("pursuer", "improve", parents=(parent,), seed=0)
    )
    assert "hand-written parent 'lookahead' (its own settings)" in proposal.raw
    edited = dataclasses.replace(parent, source=hand.source + "\n# edited\n")
    assert known_genome(edited.source, "pursuer") is None
    proposal = OfflineGenerator().propose(
        ProposalRequest("pursuer", "improve", parents=(edited,), seed=0)
    )
    assert "foreign parent 'lookahead'" in proposal.raw
