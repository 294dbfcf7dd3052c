"""The offline program generator: every program it writes is legal, plays, and varies.

Cheap checks (static rules, genome round trip, variety, modes) run on many
programs; the costly one (jit-compiling `act`) on 8 per role, shared through a
module-scoped fixture; a short tournament checks that some generated pursuer
beats a random-steering one.
"""

from __future__ import annotations

import ast
import copy
import json
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from arenax.agents.car_tag import EVADERS, PURSUERS
from arenax.envs import make
from arenax.policy import Policy
from arenax.search.offline import OfflineGenerator, infer_genome, render
from arenax.search.offline_genome import (
    SLOTS,
    constrain,
    crossover,
    random_genome,
    signature,
    validate,
)
from arenax.search.offline_known import KNOWN_EVADERS, known_genome
from arenax.search.offline_render import parse_genome
from arenax.search.program import Program, check_source, load_policy
from arenax.search.proposal import ProgramSummary, ProposalRequest, Usage
from arenax.tournament import tournament

ROLES = ("pursuer", "evader")
ALLOWED_IMPORTS = {
    "math",
    "functools",
    "jax",
    "jax.numpy",
    "jax.lax",
    "arenax.envs.car_tag.dynamics",
    "arenax.envs.car_tag.dubins",
}


def summary(proposal, role: str, pid: str = "p") -> ProgramSummary:
    return ProgramSummary(pid, proposal.name, role, proposal.source, proposal.description)


def foreign(role: str, name: str) -> ProgramSummary:
    table = PURSUERS if role == "pursuer" else EVADERS
    return ProgramSummary(name, name, role, table[name].source, table[name].description)


def proposals_across_modes(role: str, count: int) -> list:
    """`count` proposals cycling through novel, improve (one own / two own / a foreign
    parent) and repair, each with its own request seed."""
    gen = OfflineGenerator(seed=7)
    hand = sorted(PURSUERS if role == "pursuer" else EVADERS)
    out = []
    for i in range(count):
        parent = gen.propose(ProposalRequest(role, "novel", seed=1000 + i))
        other = gen.propose(ProposalRequest(role, "novel", seed=2000 + i))
        requests = (
            ProposalRequest(role, "novel", seed=i),
            ProposalRequest(role, "improve", parents=(summary(parent, role),), seed=i),
            ProposalRequest(
                role, "improve", parents=(summary(parent, role), summary(other, role)), seed=i
            ),
            ProposalRequest(role, "improve", parents=(foreign(role, hand[i % len(hand)]),), seed=i),
            ProposalRequest(
                role, "repair", failed_source=parent.source, error="compile_timeout", seed=i
            ),
        )
        out.append(gen.propose(requests[i % len(requests)]))
    return out


def imported_modules(source: str) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                modules.add(full if full in ALLOWED_IMPORTS else node.module)
    return modules


@pytest.mark.parametrize("role", ROLES)
def test_programs_follow_the_program_rules(role):
    for proposal in proposals_across_modes(role, 30):
        source = proposal.source
        assert imported_modules(source) <= ALLOWED_IMPORTS, proposal.name
        tree = check_source(source)  # the sandbox's own static checks
        assert not any(isinstance(node, ast.While) for node in ast.walk(tree))
        assert len(source) < 20_000
        doc = ast.get_docstring(tree)
        assert doc and " ".join(doc.split("\n\n")[0].split()) == proposal.description
        assert proposal.description.startswith(f"Generated {role}")
        assert proposal.usage == Usage()
        assert re.fullmatch(r"[a-z0-9_]+", proposal.name)
        genome = json.loads(proposal.raw)["genome"]
        assert parse_genome(source) == genome  # the genome round-trips through the source
        assert validate(genome)["role"] == role


@pytest.mark.parametrize("role", ROLES)
def test_genome_round_trip_of_random_genomes(role):
    rng = np.random.default_rng(0)
    for _ in range(50):
        genome = random_genome(role, rng)
        assert parse_genome(render(genome)) == genome
    assert parse_genome(PURSUERS["lookahead"].source) is None
    assert parse_genome("# genome: {not json}\n") is None
    assert parse_genome('# genome: {"role": "pursuer", "blocks": {}}\n') is None  # no aim/steer


@pytest.mark.parametrize("role", ROLES)
def test_batch_shows_real_variety(role):
    gen = OfflineGenerator(seed=1)
    proposals = [gen.propose(ProposalRequest(role, "novel", seed=s)) for s in range(30)]
    genomes = [json.loads(p.raw)["genome"] for p in proposals]
    assert len({p.source for p in proposals}) == 30
    assert len({signature(g) for g in genomes}) >= 20  # distinct block combinations
    kinds = {(slot, g["blocks"][slot]["kind"]) for g in genomes for slot in g["blocks"]}
    all_kinds = {(slot, kind) for slot, spec in SLOTS[role].items() for kind in spec.kinds}
    assert len(kinds) >= 0.8 * len(all_kinds)


@pytest.mark.parametrize("role", ROLES)
def test_improve_mutates_and_crosses_over(role):
    gen = OfflineGenerator(seed=3)
    a = gen.propose(ProposalRequest(role, "novel", seed=1))
    b = gen.propose(ProposalRequest(role, "novel", seed=2))
    ga = parse_genome(a.source)
    for seed in range(10):
        child = gen.propose(
            ProposalRequest(role, "improve", parents=(summary(a, role),), seed=seed)
        )
        assert child.source != a.source
        assert parse_genome(child.source) != ga
        assert json.loads(child.raw)["operation"] == "mutation of the parent"
    both = (summary(a, role), summary(b, role))
    child = gen.propose(ProposalRequest(role, "improve", parents=both, seed=0))
    assert json.loads(child.raw)["operation"] == "crossover of two parents, then mutation"
    check_source(child.source)


@pytest.mark.parametrize("role", ROLES)
def test_crossover_takes_each_block_from_a_parent(role):
    rng = np.random.default_rng(4)

    def kinds(genome):
        return {(slot, block["kind"]) for slot, block in genome["blocks"].items()}

    ga = random_genome(role, rng)
    gb = random_genome(role, rng)
    while not (kinds(ga) - kinds(gb) and kinds(gb) - kinds(ga)):
        gb = random_genome(role, rng)
    from_a = from_b = 0
    for _ in range(10):
        child = crossover(ga, gb, rng)
        for slot, block in child["blocks"].items():
            assert block in (ga["blocks"].get(slot), gb["blocks"].get(slot))
        from_a += bool(kinds(child) & (kinds(ga) - kinds(gb)))
        from_b += bool(kinds(child) & (kinds(gb) - kinds(ga)))
    assert from_a and from_b


def test_novel_steers_away_from_the_archive():
    gen = OfflineGenerator(seed=5)
    archive = [gen.propose(ProposalRequest("pursuer", "novel", seed=s)) for s in range(6)]
    known = {signature(parse_genome(p.source)) for p in archive}
    summaries = tuple(summary(p, "pursuer", f"a{i}") for i, p in enumerate(archive))
    for seed in range(6):
        proposal = gen.propose(ProposalRequest("pursuer", "novel", archive=summaries, seed=seed))
        assert signature(parse_genome(proposal.source)) not in known
        assert "away from the nearest" in json.loads(proposal.raw)["operation"]


def test_deterministic_given_seeds():
    request = ProposalRequest("evader", "novel", seed=11)
    assert OfflineGenerator(2).propose(request) == OfflineGenerator(2).propose(request)
    assert (
        OfflineGenerator(2).propose(request).source != OfflineGenerator(3).propose(request).source
    )
    other = ProposalRequest("evader", "novel", seed=12)
    assert OfflineGenerator(2).propose(other).source != OfflineGenerator(2).propose(request).source


def test_foreign_parents_seed_a_genome_from_their_blocks():
    rng = np.random.default_rng(0)
    assert (
        infer_genome(PURSUERS["shortest_path"].source, "pursuer", rng)["blocks"]["steer"]["kind"]
        == "dubins"
    )
    pn = infer_genome(PURSUERS["proportional_navigation"].source, "pursuer", rng)["blocks"]
    assert pn["steer"]["kind"] == "pronav" and "escape" in pn
    look = infer_genome(EVADERS["lookahead"].source, "evader", rng)["blocks"]
    assert {"lookahead", "sidestep", "walls", "centre"} <= set(look)
    assert look["lookahead"]["reflex"]
    plans = infer_genome(PURSUERS["lookahead"].source, "pursuer", rng)["blocks"]["lookahead"]
    assert plans["model"] == "constant+dodge"
    assert infer_genome(EVADERS["straight_flee"].source, "evader", rng)["blocks"].keys() == {"flee"}
    jink = infer_genome(EVADERS["jink"].source, "evader", rng)["blocks"]
    assert jink["jink"]["kind"] == "random"
    proposal = OfflineGenerator().propose(
        ProposalRequest("evader", "improve", parents=(foreign("evader", "swerve"),), seed=0)
    )
    assert (
        "hand-written parent 'swerve' (its own settings)" in json.loads(proposal.raw)["operation"]
    )
    check_source(proposal.source)


@pytest.mark.parametrize("name", sorted(KNOWN_EVADERS))
def test_hand_written_evaders_known_as_genomes_render_valid_programs(name):
    genome = known_genome(EVADERS[name].source, "evader")
    assert genome is not None and genome["blocks"] == KNOWN_EVADERS[name]
    assert constrain(copy.deepcopy(genome), np.random.default_rng(0)) == genome  # in range
    check_source(render(genome))
    genome["blocks"]["flee"]["weight"] = 0.7  # a copy: the table is untouched
    assert KNOWN_EVADERS[name]["flee"]["weight"] == 1.0


def test_only_exact_expressible_hand_written_evader_sources_are_known():
    assert known_genome(EVADERS["swerve"].source + "\n# edited\n", "evader") is None
    assert known_genome(EVADERS["jink"].source, "evader") is None  # not expressible
    assert KNOWN_EVADERS["swerve"]["sidestep"]["trigger"] == 1.2  # the swerve's own trigger


def test_known_swerve_genome_plays_like_the_hand_written_swerve():
    """Rendered from its table entry, the swerve evades proportional navigation (which
    catches a plain flee) about as well as the hand-written program does."""
    env, params = make("car_tag", horizon=120)
    genome = known_genome(EVADERS["swerve"].source, "evader")
    rendered = load_policy(Program("known_swerve", "evader", render(genome)))
    evaders = [rendered, EVADERS["swerve"], EVADERS["straight_flee"]]
    result = tournament(
        env,
        params,
        evaders,
        [PURSUERS["proportional_navigation"]],
        jax.random.PRNGKey(3),
        32,
        row_role="evader",
        col_role="pursuer",
    )
    known, hand, plain = (float(v) for v in result.mean[:, 0])
    assert abs(known - hand) < 0.1, (known, hand)
    assert known > plain + 0.1, (known, plain)


def test_repair_simplifies_the_failed_program():
    gen = OfflineGenerator(seed=0)
    seed = next(
        s
        for s in range(100)
        if "lookahead"
        in json.loads(gen.propose(ProposalRequest("evader", "novel", seed=s)).raw)["genome"][
            "blocks"
        ]
    )
    failed = gen.propose(ProposalRequest("evader", "novel", seed=seed))
    before = parse_genome(failed.source)["blocks"]
    slow = gen.propose(
        ProposalRequest(
            "evader", "repair", failed_source=failed.source, error="compile_timeout: took 40 s"
        )
    )
    after = parse_genome(slow.source)["blocks"]
    if before["lookahead"]["horizon"] > 8 and before["lookahead"]["candidates"] > 3:
        assert after["lookahead"]["horizon"] < before["lookahead"]["horizon"]
        assert after["lookahead"]["candidates"] < before["lookahead"]["candidates"]
    else:
        assert "lookahead" not in after
    crashed = gen.propose(
        ProposalRequest("evader", "repair", failed_source=failed.source, error="shape: (3,)")
    )
    assert "lookahead" not in parse_genome(crashed.source)["blocks"]
    assert json.loads(crashed.raw)["operation"] == "repair: dropped the lookahead block"
    fresh = gen.propose(ProposalRequest("evader", "repair", failed_source="def act(:", seed=1))
    check_source(fresh.source)


def test_bad_requests_name_the_problem():
    gen = OfflineGenerator()
    with pytest.raises(ValueError, match="unknown role 'driver'"):
        gen.propose(ProposalRequest("driver", "novel"))
    with pytest.raises(ValueError, match="unknown mode 'guess'"):
        gen.propose(ProposalRequest("pursuer", "guess"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="failed_source"):
        gen.propose(ProposalRequest("pursuer", "repair"))
    with pytest.raises(ValueError, match="plays 'evader'"):
        gen.propose(ProposalRequest("pursuer", "improve", parents=(foreign("evader", "jink"),)))


@pytest.fixture(scope="module")
def played():
    """5 generated programs per role (one per mode), loaded, with one jitted action each."""
    env, params = make("car_tag")
    obs, _ = env.reset(jax.random.PRNGKey(0), params)
    space = env.action_space(params)
    out = {}
    for role in ROLES:
        rows = []
        for proposal in proposals_across_modes(role, 5):
            policy = load_policy(Program(proposal.name, role, proposal.source))
            memory = policy.init(jax.random.PRNGKey(1))
            action, new_memory = jax.jit(policy.act)(obs[role], memory, jax.random.PRNGKey(2))
            rows.append((policy, np.asarray(action), memory, new_memory))
        out[role] = rows
    return out, space


@pytest.mark.parametrize("role", ROLES)
def test_generated_programs_play(played, role):
    rows, space = played
    for policy, action, memory, new_memory in rows[role]:
        assert action.shape == space[role].shape, policy.name
        assert np.all(np.isfinite(action)), policy.name
        low, high = (np.broadcast_to(b, action.shape) for b in (space[role].low, space[role].high))
        assert np.all(action >= low - 1e-6) and np.all(action <= high + 1e-6), policy.name
        if role == "evader":  # a velocity: its norm is at most the evader's speed
            assert np.linalg.norm(action) <= float(np.max(high)) * (1 + 1e-5)
        assert jax.tree_util.tree_structure(memory) == jax.tree_util.tree_structure(new_memory)
    assert any(jax.tree_util.tree_leaves(m) for _, _, m, _ in rows[role])  # some keep memory


def test_some_generated_pursuer_beats_chance(played):
    rows, _ = played
    env, params = make("car_tag", horizon=100)

    def random_steering(obs, memory, key):
        return jax.random.uniform(key, (1,), minval=-1.0, maxval=1.0), memory

    chance = Policy("random", random_steering, role="pursuer")
    cheap = [p for p, *_ in rows["pursuer"] if "look" not in p.name][:2]
    assert cheap
    result = tournament(
        env, params, [chance, *cheap], [EVADERS["straight_flee"]], jax.random.PRNGKey(0), 8
    )
    assert result.mean[1:].max() > max(result.mean[0, 0], 0.0)
    assert jnp.isfinite(result.mean).all()
